/**
 * ONNX ModelProto → GraphProto → TensorProto, just enough to list a model's
 * initializers and point them at external data. Field numbers are those of
 * onnx.proto (ONNX IR version 3 and later; they never change once published).
 * Subgraphs (the `g` / `graphs` attributes of If, Loop, Scan) are walked too.
 */
import type { NumericDType } from '../h5/dtypes.js';
import {
  fieldString,
  forEachField,
  invalid,
  lenField,
  partsLength,
  readFields,
  repeatedInts,
  stringField,
  varintField,
  WIRE,
  type Field,
} from './proto.js';

const MODEL = { graph: 7 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5 } as const;
const NODE = { name: 3, attribute: 5 } as const;
const ATTRIBUTE = { name: 1, g: 6, graphs: 11 } as const;
const TENSOR = {
  dims: 1,
  dataType: 2,
  segment: 3,
  floatData: 4,
  int32Data: 5,
  stringData: 6,
  int64Data: 7,
  name: 8,
  rawData: 9,
  doubleData: 10,
  uint64Data: 11,
  externalData: 13,
  dataLocation: 14,
} as const;
/** Fields that hold (or locate) a tensor's values: replaced when it is linked. */
const DATA_FIELDS = new Set<number>([
  TENSOR.floatData,
  TENSOR.int32Data,
  TENSOR.stringData,
  TENSOR.int64Data,
  TENSOR.rawData,
  TENSOR.doubleData,
  TENSOR.uint64Data,
  TENSOR.externalData,
  TENSOR.dataLocation,
]);
const ENTRY = { key: 1, value: 2 } as const;
const EXTERNAL = 1;

/**
 * Budgets (docs/security.md#parser-budgets). Subgraphs: protobuf's default
 * recursion limit of 100 messages, which onnx and onnxruntime parse with,
 * leaves room for 32 nested graphs (model, graph, node, attribute, graph, ...);
 * the walk is recursive, and 1000 levels overflowed the stack. Rank: numpy's
 * limit of 64 dims (HDF5 allows 32). Initializers: at most one per 64 bytes
 * of model (at least 65,536), so their descriptions stay a small multiple of
 * the file (2 M initializers in 14 MB took 1.29 GB).
 */
export const ONNX_MAX_GRAPH_DEPTH = 32;
export const ONNX_MAX_RANK = 64;
export function onnxMaxInitializers(modelBytes: number): number {
  return Math.max(65_536, Math.floor(modelBytes / 64));
}

/** onnx.TensorProto.DataType codes of the element types h5vault stores. */
export const ONNX_DATA_TYPE: Record<NumericDType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};
const DTYPE_OF_CODE = new Map<number, NumericDType>(
  Object.entries(ONNX_DATA_TYPE).map(([k, v]) => [v, k as NumericDType]),
);

/** The h5vault dtype of an ONNX data_type code, or undefined (strings, complex, float8, ...). */
export function dtypeOfOnnx(code: number): NumericDType | undefined {
  return DTYPE_OF_CODE.get(code);
}

export interface Initializer {
  name: string;
  /** onnx.TensorProto.DataType code. */
  dataType: number;
  dims: number[];
  /** Where it lives: 'graph' for the main graph, 'graph/<node>/<attribute>' for subgraphs. */
  graph: string;
  /** Its data is already external (data_location = EXTERNAL). */
  external: boolean;
  /** Its inline raw_data, when it has one (a view into the model bytes). */
  raw?: Uint8Array;
  /** It stores values in a typed field (float_data, int64_data, ...) instead of raw_data. */
  typedData: boolean;
  /** Its external_data entries [key, value] in file order (location, offset, length, checksum), when it has any. */
  externalData?: [string, string][];
}

/** Where a linked initializer's bytes are: ONNX external_data entries. */
export interface ExternalRef {
  /** Path of the data file relative to the model file, '/'-separated. */
  location: string;
  offset?: number;
  length?: number;
  /** More external_data entries, written after these in this order (an existing ref's offset, length, checksum). */
  extra?: [string, string][];
}

