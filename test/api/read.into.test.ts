/**
 * read({ into }) / readSync({ into }): a read into an array the caller
 * already has gives exactly what a read into a new array gives, on every
 * path (contiguous, chunked through the engine, filtered, hyperslabs with
 * steps, conversions through libhdf5, never-stored chunks, fill values), and
 * bad arrays are typed errors before a byte is read. The arrays are filled
 * with a sentinel first, so a byte the read did not write would show.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import type { TypedArray } from '../../lib/h5/dtypes.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'into.h5');
const N = 4096;

beforeAll(() => {
  python(
    `import h5py, numpy as np, hdf5plugin, sys
N = int(sys.argv[2])
x = (np.arange(N, dtype='<f4') * 0.5 - 7)
with h5py.File(sys.argv[1], 'w') as f:
    f['contiguous'] = x
    f.create_dataset('gzip', data=x, chunks=(500,), compression='gzip', shuffle=True)
    f.create_dataset('lz4', data=x, chunks=(512,), **hdf5plugin.LZ4())
    f.create_dataset('big_endian', data=x.astype('>f4'), chunks=(512,))
    f.create_dataset('int16', data=np.arange(N, dtype='<i2'), chunks=(300,))
    f.create_dataset('uint64', data=np.arange(N, dtype='<u8') * 3, chunks=(1000,))
    f.create_dataset('matrix', data=np.arange(64 * 64, dtype='<f8').reshape(64, 64), chunks=(10, 7), compression='gzip')
    f['scalar'] = np.float64(2.5)
    f['half'] = np.arange(N, dtype='<f2')
    # chunks never written: fill time "never" (must read 0) and a user fill value (reads it)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    dcpl.set_chunk((512,))
    h5py.h5d.create(f.id, b'never', h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple((N,)), dcpl=dcpl)
    f['never'][512:1024] = np.arange(512, dtype='<f4') + 1
    f.create_dataset('filled', shape=(N,), dtype='<f4', chunks=(512,), fillvalue=-3.0)
    f['filled'][0:512] = 1
    f['text'] = np.array([b'a', b'b'], dtype='S1')
`,
    [p, String(N)],
  );
});

const SENTINEL = 0x5a;
function sentinel<T extends TypedArray>(a: T): T {
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength).fill(SENTINEL);
  return a;
}
function like(a: TypedArray): TypedArray {
  return sentinel(new (a.constructor as new (n: number) => TypedArray)(a.length));
}

const NAMES = [
  'contiguous',
  'gzip',
  'lz4',
  'big_endian',
  'int16',
  'uint64',
  'matrix',
  'scalar',
  'half',
  'never',
  'filled',
];
const SELECTIONS: Record<string, { start: number[]; count: number[]; step?: number[] }> = {
  matrix: { start: [3, 5], count: [20, 9], step: [3, 2] },
  scalar: { start: [], count: [] },
};

describe('read({ into })', () => {
  it('gives what a read into a new array gives, whole datasets, every layout and filter', async () => {
    const f = File.open(p);
    try {
      for (const name of NAMES) {
        const d = f.dataset(name);
        const fresh = (await d.read()) as TypedArray;
        const into = like(fresh);
        const got = await d.read({ into });
        expect(got, name).toBe(into);
        expect(Array.from(into as ArrayLike<number | bigint>), name).toEqual(
          Array.from(fresh as ArrayLike<number | bigint>),
        );
        const intoSync = like(fresh);
        expect(d.readSync({ into: intoSync }), name).toBe(intoSync);
        expect(Array.from(intoSync as ArrayLike<number | bigint>), name).toEqual(
          Array.from(fresh as ArrayLike<number | bigint>),
        );
      }
    } finally {
      f.close();
    }
  });

  it('hyperslabs (with steps) land in the caller array exactly', async () => {
    const f = File.open(p);
    try {
      for (const name of ['gzip', 'lz4', 'contiguous', 'big_endian', 'never', 'filled']) {
        const sel = { start: [400], count: [700], step: [2] };
        const d = f.dataset(name);
        const fresh = (await d.read(sel)) as TypedArray;
        const into = like(fresh);
        await d.read({ ...sel, into });
        expect(Array.from(into as Float32Array), name).toEqual(Array.from(fresh as Float32Array));
      }
      const m = f.dataset('matrix');
      const sel = SELECTIONS.matrix!;
      const fresh = (await m.read(sel)) as Float64Array;
      const into = sentinel(new Float64Array(fresh.length));
      m.readSync({ ...sel, into });
      expect(Array.from(into)).toEqual(Array.from(fresh));
    } finally {
      f.close();
    }
  });

  it('never-stored chunks read as 0 (fill time never) or the fill value, whatever the array held', async () => {
    const f = File.open(p);
    try {
      const never = sentinel(new Float32Array(N));
      await f.dataset('never').read({ into: never });
      expect(never[0]).toBe(0);
      expect(never[511]).toBe(0);
      expect(never[512]).toBe(1);
      expect(never[1023]).toBe(512);
      expect(never[N - 1]).toBe(0);
      const filled = sentinel(new Float32Array(N));
      f.dataset('filled').readSync({ into: filled });
      expect(filled[0]).toBe(1);
      expect(filled[512]).toBe(-3);
      expect(filled[N - 1]).toBe(-3);
    } finally {
      f.close();
    }
  });

  it('reads into a SharedArrayBuffer and into a subarray of a larger buffer', async () => {
    const f = File.open(p);
    try {
      const d = f.dataset('gzip');
      const fresh = (await d.read()) as Float32Array;
      const shared = new Float32Array(new SharedArrayBuffer(N * 4));
      await d.read({ into: shared });
      expect(Array.from(shared)).toEqual(Array.from(fresh));
      const big = sentinel(new Float32Array(N + 16));
      const window = big.subarray(8, 8 + N);
      await d.read({ into: window });
      expect(Array.from(window)).toEqual(Array.from(fresh));
      // the bytes around the window are untouched
      expect(new Uint8Array(big.buffer, 0, 32).every((b) => b === SENTINEL)).toBe(true);
      expect(new Uint8Array(big.buffer, (8 + N) * 4, 32).every((b) => b === SENTINEL)).toBe(true);
    } finally {
      f.close();
    }
  });

  it('a wrong array type, a wrong length, strings and generic reads are typed errors, nothing written', async () => {
    const f = File.open(p);
    try {
      const d = f.dataset('gzip');
      const wrongType = sentinel(new Float64Array(N));
      await expect(d.read({ into: wrongType as unknown as Float32Array })).rejects.toThrow(TypeError);
      expect(() => d.readSync({ into: new Int32Array(N) })).toThrow(/must be a Float32Array, not Int32Array/);
      const short = sentinel(new Float32Array(N - 1));
      await expect(d.read({ into: short })).rejects.toThrow(RangeError);
      expect(new Uint8Array(short.buffer).every((b) => b === SENTINEL)).toBe(true);
      expect(() => d.readSync({ start: [0], count: [10], into: new Float32Array(11) })).toThrow(
        /11 elements but the selection of '\/gzip' holds 10/,
      );
      expect(() => f.dataset('text').readSync({ into: new Uint8Array(2) })).toThrow(TypeError);
      expect(() => f.dataset('int16').readSync({ strings: 'bytes', into: new Int16Array(N) })).toThrow(TypeError);
      expect(() => d.readSync({ into: [1, 2] as unknown as Float32Array })).toThrow(TypeError);
      expect(new Uint8Array(wrongType.buffer).every((b) => b === SENTINEL)).toBe(true);
    } finally {
      f.close();
    }
  });
});
