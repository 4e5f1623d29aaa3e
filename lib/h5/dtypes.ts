/**
 * dtypes and their JS representations. 64-bit integers are BigInt64Array /
 * BigUint64Array; float16 and bfloat16 are Uint16Array of raw bits (convert
 * with the helpers below); bool is Uint8Array of 0/1; strings are string[].
 */
import { H5Error } from '../errors.js';
import { checkIntegers, invalid, isPlainObject } from '../util/validate.js';

export type NumericDType =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'bool';
export type DType = NumericDType | 'string';

export type TypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export type ArrayFor<D extends DType> = D extends 'int8'
  ? Int8Array
  : D extends 'int16'
    ? Int16Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends 'uint8' | 'bool'
          ? Uint8Array
          : D extends 'uint16' | 'float16' | 'bfloat16'
            ? Uint16Array
            : D extends 'uint32'
              ? Uint32Array
              : D extends 'uint64'
                ? BigUint64Array
                : D extends 'float32'
                  ? Float32Array
                  : D extends 'float64'
                    ? Float64Array
                    : D extends 'string'
                      ? string[]
                      : never;

type Ctor = { new (b: ArrayBuffer, off?: number, len?: number): TypedArray; BYTES_PER_ELEMENT: number; name: string };

export const ARRAY_TYPES: Record<NumericDType, Ctor> = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  bool: Uint8Array,
};

export const DTYPES: readonly DType[] = [
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'float16',
  'bfloat16',
  'float32',
  'float64',
  'bool',
  'string',
];

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function itemSize(d: DType): number {
  return d === 'string' ? 0 : ARRAY_TYPES[d].BYTES_PER_ELEMENT;
}

/** Largest extent (elements x element size, bytes) of a dataset or attribute: the largest HDF5 file offset. */
const MAX_EXTENT_BYTES = 2n ** 63n - 1n;

/**
 * Throws H5_TOO_LARGE if `shape` of `item`-byte elements (strings: 8, the
 * size libhdf5 gives a variable-length string) is more than 2^63 - 1 bytes.
 * libhdf5's element count wraps past that (a [2^31, 2^31, 2^31] dataset had
 * size 0 and a write into it crashed inside libhdf5), and no file could ever
 * hold it, chunked or not. `null` (unlimited) dimensions are skipped; the
 * native layer applies the same limit (native/h5/dataset.h check_extent).
 */
export function checkExtent(shape: readonly (number | null)[], dtype: DType, what: string): void {
  const item = dtype === 'string' ? 8 : itemSize(dtype);
  const dims = shape.filter((d): d is number => d !== null);
  if (dims.includes(0)) return;
  const bytes = dims.reduce((a, d) => a * BigInt(d), BigInt(item));
  if (bytes <= MAX_EXTENT_BYTES) return;
  const log2 = Math.floor(dims.reduce((a, d) => a + Math.log2(d), Math.log2(item)));
  throw new H5Error(
    `${what}: shape [${shape.map((d) => d ?? 'unlimited').join(', ')}] of ${item}-byte elements is about 2^${log2} bytes, more than the 2^63 - 1 bytes an HDF5 file can address`,
    { code: 'H5_TOO_LARGE' },
  );
}

/** Wraps an ArrayBuffer of `dtype` elements in the matching typed array. */
export function typedArrayOf(dtype: NumericDType, buf: ArrayBuffer): TypedArray {
  return new ARRAY_TYPES[dtype](buf);
}

/** Throws a TypeError unless `data` is the typed array class `dtype` uses. */
export function checkDataType(dtype: DType, data: unknown, what = 'data'): void {
  if (dtype === 'string') {
    if (!Array.isArray(data) || !data.every((s) => typeof s === 'string'))
      throw new TypeError(`${what} for a string dataset must be a string[]`);
    return;
  }
  const C = ARRAY_TYPES[dtype];
  if (!(data instanceof (C as unknown as abstract new (...args: never[]) => unknown))) {
    const got = data === null ? 'null' : typeof data === 'object' ? (data as object).constructor?.name : typeof data;
    throw new TypeError(`${what} for dtype '${dtype}' must be a ${C.name}, got ${got}`);
  }
}

/**
 * Throws H5Error H5_INVALID_ARGUMENT for data HDF5 would store changed: a
 * bool byte other than 0/1 (h5vault refuses rather than normalises, so the
 * bytes hashed are the bytes stored) or a string holding a NUL (HDF5 strings
 * end at the first one). Called before a dataset or a save is created, so a
 * refused call leaves nothing behind; the addon checks writes again.
 */
