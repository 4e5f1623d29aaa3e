/**
 * Issue 7: what the untrusted walk refuses and why (H5_UNSAFE_FILE reasons),
 * its limits, the expectDigest fast path, the sync form, and the child's
 * crash / timeout / change handling. Fixtures are written by h5py, which can
 * produce what h5vault never writes (external links, VDS, nbit ...).
 */
import { appendFileSync, chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File, fileDigest, fileDigestSync, walkUntrusted, walkUntrustedSync } from '../../lib/index.js';
import { REPO, corpusDir, hostileFiles, refusal } from './helpers.js';

const { p } = hostileFiles('h5vault-untrusted-', {
  python: `
import h5py, numpy as np, sys
d = sys.argv[1]
with h5py.File(d + '/plain.h5', 'w') as f:
    f.create_dataset('w', data=np.arange(100, dtype='<f4'))
    f.create_dataset('z', data=np.arange(1000, dtype='<i4'), chunks=(100,), compression='gzip', shuffle=True)
    f.attrs['name'] = 'plain'
    f['alias'] = h5py.SoftLink('/w')
    f['dangling'] = h5py.SoftLink('/nowhere')
with h5py.File(d + '/extlink.h5', 'w') as f:
    f['x'] = h5py.ExternalLink('/etc/passwd', '/')
with h5py.File(d + '/extraw.h5', 'w') as f:
    f.create_dataset('raw', shape=(16,), dtype='<f4', external=[('/etc/hostname', 0, 64)])
with h5py.File(d + '/vds.h5', 'w') as f:
    layout = h5py.VirtualLayout(shape=(4,), dtype='<f4')
    layout[:] = h5py.VirtualSource('other.h5', 'x', shape=(4,))
    f.create_virtual_dataset('v', layout)
with h5py.File(d + '/scaleoffset.h5', 'w') as f:
    f.create_dataset('s', data=np.arange(64, dtype='<i4'), chunks=(16,), scaleoffset=0)
with h5py.File(d + '/deep.h5', 'w') as f:
    f.create_group('/'.join('g%d' % i for i in range(12)))
with h5py.File(d + '/bigattr.h5', 'w', libver='latest') as f:
    f.attrs['big'] = np.zeros(140000, dtype='<f8')
with h5py.File(d + '/bomb.h5', 'w') as f:
    f.create_dataset('b', shape=(1 << 28,), dtype='<f4', chunks=(1 << 16,))
with h5py.File(d + '/huge.h5', 'w') as f:
    f.create_dataset('h', shape=(1 << 40,), dtype='<f8', chunks=(1 << 16,))
with h5py.File(d + '/widechunk.h5', 'w') as f:
    f.create_dataset('c', shape=(1 << 20, 128), dtype='<f8', chunks=(1 << 16, 128), compression='gzip')
`,
});

