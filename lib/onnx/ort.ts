/**
 * onnxruntime-node interop for models that take their weights as inputs:
 * toOrtTensor wraps an h5vault tensor in an ort.Tensor over the same memory
 * (a view of the file mapping stays a view: nothing is copied), ortFeeds
 * builds a whole feeds object from a loaded model.
 *
 * onnxruntime-node is an optional peer dependency: it is loaded on the first
 * call, never by importing h5vault, and its absence is an H5Error
 * H5_MISSING_PEER. The only conversion that copies is bfloat16, which ORT
 * has no tensor type for: it must be asked for with `{ bfloat16 }`.
 */
import { createRequire } from 'node:module';
import {
  bfloat16ToFloat32,
  float32ToFloat16,
  type NumericDType,
  type TypedArray,
  type TypedTensor,
} from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import type { Tensor } from '../model/index.js';
import { checkIntegers, checkObject, oneOfOption } from '../util/validate.js';

// onnxruntime-node is an optional peer: in a project without it its types
// are absent (TS2307) and OrtTensor is `any` there. The directive is a
// one-line JSDoc comment because tsc keeps those in the published
// declarations (and drops `//` ones); test/types/no-peers.test.ts compiles
// them without the peer, skipLibCheck off.
// biome-ignore lint/suspicious/noTsIgnore: not @ts-expect-error, which fails where the peer is installed
/** @ts-ignore onnxruntime-node's types, absent without the optional peer */
export type OrtTensor = import('onnxruntime-node').Tensor;

/** ORT tensor type names h5vault's numeric dtypes map to (bfloat16 has none). */
export type OrtType =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'bool';

export interface ToOrtOptions {
  /**
   * ORT has no bfloat16 tensor type, so a bfloat16 tensor is refused
   * (H5_UNSUPPORTED_TYPE) unless you choose a conversion. Both COPY the data
   * into new memory: 'float32' is exact (2x the bytes); 'float16' keeps the
   * size but rounds to nearest even and overflows to ±Infinity beyond 65504.
   */
  bfloat16?: 'float32' | 'float16';
}

/** A tensor record as h5vault hands them out (loadModel, viewTensor) or takes them (saveModel). */
export type TensorLike = TypedTensor | Tensor;

/** What ortFeeds accepts: a loadModel result, or tensors by name. */
export type TensorSource =
  | { tensors: ReadonlyMap<string, TensorLike> }
  | ReadonlyMap<string, TensorLike>
  | Record<string, TensorLike>;

const ORT_TYPE: Record<Exclude<NumericDType, 'bfloat16'>, OrtType> = {
  int8: 'int8',
  int16: 'int16',
  int32: 'int32',
  int64: 'int64',
  uint8: 'uint8',
  uint16: 'uint16',
  uint32: 'uint32',
  uint64: 'uint64',
  float16: 'float16',
  float32: 'float32',
  float64: 'float64',
  bool: 'bool',
};

// biome-ignore lint/suspicious/noTsIgnore: see OrtTensor
/** @ts-ignore onnxruntime-node's types, absent without the optional peer (see OrtTensor) */
type OrtModule = typeof import('onnxruntime-node');
let ortModule: OrtModule | undefined;

/**
 * onnxruntime-node, loaded on first use with require() from h5vault's own
 * location (so it resolves like any dependency of h5vault would).
 * Throws H5Error H5_MISSING_PEER when it is not installed.
 */
export function loadOrt(): OrtModule {
  if (ortModule) return ortModule;
  const require = createRequire(import.meta.url);
  try {
    ortModule = require('onnxruntime-node') as OrtModule;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new H5Error(
        "onnxruntime-node is not installed: h5vault's ONNX Runtime helpers need it (npm install onnxruntime-node)",
        {
          code: 'H5_MISSING_PEER',
          peer: 'onnxruntime-node',
        },
      );
    }
    throw e;
  }
  return ortModule;
}

function checkOptions(o: ToOrtOptions): void {
  checkObject(o);
  oneOfOption(o, 'bfloat16', ['float32', 'float16']);
}

function checkTensor(t: unknown, what: string): asserts t is TensorLike {
  if (typeof t !== 'object' || t === null)
    throw new TypeError(`${what} must be a tensor record { dtype, shape, data }`);
  const { dtype, shape, data } = t as TensorLike;
  checkIntegers(shape, `${what}.shape`);
  if (!ArrayBuffer.isView(data)) throw new TypeError(`${what}.data must be a typed array`);
  const n = shape.reduce((a, b) => a * b, 1);
  if ((data as TypedArray).length !== n)
    throw new RangeError(
      `${what} has ${(data as TypedArray).length} elements but its shape [${shape.join(', ')}] holds ${n}`,
    );
  if (typeof dtype !== 'string' || !(dtype in ORT_TYPE || dtype === 'bfloat16'))
    throw new TypeError(`${what}.dtype '${String(dtype)}' is not a numeric dtype`);
}