/** Decides, per initializer, whether to point it somewhere else (return a ref) or keep it (undefined). */
export type Relinker = (init: Initializer, index: number) => ExternalRef | undefined;

function parseTensor(buf: Uint8Array, f: Field, graph: string): Initializer {
  const fields = readFields(buf, f.payloadStart, f.payloadEnd);
  let name = '';
  let dataType = 0;
  let external = false;
  let raw: Uint8Array | undefined;
  let typedData = false;
  const externalData: [string, string][] = [];
  for (const x of fields) {
    if (x.num === TENSOR.externalData && x.wire === WIRE.LEN) {
      let k = '';
      let v = '';
      for (const e of readFields(buf, x.payloadStart, x.payloadEnd)) {
        if (e.num === ENTRY.key && e.wire === WIRE.LEN) k = fieldString(buf, e);
        else if (e.num === ENTRY.value && e.wire === WIRE.LEN) v = fieldString(buf, e);
      }
      externalData.push([k, v]);
    }
    if (x.num === TENSOR.name) name = fieldString(buf, x);
    else if (x.num === TENSOR.dataType && x.wire === WIRE.VARINT) dataType = x.varint!;
    else if (x.num === TENSOR.dataLocation && x.wire === WIRE.VARINT) external = x.varint === EXTERNAL;
    else if (x.num === TENSOR.rawData && x.wire === WIRE.LEN) raw = buf.subarray(x.payloadStart, x.payloadEnd);
    else if (DATA_FIELDS.has(x.num) && x.num !== TENSOR.externalData && x.num !== TENSOR.dataLocation) typedData = true;
  }
  const dims = repeatedInts(
    buf,
    fields,
    TENSOR.dims,
    ONNX_MAX_RANK,
    `the dims of initializer ${JSON.stringify(name.slice(0, 200))}`,
  );
  return {
    name,
    dataType,
    dims,
    graph,
    external,
    raw: external ? undefined : raw,
    typedData,
    ...(externalData.length ? { externalData } : {}),
  };
}

/** A TensorProto with its data fields replaced by external_data entries and data_location = EXTERNAL. */
function externalTensor(buf: Uint8Array, f: Field, ref: ExternalRef): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const x of readFields(buf, f.payloadStart, f.payloadEnd)) {
    if (!DATA_FIELDS.has(x.num)) parts.push(buf.subarray(x.start, x.end));
  }
  const entry = (k: string, v: string) =>
    lenField(TENSOR.externalData, [...stringField(ENTRY.key, k), ...stringField(ENTRY.value, v)]);
  parts.push(...entry('location', ref.location));
  if (ref.offset !== undefined) parts.push(...entry('offset', String(ref.offset)));
  if (ref.length !== undefined) parts.push(...entry('length', String(ref.length)));
  for (const [k, v] of ref.extra ?? []) parts.push(...entry(k, v));
  parts.push(...varintField(TENSOR.dataLocation, EXTERNAL));
  return parts;
}

/**
 * Walks a message's fields; `child(field)` returns new parts for a field it
 * rewrote, or undefined to keep the field's bytes. Returns undefined when
 * nothing changed (so unchanged subtrees are never re-encoded).
 */
function rewriteFields(
  buf: Uint8Array,
  start: number,
  end: number,
  child: (f: Field) => Uint8Array[] | undefined,
): Uint8Array[] | undefined {
  const parts: Uint8Array[] = [];
  let changed = false;
  let copyFrom = start;
  forEachField(buf, start, end, (f) => {
    const repl = child(f);
    if (repl === undefined) return;
    changed = true;
    if (f.start > copyFrom) parts.push(buf.subarray(copyFrom, f.start));
    parts.push(...lenField(f.num, repl).slice(0, 2), ...repl);
    copyFrom = f.end;
  });
  if (!changed) return undefined;
  if (end > copyFrom) parts.push(buf.subarray(copyFrom, end));
  return parts;
}