describe('File.openAsync(path, { untrusted: true })', () => {
  it('opens a well-formed h5py file (soft and dangling links are fine) and reads it', async () => {
    const f = await File.openAsync(p('plain.h5'), { untrusted: true });
    try {
      expect(f.keys().sort()).toEqual(['alias', 'dangling', 'w', 'z']);
      expect(Array.from((await f.dataset('z').read()) as Int32Array).slice(0, 3)).toEqual([0, 1, 2]);
      expect(f.attrs.get('name')).toBe('plain');
    } finally {
      f.close();
    }
  });

  it.each([
    ['extlink.h5', 'external-link', /external link to '\/etc\/passwd'/],
    ['extraw.h5', 'external-storage', /external files/],
    ['vds.h5', 'virtual-dataset', /virtual/],
    ['scaleoffset.h5', 'filter', /filter 6 \(scaleoffset\) is not in the allow-list/],
  ])('%s is refused: %s', async (name, reason, detail) => {
    const e = await refusal(p(name));
    expect(e.code).toBe('H5_UNSAFE_FILE');
    expect(e.reason).toBe(reason);
    expect(e.message).toMatch(detail);
    expect(e.message).toContain(name);
  });

  it('declared but unwritten data is not a bomb: bomb.h5 (1 GiB) and huge.h5 (8 TiB) open', async () => {
    // Nothing is stored, so nothing is decoded: reads give fill values.
    for (const name of ['bomb.h5', 'huge.h5']) (await File.openAsync(p(name), { untrusted: true })).close();
  });

  it('dataset-too-large counts the bytes stored data decodes to', async () => {
    const e = await refusal(p('plain.h5'), { untrusted: true, limits: { maxDatasetBytes: 1000 } });
    expect(e.reason).toBe('dataset-too-large');
    expect(e.message).toMatch(/dataset stores 3\.9 KiB to decode \(limit 1000 B\) at \/z/);
  });

  it('limits are configurable: depth, attribute size, chunk size, expansion, filters', async () => {
    expect((await refusal(p('deep.h5'), { untrusted: true, limits: { maxDepth: 8 } })).reason).toBe('too-deep');
    (await File.openAsync(p('deep.h5'), { untrusted: true })).close();
    expect((await refusal(p('bigattr.h5'))).reason).toBe('attribute-too-large');
    (await File.openAsync(p('bigattr.h5'), { untrusted: true, limits: { maxAttributeBytes: 2 << 20 } })).close();
    expect((await refusal(p('widechunk.h5'), { untrusted: true, limits: { maxChunkBytes: 1 << 20 } })).reason).toBe(
      'chunk-too-large',
    );
    (await File.openAsync(p('bomb.h5'), { untrusted: true, limits: { maxExpansion: Infinity } })).close();
    (await File.openAsync(p('scaleoffset.h5'), { untrusted: true, limits: { allowFilters: [6] } })).close();
    expect((await refusal(p('plain.h5'), { untrusted: true, limits: { allowFilters: [] } })).reason).toBe('filter');
  });

  it('bad options are TypeError/RangeError before any work', async () => {
    await expect(File.openAsync(p('plain.h5'), { untrusted: 1 as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(File.openAsync(p('plain.h5'), { untrusted: true, limits: { maxDepth: -1 } })).rejects.toThrow(
      RangeError,
    );
    await expect(File.openAsync(p('plain.h5'), { untrusted: true, limits: { nope: 1 } as never })).rejects.toThrow(
      /unknown limit 'nope'/,
    );
    await expect(File.openAsync(p('plain.h5'), { untrusted: true, limits: { allowFilters: [1.5] } })).rejects.toThrow(
      TypeError,
    );
    await expect(File.openAsync(p('plain.h5'), { untrusted: true, limits: { timeoutMs: 0 } })).rejects.toThrow(
      RangeError,
    );
    await expect(File.openAsync(p('plain.h5'), { limits: { maxDepth: 3 } })).rejects.toThrow(
      /only apply with \{ untrusted: true \}/,
    );
    await expect(File.openAsync(p('plain.h5'), { expectDigest: 'abc' })).rejects.toThrow(/64 hex/);
  });

  it('a missing file is H5_FILE_NOT_FOUND and a non-HDF5 file H5_NOT_HDF5, as in trusted mode', async () => {
    expect((await refusal(p('absent.h5'))).code).toBe('H5_FILE_NOT_FOUND');
    writeFileSync(p('text.h5'), 'not hdf5 at all\n'.repeat(100));
    expect((await refusal(p('text.h5'))).code).toBe('H5_NOT_HDF5');
  });

  it('a libhdf5 crash stays in the child: reason crashed, with the signal', async () => {
    // CVE-2018-13867: libhdf5 1.10.8 segfaults while walking its objects.
    // (CVE-2024-29157, used here before, segfaulted in the global heap read,
    // which the heap-ID checks now refuse as 'corrupt' first.)
    const e = await refusal(join(corpusDir(), 'cve-2018-13867.h5'));
    expect(e.reason).toBe('crashed');
    expect(e.signal).toBe('SIGSEGV');
  });

  it("mode 'r+' with { untrusted } or { expectDigest } is refused before the file is touched", async () => {
    copyFileSync(p('plain.h5'), p('rw.h5'));
    const before = readFileSync(p('rw.h5'));
    const mtime = statSync(p('rw.h5')).mtimeMs;
    const digest = fileDigestSync(p('rw.h5'));
    for (const options of [{ untrusted: true }, { expectDigest: digest }] as const) {
      await expect(File.openAsync(p('rw.h5'), { ...options, mode: 'r+' })).rejects.toThrow(TypeError);
      expect(() => File.open(p('rw.h5'), { ...options, mode: 'r+' })).toThrow(/open files read-only: mode 'r\+'/);
    }
    expect(readFileSync(p('rw.h5')).equals(before)).toBe(true);
    expect(statSync(p('rw.h5')).mtimeMs).toBe(mtime);
  });

  it('a walk past its deadline is killed: reason timeout', async () => {
    const e = await refusal(p('plain.h5'), { untrusted: true, limits: { timeoutMs: 1 } });
    expect(e.reason).toBe('timeout');
    expect(e.signal).toBe('SIGKILL');
  });

  it('a file changed between the walk and the open is refused: reason changed', async () => {
    copyFileSync(p('plain.h5'), p('moving.h5'));
    // A walk child that walks, then grows the file before the parent opens it.
    const wrapper = p('walk-then-append.mjs');
    writeFileSync(
      wrapper,
      `import { appendFileSync } from 'node:fs';\n` +
        `await import(${JSON.stringify(join(REPO, 'dist', 'safety', 'walk-child.js'))});\n` +
        `appendFileSync(JSON.parse(process.argv[2]).path, Buffer.alloc(512));\n`,
    );
    chmodSync(wrapper, 0o755);
    process.env.H5VAULT_WALK_CHILD = wrapper;
    try {
      const e = await refusal(p('moving.h5'));
      expect(e.reason).toBe('changed');
    } finally {
      delete process.env.H5VAULT_WALK_CHILD;
    }
  });
});

describe('expectDigest', () => {
  it('a matching SHA-256 skips the walk (a file the walk would refuse opens)', async () => {
    const digest = await fileDigest(p('extlink.h5'));
    expect(fileDigestSync(p('extlink.h5'))).toBe(digest);
    const f = await File.openAsync(p('extlink.h5'), { untrusted: true, expectDigest: digest.toUpperCase() });
    expect(f.links()).toEqual([{ name: 'x', kind: 'external', link: 'external' }]);
    f.close();
  });

  it('a different file is H5_CHECKSUM_MISMATCH, also without untrusted', async () => {
    copyFileSync(p('plain.h5'), p('tampered.h5'));
    const digest = await fileDigest(p('tampered.h5'));
    appendFileSync(p('tampered.h5'), Buffer.from([0]));
    const e = await refusal(p('tampered.h5'), { expectDigest: digest });
    expect(e.code).toBe('H5_CHECKSUM_MISMATCH');
    expect(e.expected).toBe(digest);
  });
});

describe('sync forms', () => {
  it('File.open(path, { untrusted: true }) walks synchronously with the same outcomes', () => {
    File.open(p('plain.h5'), { untrusted: true }).close();
    expect(() => File.open(p('extlink.h5'), { untrusted: true })).toThrow(/refused \(external-link\)/);
    expect(() => File.open(p('plain.h5'), { untrusted: true, limits: { timeoutMs: 1 } })).toThrow(
      /refused \(timeout\)/,
    );
  });

  it('walkUntrusted/walkUntrustedSync report what the walk saw', async () => {
    const a = await walkUntrusted(p('plain.h5'));
    const b = walkUntrustedSync(p('plain.h5'));
    expect(a.stats).toEqual(b.stats);
    expect(a.stats).toMatchObject({ datasets: 2, softLinks: 2, attributes: 1, attributesRead: 1, chunks: 10 });
    expect(a.stats.declaredBytes).toBe(400 + 4000);
    expect(a.walkMs).toBeGreaterThan(0);
    expect(a.totalMs).toBeGreaterThanOrEqual(a.walkMs);
  });
});
