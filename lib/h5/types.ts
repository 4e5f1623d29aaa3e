/**
 * Every HDF5 datatype class as a JS value (docs/types.md has the table).
 *
 * `H5Type` describes a dataset's or attribute's type; `types.*` builds one for
 * writes. Values are column-wise: n elements of a compound are one object of
 * n-element columns, an array type adds trailing elements to its base column,
 * a vlen sequence is an array of n columns. `recordAt()` / `toRecords()` turn
 * columns into plain objects, `fromRecords()` the other way.
 */
import { H5Error } from '../errors.js';
import { bfloat16ToNumber, halfToNumber, type NumericDType, type TypedArray } from './dtypes.js';

export type IntegerDType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64';
export type FloatDType = 'float16' | 'bfloat16' | 'float32' | 'float64';

/** The datatype of a dataset or attribute, as h5vault reads it. */
export type H5Type =
  | { class: 'integer'; dtype: IntegerDType; size: number; bigEndian?: boolean }
  /** precisionLoss: a long double (or wider) read as float64 loses bits. */
  | { class: 'float'; dtype: FloatDType; size: number; bigEndian?: boolean; precisionLoss?: boolean }
  /** h5py's bool (enum FALSE/TRUE over int8): Uint8Array of 0/1. */
  | { class: 'bool'; size: number }
  /** variable: a variable-length string (size is the file's pointer size then). */
  | {
      class: 'string';
      size: number;
      variable: boolean;
      cset: 'ascii' | 'utf8';
      pad: 'nullterm' | 'nullpad' | 'spacepad';
    }
  /** Bitfields of 1/2/4/8 bytes read as unsigned integers; other sizes as raw bytes ('uint8'). */
  | { class: 'bitfield'; dtype: IntegerDType; size: number; bigEndian?: boolean }
  /** Opaque bytes: a Uint8Array of size bytes per element. */
  | { class: 'opaque'; size: number; tag: string }
  | { class: 'compound'; size: number; fields: { name: string; type: H5Type }[] }
  /** h5py's complex numbers ({r, i} compounds): interleaved re, im. */
  | { class: 'complex'; dtype: 'float32' | 'float64'; size: number }
  /** Members are bigint for 64-bit bases (as the data is), numbers otherwise. */
  | { class: 'enum'; dtype: IntegerDType; size: number; members: Record<string, number | bigint> }
  | { class: 'vlen'; size: number; base: H5Type }
  | { class: 'array'; size: number; dims: number[]; base: H5Type }
  | { class: 'reference'; size: number; kind: 'object' | 'region' };

export type H5TypeClass = H5Type['class'];

/** An object reference, resolved to the path of its object (null: a null or dangling reference). */
export interface ObjectReference {
  kind: 'object';
  path: string | null;
}

/** The part of a dataset a region reference selects. Coordinates are element indices; `end` is inclusive. */
export type RegionSelection =
  | { kind: 'all' }
  | { kind: 'none' }
  | { kind: 'points'; points: number[][] }
  | { kind: 'blocks'; blocks: { start: number[]; end: number[] }[] };

export interface RegionReference {
  kind: 'region';
  path: string | null;
  selection: RegionSelection;
}

export type Reference = ObjectReference | RegionReference;

/** Column-wise values of a compound: one column per field. */
export interface CompoundColumns {
  [field: string]: H5Value;
}

/**
 * Values of n elements of any type: a typed array (numbers, enums, bool,
 * complex interleaved, bitfields, opaque bytes), string[] (or Uint8Array[]
 * with `{ strings: 'bytes' }`), a CompoundColumns, an array of n sequences
 * (vlen), or Reference[].
 */
export type H5Value = TypedArray | string[] | Uint8Array[] | CompoundColumns | H5Value[] | Reference[];

/** One element as a plain JS value (what `readRecords()` and scalar attributes give). */
export type H5Element =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | TypedArray
  | Reference
  | [number, number]
  | H5Element[]
  | { [field: string]: H5Element };

/**
 * The value of an attribute (or dataset) with a null dataspace: it has a type
 * and no value at all (h5py's `h5py.Empty`). Distinct from '' and from 0.
 */
export class Empty {
  constructor(readonly type: H5Type) {}
  toString(): string {
    return `<Empty ${this.type.class}>`;
  }
}

