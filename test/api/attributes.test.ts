/**
 * Attributes of every kind on files, groups and datasets: numeric scalars and
 * arrays of every dtype, bool, bigint, fixed/variable strings and string
 * arrays; overwrite, delete, keys, toObject, persistence across reopen.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  File,
  H5Error,
  bfloat16ToNumber,
  halfToNumber,
  numberToBfloat16,
  numberToHalf,
  type NumericDType,
} from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { NUMERIC, bytesOf, sample } from './fixtures.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `a${n++}.h5`);

/** Sets attributes with `write`, reopens read-only and hands the root to `check`. */
function roundTrip(write: (f: File) => void, check: (f: File) => void): void {
  const p = fresh();
  {
    using f = File.create(p);
    write(f);
  }
  using r = File.open(p);
  check(r);
}

describe('numeric arrays of every dtype', () => {
  it.each(NUMERIC)('%s typed array, byte-exact', (dtype) => {
    const v = sample(dtype, 12, 3) as Exclude<ReturnType<typeof sample>, string[]>;
    roundTrip(
      (f) => f.attrs.set('a', v, { dtype }),
      (f) => {
        const got = f.attrs.get('a');
        expect(ArrayBuffer.isView(got)).toBe(true);
        expect((got as object).constructor).toBe(v.constructor);
        expect(bytesOf(got as typeof v)).toEqual(bytesOf(v));
      },
    );
  });

  it('a typed array without dtype keeps its own type; Uint16Array is uint16', () => {
    roundTrip(
      (f) => {
        f.attrs.set('i8', Int8Array.of(-128, 127));
        f.attrs.set('u16', Uint16Array.of(1, 65535));
        f.attrs.set('f32', Float32Array.of(-0, 1.5));
      },
      (f) => {
        expect(f.attrs.get('i8')).toEqual(Int8Array.of(-128, 127));
        expect(f.attrs.get('u16')).toEqual(Uint16Array.of(1, 65535));
        expect(Object.is((f.attrs.get('f32') as Float32Array)[0], -0)).toBe(true);
      },
    );
  });

  it('number[] is float64 unless a dtype is given', () => {
    roundTrip(
      (f) => {
        f.attrs.set('f64', [1, 2.5, -3]);
        f.attrs.set('i16', [1, -2, 3], { dtype: 'int16' });
        f.attrs.set('h', [1, 0.5, 65504], { dtype: 'float16' });
        f.attrs.set('b', [1, 0, 1], { dtype: 'bool' });
      },
      (f) => {
        expect(f.attrs.get('f64')).toEqual(Float64Array.of(1, 2.5, -3));
        expect(f.attrs.get('i16')).toEqual(Int16Array.of(1, -2, 3));
        expect(f.attrs.get('h')).toEqual(Uint16Array.of(0x3c00, 0x3800, 0x7bff));
        expect(f.attrs.get('b')).toEqual(Uint8Array.of(1, 0, 1));
      },
    );
  });

  it('empty numeric and string arrays', () => {
    roundTrip(
      (f) => {
        f.attrs.set('e', new Float32Array(0));
        f.attrs.set('s', [] as string[]);
      },
      (f) => {
        expect(f.attrs.get('e')).toEqual(new Float32Array(0));
        // [] has no element to tell numbers from strings: it is stored as an empty string array.
        expect(f.attrs.get('s')).toEqual([]);
      },
    );
  });
});

describe('scalars', () => {
  const cases: [string, NumericDType, number, number][] = [
    ['int8', 'int8', -128, -128],
    ['uint8', 'uint8', 255, 255],
    ['int16', 'int16', -32768, -32768],
    ['uint16', 'uint16', 65535, 65535],
    ['int32', 'int32', -2147483648, -2147483648],
    ['uint32', 'uint32', 4294967295, 4294967295],
    ['int64', 'int64', -(2 ** 53 - 1), -(2 ** 53 - 1)],
    ['uint64', 'uint64', 2 ** 53 - 1, 2 ** 53 - 1],
    ['float32', 'float32', 0.1, Math.fround(0.1)],
    ['float64', 'float64', 0.1, 0.1],
    ['float16', 'float16', 0.1, halfToNumber(numberToHalf(0.1))],
    ['bfloat16', 'bfloat16', 0.1, bfloat16ToNumber(numberToBfloat16(0.1))],
  ];
  it.each(cases)('%s scalar from a number', (_n, dtype, value, want) => {
    roundTrip(
      (f) => f.attrs.set('x', value, { dtype }),
      (f) => expect(f.attrs.get('x')).toBe(want),
    );
  });

  it('inferred types: safe integer -> int64, other numbers -> float64, boolean -> bool', () => {
    roundTrip(
      (f) => {
        f.attrs.set('int', 12);
        f.attrs.set('float', 0.25);
        f.attrs.set('big', 2 ** 60);
        f.attrs.set('nan', NaN);
        f.attrs.set('negzero', -0);
        f.attrs.set('t', true);
        f.attrs.set('f', false);
      },
      (f) => {
        expect(f.attrs.get('int')).toBe(12);
        expect(f.attrs.get('float')).toBe(0.25);
        expect(f.attrs.get('big')).toBe(2 ** 60);
        expect(f.attrs.get('nan')).toBeNaN();
        expect(Object.is(f.attrs.get('negzero'), -0) || f.attrs.get('negzero') === 0).toBe(true);
        expect(f.attrs.get('t')).toBe(true);
        expect(f.attrs.get('f')).toBe(false);
      },
    );
  });

  it('bigint: int64 range, uint64 above 2^63-1, values outside the safe range come back as bigint', () => {
    roundTrip(
      (f) => {
        f.attrs.set('min', -(2n ** 63n));
        f.attrs.set('max', 2n ** 63n - 1n);
        f.attrs.set('umax', 2n ** 64n - 1n);
        f.attrs.set('small', 5n);
      },
      (f) => {
        expect(f.attrs.get('min')).toBe(-(2n ** 63n));
        expect(f.attrs.get('max')).toBe(2n ** 63n - 1n);
        expect(f.attrs.get('umax')).toBe(2n ** 64n - 1n);
        expect(f.attrs.get('small')).toBe(5);
      },
    );
  });
});

