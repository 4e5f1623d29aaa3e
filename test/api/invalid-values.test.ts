/**
 * Values h5vault used to store changed without a word: out-of-range numbers
 * and bigints for an attribute's dtype, NUL characters in names and string
 * values, bool bytes other than 0/1, attributes over libhdf5's 64 KiB limit.
 * Each is now a typed H5_INVALID_ARGUMENT, raised before anything is written
 * (the previous value survives). SharedArrayBuffer-backed data is accepted.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error, loadModel, saveModel, type NumericDType } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-invalid-');
let n = 0;
const fresh = () => join(dir, `v${n++}.h5`);

function invalid(fn: () => unknown, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(H5Error);
  expect((err as H5Error).code).toBe('H5_INVALID_ARGUMENT');
  if (message) expect((err as H5Error).message).toMatch(message);
}

/** A name breaking the one name rule (lib/util/names.ts): a TypeError carrying the same code. */
function badName(fn: () => unknown, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TypeError);
  expect((err as { code?: string }).code).toBe('H5_INVALID_ARGUMENT');
  if (message) expect((err as Error).message).toMatch(message);
}

async function invalidAsync(p: Promise<unknown>, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(H5Error);
  expect((err as H5Error).code).toBe('H5_INVALID_ARGUMENT');
  if (message) expect((err as H5Error).message).toMatch(message);
}

describe("attribute values out of their dtype's range", () => {
  // [dtype, smallest, largest] as numbers; one past each end must be refused.
  const ints: [NumericDType, number, number][] = [
    ['int8', -128, 127],
    ['int16', -32768, 32767],
    ['int32', -(2 ** 31), 2 ** 31 - 1],
    ['uint8', 0, 255],
    ['uint16', 0, 65535],
    ['uint32', 0, 2 ** 32 - 1],
  ];

  it.each(ints)('%s: the ends round-trip, one past them is refused (number, bigint, number[])', (dtype, lo, hi) => {
    const p = fresh();
    {
      using f = File.create(p);
      f.attrs.set('lo', lo, { dtype });
      f.attrs.set('hi', BigInt(hi), { dtype });
      f.attrs.set('arr', [lo, hi], { dtype });
      invalid(() => f.attrs.set('x', lo - 1, { dtype }), new RegExp(`cannot be stored as ${dtype}`));
      invalid(() => f.attrs.set('x', hi + 1, { dtype }));
      invalid(() => f.attrs.set('x', BigInt(hi) + 1n, { dtype }));
      invalid(() => f.attrs.set('x', BigInt(lo) - 1n, { dtype }));
      invalid(() => f.attrs.set('x', [lo, hi + 1], { dtype }), /element 1/);
      invalid(() => f.attrs.set('x', 1.5, { dtype }));
      invalid(() => f.attrs.set('x', NaN, { dtype }));
      expect(f.attrs.has('x')).toBe(false);
    }
    using r = File.open(p);
    expect(r.attrs.get('lo')).toBe(lo);
    expect(r.attrs.get('hi')).toBe(hi);
    expect(Array.from(r.attrs.get('arr') as ArrayLike<number>)).toEqual([lo, hi]);
  });

  it("the issue's cases: 300 as int8 and 2^64 as a bigint are refused, not stored as 44 and 0", () => {
    using f = File.create(fresh());
    invalid(() => f.attrs.set('a', 300, { dtype: 'int8' }), /300 cannot be stored as int8/);
    invalid(() => f.attrs.set('b', 2n ** 64n), /18446744073709551616n cannot be stored as uint64/);
    expect(f.attrs.keys()).toEqual([]);
  });

  it('int64 and uint64: bigint ends round-trip, one past them is refused', () => {
    const p = fresh();
    const i64 = [-(2n ** 63n), 2n ** 63n - 1n];
    const u64 = [0n, 2n ** 64n - 1n];
    {
      using f = File.create(p);
      f.attrs.set('i_lo', i64[0]!, { dtype: 'int64' });
      f.attrs.set('i_hi', i64[1]!);
      f.attrs.set('u_hi', u64[1]!);
      invalid(() => f.attrs.set('x', i64[0]! - 1n));
      invalid(() => f.attrs.set('x', i64[1]! + 1n, { dtype: 'int64' }));
      invalid(() => f.attrs.set('x', -1n, { dtype: 'uint64' }));
      invalid(() => f.attrs.set('x', u64[1]! + 1n, { dtype: 'uint64' }));
      invalid(() => f.attrs.set('x', 2 ** 63, { dtype: 'int64' }));
      invalid(() => f.attrs.set('x', -1, { dtype: 'uint64' }));
      invalid(() => f.attrs.set('x', 2 ** 64, { dtype: 'uint64' }));
      invalid(() => f.attrs.set('x', 0.5, { dtype: 'int64' }));
    }
    using r = File.open(p);
    expect(r.attrs.get('i_lo')).toBe(i64[0]);
    expect(r.attrs.get('i_hi')).toBe(i64[1]);
    expect(r.attrs.get('u_hi')).toBe(u64[1]);
  });

  it('floats: finite values that would overflow to Infinity are refused; NaN/Infinity themselves are kept', () => {
    using f = File.create(fresh());
    invalid(() => f.attrs.set('x', 1e39, { dtype: 'float32' }));
    invalid(() => f.attrs.set('x', 70000, { dtype: 'float16' }));
    invalid(() => f.attrs.set('x', [1, -1e39], { dtype: 'bfloat16' }));
    f.attrs.set('inf', Infinity, { dtype: 'float16' });
    f.attrs.set('nan', NaN, { dtype: 'float32' });
    f.attrs.set('max', 65504, { dtype: 'float16' });
    expect(f.attrs.get('inf')).toBe(Infinity);
    expect(f.attrs.get('nan')).toBeNaN();
    expect(f.attrs.get('max')).toBe(65504);
  });

  it('bool attributes: 0/1 and booleans are stored, other numbers and bytes are refused', () => {
    using f = File.create(fresh());
    f.attrs.set('b', [1, 0, 1], { dtype: 'bool' });
    invalid(() => f.attrs.set('x', [1, 2], { dtype: 'bool' }));
    invalid(() => f.attrs.set('x', Uint8Array.of(0, 7), { dtype: 'bool' }), /element 1 is 7/);
    expect(Array.from(f.attrs.get('b') as Uint8Array)).toEqual([1, 0, 1]);
  });
});

