/**
 * One test per H5Error code that the core API raises (docs/errors.md), checking
 * class, code, message shape ("top (bottom)" with the path) and that the stack
 * points at this file, for sync and async calls. H5_CHECKSUM_MISMATCH and
 * H5_UNSAFE_FILE belong to model storage and untrusted files (their suites).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { PYTHON, python, requirePeers, tempDir } from '../helpers.js';
import { ensureDist, runNode } from '../lifecycle/child.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `e${n++}.h5`);

/** Runs fn, returns the H5Error it throws (fails the test otherwise). */
function h5err(fn: () => unknown): H5Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(H5Error);
    expect(e).toBeInstanceOf(Error);
    expect((e as H5Error).name).toBe('H5Error');
    return e as H5Error;
  }
  throw new Error('expected an H5Error, nothing was thrown');
}

async function h5errAsync(p: Promise<unknown>): Promise<H5Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(H5Error);
    return e as H5Error;
  }
  throw new Error('expected an H5Error, the promise resolved');
}

function simpleFile(): string {
  const p = fresh();
  using f = File.create(p);
  f.createDataset('d', { dtype: 'float32', shape: [64], data: new Float32Array(64) });
  f.createDataset('z', {
    dtype: 'float32',
    shape: [256],
    chunks: [64],
    compression: 'gzip',
    fletcher32: true,
    data: new Float32Array(256).fill(1),
  });
  return p;
}

requirePeers();
const hp = fresh();
python(
  `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('compound', data=np.zeros(3, dtype=[('a', '<i4'), ('b', '<f8')]))
    f.create_dataset('complex', data=np.zeros(2, dtype='<c8'))
    f.attrs.create('compound', np.zeros(2, dtype=[('a', '<i4')]))
    wide = h5py.h5t.STD_I64LE.copy(); wide.set_size(16)
    h5py.h5d.create(f.id, b'int128', wide, h5py.h5s.create_simple((2,)))
    h5py.h5a.create(f.id, b'int128', wide, h5py.h5s.create(h5py.h5s.SCALAR))
    f.create_dataset('lzf', data=np.arange(64, dtype='<f4'), chunks=(16,), compression='lzf')
    f.create_dataset('gz', data=np.zeros(4096, dtype='<f4'), chunks=(4096,), compression='gzip')
    f['ext'] = h5py.ExternalLink('elsewhere.h5', '/x')
    layout = h5py.VirtualLayout(shape=(4,), dtype='<f4')
    layout[:] = h5py.VirtualSource(sys.argv[1], 'lzf', shape=(64,))[:4]
    f.create_virtual_dataset('vds', layout)
`,
  [hp],
);

/** A copy of `src` whose filter 32000 (lzf) is renamed to 32123, which nobody registers. */
function unknownFilterFile(): string {
  const buf = readFileSync(hp);
  // Filter pipeline message entry: id(u16) name_len(u16) flags(u16) n_values(u16) "lzf\0..."
  let hits = 0;
  for (let i = buf.indexOf('lzf\0'); i >= 0; i = buf.indexOf('lzf\0', i + 1)) {
    if (buf.readUInt16LE(i - 8) === 32000) {
      buf.writeUInt16LE(32123, i - 8);
      hits++;
    }
  }
  expect(hits).toBe(1);
  const p = fresh();
  writeFileSync(p, buf);
  return p;
}

/** A copy with one byte of the gzip chunk of 'gz' flipped. */
function corruptChunkFile(name: string): string {
  const off = Number(
    python(
      `
import h5py, sys
with h5py.File(sys.argv[1], 'r') as f:
    print(f[sys.argv[2]].id.get_chunk_info(0).byte_offset)
`,
      [hp, name],
    ).trim(),
  );
  const buf = readFileSync(hp);
  buf[off + 5]! ^= 0xff;
  const p = fresh();
  writeFileSync(p, buf);
  return p;
}

