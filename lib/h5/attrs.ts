/**
 * Attributes of a file, group or dataset.
 *
 * Writing (`set`): number -> int64 if it is a safe integer, else float64;
 * bigint -> int64 (uint64 above 2^63-1); boolean -> bool; string -> UTF-8
 * variable-length string; string[] -> string array; number[] -> float64 array;
 * typed array -> its dtype. Pass `{ dtype }` to choose (e.g. 'float32', 'float16').
 *
 * Reading (`get`): numeric scalars as number (int64/uint64 outside the safe
 * range as bigint; float16/bfloat16 converted), bool as boolean, arrays as
 * typed arrays (float16/bfloat16 as Uint16Array bits), strings as string / string[].
 * Every other class (compound, enum, vlen, array, references, opaque,
 * bitfield, complex) as docs/types.md says: a scalar as one plain element
 * (recordAt), an array as its column. A null-dataspace attribute is an Empty.
 * `set(name, value, { type })` writes any class (lib/h5/types.ts builds types).
 */
import { native, type ObjHandle } from '../addon/binding.js';
import {
  Empty,
  enumNames,
  recordAt,
  typedValue,
  type ElementOptions,
  type H5Element,
  type H5Type,
  type H5Value,
  type StringMode,
  type TypeLike,
} from './types.js';
import { H5Error } from '../errors.js';
import { checkAttributeName } from '../util/names.js';
import {
  ARRAY_TYPES,
  bfloat16ToNumber,
  dtypeOfArray,
  halfToNumber,
  isDType,
  numberToBfloat16,
  numberToHalf,
  type DType,
  type NumericDType,
  type TypedArray,
} from './dtypes.js';

export type AttrValue = number | bigint | boolean | string | string[] | number[] | TypedArray;
export type AttrReadValue = number | bigint | boolean | string | string[] | TypedArray;
/** What get() gives for any class: AttrReadValue, an H5Value column, one H5Element, or Empty (docs/types.md). */
export type AttrAnyValue = AttrReadValue | H5Value | H5Element | Empty;

export interface AttrSetOptions {
  dtype?: DType;
  /** Any datatype class (types.compound(...), types.enum(...), ...); value as in docs/types.md. */
  type?: TypeLike;
  /** With `type`: the attribute's shape (default: [value.length] for arrays, scalar otherwise). */
  shape?: number[];
  /** With `type`: store `value` as one element (e.g. one vlen sequence) in a scalar attribute. */
  scalar?: boolean;
}

export interface AttrGetOptions extends ElementOptions {
  /** Strings as JS text (default; non-UTF-8 bytes as latin1) or exact bytes (Uint8Array). */
  strings?: StringMode;
}

const INT64_MAX = (1n << 63n) - 1n;

export class Attributes {
  /** @internal */
  constructor(private readonly handle: () => ObjHandle) {}

  keys(): string[] {
    return native.attrList(this.handle());
  }

  has(name: string): boolean {
    checkAttributeName(name);
    return native.attrHas(this.handle(), name);
  }

  /**
   * The attribute's value. Flat dtypes give AttrReadValue; other classes and
   * null dataspaces give what docs/types.md says: type it with
   * `get<AttrAnyValue>(name)` (or a narrower type) when you read those.
   */
  get(name: string, options?: AttrGetOptions): AttrReadValue;
  get<T extends AttrAnyValue>(name: string, options?: AttrGetOptions): T;
  get(name: string, options: AttrGetOptions = {}): AttrAnyValue {
    return this.#get(name, options);
  }