function walkGraph(
  buf: Uint8Array,
  g: Field,
  path: string,
  visit: (t: Field, path: string) => Uint8Array[] | undefined,
  depth = 0,
): Uint8Array[] | undefined {
  if (depth > ONNX_MAX_GRAPH_DEPTH) {
    throw invalid(`subgraphs nested deeper than ${ONNX_MAX_GRAPH_DEPTH} levels`, g.start, {
      limit: 'depth',
      max: ONNX_MAX_GRAPH_DEPTH,
    });
  }
  return rewriteFields(buf, g.payloadStart, g.payloadEnd, (f) => {
    if (f.wire !== WIRE.LEN) return undefined;
    if (f.num === GRAPH.initializer) return visit(f, path);
    if (f.num !== GRAPH.node) return undefined;
    const nodeFields = readFields(buf, f.payloadStart, f.payloadEnd);
    const nodeName = nodeFields.find((x) => x.num === NODE.name && x.wire === WIRE.LEN);
    const nodeLabel = nodeName ? fieldString(buf, nodeName) : '?';
    return rewriteFields(buf, f.payloadStart, f.payloadEnd, (a) => {
      if (a.num !== NODE.attribute || a.wire !== WIRE.LEN) return undefined;
      const attrFields = readFields(buf, a.payloadStart, a.payloadEnd);
      const attrName = attrFields.find((x) => x.num === ATTRIBUTE.name && x.wire === WIRE.LEN);
      const label = `${path}/${nodeLabel}/${attrName ? fieldString(buf, attrName) : '?'}`;
      let i = 0;
      return rewriteFields(buf, a.payloadStart, a.payloadEnd, (s) => {
        if (s.wire !== WIRE.LEN || (s.num !== ATTRIBUTE.g && s.num !== ATTRIBUTE.graphs)) return undefined;
        return walkGraph(buf, s, s.num === ATTRIBUTE.graphs ? `${label}[${i++}]` : label, visit, depth + 1);
      });
    });
  });
}

function walkModel(
  buf: Uint8Array,
  visitOne: (t: Field, path: string) => Uint8Array[] | undefined,
): Uint8Array[] | undefined {
  const top = readFields(buf);
  const max = onnxMaxInitializers(buf.length);
  let count = 0;
  const visit = (t: Field, path: string): Uint8Array[] | undefined => {
    if (++count > max) {
      throw invalid(`more than ${max} initializers (the budget for a ${buf.length}-byte model)`, t.start, {
        limit: 'initializers',
        max,
      });
    }
    return visitOne(t, path);
  };
  if (!top.some((f) => f.num === MODEL.graph && f.wire === WIRE.LEN)) throw invalid('no graph (ModelProto field 7)', 0);
  return rewriteFields(buf, 0, buf.length, (f) =>
    f.num === MODEL.graph && f.wire === WIRE.LEN ? walkGraph(buf, f, 'graph', visit) : undefined,
  );
}

/** Every initializer of the model (main graph, then subgraphs in file order). */
export function listInitializers(model: Uint8Array): Initializer[] {
  const out: Initializer[] = [];
  walkModel(model, (t, path) => {
    out.push(parseTensor(model, t, path));
    return undefined;
  });
  return out;
}

/**
 * The model with each initializer `relink` returns a ref for pointing at that
 * external data; every other byte is kept. Returns the new model as parts
 * (write them in order), or undefined when nothing was relinked.
 */
export function relinkInitializers(model: Uint8Array, relink: Relinker): Uint8Array[] | undefined {
  let index = 0;
  return walkModel(model, (t, path) => {
    const ref = relink(parseTensor(model, t, path), index++);
    return ref ? externalTensor(model, t, ref) : undefined;
  });
}

export { partsLength };
