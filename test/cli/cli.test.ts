/**
 * The h5vault binary on real files: output shape, --json schemas, exit
 * codes, bad arguments, missing / corrupt / non-HDF5 files.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File, saveModel, type TypedArray } from '../../lib/index.js';
import { gaussian, python, requirePeers, tempDir } from '../helpers.js';
import { ensureBuilt, h5vault, json, ROOT } from './run.js';

const dir = tempDir('h5vault-cli-');
const plain = join(dir, 'plain.h5');
const model = join(dir, 'model.h5');
const w = gaussian(64 * 512, 3);

beforeAll(async () => {
  ensureBuilt();
  const f = File.create(plain);
  f.attrs.set('config', JSON.stringify({ layers: 2, hidden: 512 }));
  f.attrs.set('step', 1200);
  f.attrs.set('lr', 0.5, { dtype: 'float16' });
  const g = f.createGroup('enc/layer0');
  g.attrs.set('kind', 'attention');
  g.createDataset('kernel', {
    dtype: 'float32',
    shape: [64, 512],
    data: w,
    compression: 'gzip',
    shuffle: true,
    chunks: [16, 512],
  });
  g.createDataset('bias', { dtype: 'float32', shape: [512], data: w.subarray(0, 512) });
  const ids = f.createDataset('ids', { dtype: 'int64', shape: [4], data: BigInt64Array.from([1n, 2n, 3n, -4n]) });
  ids.attrs.set('units', ['a', 'b']);
  f.createDataset('names', { dtype: 'string', shape: [2], data: ['alpha', 'beta'] });
  f.createDataset('scale', { dtype: 'float64', shape: [], data: new Float64Array([2.5]) });
  f.close();
  await saveModel(
    model,
    {
      'enc/kernel': { dtype: 'float32', shape: [64, 512], data: w },
      'enc/bias': { dtype: 'float32', shape: [512], data: w.subarray(0, 512) },
    },
    { metadata: { run: 'cli-test' } },
  );
});

function noAnsi(s: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: asserts that no ANSI escape (ESC '[') reached the output
  expect(s).not.toMatch(/\x1b\[/);
}

describe('global usage', () => {
  it('no command: usage on stdout, exit 2', () => {
    const r = h5vault([]);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^Usage: h5vault <command>/);
    for (const c of ['ls', 'info', 'verify', 'repack', 'bench', 'demo']) expect(r.stdout).toContain(`  ${c} `);
  });

  it('--help exits 0; --version prints the package version', () => {
    expect(h5vault(['--help']).status).toBe(0);
    const v = h5vault(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
    const h = h5vault(['repack', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: h5vault repack IN OUT/);
  });

  it('unknown command / option / missing argument: one error line with [USAGE], exit 2, no stack', () => {
    for (const args of [['frobnicate'], ['ls', plain, '--bogus'], ['info'], ['ls', plain, '/', 'extra']]) {
      const r = h5vault(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^h5vault( \w+)?: error: .+ \[USAGE\]$/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  });
});

describe('ls', () => {
  it('prints an aligned tree without colour when stdout is not a TTY', () => {
    const r = h5vault(['ls', plain]);
    expect(r.status).toBe(0);
    noAnsi(r.stdout);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^name\s+dtype\s+shape\s+layout\s+chunks\s+filters\s+stored\s+ratio\s+view$/);
    expect(lines[1]).toMatch(/^-+( +-+){8}$/);
    const kernel = lines.find((l) => l.includes('kernel'))!;
    expect(kernel).toMatch(
      /^ {6}kernel\s+float32\s+\[64, 512\]\s+chunked\s+\[16, 512\]\s+shuffle\+gzip\s+[\d.]+ KiB\s+[\d.]+x\s+no: filtered$/,
    );
    expect(lines.find((l) => l.includes(' bias'))).toMatch(/contiguous.*yes$/);
    // Columns line up: 'float32' starts at the same place in every dataset row.
    const col = lines[0]!.indexOf('dtype');
    for (const l of lines.filter((x) => /float32|int64|float64/.test(x)))
      expect(l.indexOf(l.match(/float32|int64|float64/)![0])).toBe(col);
  });

  it('--json lists groups, datasets and links with storage details', () => {
    const doc = json<{ entries: Record<string, unknown>[] }>(h5vault(['ls', plain, '--json']));
    const byPath = Object.fromEntries(doc.entries.map((e) => [e.path, e]));
    expect(Object.keys(byPath)).toEqual([
      '/',
      '/enc',
      '/enc/layer0',
      '/enc/layer0/bias',
      '/enc/layer0/kernel',
      '/ids',
      '/names',
      '/scale',
    ]);
    expect(byPath['/enc/layer0/kernel']).toMatchObject({
      kind: 'dataset',
      dtype: 'float32',
      shape: [64, 512],
      layout: 'chunked',
      chunks: [16, 512],
      filters: ['shuffle', 'gzip'],
      byteLength: 64 * 512 * 4,
      viewable: 'filtered',
    });
    const k = byPath['/enc/layer0/kernel'] as { ratio: number; storageSize: number };
    expect(k.ratio).toBeCloseTo((64 * 512 * 4) / k.storageSize, 6);
    expect(byPath['/enc/layer0/bias']).toMatchObject({ layout: 'contiguous', viewable: true, filters: [] });
    expect(byPath['/enc']).toMatchObject({ kind: 'group', children: 1, attributes: 0 });
  });

  it('PATH starts the listing at a group or a single dataset; a missing PATH is H5_NOT_FOUND', () => {
    const sub = json<{ entries: { path: string }[] }>(h5vault(['ls', plain, 'enc', '--json']));
    expect(sub.entries.map((e) => e.path)).toEqual(['/enc', '/enc/layer0', '/enc/layer0/bias', '/enc/layer0/kernel']);
    const one = json<{ entries: { path: string }[] }>(h5vault(['ls', plain, '/ids', '--json']));
    expect(one.entries.map((e) => e.path)).toEqual(['/ids']);
    const r = h5vault(['ls', plain, 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[H5_NOT_FOUND\]\n$/);
  });

  it('shows soft, external and dangling links without following them', () => {
    requirePeers();
    const p = join(dir, 'links.h5');
    python(
      `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['a'] = np.arange(4, dtype='f4')
    f['soft'] = h5py.SoftLink('/a')
    f['ext'] = h5py.ExternalLink('other.h5', '/x')
    f['gone'] = h5py.SoftLink('/missing')
    f['hard'] = f['a']
`,
      [p],
    );
    const doc = json<{ entries: { path: string; kind: string; link?: string; target?: string }[] }>(
      h5vault(['ls', p, '--json']),
    );
    const by = Object.fromEntries(doc.entries.map((e) => [e.path, e]));
    expect(by['/a']!.kind).toBe('dataset');
    expect(by['/hard']).toMatchObject({ kind: 'link', link: 'hard', target: 'seen' });
    expect(by['/soft']).toMatchObject({ kind: 'link', link: 'soft' });
    expect(by['/ext']).toMatchObject({ kind: 'link', link: 'external' });
    expect(by['/gone']).toMatchObject({ kind: 'link', target: 'dangling' });
    const human = h5vault(['ls', p]).stdout;
    expect(human).toMatch(/soft\s+-> soft link/);
    expect(human).toMatch(/gone\s+-> soft link \(dangling\)/);
  });
});

describe('info', () => {
  it('summarises the file and decodes JSON attributes', () => {
    const doc = json(h5vault(['info', plain, '--json']));
    expect(doc).toMatchObject({
      groups: 2,
      datasets: 5,
      links: 0,
      hdf5Library: '1.10.8',
      dtypes: { float32: 2, int64: 1, string: 1, float64: 1 },
      filters: { 'shuffle+gzip': 1, none: 4 },
      attributes: { config: { layers: 2, hidden: 512 }, step: 1200, lr: 0.5 },
    });
    expect(doc.logicalBytes).toBe(64 * 512 * 4 + 512 * 4 + 32 + 8);
    const human = h5vault(['info', plain]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^file\s+.*plain\.h5 \([\d.]+ KiB on disk\)$/m);
    expect(human.stdout).toMatch(/^config\s+\{"layers":2,"hidden":512\}$/m);
  });

  it('shows the provenance of a saved model', () => {
    const doc = json<{ attributes: Record<string, unknown> }>(h5vault(['info', model, '--json']));
    expect(doc.attributes['h5vault.format']).toBe(1);
    expect(doc.attributes['h5vault.metadata']).toEqual({ run: 'cli-test' });
    expect(doc.attributes['h5vault.model_digest']).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('verify', () => {
  it('a saved model: every tensor checked against its SHA-256, exit 0', () => {
    const r = h5vault(['verify', model, '--json']);
    expect(r.status).toBe(0);
    const doc = json(r);
    expect(doc).toMatchObject({ ok: true, method: 'sha256', datasets: 2, failed: 0, problems: [] });
    // The duration is rounded to the microsecond, not printed as 26.311679999999967.
    expect(r.stdout).toMatch(/^ {2}"ms": \d+(\.\d{1,3})?,$/m);
    expect(h5vault(['verify', model]).stdout).toMatch(
      /^OK: 2 of 2 tensors match their SHA-256 .*model digest [0-9a-f]{64}\n$/,
    );
  });

  it('a flipped bit in a model tensor: exit 1 naming the tensor', () => {
    const bad = join(dir, 'flipped.h5');
    copyFileSync(model, bad);
    // The kernel is contiguous; flip a bit in the middle of its data.
    const f = File.open(model);
    const off = f.dataset('enc/kernel').offset!;
    f.close();
    const buf = readFileSync(bad);
    buf[off + 1000]! ^= 0x10;
    writeFileSync(bad, buf);
    const r = h5vault(['verify', bad, '--json']);
    expect(r.status).toBe(1);
    const doc = json<{ ok: boolean; entries: { path: string; ok: boolean; code?: string }[] }>(r);
    expect(doc.ok).toBe(false);
    expect(doc.entries.find((e) => e.path === 'enc/kernel')).toMatchObject({ ok: false, code: 'H5_CHECKSUM_MISMATCH' });
    expect(doc.entries.find((e) => e.path === 'enc/bias')).toMatchObject({ ok: true });
    const human = h5vault(['verify', bad]);
    expect(human.status).toBe(1);
    expect(human.stdout).toMatch(/problem: \[H5_CHECKSUM_MISMATCH\] tensor 'enc\/kernel'/);
    expect(human.stdout).toMatch(/^FAILED: 1 of 2 tensors/m);
  });

  it('--digest refuses a file whose SHA-256 differs (exit 1) and accepts the right one', () => {
    const wrong = h5vault(['verify', model, '--digest', '0'.repeat(64)]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/\[H5_CHECKSUM_MISMATCH\]/);
    expect(h5vault(['verify', model, '--digest', 'xyz']).status).toBe(2);
  });

  it('a plain HDF5 file: every dataset read fully; a corrupt chunk fails with its code', () => {
    expect(json(h5vault(['verify', plain, '--json']))).toMatchObject({
      ok: true,
      method: 'read-all',
      datasets: 5,
      failed: 0,
    });
    const bad = join(dir, 'corrupt-chunk.h5');
    copyFileSync(plain, bad);
    // Overwrite the middle of the compressed kernel's chunks with garbage: the deflate stream breaks.
    const buf = readFileSync(bad);
    const f = File.open(plain);
    const stored = f.dataset('enc/layer0/kernel').storageSize;
    f.close();
    // Find the first deflate stream by its zlib header and overwrite part of it.
    let hit = -1;
    for (let i = 0; i < buf.length - 1 && hit < 0; i++)
      if (buf[i] === 0x78 && (buf[i + 1] === 0x01 || buf[i + 1] === 0x9c || buf[i + 1] === 0x5e)) hit = i;
    expect(hit).toBeGreaterThan(0);
    buf.fill(0xff, hit + 2, hit + 2 + Math.min(512, stored / 8));
    writeFileSync(bad, buf);
    const r = h5vault(['verify', bad, '--json']);
    expect(r.status).toBe(1);
    const doc = json<{ entries: { path: string; ok: boolean; code?: string }[] }>(r);
    const k = doc.entries.find((e) => e.path === '/enc/layer0/kernel')!;
    expect(k.ok).toBe(false);
    expect(k.code).toMatch(/^H5_/);
  });

  it('missing file, not an HDF5 file, a directory: exit 3, one line, no stack unless --verbose', () => {
    const txt = join(dir, 'notes.txt');
    writeFileSync(txt, 'not hdf5\n'.repeat(100));
    for (const [p, code] of [
      [join(dir, 'absent.h5'), 'H5_FILE_NOT_FOUND'],
      [txt, 'H5_NOT_HDF5'],
    ] as const) {
      const r = h5vault(['verify', p]);
      expect(r.status, p).toBe(3);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`[${code}]`);
      const v = h5vault(['verify', p, '--verbose']);
      expect(v.stderr).toMatch(/\n\s+at /);
      const j = h5vault(['verify', p, '--json']);
      expect(json(j)).toMatchObject({ ok: false, error: { code, exitCode: 3 } });
    }
    expect(h5vault(['info', dir]).status).toBe(3);
  });

  it('--untrusted walks the file in a child process first and still verifies it', () => {
    expect(h5vault(['verify', plain, '--untrusted']).status).toBe(0);
    const txt = join(dir, 'garbage.h5');
    writeFileSync(txt, Buffer.alloc(4096, 0x5a));
    expect(h5vault(['ls', txt, '--untrusted']).status).toBe(3);
  });
});

describe('repack', () => {
  it('rewrites with other filters: same tensors, attributes (dtypes kept) and groups', () => {
    const out = join(dir, 'repacked.h5');
    const r = h5vault(['repack', plain, out, '--compression', 'lz4', '--shuffle', '--chunk-bytes', '16KiB', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ compression: 'lz4', shuffle: true, datasets: 5, chunkBytes: 16384 });
    const a = File.open(plain);
    const b = File.open(out);
    try {
      const k = b.dataset('enc/layer0/kernel');
      expect(k.filters.map((x) => x.name)).toEqual(['shuffle', 'lz4']);
      expect(k.chunks).toEqual([8, 512]);
      for (const p of ['enc/layer0/kernel', 'enc/layer0/bias', 'ids', 'scale']) {
        const x = a.dataset(p).readSync() as TypedArray;
        const y = b.dataset(p).readSync() as TypedArray;
        expect(
          Buffer.compare(
            Buffer.from(x.buffer, x.byteOffset, x.byteLength),
            Buffer.from(y.buffer, y.byteOffset, y.byteLength),
          ),
          p,
        ).toBe(0);
      }
      expect(b.dataset('names').readSync()).toEqual(['alpha', 'beta']);
      expect(b.dataset('scale').shape).toEqual([]);
      expect(b.attrs.toObject()).toEqual(a.attrs.toObject());
      expect(b.group('enc/layer0').attrs.get('kind')).toBe('attention');
      expect(b.dataset('ids').attrs.get('units')).toEqual(['a', 'b']);
    } finally {
      a.close();
      b.close();
    }
    // The float16 attribute stays float16 (h5py sees the same dtype).
    requirePeers();
    expect(python(`import h5py, sys\nprint(h5py.File(sys.argv[1], 'r').attrs['lr'].dtype)`, [out]).trim()).toBe(
      'float16',
    );
    // No temp file is left next to the output.
    expect(readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('repacks with zstd at a level: every tensor reads back, the level is in the cd_values', () => {
    const out = join(dir, 'model-zstd.h5');
    const r = h5vault(['repack', model, out, '-c', 'zstd', '--level', '9', '--shuffle', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ compression: 'zstd', level: 9, shuffle: true });
    expect(json(h5vault(['verify', out, '--json']))).toMatchObject({ ok: true, method: 'sha256' });
    using f = File.open(out);
    const k = f.dataset('enc/kernel');
    expect(k.filters.map((x) => [x.name, x.cdValues])).toEqual([
      ['shuffle', [4]],
      ['zstd', [9]],
    ]);
  });

  it('repacks with bitshuffle+zstd at a level: every tensor verifies, the reference cd_values', () => {
    const out = join(dir, 'model-bitshuffle.h5');
    const r = h5vault(['repack', model, out, '-c', 'bitshuffle+zstd', '--level', '7', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ compression: 'bitshuffle+zstd', level: 7, shuffle: false });
    expect(json(h5vault(['verify', out, '--json']))).toMatchObject({ ok: true, method: 'sha256' });
    using f = File.open(out);
    // version 0.4, element size 4, default block, zstd (3) at level 7
    expect(f.dataset('enc/kernel').filters.map((x) => [x.name, x.cdValues])).toEqual([
      ['bitshuffle', [0, 4, 4, 0, 3, 7]],
    ]);
    const lz4 = join(dir, 'model-bitshuffle-lz4.h5');
    expect(h5vault(['repack', model, lz4, '-c', 'bitshuffle']).status).toBe(0);
    expect(json(h5vault(['verify', lz4, '--json']))).toMatchObject({ ok: true, method: 'sha256' });
  });

  it('a repacked model still verifies (checksums are over logical bytes)', () => {
    const out = join(dir, 'model-gzip.h5');
    expect(h5vault(['repack', model, out, '-c', 'gzip', '--level', '1', '--shuffle']).status).toBe(0);
    expect(json(h5vault(['verify', out, '--json']))).toMatchObject({ ok: true, method: 'sha256' });
    // Uncompressed output is contiguous again, so views work.
    const flat = join(dir, 'model-flat.h5');
    expect(h5vault(['repack', out, flat, '-c', 'none']).status).toBe(0);
    const f = File.open(flat);
    expect(f.dataset('enc/kernel').viewable).toBe(true);
    f.close();
  });

  it('refuses bad options (exit 2) and an existing OUT without --force (exit 3)', () => {
    const out = join(dir, 'x.h5');
    for (const args of [
      ['repack', plain, out],
      ['repack', plain, out, '-c', 'brotli'],
      ['repack', plain, out, '-c', 'lz4', '--level', '3'],
      ['repack', plain, out, '-c', 'zstd', '--level', '23'],
      ['repack', plain, out, '-c', 'bitshuffle', '--level', '3'],
      ['repack', plain, out, '-c', 'bitshuffle+zstd', '--level', '23'],
      ['repack', plain, out, '-c', 'gzip', '--level', '10'],
      ['repack', plain, out, '-c', 'none', '--shuffle'],
      ['repack', plain, out, '-c', 'lz4', '--chunk-bytes', 'lots'],
    ]) {
      const r = h5vault(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(existsSync(out)).toBe(false);
    }
    const r = h5vault(['repack', plain, plain, '-c', 'lz4']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('[H5_EXISTS]');
  });

  it('refuses to drop what it cannot copy (soft links), leaving no output', () => {
    requirePeers();
    const p = join(dir, 'soft.h5');
    python(
      `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['a'] = np.arange(4, dtype='f4')
    f['s'] = h5py.SoftLink('/a')
`,
      [p],
    );
    const out = join(dir, 'soft-out.h5');
    const r = h5vault(['repack', p, out, '-c', 'gzip']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/'\/s' is a soft link.*\[H5_UNSUPPORTED\]/);
    expect(existsSync(out)).toBe(false);
  });
});