  #get(name: string, options: AttrGetOptions): AttrAnyValue {
    checkAttributeName(name);
    let a: ReturnType<typeof native.attrGet> | undefined;
    if (options.strings !== 'bytes' && !options.enumNames) {
      try {
        a = native.attrGet(this.handle(), name);
      } catch (e) {
        if (!(e instanceof H5Error && e.code === 'H5_UNSUPPORTED_TYPE')) throw e;
      }
    }
    if (a === undefined) {
      const v = native.valueRead(this.handle(), name, null, options.strings ?? 'text');
      if (v.empty) return new Empty(v.type);
      if (v.scalar) return recordAt(v.type, v.data!, 0, options);
      if (options.enumNames && v.type.class === 'enum') return enumNames(v.type, v.data as TypedArray) as string[];
      return v.data!;
    }
    if (a.empty) return new Empty(native.valueType(this.handle(), name));
    if (a.dtype === 'string') {
      const s = a.data as string[];
      return a.scalar ? (s[0] ?? '') : s;
    }
    const dtype = a.dtype as NumericDType;
    const arr = new ARRAY_TYPES[dtype](a.data as ArrayBuffer);
    if (!a.scalar) return arr;
    const v = arr[0]!;
    if (dtype === 'bool') return v !== 0;
    if (dtype === 'float16') return halfToNumber(v as number);
    if (dtype === 'bfloat16') return bfloat16ToNumber(v as number);
    if (typeof v === 'bigint') {
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    return v;
  }

  /** The attribute's datatype (every class; docs/types.md). */
  type(name: string): H5Type {
    checkAttributeName(name);
    return native.valueType(this.handle(), name);
  }

  set(name: string, value: AttrValue | H5Value | H5Element | readonly unknown[], options: AttrSetOptions = {}): void {
    checkAttributeName(name);
    if (options.type !== undefined) {
      const { type, shape, data } = typedValue(value, options);
      native.valueSetAttr(this.handle(), name, type, shape, data);
      return;
    }
    if (!isAttrValue(value)) throw new TypeError('pass { type } to store this value (docs/types.md)');
    if (options.dtype !== undefined && !isDType(options.dtype))
      throw new TypeError(`unknown dtype '${String(options.dtype)}'`);
    const { dtype, shape, data } = encode(name, value, options.dtype);
    native.attrSet(this.handle(), name, dtype, shape, data);
  }

  delete(name: string): void {
    checkAttributeName(name);
    native.attrDelete(this.handle(), name);
  }

  /** All attributes as a plain object. */
  toObject(): Record<string, AttrAnyValue> {
    const out: Record<string, AttrAnyValue> = {};
    for (const k of this.keys()) out[k] = this.get(k);
    return out;
  }
}

function isAttrValue(v: unknown): v is AttrValue {
  return (
    ['number', 'bigint', 'boolean', 'string'].includes(typeof v) ||
    Array.isArray(v) ||
    (ArrayBuffer.isView(v) && !(v instanceof DataView))
  );
}

function encode(
  name: string,
  value: AttrValue,
  dtype?: DType,
): { dtype: DType; shape: number[] | null; data: ArrayBufferView | string[] } {
  if (typeof value === 'string') {
    if (dtype && dtype !== 'string') throw new TypeError(`a string value cannot be stored as '${dtype}'`);
    return { dtype: 'string', shape: null, data: [value] };
  }
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string'))
      return { dtype: 'string', shape: [value.length], data: value as string[] };
    if (!value.every((v) => typeof v === 'number'))
      throw new TypeError('array attributes must be all numbers or all strings');
    const d = (dtype ?? 'float64') as NumericDType;
    (value as number[]).forEach((x, i) => {
      checkNumber(name, d, x, i);
    });
    return { dtype: d, shape: [value.length], data: fromNumbers(d, value as number[]) };
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const inferred = dtypeOfArray(value);
    if (!inferred) throw new TypeError('unsupported typed array for an attribute');
    let d: NumericDType = inferred;
    if (dtype) {
      if (dtype === 'string') throw new TypeError('a typed array cannot be stored as a string');
      if (ARRAY_TYPES[dtype] !== ARRAY_TYPES[inferred]) {
        throw new TypeError(`dtype '${dtype}' needs a ${ARRAY_TYPES[dtype].name}, got ${value.constructor.name}`);
      }
      d = dtype;
    }
    return { dtype: d, shape: [value.length], data: value };
  }
  if (typeof value === 'boolean') {
    return { dtype: 'bool', shape: null, data: new Uint8Array([value ? 1 : 0]) };
  }
  if (typeof value === 'bigint') {
    if (dtype === 'string') throw new TypeError('a bigint cannot be stored as a string');
    const d = (dtype ?? (value > INT64_MAX ? 'uint64' : 'int64')) as NumericDType;
    if (d === 'int64' || d === 'uint64') {
      const [lo, hi] = d === 'int64' ? [-(1n << 63n), INT64_MAX] : [0n, (1n << 64n) - 1n];
      if (value < lo || value > hi) throw outOfRange(name, `${String(value)}n`, d, `${lo}..${hi}`);
      return { dtype: d, shape: null, data: d === 'int64' ? BigInt64Array.of(value) : BigUint64Array.of(value) };
    }
    const x = Number(value);
    if (INT_RANGE[d] && BigInt(x) !== value) throw outOfRange(name, `${String(value)}n`, d, rangeText(d));
    checkNumber(name, d, x);
    return { dtype: d, shape: null, data: fromNumbers(d, [x]) };
  }
  if (typeof value === 'number') {
    if (dtype === 'string') throw new TypeError('a number cannot be stored as a string');
    const d = (dtype ?? (Number.isSafeInteger(value) ? 'int64' : 'float64')) as NumericDType;
    checkNumber(name, d, value);
    return { dtype: d, shape: null, data: fromNumbers(d, [value]) };
  }
  throw new TypeError(`unsupported attribute value of type ${value === null ? 'null' : typeof value}`);
}

