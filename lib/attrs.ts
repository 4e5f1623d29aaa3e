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
 */
import { native, type ObjHandle } from './binding.js';
import {
  ARRAY_TYPES, bfloat16ToNumber, dtypeOfArray, halfToNumber, isDType, numberToBfloat16, numberToHalf,
  type DType, type NumericDType, type TypedArray,
} from './dtypes.js';

export type AttrValue = number | bigint | boolean | string | string[] | number[] | TypedArray;
export type AttrReadValue = number | bigint | boolean | string | string[] | TypedArray;

export interface AttrSetOptions {
  dtype?: DType;
}

const INT64_MAX = (1n << 63n) - 1n;

export class Attributes {
  /** @internal */
  constructor(private readonly handle: () => ObjHandle) {}

  keys(): string[] {
    return native.attrList(this.handle());
  }

  has(name: string): boolean {
    return native.attrHas(this.handle(), name);
  }

  get(name: string): AttrReadValue {
    if (typeof name !== 'string') throw new TypeError('attribute name must be a string');
    const a = native.attrGet(this.handle(), name);
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

  set(name: string, value: AttrValue, options: AttrSetOptions = {}): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('attribute name must be a non-empty string');
    if (options.dtype !== undefined && !isDType(options.dtype)) throw new TypeError(`unknown dtype '${String(options.dtype)}'`);
    const { dtype, shape, data } = encode(value, options.dtype);
    native.attrSet(this.handle(), name, dtype, shape, data);
  }

  delete(name: string): void {
    native.attrDelete(this.handle(), name);
  }

  /** All attributes as a plain object. */
  toObject(): Record<string, AttrReadValue> {
    const out: Record<string, AttrReadValue> = {};
    for (const k of this.keys()) out[k] = this.get(k);
    return out;
  }
}

function encode(value: AttrValue, dtype?: DType): { dtype: DType; shape: number[] | null; data: ArrayBufferView | string[] } {
  if (typeof value === 'string') {
    if (dtype && dtype !== 'string') throw new TypeError(`a string value cannot be stored as '${dtype}'`);
    return { dtype: 'string', shape: null, data: [value] };
  }
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) return { dtype: 'string', shape: [value.length], data: value as string[] };
    if (!value.every((v) => typeof v === 'number')) throw new TypeError('array attributes must be all numbers or all strings');
    const d = (dtype ?? 'float64') as NumericDType;
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
    const d = (dtype ?? (value > INT64_MAX ? 'uint64' : 'int64')) as NumericDType;
    if (d === 'int64') return { dtype: d, shape: null, data: BigInt64Array.of(BigInt.asIntN(64, value)) };
    if (d === 'uint64') {
      if (value < 0n) throw new RangeError('negative bigint for a uint64 attribute');
      return { dtype: d, shape: null, data: BigUint64Array.of(value) };
    }
    return { dtype: d, shape: null, data: fromNumbers(d, [Number(value)]) };
  }
  if (typeof value === 'number') {
    if (dtype === 'string') throw new TypeError('a number cannot be stored as a string');
    const d = (dtype ?? (Number.isSafeInteger(value) ? 'int64' : 'float64')) as NumericDType;
    return { dtype: d, shape: null, data: fromNumbers(d, [value]) };
  }
  throw new TypeError(`unsupported attribute value of type ${value === null ? 'null' : typeof value}`);
}

function fromNumbers(d: NumericDType, xs: number[]): TypedArray {
  switch (d) {
    case 'float16': return Uint16Array.from(xs, numberToHalf);
    case 'bfloat16': return Uint16Array.from(xs, numberToBfloat16);
    case 'bool': return Uint8Array.from(xs, (x) => (x ? 1 : 0));
    case 'int64': return BigInt64Array.from(xs, (x) => BigInt(Math.trunc(x)));
    case 'uint64': return BigUint64Array.from(xs, (x) => BigInt(Math.trunc(x)));
    default: {
      const C = ARRAY_TYPES[d] as unknown as { from(x: number[]): TypedArray };
      return C.from(xs);
    }
  }
}
