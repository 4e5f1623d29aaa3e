/**
 * close() with work pending, use after close, idempotence, Disposable, and
 * views outliving their file (docs/architecture.md, invariants 2 and 4).
 */
import { describe, expect, it } from 'vitest';
import { pbkdf2 } from 'node:crypto';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { gaussian, tempDir } from '../helpers.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `c${n++}.h5`);
const N = 64 * 1024;
const data = gaussian(N, 3);

function make(): string {
  const p = fresh();
  using f = File.create(p);
  f.createDataset('chunked', {
    dtype: 'float32',
    shape: [N],
    chunks: [1024],
    compression: 'gzip',
    shuffle: true,
    data,
  });
  f.createDataset('plain', { dtype: 'float32', shape: [N], data });
  return p;
}

/** Fills libuv's pool so queued jobs are still pending when the next line runs. */
function occupyPool(): Promise<unknown> {
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Promise.all(
    Array.from({ length: size }, () => new Promise((r) => pbkdf2('a', 'b', 100_000, 32, 'sha256', r))),
  );
}

describe('close() while work is pending', () => {
  it('pending reads (chunked and contiguous) resolve with the right data', async () => {
    const f = File.open(make());
    const busy = occupyPool();
    const reads = [
      f.dataset('chunked').read(),
      f.dataset('plain').read(),
      f.dataset('chunked').read({ start: [100], count: [10] }),
    ];
    f.close();
    expect(f.closed).toBe(true);
    const [a, b, c] = await Promise.all(reads);
    expect(a).toEqual(data);
    expect(b).toEqual(data);
    expect(c).toEqual(data.slice(100, 110));
    await busy;
    // New work after close is refused.
    expect(() => f.get('plain')).toThrow(expect.objectContaining({ code: 'H5_CLOSED' }));
  });

  it('a pending write completes and is on disk after close', async () => {
    const p = make();
    const f = File.open(p, { mode: 'r+' });
    const d = f.dataset('chunked');
    const busy = occupyPool();
    const patch = new Float32Array(2048).fill(7);
    const w = d.write(patch, { start: [1024], count: [2048] });
    f.close();
    await w;
    await busy;
    using r = File.open(p);
    expect(r.dataset('chunked').readSync({ start: [1024], count: [2048] })).toEqual(patch);
    expect(r.dataset('chunked').readSync({ start: [0], count: [1024] })).toEqual(data.slice(0, 1024));
  });

  it('closeAsync() resolves only after pending reads, and the file can then be reopened r+', async () => {
    const p = make();
    const f = File.open(p);
    const busy = occupyPool();
    let readDone = false;
    const r = f
      .dataset('chunked')
      .read()
      .then((x) => {
        readDone = true;
        return x;
      });
    await f.closeAsync();
    expect(readDone).toBe(true);
    expect(await r).toEqual(data);
    await busy;
    // libhdf5 really closed it: reopening for writing works in this process.
    File.open(p, { mode: 'r+' }).close();
  });
});

describe('use after close', () => {
  it('datasets, groups, attributes and the file all throw H5_CLOSED; close is idempotent', async () => {
    const p = make();
    const f = File.open(p);
    const d = f.dataset('plain');
    const g = f.group('/');
    f.close();
    f.close();
    const checks: (() => unknown)[] = [
      () => d.readSync(),
      () => d.shape,
      () => d.attrs.keys(),
      () => g.keys(),
      () => f.attrs.get('x'),
      () => f.has('plain'),
      () => f.createGroup('x'),
      () => f.flush(),
      () => [...f.walk()],
    ];
    for (const c of checks) expect(c).toThrow(expect.objectContaining({ code: 'H5_CLOSED' }));
    for (const pr of [d.read(), d.prefetch(), f.prefetch()]) {
      await expect(pr).rejects.toBeInstanceOf(H5Error);
      await expect(pr).rejects.toMatchObject({ code: 'H5_CLOSED' });
    }
    await f.closeAsync(); // still fine
    expect(String(f)).toContain('closed');
  });

  it('`using` closes the file at the end of the block', () => {
    const p = make();
    let escaped: File;
    {
      using f = File.open(p);
      escaped = f;
      expect(f.closed).toBe(false);
    }
    expect(escaped.closed).toBe(true);
    expect(() => escaped.keys()).toThrow(H5Error);
  });

  it('`await using` closes asynchronously', async () => {
    const p = make();
    let escaped: File;
    {
      await using f = File.open(p);
      escaped = f;
    }
    expect(escaped.closed).toBe(true);
  });
});

describe('views outlive close()', () => {
  it('a zero-copy view still reads the data after its file closed; the mapping goes with the last view', async () => {
    const p = make();
    const before = native.mappingStats().mappings;
    let v: Float32Array | undefined;
    {
      using f = File.open(p);
      expect(f.dataset('plain').viewable).toBe(true);
      v = f.dataset('plain').view() as Float32Array;
    }
    expect(native.mappingStats().mappings).toBe(before + 1);
    expect(v).toEqual(data);
    v[0] = 123; // MAP_PRIVATE: changes our copy, never the file
    using r = File.open(p);
    expect((r.dataset('plain').readSync({ start: [0], count: [1] }) as Float32Array)[0]).toBe(data[0]);
    v = undefined;
    for (let i = 0; i < 10 && native.mappingStats().mappings > before; i++) {
      globalThis.gc!();
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(native.mappingStats().mappings).toBe(before);
  });
});