// Integer dtypes and the values they hold. Anything else would be stored
// changed (300 as int8 is 44, 2^64 as uint64 is 0, 1.5 as int32 is 1).
const INT_RANGE: Partial<Record<NumericDType, [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 2 ** 32 - 1],
  int64: [-(2 ** 63), 2 ** 63],
  uint64: [0, 2 ** 64], // exclusive upper bounds for these two (see checkNumber)
  bool: [0, 1],
};

function rangeText(d: NumericDType): string {
  if (d === 'int64') return `${-(1n << 63n)}..${INT64_MAX}`;
  if (d === 'uint64') return `0..${(1n << 64n) - 1n}`;
  if (d === 'bool') return '0 or 1 (or true/false)';
  const r = INT_RANGE[d];
  return r ? `integers ${r[0]}..${r[1]}` : `finite values within ${d}'s range`;
}

function outOfRange(name: string, shown: string, d: NumericDType, range: string, index?: number): H5Error {
  const at = index === undefined ? '' : ` element ${index}`;
  return new H5Error(`attribute '${name}'${at}: ${shown} cannot be stored as ${d} (${range})`, {
    code: 'H5_INVALID_ARGUMENT',
  });
}

/** Throws H5_INVALID_ARGUMENT unless `x` is stored as dtype `d` exactly (integers) or without overflow (floats). */
function checkNumber(name: string, d: NumericDType, x: number, index?: number): void {
  const r = INT_RANGE[d];
  if (r) {
    const wide = d === 'int64' || d === 'uint64';
    const ok = Number.isInteger(x) && x >= r[0] && (wide ? x < r[1] : x <= r[1]);
    if (!ok) throw outOfRange(name, String(x), d, rangeText(d), index);
    return;
  }
  if (!Number.isFinite(x) || d === 'float64') return; // NaN and +-Infinity exist in every float dtype
  const y =
    d === 'float16'
      ? halfToNumber(numberToHalf(x))
      : d === 'bfloat16'
        ? bfloat16ToNumber(numberToBfloat16(x))
        : Math.fround(x);
  if (!Number.isFinite(y)) throw outOfRange(name, String(x), d, rangeText(d), index);
}

function fromNumbers(d: NumericDType, xs: number[]): TypedArray {
  switch (d) {
    case 'float16':
      return Uint16Array.from(xs, numberToHalf);
    case 'bfloat16':
      return Uint16Array.from(xs, numberToBfloat16);
    case 'bool':
      return Uint8Array.from(xs, (x) => (x ? 1 : 0));
    case 'int64':
      return BigInt64Array.from(xs, (x) => BigInt(Math.trunc(x)));
    case 'uint64':
      return BigUint64Array.from(xs, (x) => BigInt(Math.trunc(x)));
    default: {
      const C = ARRAY_TYPES[d] as unknown as { from(x: number[]): TypedArray };
      return C.from(xs);
    }
  }
}