/** How strings come out: JS text (default; bytes that are not UTF-8 as latin1) or exact bytes. */
export type StringMode = 'text' | 'bytes';

// ---------------------------------------------------------------------------
// Builders for writes: a dtype name where a type is expected means that type.

export type TypeLike = H5Type | NumericDType | 'string';

const SIZES: Record<string, number> = {
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
  bool: 1,
};

/** The H5Type a dtype name stands for ('string' is a variable-length UTF-8 string). */
export function typeOf(t: TypeLike): H5Type {
  if (typeof t === 'object' && t !== null && typeof (t as H5Type).class === 'string') return t as H5Type;
  if (t === 'string') return { class: 'string', size: 0, variable: true, cset: 'utf8', pad: 'nullterm' };
  if (t === 'bool') return { class: 'bool', size: 1 };
  if (typeof t === 'string' && t in SIZES) {
    const size = SIZES[t]!;
    return t.startsWith('float') || t === 'bfloat16'
      ? { class: 'float', dtype: t as FloatDType, size }
      : { class: 'integer', dtype: t as IntegerDType, size };
  }
  throw new TypeError(`not a type: ${JSON.stringify(t)}`);
}

export const types = {
  /** A compound from an ordered { name: type } object. */
  compound(fields: Record<string, TypeLike>): H5Type {
    const fs = Object.entries(fields).map(([name, t]) => ({ name, type: typeOf(t) }));
    if (fs.length === 0) throw new TypeError('a compound needs at least one field');
    return { class: 'compound', size: 0, fields: fs };
  },
  /** An enum over an integer dtype with its members ({ RED: 0, GREEN: 1 }). */
  enum(dtype: IntegerDType, members: Record<string, number | bigint>): H5Type {
    if (Object.keys(members).length === 0) throw new TypeError('an enum needs at least one member');
    return { class: 'enum', dtype, size: SIZES[dtype]!, members: { ...members } };
  },
  vlen(base: TypeLike): H5Type {
    return { class: 'vlen', size: 16, base: typeOf(base) };
  },
  array(base: TypeLike, dims: number[]): H5Type {
    if (!Array.isArray(dims) || dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 1))
      throw new TypeError('array dims must be positive integers');
    return { class: 'array', size: 0, dims: [...dims], base: typeOf(base) };
  },
  complex(dtype: 'float32' | 'float64' = 'float64'): H5Type {
    return { class: 'complex', dtype, size: dtype === 'float32' ? 8 : 16 };
  },
  /** A string: variable-length (default) or fixed with `size` bytes. */
  string(options: { size?: number; cset?: 'ascii' | 'utf8'; pad?: 'nullterm' | 'nullpad' | 'spacepad' } = {}): H5Type {
    const variable = options.size === undefined;
    return {
      class: 'string',
      size: options.size ?? 0,
      variable,
      cset: options.cset ?? 'utf8',
      pad: options.pad ?? (variable ? 'nullterm' : 'nullpad'),
    };
  },
  opaque(size: number, tag = ''): H5Type {
    return { class: 'opaque', size, tag };
  },
  bitfield(dtype: 'uint8' | 'uint16' | 'uint32' | 'uint64'): H5Type {
    return { class: 'bitfield', dtype, size: SIZES[dtype]! };
  },
  /** Object references (values: { path } or null). */
  reference(): H5Type {
    return { class: 'reference', size: 8, kind: 'object' };
  },
};

// ---------------------------------------------------------------------------
// Columns <-> elements

/** Elements one element of `t` occupies in its column (array types: the product of dims). */
function width(t: H5Type): number {
  if (t.class === 'array') return t.dims.reduce((a, b) => a * b, 1) * width(t.base);
  if (t.class === 'complex') return 2;
  if (t.class === 'opaque') return t.size;
  if (t.class === 'bitfield' && ![1, 2, 4, 8].includes(t.size)) return t.size;
  return 1;
}

export interface ElementOptions {
  /** Enum values as member names instead of numbers. */
  enumNames?: boolean;
}

