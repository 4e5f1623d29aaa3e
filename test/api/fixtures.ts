/** Deterministic test data for every dtype, including the awkward values. */
import { rng } from '../helpers.js';
import type { DType, DatasetData, NumericDType, TypedArray } from '../../lib/index.js';

export const NUMERIC: NumericDType[] = [
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
];

/**
 * `n` elements of `dtype`: pseudo-random bit patterns, with the type's edge
 * values (min/max, -0, +-Inf, NaNs with payloads, subnormals) in front so
 * byte comparisons catch any conversion on the way.
 */
export function sample(dtype: DType, n: number, seed = 7): DatasetData {
  const r = rng(seed);
  if (dtype === 'string') {
    const edge = ['', 'a', 'ü→✓ 𝄞', 'x'.repeat(300), 'tab\there', 'nul-free'];
    return Array.from({ length: n }, (_, i) => edge[i] ?? `s${i}-${Math.floor(r() * 1e6)}`);
  }
  const bytesPer = {
    int8: 1,
    uint8: 1,
    bool: 1,
    int16: 2,
    uint16: 2,
    float16: 2,
    bfloat16: 2,
    int32: 4,
    uint32: 4,
    float32: 4,
    int64: 8,
    uint64: 8,
    float64: 8,
  }[dtype];
  const raw = new Uint8Array(n * bytesPer);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r() * 256);
  const out = makeArray(dtype, raw.buffer);
  const edges = edgeValues(dtype);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < Math.min(n, edges.length); i++) {
    const e = edges[i]!;
    if (bytesPer === 1) dv.setUint8(i, Number(e));
    else if (bytesPer === 2) dv.setUint16(i * 2, Number(e), true);
    else if (bytesPer === 4) dv.setUint32(i * 4, Number(e), true);
    else dv.setBigUint64(i * 8, BigInt(e), true);
  }
  if (dtype === 'bool') for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! & 1;
  return out;
}

/** Edge bit patterns (little-endian integers of the element size). */
function edgeValues(dtype: NumericDType): (number | bigint)[] {
  switch (dtype) {
    case 'int8':
    case 'uint8':
      return [0, 0x7f, 0x80, 0xff, 1];
    case 'int16':
    case 'uint16':
      return [0, 0x7fff, 0x8000, 0xffff, 1];
    case 'int32':
    case 'uint32':
      return [0, 0x7fffffff, 0x80000000, 0xffffffff, 1];
    case 'int64':
    case 'uint64':
      return [0n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 1n];
    // +0, -0, +Inf, -Inf, qNaN, sNaN payload, negative NaN, smallest subnormal, max finite
    case 'float16':
      return [0, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe3f, 0x0001, 0x7bff];
    case 'bfloat16':
      return [0, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffc3, 0x0001, 0x7f7f];
    case 'float32':
      return [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345, 0x00000001, 0x7f7fffff];
    case 'float64':
      return [
        0n,
        0x8000000000000000n,
        0x7ff0000000000000n,
        0xfff0000000000000n,
        0x7ff8000000000000n,
        0x7ff0000000000001n,
        0xfff8dead0000beefn,
        1n,
        0x7fefffffffffffffn,
      ];
    case 'bool':
      return [0, 1];
  }
}

export function makeArray(dtype: NumericDType, buf: ArrayBuffer): TypedArray {
  switch (dtype) {
    case 'int8':
      return new Int8Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'uint64':
      return new BigUint64Array(buf);
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
  }
}

/** Byte view of typed data, or the strings themselves. */
export function bytesOf(d: DatasetData): Uint8Array | string[] {
  return Array.isArray(d) ? d : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Elements of `data` (row-major over `shape`) picked by a hyperslab. */
export function hyperslab<T extends DatasetData>(
  data: T,
  shape: number[],
  start: number[],
  count: number[],
  step?: number[],
): T {
  const idx: number[] = [];
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const rec = (dim: number, base: number) => {
    if (dim === shape.length) {
      idx.push(base);
      return;
    }
    for (let k = 0; k < count[dim]!; k++) rec(dim + 1, base + (start[dim]! + k * (step?.[dim] ?? 1)) * strides[dim]!);
  };
  rec(0, 0);
  if (Array.isArray(data)) return idx.map((i) => data[i]!) as T;
  const ta = data as TypedArray;
  const C = ta.constructor as unknown as { new (n: number): TypedArray };
  const out = new C(idx.length);
  // Copy element bytes (not values) so NaN payloads survive.
  const bpe = ta.BYTES_PER_ELEMENT;
  const src = new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength);
  const dst = new Uint8Array(out.buffer);
  idx.forEach((s, j) => {
    dst.set(src.subarray(s * bpe, (s + 1) * bpe), j * bpe);
  });
  return out as T;
}

export function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
