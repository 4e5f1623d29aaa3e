/**
 * Model file schema v1 (docs/model-storage.md#provenance-schema-v1): the
 * tensor type, the root attribute names, and input validation shared by
 * saveModel / loadModel / ModelStore.
 */
import { readFileSync } from 'node:fs';
import { checkDataValues, checkTensorRecord, type NumericDType, type TypedArray } from '../h5/dtypes.js';
import { checkTensorName } from '../util/names.js';

/** One tensor: a numeric dtype, a shape ([] = scalar) and its elements in C order. */
export interface Tensor {
  dtype: NumericDType;
  shape: number[];
  data: TypedArray;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What saveModel accepts: a plain object or a Map from tensor name to Tensor. */
export type TensorsInput = Record<string, Tensor> | Map<string, Tensor>;

/** Format version written to `h5vault.format`; readers refuse newer majors. */
export const FORMAT_VERSION = 1;

/** Root attribute names, in the order saveModel writes them. */
export const ATTR = {
  format: 'h5vault.format',
  version: 'h5vault.version',
  hdf5: 'h5vault.hdf5',
  node: 'h5vault.node',
  platform: 'h5vault.platform',
  tensors: 'h5vault.tensors',
  bytes: 'h5vault.bytes',
  modelDigest: 'h5vault.model_digest',
  metadata: 'h5vault.metadata',
} as const;

/** Per-dataset attribute: SHA-256 (lowercase hex) of the tensor's logical little-endian bytes. */
export const TENSOR_SHA_ATTR = 'h5vault.sha256';

/** Provenance as read back from a file's root attributes. */
export interface Provenance {
  format: number;
  /** h5vault version that wrote the file (package.json "version"). */
  h5vault: string;
  /** libhdf5 version that wrote the file, e.g. '1.10.8'. */
  hdf5: string;
  /** Node.js version that wrote the file, e.g. 'v20.19.0'. */
  node: string;
  /** `${process.platform}-${process.arch}` of the writer, e.g. 'linux-x64'. */
  platform: string;
  tensors: number;
  /** Sum of the tensors' logical sizes in bytes (not the file size). */
  bytes: number;
  /** SHA-256 over the canonical tensor list (see modelDigestOf). */
  modelDigest: string;
}

let pkgVersion: string | undefined;
/** h5vault's own version, read once from package.json (two levels up from lib/model and dist/model). */
export function packageVersion(): string {
  if (pkgVersion === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    pkgVersion = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  }
  return pkgVersion;
}

/** A validated tensor with its normalised name, in canonical order. */
export interface Entry {
  name: string;
  tensor: Tensor;
  byteLength: number;
}

/**
 * Checks a tensor name (the one name rule, lib/util/names.ts): '/'-separated
 * path segments, none empty, '.' or '..', no leading '/', no control
 * characters or NUL, well-formed Unicode. Leading/trailing '/' are refused
 * rather than normalised so that one tensor has exactly one spelling.
 */
export { checkTensorName };

/** Orders names by their UTF-8 bytes (not UTF-16 code units), so the order is the same in every language. */
export function compareNames(a: string, b: string): number {
  // ASCII (nearly every tensor name): UTF-16 code units are the UTF-8 bytes,
  // so compare without encoding (a model open sorts thousands of names).
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x >= 0x80 || y >= 0x80) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
    if (x !== y) return x < y ? -1 : 1;
  }
  for (let i = n; i < a.length; i++)
    if (a.charCodeAt(i) >= 0x80) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  for (let i = n; i < b.length; i++)
    if (b.charCodeAt(i) >= 0x80) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Validates saveModel's tensors argument and returns entries sorted by name. */
export function entriesOf(tensors: unknown): Entry[] {
  let pairs: [string, unknown][];
  if (tensors instanceof Map) pairs = [...tensors.entries()];
  else if (typeof tensors === 'object' && tensors !== null && !Array.isArray(tensors) && !ArrayBuffer.isView(tensors))
    pairs = Object.entries(tensors);
  else throw new TypeError('tensors must be a Record<string, Tensor> or a Map<string, Tensor>');
  const out: Entry[] = [];
  for (const [name, t] of pairs) {
    checkTensorName(name);
    out.push({ name, tensor: checkTensor(name, t), byteLength: (t as Tensor).data.byteLength });
  }
  out.sort((x, y) => compareNames(x.name, y.name));
  // A name cannot be both a dataset and a group ('a' and 'a/b').
  const names = new Set(out.map((e) => e.name));
  for (const { name } of out) {
    for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
      const prefix = name.slice(0, i);
      if (names.has(prefix)) throw new TypeError(`tensor '${prefix}' is also a group of '${name}'`);
    }
  }
  return out;
}

function checkTensor(name: string, t: unknown): Tensor {
  const { dtype, shape, data } = checkTensorRecord(name, t);
  checkDataValues(dtype, data, `tensor '${name}' data`);
  return { dtype, shape: [...shape], data };
}

/**
 * JSON with object keys sorted (by UTF-8 bytes), no whitespace: equal
 * metadata gives equal bytes whatever the key insertion order (invariant 7).
 * Refuses what JSON cannot round-trip: undefined, functions, bigint,
 * NaN/Infinity, cycles, non-plain objects.
 */
export function canonicalJson(value: unknown, path = 'metadata', seen: Set<object> = new Set()): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path} is ${value}: JSON has no non-finite numbers`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(
        `${path} is a ${typeof value}: metadata must be JSON (null, boolean, number, string, array, plain object)`,
      );
  }
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError(`${path} is a cycle: metadata must be a tree`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return `[${obj.map((v, i) => canonicalJson(v, `${path}[${i}]`, seen)).join(',')}]`;
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null)
      throw new TypeError(
        `${path} is a ${obj.constructor?.name ?? 'non-plain object'}: metadata objects must be plain`,
      );
    const keys = Object.keys(obj).sort(compareNames);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((obj as Record<string, unknown>)[k], `${path}.${k}`, seen)}`).join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