describe('codes', () => {
  it('H5_FILE_NOT_FOUND: opening a missing file', () => {
    const e = h5err(() => File.open(join(dir, 'missing.h5')));
    expect(e.code).toBe('H5_FILE_NOT_FOUND');
    expect(e.message).toContain('missing.h5');
  });

  it('H5_NOT_HDF5: opening a file that is not HDF5', () => {
    const p = join(dir, 'text.h5');
    writeFileSync(p, 'just some text, no superblock here');
    const e = h5err(() => File.open(p));
    expect(e.code).toBe('H5_NOT_HDF5');
    // "top (bottom)" from libhdf5's stack, with HDF5's classification.
    expect(e.message).toMatch(/unable to open file \(file signature not found\)/);
    expect(e.major).toBe('File accessibility');
    expect(e.minor).not.toBe('');
  });

  it('H5_OPEN_FAILED: a directory, or creating in a missing directory', () => {
    expect(h5err(() => File.open(dir)).code).toBe('H5_OPEN_FAILED');
    expect(h5err(() => File.create(join(dir, 'no', 'such', 'dir.h5'))).code).toBe('H5_OPEN_FAILED');
  });

  it('H5_EXISTS: File.create over an existing file, groups, datasets', () => {
    const p = simpleFile();
    expect(h5err(() => File.create(p)).message).toContain('overwrite');
    using f = File.open(p, { mode: 'r+' });
    expect(h5err(() => f.createDataset('d', { dtype: 'int8', shape: [1] })).code).toBe('H5_EXISTS');
    expect(h5err(() => f.createGroup('d')).code).toBe('H5_EXISTS');
  });

  it('H5_NOT_FOUND: missing object or attribute', () => {
    const p = simpleFile();
    using f = File.open(p);
    expect(h5err(() => f.get('nope')).code).toBe('H5_NOT_FOUND');
    expect(h5err(() => f.dataset('d').attrs.get('nope')).code).toBe('H5_NOT_FOUND');
  });

  it('H5_READ_ONLY: writing through a read-only file, sync and async', async () => {
    const p = simpleFile();
    using f = File.open(p);
    expect(h5err(() => f.dataset('d').writeSync(new Float32Array(64))).code).toBe('H5_READ_ONLY');
    expect((await h5errAsync(f.dataset('d').write(new Float32Array(64)))).code).toBe('H5_READ_ONLY');
    expect(h5err(() => f.createGroup('g')).code).toBe('H5_READ_ONLY');
    expect(h5err(() => f.attrs.set('a', 1)).code).toBe('H5_READ_ONLY');
  });

  it('H5_INVALID_ARGUMENT: a value that would be stored changed, sync and async; stack points here', async () => {
    const p = fresh();
    using f = File.create(p);
    const b = f.createDataset('b', { dtype: 'bool', shape: [2] });
    const e1 = h5err(() => f.attrs.set('a', 300, { dtype: 'int8' }));
    expect(e1.code).toBe('H5_INVALID_ARGUMENT');
    expect(e1.stack).toContain('errors.test.ts');
    // A NUL in a name breaks the one name rule: a TypeError (misuse) with the same code.
    const bad = (() => {
      try {
        f.attrs.set('a\0b', 1);
      } catch (e) {
        return e;
      }
    })() as TypeError & { code: string };
    expect(bad).toBeInstanceOf(TypeError);
    expect(bad.code).toBe('H5_INVALID_ARGUMENT');
    const e2 = await h5errAsync(b.write(Uint8Array.of(0, 7)));
    expect(e2.code).toBe('H5_INVALID_ARGUMENT');
    expect(e2.message).toMatch(/'\/b'.*7 at element 1/);
    expect(e2.stack).toContain('errors.test.ts');
  });

  it('H5_CLOSED: any use after close()', async () => {
    const p = simpleFile();
    const f = File.open(p);
    const d = f.dataset('d');
    f.close();
    expect(h5err(() => d.readSync()).code).toBe('H5_CLOSED');
    expect((await h5errAsync(d.read())).code).toBe('H5_CLOSED');
    expect(h5err(() => f.get('d')).code).toBe('H5_CLOSED');
    expect(h5err(() => f.keys()).code).toBe('H5_CLOSED');
  });

  it('H5_FILE_LOCKED: another process has the file open for writing', async () => {
    const p = fresh();
    const child = spawn(
      PYTHON,
      ['-c', `import h5py, sys\nf = h5py.File(sys.argv[1], 'w')\nprint('ready', flush=True)\nsys.stdin.read()`, p],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    try {
      await new Promise((r) => child.stdout.once('data', r));
      const e = h5err(() => File.open(p));
      expect(e.code).toBe('H5_FILE_LOCKED');
      expect(e.message).toContain('unable to lock file');
    } finally {
      child.stdin.end();
      await new Promise((r) => child.on('exit', r));
    }
    File.open(p).close(); // released: opens fine now
  });

  it('H5_FILTER_UNAVAILABLE: chunks that need a filter nobody registered, naming its id', async () => {
    const p = unknownFilterFile();
    using f = File.open(p);
    const d = f.dataset('lzf');
    expect(d.filters).toEqual([expect.objectContaining({ id: 32123, available: false })]);
    const e = h5err(() => d.readSync());
    expect(e.code).toBe('H5_FILTER_UNAVAILABLE');
    expect(e.message).toContain('32123');
    expect((await h5errAsync(d.read())).code).toBe('H5_FILTER_UNAVAILABLE');
  });

  it('H5_UNSUPPORTED_TYPE: integers wider than 64 bits; writes into an existing structured dataset', () => {
    using f = File.open(hp);
    // Compound and complex have no flat dtype but read (docs/types.md).
    expect(f.dataset('compound').dtype).toBe('unsupported');
    expect(f.dataset('compound').type.class).toBe('compound');
    const e = h5err(() => f.dataset('int128').readSync());
    expect(e.code).toBe('H5_UNSUPPORTED_TYPE');
    expect(e.message).toContain('integer of 16 bytes');
    expect(h5err(() => f.attrs.get('int128')).code).toBe('H5_UNSUPPORTED_TYPE');
    expect(h5err(() => f.dataset('compound').writeSync(new Int32Array(3))).code).toBe('H5_UNSUPPORTED_TYPE');
  });

  it('H5_UNSUPPORTED: external links are not followed, virtual datasets not read', () => {
    using f = File.open(hp);
    expect(h5err(() => f.get('ext')).code).toBe('H5_UNSUPPORTED');
    const v = f.dataset('vds');
    expect(v.layout).toBe('virtual');
    expect(h5err(() => v.readSync()).code).toBe('H5_UNSUPPORTED');
  });

  it('H5_CORRUPT: a damaged chunk (gzip stream) and a truncated file', async () => {
    const p = corruptChunkFile('gz');
    using f = File.open(p);
    const e = h5err(() => f.dataset('gz').readSync());
    expect(e.code).toBe('H5_CORRUPT');
    expect((await h5errAsync(f.dataset('gz').read())).code).toBe('H5_CORRUPT');
    const t = fresh();
    writeFileSync(t, readFileSync(hp).subarray(0, 1200));
    expect(h5err(() => File.open(t)).code).toBe('H5_CORRUPT');
  });

  it('H5_CORRUPT: a fletcher32 mismatch', async () => {
    const p = simpleFile();
    const off = Number(
      python(
        `
import h5py, sys
with h5py.File(sys.argv[1], 'r') as f:
    print(f['z'].id.get_chunk_info(1).byte_offset)
`,
        [p],
      ).trim(),
    );
    const buf = readFileSync(p);
    buf[off + 2]! ^= 0x01;
    writeFileSync(p, buf);
    using f = File.open(p);
    expect(h5err(() => f.dataset('z').readSync()).code).toBe('H5_CORRUPT');
    // Chunks before the damaged one still read.
    expect(f.dataset('z').readSync({ start: [0], count: [64] })).toEqual(new Float32Array(64).fill(1));
  });

  it('H5_ABORTED: an AbortSignal aborted before the call, and after it while the job is queued', async () => {
    const p = fresh();
    {
      using f = File.create(p);
      // Many small chunks: the engine checks the signal between chunks.
      f.createDataset('x', {
        dtype: 'float32',
        shape: [2048 * 16],
        chunks: [16],
        compression: 'gzip',
        data: new Float32Array(2048 * 16),
      });
    }
    using f = File.open(p);
    const d = f.dataset('x');
    const ac = new AbortController();
    ac.abort();
    expect((await h5errAsync(d.read({ signal: ac.signal }))).code).toBe('H5_ABORTED');
    // Aborted after the call, while the job waits in libuv's pool: occupy
    // every pool thread first (pbkdf2 runs there) so the abort always lands
    // before the engine's first between-chunks check, however loaded the machine.
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const busy = Array.from({ length: poolSize }, () => new Promise((r) => pbkdf2('x', 'y', 200_000, 32, 'sha256', r)));
    const ac2 = new AbortController();
    const pending = d.read({ signal: ac2.signal });
    ac2.abort();
    expect((await h5errAsync(pending)).code).toBe('H5_ABORTED');
    await Promise.all(busy);
    // The file is still usable.
    expect((await d.read()).length).toBe(2048 * 16);
  });

  it('H5_NOT_VIEWABLE: view() of a chunked dataset says why', () => {
    const p = simpleFile();
    using f = File.open(p);
    const e = h5err(() => f.dataset('z').view());
    expect(e.code).toBe('H5_NOT_VIEWABLE');
    expect(e.reason).toBe('filtered');
    expect(f.dataset('z').view({ copy: true })).toEqual(new Float32Array(256).fill(1));
  });

  it('H5_ERROR: a libhdf5 failure with no more specific code (not H5_NOT_FOUND from a traversal frame)', () => {
    const p = fresh();
    using f = File.create(p);
    // Bypass lib's own checks (createSpec would say RangeError) to see how
    // libhdf5's stack is classified: every failed create has an intermediate
    // "Object not found" traversal frame.
    const root = native.fileRoot(f.fileHandle);
    const s = h5err(() =>
      native.datasetCreate(root, 's', {
        dtype: 'float32',
        shape: [10],
        scalar: false,
        chunks: [4],
        compression: 'szip',
        szipCoding: 'nn',
        szipPixelsPerBlock: 32,
      }),
    );
    expect(s.code).toBe('H5_ERROR');
    expect(s.message).toContain('pixels per block');
  });
});

describe('stacks point at the caller', () => {
  it('sync and async errors carry this file in their stack', async () => {
    const p = simpleFile();
    using f = File.open(p);
    const sync = h5err(() => f.get('nope'));
    expect(sync.stack).toContain('errors.test.ts');
    const asyncErr = await h5errAsync(f.dataset('d').write(new Float32Array(64)));
    expect(asyncErr.stack).toContain('errors.test.ts');
    expect(asyncErr.stack!.split('\n')[0]).toBe(`H5Error: ${asyncErr.message}`);
  });
});

describe('HDF5 prints nothing', () => {
  it('failures leave stderr silent (error printing is off)', () => {
    ensureDist();
    const p = join(dir, 'quiet.h5');
    writeFileSync(p, 'not hdf5');
    const r = runNode(`for (const f of process.argv.slice(-2)) { try { H5.File.open(f); } catch {} }`, [
      p,
      join(dir, 'nope.h5'),
    ]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