describe('NUL characters', () => {
  it('in an attribute name or value (scalar and array) are refused, not truncated', () => {
    const p = fresh();
    {
      using f = File.create(p);
      badName(() => f.attrs.set('x\0y', 1), /NUL/);
      invalid(() => f.attrs.set('s', 'ab\0cd'), /NUL/);
      invalid(() => f.attrs.set('s', ['ok', 'ab\0cd']), /\[1\]/);
      badName(() => f.attrs.has('x\0y'));
      badName(() => f.attrs.get('x\0y'));
      expect(f.attrs.keys()).toEqual([]);
    }
    using r = File.open(p);
    expect(r.attrs.keys()).toEqual([]);
  });

  it('in dataset, group and link paths are refused, not cut to another name', () => {
    using f = File.create(fresh());
    f.createGroup('g');
    badName(() => f.createDataset('d\0e', { dtype: 'int8', shape: [1] }), /NUL/);
    badName(() => f.createGroup('h\0i'), /NUL/);
    badName(() => f.get('g\0x'), /NUL/);
    badName(() => f.has('g\0x'), /NUL/);
    expect(f.keys()).toEqual(['g']);
  });

  it('in string dataset values are refused, for variable-length strings (createDataset and write)', async () => {
    const p = fresh();
    using f = File.create(p);
    invalid(() => f.createDataset('s', { dtype: 'string', shape: [2], data: ['a', 'b\0c'] }), /string 1/);
    expect(f.has('s')).toBe(false);
    const ds = f.createDataset('t', { dtype: 'string', shape: [1], data: ['kept'] });
    invalid(() => ds.writeSync(['x\0y']), /NUL/);
    await invalidAsync(ds.write(['x\0y']), /NUL/);
    expect(ds.readSync()).toEqual(['kept']);
  });

  it('in fixed-length strings of an h5py file are refused, and so are strings longer than the field', () => {
    requirePeers();
    const p = fresh();
    python(
      `import h5py, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('fixed', data=[b'abcdefgh', b'12345678'], dtype='S8')`,
      [p],
    );
    using f = File.open(p, { mode: 'r+' });
    const ds = f.dataset('fixed');
    invalid(() => ds.writeSync(['ab\0cd', 'x']), /NUL/);
    invalid(() => ds.writeSync(['123456789', 'x']), /9 bytes .* hold 8/);
    ds.writeSync(['short', '8bytes!!']);
    expect(ds.readSync()).toEqual(['short', '8bytes!!']);
  });
});