export function checkDataValues(dtype: DType, data: unknown, what = 'data'): void {
  if (dtype === 'bool' && data instanceof Uint8Array) {
    const i = data.findIndex((b) => b > 1);
    if (i >= 0) {
      throw new H5Error(`${what}: bool element ${i} is ${data[i]}; bool data must be 0 or 1`, {
        code: 'H5_INVALID_ARGUMENT',
      });
    }
  } else if (dtype === 'string' && Array.isArray(data)) {
    const i = data.findIndex((x) => typeof x === 'string' && x.includes('\0'));
    if (i >= 0) {
      throw new H5Error(`${what}: string ${i} contains a NUL character, which HDF5 strings cannot hold`, {
        code: 'H5_INVALID_ARGUMENT',
      });
    }
  }
}

/**
 * A numeric tensor record { dtype, shape, data } as saveModel and saveSafetensors take it: an object,
 * a numeric dtype, a shape of non-negative integers, data of the dtype's array class holding exactly
 * the shape's element count. Values are not checked here (checkDataValues).
 */
export function checkTensorRecord(
  name: string,
  t: unknown,
): { dtype: NumericDType; shape: number[]; data: TypedArray } {
  if (!isPlainObject(t)) throw invalid(`tensor '${name}'`, 'an object { dtype, shape, data }', t);
  const { dtype, shape, data } = t as { dtype?: unknown; shape?: unknown; data?: unknown };
  if (!isDType(dtype) || dtype === 'string') throw invalid(`tensor '${name}' dtype`, 'a numeric dtype', dtype);
  checkIntegers(shape, `tensor '${name}' shape`);
  checkDataType(dtype, data, `tensor '${name}' data`);
  const n = shape.reduce((a, b) => a * b, 1);
  const length = (data as TypedArray).length;
  if (length !== n)
    throw new RangeError(`tensor '${name}': data has ${length} elements but shape [${shape.join(', ')}] holds ${n}`);
  return { dtype, shape, data: data as TypedArray };
}

/** Infers a dtype from a typed array (Uint16Array -> 'uint16': pass dtype explicitly for halves). */
export function dtypeOfArray(a: unknown): NumericDType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof BigUint64Array) return 'uint64';
  return undefined;
}

// --- float16 / bfloat16 <-> float32 -------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Call right after `f32[0] = x`. A float64 rounded to float32 can land exactly
 * on a half-way point between two 16-bit floats that x itself is not on; a
 * second round-to-even from there would be wrong (double rounding). Returns
 * +1 / -1 when |x| lies above / below its float32 value, 0 when exact.
 */
function tieBias(x: number): number {
  const a = Math.abs(x),
    r = Math.abs(f32[0]!);
  return a > r ? 1 : a < r ? -1 : 0;
}

/** IEEE half bits -> number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** number -> IEEE half bits, round to nearest even (as numpy does). */
export function numberToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const bias = tieBias(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rest > half || (rest === half && (bias > 0 || (bias === 0 && r & 1)))) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bias > 0 || (bias === 0 && r & 1)))) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** bfloat16 bits -> number (exact). */
export function bfloat16ToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** number -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function numberToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff;
  const bias = tieBias(x);
  if ((b & 0xffff) === 0x8000 && bias !== 0) return ((bias > 0 ? b + 0x8000 : b) >>> 16) & 0xffff;
  const r = b + 0x7fff + ((b >>> 16) & 1);
  return (r >>> 16) & 0xffff;
}

/** Uint16Array of float16 bits -> Float32Array. */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToNumber(bits[i]!);
  return out;
}

/** Float32Array (or number[]) -> Uint16Array of float16 bits. */
export function float32ToFloat16(x: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = numberToHalf(x[i]!);
  return out;
}

/** Uint16Array of bfloat16 bits -> Float32Array (exact). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) o32[i] = bits[i]! << 16;
  return out;
}

/** Float32Array (or number[]) -> Uint16Array of bfloat16 bits (round to nearest even). */
export function float32ToBfloat16(x: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = numberToBfloat16(x[i]!);
  return out;
}

// --- typed tensor records -------------------------------------------------

/**
 * A tensor whose `dtype` says which typed array `data` is: checking `dtype`
 * narrows `data` with no cast (`if (t.dtype === 'int64') t.data` is a
 * BigInt64Array). float16 and bfloat16 keep their tag over Uint16Array bits.
 */
export type TensorOf<D extends NumericDType> = D extends NumericDType
  ? { dtype: D; shape: number[]; data: ArrayFor<D> }
  : never;

/** The union of TensorOf every numeric dtype: what views, reads and loadModel hand out. */
export type TypedTensor = TensorOf<NumericDType>;

/** A string dataset read as a record. */
export interface StringTensor {
  dtype: 'string';
  shape: number[];
  data: string[];
}

/**
 * Builds a TypedTensor after checking that `data` is the array class `dtype`
 * uses (TypeError otherwise), so the record's tag never lies about its data.
 */
export function typedTensor(dtype: NumericDType, shape: number[], data: TypedArray): TypedTensor {
  checkDataType(dtype, data);
  return { dtype, shape, data } as TypedTensor;
}