/** Element i of a column of type `t` as a plain JS value. */
export function recordAt(t: H5Type, col: H5Value, i: number, options: ElementOptions = {}): H5Element {
  switch (t.class) {
    case 'compound': {
      const o: { [k: string]: H5Element } = {};
      for (const f of t.fields) {
        Object.defineProperty(o, f.name, {
          value: recordAt(f.type, (col as CompoundColumns)[f.name]!, i, options),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
    case 'array': {
      const k = t.dims.reduce((a, b) => a * b, 1);
      const out: H5Element[] = [];
      if (
        ArrayBuffer.isView(col) &&
        width(t.base) === 1 &&
        t.base.class !== 'bool' &&
        t.base.class !== 'enum' &&
        !(t.base.class === 'float' && (t.base.dtype === 'float16' || t.base.dtype === 'bfloat16'))
      ) {
        return (col as TypedArray).subarray(i * k, (i + 1) * k) as TypedArray;
      }
      for (let j = 0; j < k; j++) out.push(recordAt(t.base, col, i * k + j, options));
      return out;
    }
    case 'vlen':
      return (col as H5Value[])[i] as unknown as H5Element;
    case 'reference':
      return (col as Reference[])[i]!;
    case 'string':
      return (col as string[] | Uint8Array[])[i]!;
    case 'opaque':
      return (col as Uint8Array).subarray(i * t.size, (i + 1) * t.size);
    case 'complex': {
      const a = col as Float32Array | Float64Array;
      return [a[2 * i]!, a[2 * i + 1]!];
    }
    case 'bool':
      return (col as Uint8Array)[i] !== 0;
    case 'enum': {
      const v = (col as TypedArray)[i]!;
      if (options.enumNames) return enumName(t.members, v) ?? (typeof v === 'bigint' ? v : Number(v));
      return v;
    }
    case 'float': {
      const v = (col as TypedArray)[i] as number;
      return t.dtype === 'float16' ? halfToNumber(v) : t.dtype === 'bfloat16' ? bfloat16ToNumber(v) : v;
    }
    case 'bitfield':
      if (width(t) > 1) return (col as Uint8Array).subarray(i * t.size, (i + 1) * t.size);
      return (col as TypedArray)[i]!;
    default:
      return (col as TypedArray)[i]!;
  }
}

/** Number of elements in a column of type `t`. */
export function columnLength(t: H5Type, col: H5Value): number {
  switch (t.class) {
    case 'compound': {
      const f = t.fields[0];
      return f ? columnLength(f.type, (col as CompoundColumns)[f.name]!) : 0;
    }
    case 'array':
      return Math.floor(columnLength(t.base, col) / t.dims.reduce((a, b) => a * b, 1));
    case 'vlen':
    case 'reference':
    case 'string':
      return (col as unknown[]).length;
    default:
      return Math.floor((col as TypedArray).length / width(t));
  }
}

/** Every element of a column as plain JS values. */
export function toRecords(t: H5Type, col: H5Value, options: ElementOptions = {}): H5Element[] {
  const n = columnLength(t, col);
  const out: H5Element[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = recordAt(t, col, i, options);
  return out;
}

function enumName(members: Record<string, number | bigint>, v: number | bigint): string | undefined {
  for (const [k, m] of Object.entries(members))
    if (m === v || (typeof m !== typeof v && BigInt(m) === BigInt(v))) return k;
  return undefined;
}

/** Enum values as member names (a value no member names stays a number). */
export function enumNames(t: H5Type, col: TypedArray): (string | number | bigint)[] {
  if (t.class !== 'enum') throw new TypeError('not an enum type');
  return Array.from(col as ArrayLike<number | bigint>, (v) => enumName(t.members, v) ?? v);
}

const CTORS: Record<string, { new (n: number): TypedArray; from(x: ArrayLike<unknown>): TypedArray }> = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array as never,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array as never,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  bool: Uint8Array,
};

function dtypeOfType(t: H5Type): string {
  if (t.class === 'bool') return 'bool';
  if ('dtype' in t) return t.dtype;
  return 'uint8';
}

/**
 * Builds the column of type `t` from plain elements (records of a compound,
 * numbers, booleans, strings, [re, im] pairs, { path } references, typed
 * arrays or arrays for array types and vlen sequences). float16/bfloat16
 * elements are raw bits here, as in columns.
 */
export function fromRecords(t: H5Type, elems: readonly unknown[], where = 'data'): H5Value {
  switch (t.class) {
    case 'compound': {
      const o: CompoundColumns = {};
      for (const f of t.fields) {
        const vals = elems.map((e, i) => {
          if (e === null || typeof e !== 'object' || !Object.hasOwn(e, f.name))
            throw new TypeError(`${where}[${i}] has no field '${f.name}'`);
          return (e as Record<string, unknown>)[f.name];
        });
        Object.defineProperty(o, f.name, {
          value: fromRecords(f.type, vals, `${where}.${f.name}`),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
    case 'array': {
      const k = t.dims.reduce((a, b) => a * b, 1);
      const flat: unknown[] = [];
      elems.forEach((e, i) => {
        const xs = ArrayBuffer.isView(e)
          ? Array.from(e as unknown as ArrayLike<unknown>)
          : Array.isArray(e)
            ? e.flat(t.dims.length)
            : null;
        if (!xs || xs.length !== k * width(t.base))
          throw new TypeError(`${where}[${i}] must hold ${k} elements for an array type of dims [${t.dims}]`);
        if (width(t.base) === 1) flat.push(...xs);
        else for (let j = 0; j < k; j++) flat.push(xs.slice(j * width(t.base), (j + 1) * width(t.base)));
      });
      return width(t.base) === 1 ? fromRecords(t.base, flat, where) : fromRecords(t.base, flat, where);
    }
    case 'vlen':
      return elems.map((e, i) => {
        if (ArrayBuffer.isView(e)) return e as TypedArray;
        if (!Array.isArray(e)) throw new TypeError(`${where}[${i}] must be an array or typed array (a vlen sequence)`);
        return fromRecords(t.base, e, `${where}[${i}]`);
      }) as H5Value[];
    case 'reference':
      return elems.map((e, i) => {
        if (e === null) return { kind: 'object', path: null };
        if (typeof e === 'string') return { kind: 'object', path: e };
        if (typeof e === 'object' && typeof (e as { path?: unknown }).path === 'string')
          return { kind: 'object', path: (e as { path: string }).path };
        throw new TypeError(`${where}[${i}] must be a path, { path } or null`);
      }) as Reference[];
    case 'string':
      return elems.map((e, i) => {
        if (typeof e !== 'string') throw new TypeError(`${where}[${i}] must be a string`);
        return e;
      });
    case 'complex': {
      const out = t.dtype === 'float32' ? new Float32Array(2 * elems.length) : new Float64Array(2 * elems.length);
      elems.forEach((e, i) => {
        if (!Array.isArray(e) && !ArrayBuffer.isView(e)) throw new TypeError(`${where}[${i}] must be [re, im]`);
        const p = e as ArrayLike<number>;
        out[2 * i] = p[0]!;
        out[2 * i + 1] = p[1]!;
      });
      return out;
    }
    case 'opaque': {
      const out = new Uint8Array(elems.length * t.size);
      elems.forEach((e, i) => {
        if (!(e instanceof Uint8Array) || e.length !== t.size)
          throw new TypeError(`${where}[${i}] must be a Uint8Array of ${t.size} bytes`);
        out.set(e, i * t.size);
      });
      return out;
    }
    default: {
      const d = dtypeOfType(t);
      const C = CTORS[d]!;
      const big = d === 'int64' || d === 'uint64';
      return C.from(
        elems.map((e, i) => {
          if (t.class === 'enum' && typeof e === 'string') {
            if (!Object.hasOwn(t.members, e)) throw new TypeError(`${where}[${i}]: no enum member '${e}'`);
            e = t.members[e];
          }
          if (typeof e === 'boolean') e = e ? 1 : 0;
          if (big) return typeof e === 'bigint' ? e : BigInt(e as number);
          if (typeof e === 'bigint') return Number(e);
          if (typeof e !== 'number') throw new TypeError(`${where}[${i}] must be a number`);
          return e;
        }),
      );
    }
  }
}

/** Checks that `col` is a column of n elements of `t` (TypeError/RangeError otherwise). */
export function checkColumn(t: H5Type, col: unknown, n: number, where = 'data'): void {
  switch (t.class) {
    case 'compound': {
      if (col === null || typeof col !== 'object' || Array.isArray(col) || ArrayBuffer.isView(col))
        throw new TypeError(`${where} for a compound must be an object of columns (or an array of records)`);
      for (const f of t.fields) {
        if (!Object.hasOwn(col, f.name)) throw new TypeError(`${where} has no column '${f.name}'`);
        checkColumn(f.type, (col as Record<string, unknown>)[f.name], n, `${where}.${f.name}`);
      }
      return;
    }
    case 'array':
      checkColumn(t.base, col, n * t.dims.reduce((a, b) => a * b, 1), where);
      return;
    case 'vlen':
      if (!Array.isArray(col)) throw new TypeError(`${where} for a vlen type must be an array of sequences`);
      if (col.length !== n) throw new RangeError(`${where} has ${col.length} sequences, expected ${n}`);
      return;
    case 'string':
    case 'reference':
      if (!Array.isArray(col)) throw new TypeError(`${where} for a ${t.class} type must be an array`);
      if (col.length !== n) throw new RangeError(`${where} has ${col.length} elements, expected ${n}`);
      return;
    default: {
      const d = dtypeOfType(t);
      const C = CTORS[d]!;
      if (!(col instanceof (C as unknown as abstract new (...args: never[]) => unknown)))
        throw new TypeError(`${where} for ${t.class} '${d}' must be a ${(C as unknown as { name: string }).name}`);
      const len = (col as TypedArray).length;
      if (len !== n * width(t)) throw new RangeError(`${where} has ${len} values, expected ${n * width(t)}`);
      if (t.class === 'bool') {
        const i = (col as Uint8Array).findIndex((b) => b > 1);
        if (i >= 0)
          throw new H5Error(`${where}: bool element ${i} is ${(col as Uint8Array)[i]}; bool data must be 0 or 1`, {
            code: 'H5_INVALID_ARGUMENT',
          });
      }
    }
  }
}

/** Fills in sizes the native layer computes; validates classes early. */
export function normalizeType(t: TypeLike): H5Type {
  const x = typeOf(t);
  switch (x.class) {
    case 'compound':
      return { ...x, fields: x.fields.map((f) => ({ name: f.name, type: normalizeType(f.type) })) };
    case 'array':
    case 'vlen':
      return { ...x, base: normalizeType(x.base) };
    default:
      return x;
  }
}

/**
 * A value of any class for the native writer: an array of elements (records)
 * or a column for shaped values, one element for scalars. Used by
 * Attributes.set and Group.createTypedDataset.
 */
export function typedValue(
  value: unknown,
  o: { type?: TypeLike; shape?: number[]; scalar?: boolean },
): { type: H5Type; shape: number[] | null; data: H5Value } {
  const type = normalizeType(o.type!);
  // One complex / array / vlen element is itself a flat array of numbers
  // ([re, im], the array's values, a sequence): such a value is one element.
  const oneElement =
    o.shape === undefined &&
    Array.isArray(value) &&
    value.length > 0 &&
    (type.class === 'complex' || type.class === 'array' || type.class === 'vlen') &&
    value.every((x) => typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean');
  if (o.scalar || oneElement || (o.shape && o.shape.length === 0)) {
    const data = fromRecords(type, [value]);
    return { type, shape: null, data };
  }
  let data: H5Value;
  if (Array.isArray(value)) data = fromRecords(type, value);
  else if (
    o.shape === undefined &&
    !ArrayBuffer.isView(value) &&
    (type.class !== 'compound' || !isColumns(type, value))
  ) {
    return { type, shape: null, data: fromRecords(type, [value]) };
  } else data = value as H5Value;
  const n = columnLength(type, data);
  const shape = o.shape ?? [n];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new TypeError('shape must be non-negative integers');
  checkColumn(
    type,
    data,
    shape.reduce((a, b) => a * b, 1),
  );
  return { type, shape, data };
}

// A compound value is columns when every field holds an array-like column.
function isColumns(t: H5Type, v: unknown): boolean {
  if (t.class !== 'compound' || v === null || typeof v !== 'object') return false;
  return t.fields.every((f) => {
    const c = (v as Record<string, unknown>)[f.name];
    return Array.isArray(c) || ArrayBuffer.isView(c) || (f.type.class === 'compound' && isColumns(f.type, c));
  });
}