describe('strings', () => {
  it('variable-length UTF-8 strings and string arrays', () => {
    const arr = ['', 'ascii', 'ü→✓ 𝄞', 'x'.repeat(10_000)];
    roundTrip(
      (f) => {
        f.attrs.set('s', 'héllo ✓');
        f.attrs.set('empty', '');
        f.attrs.set('arr', arr);
      },
      (f) => {
        expect(f.attrs.get('s')).toBe('héllo ✓');
        expect(f.attrs.get('empty')).toBe('');
        expect(f.attrs.get('arr')).toEqual(arr);
      },
    );
  });
});

describe('on groups and datasets; management', () => {
  it('set/get/has/keys/delete/toObject on file, group and dataset; overwrite changes the type', () => {
    roundTrip(
      (f) => {
        const g = f.createGroup('g/h');
        const d = g.createDataset('d', { dtype: 'uint8', shape: [2], data: Uint8Array.of(1, 2) });
        for (const o of [f, g, d]) {
          o.attrs.set('name', o.path);
          o.attrs.set('n', 1);
          o.attrs.set('n', 'now a string');
          o.attrs.set('gone', 1.5);
          expect(o.attrs.has('gone')).toBe(true);
          o.attrs.delete('gone');
          expect(o.attrs.has('gone')).toBe(false);
        }
      },
      (f) => {
        for (const o of [f, f.group('g/h'), f.dataset('g/h/d')]) {
          expect(o.attrs.keys().sort()).toEqual(['n', 'name']);
          expect(o.attrs.toObject()).toEqual({ name: o.path, n: 'now a string' });
        }
      },
    );
  });

  it('a missing attribute is H5_NOT_FOUND for get and delete', () => {
    const p = fresh();
    using f = File.create(p);
    for (const op of [() => f.attrs.get('nope'), () => f.attrs.delete('nope')]) {
      try {
        op();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(H5Error);
        expect((e as H5Error).code).toBe('H5_NOT_FOUND');
      }
    }
  });

  it('attributes on a read-only file cannot be set or deleted (H5_READ_ONLY)', () => {
    const p = fresh();
    File.create(p).close();
    using f = File.open(p);
    expect(() => f.attrs.set('x', 1)).toThrow(expect.objectContaining({ code: 'H5_READ_ONLY' }));
    expect(() => f.attrs.delete('x')).toThrow(H5Error);
  });

  it("bad values are TypeErrors, or H5_INVALID_ARGUMENT when out of the dtype's range", () => {
    const p = fresh();
    using f = File.create(p);
    expect(() => f.attrs.set('', 1)).toThrow(TypeError);
    expect(() => f.attrs.set('x', null as never)).toThrow(TypeError);
    expect(() => f.attrs.set('x', {} as never)).toThrow(TypeError);
    expect(() => f.attrs.set('x', [1, 'a'] as never)).toThrow(TypeError);
    expect(() => f.attrs.set('x', 'str', { dtype: 'int8' })).toThrow(TypeError);
    expect(() => f.attrs.set('x', 1, { dtype: 'complex' as never })).toThrow(TypeError);
    expect(() => f.attrs.set('x', 1, { dtype: 'string' })).toThrow(TypeError);
    expect(() => f.attrs.set('x', new Float32Array(2), { dtype: 'int32' })).toThrow(TypeError);
    expect(() => f.attrs.set('x', -1n, { dtype: 'uint64' })).toThrow(
      expect.objectContaining({ code: 'H5_INVALID_ARGUMENT' }),
    );
    expect(() => f.attrs.set('x', new DataView(new ArrayBuffer(4)) as never)).toThrow(TypeError);
    expect(() => f.attrs.get(3 as never)).toThrow(TypeError);
    expect(f.attrs.keys()).toEqual([]);
  });
});
