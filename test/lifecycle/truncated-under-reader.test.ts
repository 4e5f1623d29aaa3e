/**
 * A file truncated in place while h5vault has it open read-only: a contiguous
 * read() used to return the missing part as zeros with no error, and view() /
 * prefetch() of the lost range died with SIGBUS. h5vault now compares the size
 * of libhdf5's own descriptor (fstat) with the extent it is about to read or
 * map and raises H5Error H5_IO, as the chunk engine does for chunked data.
 * The view/prefetch cases run in a child process: before the fix they kill it.
 * (A truncation after a view exists is still out of reach: docs/views.md.)
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { DIST_URL, ensureDist } from './child.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-truncated-');
const N = 100_000;

function write(p: string): void {
  using f = File.create(p);
  f.createDataset('x', { dtype: 'float32', shape: [N], data: new Float32Array(N).fill(1) });
  f.createDataset('z', {
    dtype: 'float32',
    shape: [N],
    chunks: [10_000],
    compression: 'gzip',
    data: new Float32Array(N).fill(2),
  });
}

async function ioError(p: Promise<unknown>): Promise<H5Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(H5Error);
  expect((e as H5Error).code).toBe('H5_IO');
  return e as H5Error;
}

describe('read() of a file truncated after open', () => {
  it('contiguous: H5_IO naming the sizes, not 80% zeros (read and readSync)', async () => {
    const p = join(dir, 'read.h5');
    write(p);
    using f = File.open(p);
    const ds = f.dataset('x');
    truncateSync(p, Math.floor(statSync(p).size * 0.2));
    const e = await ioError(ds.read());
    expect(e.message).toMatch(/truncated after it was opened/);
    expect(() => ds.readSync()).toThrow(expect.objectContaining({ code: 'H5_IO' }));
    // A hyperslab is refused too: the dataset's extent is cut, whatever part is asked.
    await ioError(ds.read({ start: [0], count: [10] }));
    // The chunked, compressed dataset was already an H5_IO through the engine.
    await ioError(f.dataset('z').read());
  });

  it('an h5py-written contiguous dataset, truncated: H5_IO', async () => {
    requirePeers();
    const p = join(dir, 'h5py.h5');
    python(
      `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('x', data=np.arange(50000, dtype='<i4'))`,
      [p],
    );
    using f = File.open(p);
    const ds = f.dataset('x');
    expect(ds.layout).toBe('contiguous');
    truncateSync(p, statSync(p).size - 4096);
    await ioError(ds.read());
  });

  it('an untruncated file still reads (the check refuses only a short file)', async () => {
    const p = join(dir, 'whole.h5');
    write(p);
    using f = File.open(p);
    const a = (await f.dataset('x').read()) as Float32Array;
    expect(a.every((v) => v === 1)).toBe(true);
    expect(f.dataset('x').view().length).toBe(N);
  });
});

describe('view() and prefetch() of a file truncated after open (child process: SIGBUS before the fix)', () => {
  // Each step prints its outcome; a SIGBUS would kill the child mid-way.
  const script = (p: string) => `const H5 = await import(${JSON.stringify(DIST_URL)});
const fs = await import('node:fs');
const out = (step, f) => { try { const r = f(); return Promise.resolve(r).then(
  (v) => console.log(step, 'ok', typeof v === 'object' && v ? v.length : v),
  (e) => console.log(step, e.code)); } catch (e) { console.log(step, e.code); } };
const f = H5.File.open(${JSON.stringify(p)});
const x = f.dataset('x');
const before = f.dataset('y').view();   // the file is mapped now, at full size
console.log('mapped', before.length);
fs.truncateSync(${JSON.stringify(p)}, 4096);
await out('view', () => { const v = x.view(); let s = 0; for (let i = 0; i < v.length; i += 1024) s += v[i]; return v; });
await out('view-copy', () => x.view({ copy: true }));
await out('prefetch', () => x.prefetch());
await out('file-prefetch', () => f.prefetch());
f.close();
console.log('done');`;

  it('are H5_IO, and the process lives', () => {
    ensureDist();
    const p = join(dir, 'view.h5');
    {
      using f = File.create(p);
      f.createDataset('y', { dtype: 'float32', shape: [16], data: new Float32Array(16) });
      f.createDataset('x', { dtype: 'float32', shape: [N], data: new Float32Array(N).fill(1) });
    }
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(p)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.signal, `child died: ${r.stdout}${r.stderr}`).toBe(null);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'mapped 16',
      'view H5_IO',
      'view-copy H5_IO',
      'prefetch H5_IO',
      'file-prefetch H5_IO',
      'done',
    ]);
  });
});