/**
 * An ort.Tensor over the tensor's own memory: for every dtype except
 * bfloat16, `result.data === t.data` (same typed array, same ArrayBuffer, so
 * a view of the file mapping is fed to ORT with no copy). bfloat16 needs
 * `{ bfloat16: 'float32' | 'float16' }` and is then converted into new memory.
 *
 * @example
 *   const m = await loadModel('weights.h5');
 *   const w = toOrtTensor(m.tensors.get('fc/weight')!);
 *   await session.run({ x, 'fc.weight': w });
 */
export function toOrtTensor(t: TensorLike, options: ToOrtOptions = {}): OrtTensor {
  checkOptions(options);
  checkTensor(t, 'tensor');
  const ort = loadOrt();
  const dims = [...t.shape];
  if (t.dtype === 'bfloat16') {
    if (options.bfloat16 === undefined) {
      throw new H5Error(
        "ONNX Runtime has no bfloat16 tensor type: pass { bfloat16: 'float32' } (exact) or { bfloat16: 'float16' } (rounded); either copies the data",
        {
          code: 'H5_UNSUPPORTED_TYPE',
          dtype: 'bfloat16',
        },
      );
    }
    const f32 = bfloat16ToFloat32(t.data as Uint16Array);
    if (options.bfloat16 === 'float32') return new ort.Tensor('float32', f32, dims);
    return new ort.Tensor('float16', float32ToFloat16(f32), dims);
  }
  const type = ORT_TYPE[t.dtype];
  // ORT wraps a typed array of its own class without copying it (and runs
  // on that memory); float16 stays Uint16Array bits, as h5vault stores it.
  return new ort.Tensor(type, t.data as import('onnxruntime-node').Tensor.DataTypeMap[typeof type], dims);
}

function entriesOf(src: TensorSource): Map<string, TensorLike> {
  if (src instanceof Map) return src as Map<string, TensorLike>;
  if (typeof src === 'object' && src !== null && 'tensors' in src && src.tensors instanceof Map)
    return src.tensors as Map<string, TensorLike>;
  if (typeof src === 'object' && src !== null) return new Map(Object.entries(src as Record<string, TensorLike>));
  throw new TypeError('source must be a loaded model, a Map or an object of tensors');
}

/**
 * Feeds for InferenceSession.run from a model's tensors, each made by
 * toOrtTensor (no copy except an explicit bfloat16 conversion).
 * `names` picks tensors: an array of tensor names (each fed under its own
 * name), or an object { inputName: tensorName } when the graph's input names
 * differ (torch exports 'fc.weight' where h5vault stores 'fc/weight').
 * Default: every tensor, under its own name. A name that is not in the model
 * is an H5Error H5_NOT_FOUND listing what is.
 *
 * @example
 *   const feeds = ortFeeds(model, { 'fc.weight': 'fc/weight', 'fc.bias': 'fc/bias' });
 *   const out = await session.run({ ...feeds, x });
 */
export function ortFeeds(
  src: TensorSource,
  names?: readonly string[] | Record<string, string>,
  options: ToOrtOptions = {},
): Record<string, OrtTensor> {
  checkOptions(options);
  const tensors = entriesOf(src);
  let pairs: [string, string][];
  if (names === undefined) pairs = [...tensors.keys()].map((k) => [k, k]);
  else if (Array.isArray(names)) pairs = names.map((k) => [k, k]);
  else if (typeof names === 'object' && names !== null) pairs = Object.entries(names);
  else throw new TypeError('names must be an array of tensor names or an object { inputName: tensorName }');
  const missing = pairs.filter(([, t]) => typeof t !== 'string' || !tensors.has(t)).map(([, t]) => String(t));
  if (missing.length) {
    const have = [...tensors.keys()];
    throw new H5Error(
      `no tensor named ${missing.map((m) => `'${m}'`).join(', ')} in the model (it has ${
        have.length
          ? have
              .slice(0, 20)
              .map((h) => `'${h}'`)
              .join(', ')
          : 'none'
      }${have.length > 20 ? ', ...' : ''})`,
      {
        code: 'H5_NOT_FOUND',
        missing,
      },
    );
  }
  const feeds: Record<string, OrtTensor> = {};
  for (const [input, name] of pairs) feeds[input] = toOrtTensor(tensors.get(name)!, options);
  return feeds;
}