describe('bool tensors hold 0 or 1', () => {
  it('createDataset(dtype bool) refuses a 7 before creating anything; write() refuses it too', async () => {
    const p = fresh();
    using f = File.create(p);
    invalid(() => f.createDataset('b', { dtype: 'bool', shape: [3], data: Uint8Array.of(1, 7, 0) }), /element 1 is 7/);
    expect(f.has('b')).toBe(false);
    const ds = f.createDataset('ok', { dtype: 'bool', shape: [3], data: Uint8Array.of(1, 0, 1) });
    invalid(() => ds.writeSync(Uint8Array.of(0, 0, 2)), /2 at element 2/);
    await invalidAsync(ds.write(Uint8Array.of(255, 0, 0)));
    expect(Array.from(ds.readSync() as Uint8Array)).toEqual([1, 0, 1]);
  });

  it('saveModel refuses a 7 before writing the file; 0/1 round-trip', async () => {
    const p = fresh();
    await invalidAsync(
      saveModel(p, { mask: { dtype: 'bool', shape: [2], data: Uint8Array.of(7, 1) } }),
      /tensor 'mask'.*7/,
    );
    await saveModel(p, { mask: { dtype: 'bool', shape: [2], data: Uint8Array.of(0, 1) } });
    await invalidAsync(
      saveModel(p, { mask: { dtype: 'bool', shape: [2], data: Uint8Array.of(1, 7) } }, { compression: 'gzip' }),
    );
    const m = await loadModel(p);
    expect(Array.from(m.tensors.get('mask')!.data as Uint8Array)).toEqual([0, 1]);
    m.close();
  });
});

describe('attributes larger than libhdf5 can store', () => {
  it('an 800 KB attribute is H5_INVALID_ARGUMENT naming the limit, and the previous value stays', () => {
    const p = fresh();
    {
      using f = File.create(p);
      f.attrs.set('big', 'previous');
      invalid(
        () => f.attrs.set('big', new Float64Array(100_000)),
        /800000 bytes; HDF5 attributes are limited to \d+ bytes/,
      );
      invalid(
        () =>
          f.attrs.set(
            'strs',
            Array.from({ length: 5000 }, () => 's'),
          ),
        /limited/,
      );
      expect(f.attrs.get('big')).toBe('previous');
      f.attrs.set('fits', new Float64Array(7000)); // 56000 bytes: under the limit
    }
    using r = File.open(p);
    expect(r.attrs.get('big')).toBe('previous');
    expect((r.attrs.get('fits') as Float64Array).length).toBe(7000);
  });
});

describe('SharedArrayBuffer-backed data is written like any other', () => {
  it('dataset writes (sync, async, createDataset), attributes and saveModel', async () => {
    const p = fresh();
    const shared = new Float32Array(new SharedArrayBuffer(4 * 6)).map((_, i) => i + 0.5);
    const offset = new Int16Array(new SharedArrayBuffer(2 * 8), 4, 3).fill(-7);
    {
      using f = File.create(p);
      const a = f.createDataset('a', { dtype: 'float32', shape: [6], data: shared });
      const b = f.createDataset('b', { dtype: 'float32', shape: [6], chunks: [2], compression: 'gzip' });
      await b.write(shared);
      const c = f.createDataset('c', { dtype: 'int16', shape: [3] });
      c.writeSync(offset);
      f.attrs.set('sab', shared);
      expect(Array.from(a.readSync() as Float32Array)).toEqual(Array.from(shared));
    }
    using r = File.open(p);
    expect(Array.from((await r.dataset('b').read()) as Float32Array)).toEqual(Array.from(shared));
    expect(Array.from(r.dataset('c').readSync() as Int16Array)).toEqual([-7, -7, -7]);
    expect(Array.from(r.attrs.get('sab') as Float32Array)).toEqual(Array.from(shared));
    const q = fresh();
    await saveModel(q, { w: { dtype: 'float32', shape: [2, 3], data: shared } });
    const m = await loadModel(q);
    expect(Array.from(m.tensors.get('w')!.data as Float32Array)).toEqual(Array.from(shared));
    m.close();
  });
});
