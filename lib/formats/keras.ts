/**
 * loadKeras: the weights of a Keras model file, whichever layout saved it,
 * as named tensors in layer order, zero-copy where the dataset allows it.
 *
 * Layouts (docs/runtime.md#keras):
 * - Keras 2 full model (`model.save('m.h5')`): root attributes `model_config`,
 *   `training_config`, `keras_version`, `backend`; a `model_weights` group
 *   whose `layer_names` attribute lists the layers in model order; each layer
 *   group's `weight_names` attribute lists its weights in order, each a
 *   dataset at `<layer group>/<weight name>`. Optimizer state, if saved, is an
 *   `optimizer_weights` group laid out the same way. Long name lists are split
 *   over `layer_names0`, `layer_names1`, ... (Keras's HDF5 object-header limit).
 * - Keras 2 `save_weights('w.h5')`: the same layer groups at the root.
 * - Keras 3 `.weights.h5`: one group per saveable object, named after its
 *   attribute path (`layers/<snake_case class>[_N]`, `optimizer`, nested
 *   `layers/lstm/cell`, ...), each with a `vars` group of datasets `0`, `1`,
 *   ... in the object's variable order. Keras 2.13-2.15 wrote
 *   `_layer_checkpoint_dependencies` where Keras 3 writes `layers`.
 * - `.keras` archives: a zip with `config.json`, `metadata.json` and
 *   `model.weights.h5` in the Keras 3 layout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import { Group } from '../h5/group.js';
import { H5Error, withSite } from '../errors.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import type { AttrReadValue } from '../h5/attrs.js';
import { wantsChecks } from '../safety/untrusted.js';
import { openInput, type Input } from '../safety/open.js';
import { native } from '../addon/binding.js';
import type { LoadOptions } from '../model/load.js';
import type { JsonValue, Tensor } from '../model/schema.js';
import { boundedMap, SHA256_EXPECTED, SHA256_HEX } from '../model/digest.js';
import {
  JSON_MAX_DEPTH,
  JsonScanError,
  jsonH5Error,
  parseJsonBoundedAsync,
  type JsonBudget,
} from '../safety/budget.js';
import { extractZipMember, looksLikeZip, readZipDirectory, readZipMember, type ZipEntry } from './zip.js';
import {
  booleanOption,
  checkKeys,
  checkObject,
  checkPath,
  matchOption,
  signalOption,
  stringOption,
} from '../util/validate.js';

export type KerasLayout = 'keras2-model' | 'keras2-weights' | 'keras3-weights';

export interface KerasLoadOptions extends Omit<LoadOptions, 'verify'> {
  /**
   * Directory a `.keras` archive's weights are extracted to when they cannot
   * be opened in place (default: the OS temp directory). The file is
   * unlinked as soon as libhdf5 has opened it.
   */
  tmpDir?: string;
  /** @internal The file, already pinned by the caller (lib/safety/open.ts), which keeps it open: read through it, never by path. */
  input?: Input;
}

/** One weight: a Tensor plus where it came from. */
export interface KerasWeight extends Tensor {
  /** Full name, '<layer>/<weight>' ('dense_1/kernel'). */
  name: string;
  /** Weight name inside its layer ('kernel', 'cell/recurrent_kernel', or the variable index when unknown). */
  weight: string;
  /** HDF5 path of the dataset ('/model_weights/dense_1/dense_1/kernel:0', '/layers/dense/vars/0'). */
  key: string;
  /** true: `data` is a zero-copy view of the file mapping; false: an owned copy (see `copyReason`). */
  viewed: boolean;
  /** Why the data had to be read into memory (a chunked or compressed dataset, ...), or 'copy-requested'. */
  copyReason?: string;
}

export interface KerasLayer {
  /** The layer's name in the model ('dense_1'). */
  name: string;
  /** Its class ('Dense') when the config or the file says it, else null. */
  className: string | null;
  /** HDF5 group the layer's weights live under ('/model_weights/dense_1', '/layers/dense_1'). */
  group: string;
  /** In the order Keras saved them (weight_names order; Keras 3 variable index order). */
  weights: KerasWeight[];
}

/** Where the HDF5 weights were opened from. */
export type KerasSource =
  | { kind: 'hdf5' }
  /** The `.keras` member was opened inside the archive, zero-copy. */
  | { kind: 'zip-direct'; member: string; offset: number; compression: 'stored' }
  /** The member was copied to a temporary file (unlinked once opened); `reason` says why. */
  | { kind: 'zip-extracted'; member: string; offset: number; compression: 'stored' | 'deflate'; reason: string };

export interface KerasMetadata {
  /** `keras_version` (Keras 2 attribute, Keras 3 metadata.json), null if absent. */
  kerasVersion: string | null;
  /** `backend` ('tensorflow', 'jax', ...), null if absent. */
  backend: string | null;
  /** Everything else metadata.json holds ('date_saved', ...). */
  [key: string]: JsonValue | undefined;
}

export interface LoadedKeras {
  path: string;
  layout: KerasLayout;
  /** 'zip' for a `.keras` archive, 'hdf5' for an .h5 / .weights.h5 file. */
  container: 'hdf5' | 'zip';
  source: KerasSource;
  /** Layers in model order (including those without weights). */
  layers: KerasLayer[];
  /** Every layer weight by full name, in layer then weight order: pass it to saveModel as is. */
  tensors: Map<string, KerasWeight>;
  /** Optimizer state ('optimizer_weights' in Keras 2, 'optimizer/vars' in Keras 3), in saved order. */
  optimizer: KerasWeight[];
  /** Parsed `model_config` attribute or config.json; null when the file has none (weights-only files). */
  config: JsonValue | null;
  /** Parsed `training_config` attribute (Keras 2 full models), else null. */
  trainingConfig: JsonValue | null;
  metadata: KerasMetadata;
  /** SHA-256 of the file at `path`, when expectDigest was given (it is then equal to it). */
  digest: string | undefined;
  /** Names (as in `tensors`, and 'optimizer/<i>') of the weights whose data is a zero-copy view. */
  views: Set<string>;
  /** Closes the HDF5 file. Views stay valid until collected (the mapping outlives the handle). */
  close(): void;
  [Symbol.dispose](): void;
}

/** Largest config.json / metadata.json read into memory. */
const MAX_JSON_MEMBER = 64 * 1024 * 1024;
const WEIGHTS_MEMBER = 'model.weights.h5';
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

function notKeras(path: string, what: string): H5Error {
  return new H5Error(
    `'${path}' ${what}; expected a Keras 2 model (a 'model_weights' group with a 'layer_names' attribute), ` +
      `Keras 2 weights (a root 'layer_names' attribute), Keras 3 weights ('layers/<name>/vars/<i>' groups) ` +
      `or a .keras archive holding ${WEIGHTS_MEMBER}`,
    { code: 'H5_NOT_KERAS', path },
  );
}

function checkOptions(o: KerasLoadOptions): void {
  checkObject(o);
  wantsChecks(o);
  matchOption(o, 'expectDigest', SHA256_HEX, SHA256_EXPECTED);
  signalOption(o);
  booleanOption(o, 'copy');
  stringOption(o, 'tmpDir');
  checkKeys(o, ['expectDigest', 'copy', 'signal', 'untrusted', 'limits', 'tmpDir', 'input']);
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new H5Error('load aborted', { code: 'H5_ABORTED' });
}

// --- attribute helpers ---

function attr(g: Group, name: string): AttrReadValue | undefined {
  return g.attrs.has(name) ? g.attrs.get(name) : undefined;
}

function strAttr(g: Group, name: string): string | null {
  const v = attr(g, name);
  return typeof v === 'string' ? v : null;
}

/**
 * A list-of-names attribute as Keras writes it: a string array (fixed-length
 * bytes or variable-length str), an empty float array for an empty list, or
 * split over `<name>0`, `<name>1`, ... when it outgrew an object header.
 * null when absent.
 */
function nameList(g: Group, name: string, path: string): string[] | null {
  const one = (v: AttrReadValue | undefined, n: string): string[] => {
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return v;
    if (ArrayBuffer.isView(v) && v.length === 0) return [];
    throw new H5Error(`'${path}': attribute '${n}' on '${g.path}' is not a list of names`, {
      code: 'H5_CORRUPT',
      path,
    });
  };
  if (g.attrs.has(name)) return one(g.attrs.get(name), name);
  if (!g.attrs.has(`${name}0`)) return null;
  const out: string[] = [];
  for (let i = 0; g.attrs.has(`${name}${i}`); i++) out.push(...one(g.attrs.get(`${name}${i}`), `${name}${i}`));
  return out;
}

/**
 * Budget of a Keras config (config.json, metadata.json, the model_config and
 * training_config attributes; docs/security.md#parser-budgets). Real configs
 * are kilobytes to a few MB with tens of thousands of entries.
 */
export const KERAS_JSON_BUDGET: JsonBudget = {
  maxBytes: MAX_JSON_MEMBER,
  maxDepth: JSON_MAX_DEPTH,
  maxEntries: 1 << 20,
};

/** Parses a config within KERAS_JSON_BUDGET (off the event loop when large): H5_CORRUPT if not JSON, H5_LIMIT_EXCEEDED over budget. */
async function parseJson(text: string, path: string, what: string): Promise<JsonValue> {
  try {
    return (await parseJsonBoundedAsync(text, KERAS_JSON_BUDGET)) as JsonValue;
  } catch (e) {
    const over = e instanceof JsonScanError && e.kind === 'limit';
    throw jsonH5Error(
      e,
      `'${path}': ${what} ${over ? 'is over budget' : 'is not valid JSON'}`,
      'H5_CORRUPT',
      'H5_LIMIT_EXCEEDED',
      { path },
    );
  }
}

async function jsonAttr(g: Group, name: string, path: string): Promise<JsonValue | null> {
  const v = attr(g, name);
  if (v === undefined) return null;
  if (typeof v !== 'string')
    throw new H5Error(`'${path}': attribute '${name}' is not a JSON string`, { code: 'H5_CORRUPT', path });
  return parseJson(v, path, `attribute '${name}'`);
}

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// --- layer planning: which dataset becomes which named weight ---

interface Planned {
  name: string;
  weight: string;
  ds: Dataset;
}

interface PlannedLayer {
  name: string;
  className: string | null;
  group: string;
  weights: Planned[];
}

function numericDataset(o: Dataset | Group, path: string): Dataset {
  if (!(o instanceof Dataset)) {
    throw new H5Error(`'${path}': '${o.path}' is a group where Keras keeps a weight`, { code: 'H5_NOT_KERAS', path });
  }
  const d = o.dtype;
  if (d === 'string' || d === 'unsupported') {
    const bf = o.attrs.has('dtype') ? o.attrs.get('dtype') : undefined;
    throw new H5Error(
      `'${path}': weight '${o.path}' has a ${d === 'string' ? 'string' : 'non-numeric'} HDF5 type${bf === 'bfloat16' ? " (Keras 3's opaque bfloat16)" : ''} that h5vault cannot represent`,
      { code: 'H5_UNSUPPORTED_TYPE', path, object: o.path },
    );
  }
  return o;
}

/** Class name of each layer in a Keras 2 `model_config` (Sequential configs of Keras 2.0 are a bare list). */
export function classesFromConfig(config: JsonValue | null): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (layers: JsonValue | undefined): void => {
    if (!Array.isArray(layers)) return;
    for (const l of layers) {
      if (!isObject(l) || typeof l.class_name !== 'string') continue;
      const cfg = isObject(l.config) ? l.config : {};
      const name = typeof cfg.name === 'string' ? cfg.name : typeof l.name === 'string' ? l.name : null;
      if (name !== null && !out.has(name)) out.set(name, l.class_name);
    }
  };
  if (isObject(config)) {
    const c = config.config;
    if (Array.isArray(c)) visit(c);
    else if (isObject(c)) visit(c.layers);
  }
  return out;
}

/** TensorFlow names a variable's first output ':0'; Keras's own names ('dense_1/kernel') carry none. */
function weightLabel(layer: string, stored: string): { full: string; weight: string } {
  const bare = stored.replace(/:0$/, '');
  if (bare.startsWith(`${layer}/`)) return { full: bare, weight: bare.slice(layer.length + 1) };
  return { full: `${layer}/${bare}`, weight: bare };
}

function planKeras2(
  file: File,
  root: Group,
  path: string,
  classes: Map<string, string>,
): { layers: PlannedLayer[]; optimizer: Planned[] } {
  const layerNames = nameList(root, 'layer_names', path)!;
  const layers: PlannedLayer[] = [];
  const listed = new Set(layerNames);
  // Keras 3's legacy-h5 writer adds the model's own weights under a group that layer_names does not list.
  const extra =
    root.has('top_level_model_weights') && !listed.has('top_level_model_weights') ? ['top_level_model_weights'] : [];
  for (const ln of [...layerNames, ...extra]) {
    if (!root.has(ln))
      throw new H5Error(`'${path}': layer '${ln}' is listed in layer_names but has no group`, {
        code: 'H5_CORRUPT',
        path,
      });
    const g = root.group(ln);
    const names = nameList(g, 'weight_names', path) ?? [];
    const weights = names.map((wn) => {
      if (!g.has(wn))
        throw new H5Error(`'${path}': weight '${wn}' of layer '${ln}' is listed but missing`, {
          code: 'H5_CORRUPT',
          path,
        });
      const { full, weight } = weightLabel(ln, wn);
      return { name: full, weight, ds: numericDataset(g.get(wn), path) };
    });
    if (extra.includes(ln) && weights.length === 0) continue;
    layers.push({ name: ln, className: classes.get(ln) ?? null, group: g.path, weights });
  }
  // Optimizer state is a root group in both Keras 2 layouts.
  let optimizer: Planned[] = [];
  const og = file.has('optimizer_weights') ? file.get('optimizer_weights') : null;
  if (og instanceof Group) {
    const names = nameList(og, 'weight_names', path) ?? [];
    optimizer = names.map((wn) => {
      if (!og.has(wn))
        throw new H5Error(`'${path}': optimizer weight '${wn}' is listed but missing`, { code: 'H5_CORRUPT', path });
      const weight = wn.replace(/:0$/, '');
      return { name: `optimizer/${weight}`, weight, ds: numericDataset(og.get(wn), path) };
    });
  }
  return { layers, optimizer };
}

/** keras.src.utils.naming.to_snake_case, which names a layer's group inside the `layers` container. */
function toSnakeCase(name: string): string {
  return name
    .replace(/[^\p{L}\p{N}_]+/gu, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * Variable names of the built-in layers whose variable order Keras 3 fixes in
 * `build()` (trainable variables first, then non-trainable ones), keyed by
 * the snake_case class name. Flags in the layer config drop variables
 * (use_bias=False has no bias). Layers not listed get their variables' indices.
 */
const KERAS3_VARS: Record<string, (c: Record<string, JsonValue>) => string[]> = (() => {
  const flag = (c: Record<string, JsonValue>, k: string): boolean => c[k] !== false;
  const kernelBias = (c: Record<string, JsonValue>): string[] =>
    flag(c, 'use_bias') ? ['kernel', 'bias'] : ['kernel'];
  const table: Record<string, (c: Record<string, JsonValue>) => string[]> = {
    dense: kernelBias,
    einsum_dense: (c) => (typeof c.bias_axes === 'string' && c.bias_axes !== '' ? ['kernel', 'bias'] : ['kernel']),
    embedding: () => ['embeddings'],
    batch_normalization: (c) => [
      ...(flag(c, 'scale') ? ['gamma'] : []),
      ...(flag(c, 'center') ? ['beta'] : []),
      'moving_mean',
      'moving_variance',
    ],
    layer_normalization: (c) => [...(flag(c, 'scale') ? ['gamma'] : []), ...(flag(c, 'center') ? ['beta'] : [])],
    p_re_lu: () => ['alpha'],
    lstm_cell: (c) => ['kernel', 'recurrent_kernel', ...(flag(c, 'use_bias') ? ['bias'] : [])],
    gru_cell: (c) => ['kernel', 'recurrent_kernel', ...(flag(c, 'use_bias') ? ['bias'] : [])],
    simple_rnn_cell: (c) => ['kernel', 'recurrent_kernel', ...(flag(c, 'use_bias') ? ['bias'] : [])],
  };
  for (const d of ['1d', '2d', '3d']) {
    table[`conv${d}`] = kernelBias;
    table[`conv${d}_transpose`] = kernelBias;
    table[`depthwise_conv${d}`] = kernelBias;
    table[`separable_conv${d}`] = (c) => [
      'depthwise_kernel',
      'pointwise_kernel',
      ...(flag(c, 'use_bias') ? ['bias'] : []),
    ];
  }
  return table;
})();

/** An RNN layer's `cell` attribute holds the cell class of the same family. */
const RNN_CELLS: Record<string, string> = { lstm: 'lstm_cell', gru: 'gru_cell', simple_rnn: 'simple_rnn_cell' };

interface ConfigLayer {
  name: string;
  className: string;
  config: Record<string, JsonValue>;
}

/** Layers of a Keras 3 config.json (Sequential or Functional), in model order. */
export function configLayers(config: JsonValue | null): ConfigLayer[] {
  if (!isObject(config) || !isObject(config.config)) return [];
  const layers = config.config.layers;
  if (!Array.isArray(layers)) return [];
  const out: ConfigLayer[] = [];
  for (const l of layers) {
    if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config)) continue;
    const name = typeof l.config.name === 'string' ? l.config.name : typeof l.name === 'string' ? l.name : null;
    if (name !== null) out.push({ name, className: l.class_name, config: l.config });
  }
  // Sequential.layers omits its leading InputLayer, so the container never names it.
  if (config.class_name === 'Sequential' && out[0]?.className === 'InputLayer') out.shift();
  return out;
}

/** Dataset names '0', '1', ... in index order (HDF5 lists links by name: '10' before '2'). */
function varsInOrder(vars: Group, path: string): Dataset[] {
  const keys = vars.keys();
  const idx = keys.map((k) => (/^(0|[1-9]\d*)$/.test(k) ? Number(k) : NaN));
  if (idx.some((n) => Number.isNaN(n))) {
    const bad = keys[idx.findIndex((n) => Number.isNaN(n))];
    throw new H5Error(`'${path}': '${vars.path}' holds '${bad}', not a variable index`, { code: 'H5_NOT_KERAS', path });
  }
  return keys
    .map((k, i) => ({ k, n: idx[i]! }))
    .sort((a, b) => a.n - b.n)
    .map(({ k }) => numericDataset(vars.get(k), path));
}

/**
 * Deepest `vars` group read below a layer group. Keras nests a few levels
 * (layers/functional/layers/dense/vars); deeper is refused, never dropped.
 */
const MAX_VARS_DEPTH = 128;

/** HDF5 object identity (file number and address): two links to one object give one identity. */
function identity(o: Group | Dataset): string {
  return native.objIdentity(o.handle);
}

/**
 * Every `vars` group at or below `g` (depth-first, name order), with its path
 * relative to `g`. Each group is visited once per file (`seen`, by object
 * identity): a hard or soft link back to a group already visited (a cycle, a
 * layer group linked to itself) adds nothing, so the walk is linear in the
 * objects of the file and always ends.
 */
function varsGroups(g: Group, path: string, seen: Set<string>, depth = 0): { rel: string; vars: Group }[] {
  if (depth > MAX_VARS_DEPTH) {
    throw new H5Error(`'${path}': '${g.path}' nests Keras variables more than ${MAX_VARS_DEPTH} groups deep`, {
      code: 'H5_LIMIT_EXCEEDED',
      path,
      reason: 'too-deep',
      object: g.path,
    });
  }
  seen.add(identity(g));
  const out: { rel: string; vars: Group }[] = [];
  if (g.has('vars')) {
    const v = g.get('vars');
    if (v instanceof Group && !seen.has(identity(v))) {
      seen.add(identity(v));
      out.push({ rel: '', vars: v });
    }
  }
  for (const k of g.keys()) {
    if (k === 'vars') continue;
    const c = g.get(k);
    if (!(c instanceof Group) || seen.has(identity(c))) continue;
    for (const s of varsGroups(c, path, seen, depth + 1)) out.push({ rel: s.rel ? `${k}/${s.rel}` : k, vars: s.vars });
  }
  return out;
}

function planKeras3(
  file: File,
  path: string,
  config: JsonValue | null,
): { layers: PlannedLayer[]; optimizer: Planned[] } {
  const containerName = file.has('layers')
    ? 'layers'
    : file.has('_layer_checkpoint_dependencies')
      ? '_layer_checkpoint_dependencies'
      : null;
  // The container names each layer by its snake_case class and a per-class counter, in model order.
  const byKey = new Map<string, ConfigLayer>();
  const order: string[] = [];
  const used = new Map<string, number>();
  for (const l of configLayers(config)) {
    const base = toSnakeCase(l.className);
    const n = used.get(base);
    const key = n === undefined ? base : `${base}_${n + 1}`;
    used.set(base, n === undefined ? 0 : n + 1);
    byKey.set(key, l);
    order.push(key);
  }
  // Groups already visited (by identity), across the whole file: see varsGroups.
  const seen = new Set<string>([identity(file)]);
  const planLayer = (g: Group, key: string, fallbackName: string): PlannedLayer => {
    const cl = byKey.get(key);
    const own = g.has('vars') && g.get('vars') instanceof Group ? strAttr(g.group('vars'), 'name') : null;
    const name = own ?? cl?.name ?? fallbackName;
    const snake = cl ? toSnakeCase(cl.className) : key.replace(/_\d+$/, '');
    const weights: Planned[] = [];
    for (const { rel, vars } of seen.has(identity(g)) ? [] : varsGroups(g, path, seen)) {
      const list = varsInOrder(vars, path);
      const kind = rel === '' ? snake : rel === 'cell' ? RNN_CELLS[snake] : undefined;
      const names = kind && KERAS3_VARS[kind] ? KERAS3_VARS[kind](cl?.config ?? {}) : null;
      const labels = names && names.length === list.length ? names : list.map((_, i) => String(i));
      list.forEach((ds, i) => {
        const weight = rel ? `${rel}/${labels[i]}` : labels[i]!;
        weights.push({ name: `${name}/${weight}`, weight, ds });
      });
    }
    return { name, className: cl?.className ?? null, group: g.path, weights };
  };
  const layers: PlannedLayer[] = [];
  if (containerName) {
    const container = file.group(containerName);
    seen.add(identity(container));
    const keys = container.keys();
    // Model order from the config where it names the groups; the rest (no config, or a config
    // that does not match) in natural name order: dense, dense_1, dense_2, ..., dense_10.
    const known = order.filter((k) => keys.includes(k));
    const rest = keys.filter((k) => !known.includes(k)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const k of [...known, ...rest]) {
      const g = container.get(k);
      if (g instanceof Group) layers.push(planLayer(g, k, k));
    }
  }
  // The model's own variables and those of attributes outside the layers container
  // (subclassed models keep their layers under attribute names).
  let optimizer: Planned[] = [];
  for (const k of file.keys()) {
    if (k === containerName) continue;
    const g = file.get(k);
    if (!(g instanceof Group)) continue;
    if (k === 'optimizer') {
      optimizer = (seen.has(identity(g)) ? [] : varsGroups(g, path, seen)).flatMap(({ rel, vars }) =>
        varsInOrder(vars, path).map((ds, i) => {
          const weight = rel ? `${rel}/${i}` : String(i);
          return { name: `optimizer/${weight}`, weight, ds };
        }),
      );
      continue;
    }
    if (k === 'vars') {
      if (seen.has(identity(g))) continue;
      seen.add(identity(g));
      const list = varsInOrder(g, path);
      if (list.length) {
        const name =
          strAttr(g, 'name') ??
          (isObject(config) && isObject(config.config) && typeof config.config.name === 'string'
            ? config.config.name
            : 'model');
        layers.push({
          name,
          className: isObject(config) && typeof config.class_name === 'string' ? config.class_name : null,
          group: g.path,
          weights: list.map((ds, i) => ({ name: `${name}/${i}`, weight: String(i), ds })),
        });
      }
      continue;
    }
    const planned = planLayer(g, k, k);
    if (planned.weights.length) layers.push(planned);
  }
  return { layers, optimizer };
}

function detect(file: File): { layout: KerasLayout; root: Group } | null {
  if (file.attrs.has('layer_names') || file.attrs.has('layer_names0')) return { layout: 'keras2-weights', root: file };
  if (file.has('model_weights')) {
    const g = file.get('model_weights');
    if (g instanceof Group && (g.attrs.has('layer_names') || g.attrs.has('layer_names0')))
      return { layout: 'keras2-model', root: g };
  }
  for (const k of ['layers', '_layer_checkpoint_dependencies', 'vars']) {
    if (file.has(k) && file.get(k) instanceof Group) return { layout: 'keras3-weights', root: file };
  }
  if (file.has('optimizer/vars')) return { layout: 'keras3-weights', root: file };
  return null;
}

// --- opening: a plain HDF5 file, or the weights member of a .keras zip ---

interface Opened {
  file: File;
  container: 'hdf5' | 'zip';
  source: KerasSource;
  digest: string | undefined;
  config: JsonValue | null;
  zipMetadata: Record<string, JsonValue> | null;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * libhdf5 looks for the superblock at 0, 512, 1024, 2048, ... and treats the
 * bytes before it as a user block, so a stored member starting at such an
 * offset opens in place, provided no earlier candidate offset holds the
 * signature (libhdf5 takes the first one it finds).
 */
async function directOpenBlocker(input: Input, e: ZipEntry): Promise<string | null> {
  if (e.method !== 'stored') return 'the member is deflated';
  const at = e.dataOffset;
  if (at !== 0 && !(at >= 512 && isPowerOfTwo(at)))
    return `the member starts at offset ${at}, where libhdf5 does not look for a superblock (0, 512, 1024, 2048, ...)`;
  const sig = Buffer.alloc(8);
  for (let off = 0; off < at; off = off === 0 ? 512 : off * 2) {
    const bytesRead = await input.read(sig, 0, 8, off);
    if (bytesRead === 8 && sig.equals(HDF5_SIGNATURE))
      return `the archive has an HDF5 signature at offset ${off}, before the member`;
  }
  const head = Buffer.alloc(8);
  const bytesRead = await input.read(head, 0, 8, at);
  if (bytesRead !== 8 || !head.equals(HDF5_SIGNATURE)) return 'the member does not start with an HDF5 superblock';
  return null;
}

async function openZip(abs: string, input: Input, o: KerasLoadOptions): Promise<Opened> {
  // One pinned descriptor (lib/safety/open.ts) is hashed, read for the
  // directory and members, and opened by libhdf5: the archive hashed is the
  // archive loaded, whatever happens to the path meanwhile (issue 21, #7).
  let digest: string | undefined;
  if (o.expectDigest !== undefined) {
    digest = await input.sha256();
    if (digest !== o.expectDigest) {
      throw new H5Error(`'${abs}': SHA-256 ${digest} does not match the expected ${o.expectDigest}`, {
        code: 'H5_CHECKSUM_MISMATCH',
        path: abs,
        expected: o.expectDigest,
        actual: digest,
      });
    }
  }
  const entries = await readZipDirectory(input, abs, new Set([WEIGHTS_MEMBER, 'config.json', 'metadata.json']));
  const weights = entries.get(WEIGHTS_MEMBER);
  if (!weights) {
    const npz = entries.has('model.weights.npz') ? ' (its weights are model.weights.npz, not HDF5)' : '';
    throw notKeras(abs, `is a zip archive without ${WEIGHTS_MEMBER}${npz}`);
  }
  const json = async (name: string): Promise<JsonValue | null> => {
    const e = entries.get(name);
    if (!e) return null;
    return parseJson((await readZipMember(input, abs, e, MAX_JSON_MEMBER)).toString('utf8'), abs, name);
  };
  const config = await json('config.json');
  const meta = await json('metadata.json');
  const zipMetadata = isObject(meta) ? meta : null;
  checkAbort(o.signal);

  const blocker = await directOpenBlocker(input, weights);
  if (blocker === null) {
    // Same checks as any HDF5 file: the untrusted walk runs over the archive
    // itself (libhdf5 sees the member through its user-block offset), through
    // the pinned descriptor, and libhdf5 opens that descriptor.
    const file = await File.openAsync(abs, {
      ...(o.untrusted && o.expectDigest === undefined ? { untrusted: true, limits: o.limits } : {}),
      input,
    });
    unchangedOr(input, () => file.close());
    return {
      file,
      container: 'zip',
      source: { kind: 'zip-direct', member: WEIGHTS_MEMBER, offset: weights.dataOffset, compression: 'stored' },
      digest,
      config,
      zipMetadata,
    };
  }
  const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'h5vault-keras-'));
  try {
    const tmp = join(dir, WEIGHTS_MEMBER);
    await extractZipMember(input, abs, weights, tmp);
    unchangedOr(input, () => {});
    checkAbort(o.signal);
    // The extracted file is ours, but its bytes are the archive's: walk it unless the archive's digest vouched for it.
    const file =
      o.untrusted && o.expectDigest === undefined
        ? await File.openAsync(tmp, { untrusted: true, limits: o.limits })
        : File.open(tmp);
    return {
      file,
      container: 'zip',
      digest,
      config,
      zipMetadata,
      source: {
        kind: 'zip-extracted',
        member: WEIGHTS_MEMBER,
        offset: weights.dataOffset,
        compression: weights.method,
        reason: blocker,
      },
    };
  } finally {
    // libhdf5 holds the descriptor and the mapping; the name is no longer needed.
    await rm(dir, { recursive: true, force: true });
  }
}

/** The archive was not written to while it was hashed and read (the descriptor's identity, never the path's). */
function unchangedOr(input: Input, undo: () => void): void {
  if (input.unchanged()) return;
  undo();
  throw input.changedError('while it was being read');
}

async function openAny(abs: string, o: KerasLoadOptions): Promise<Opened> {
  // Regular files only, never blocking: a FIFO or /dev/zero is H5_OPEN_FAILED here (issue 21, #9).
  const input = o.input ?? (await openInput(abs, 'Keras file'));
  try {
    if (await looksLikeZip(input)) return await openZip(abs, input, o);
    const file = await File.openAsync(abs, {
      untrusted: o.untrusted,
      limits: o.limits,
      expectDigest: o.expectDigest,
      input,
    });
    return {
      file,
      container: 'hdf5',
      source: { kind: 'hdf5' },
      digest: o.expectDigest,
      config: null,
      zipMetadata: null,
    };
  } finally {
    // libhdf5 holds its own descriptor of the pinned inode.
    if (input !== o.input) input.close();
  }
}

// --- loading the planned datasets ---

async function materialise(p: Planned, copy: boolean, signal: AbortSignal | undefined): Promise<KerasWeight> {
  checkAbort(signal);
  const ds = p.ds;
  const dtype = ds.dtype as NumericDType;
  const shape = ds.shape;
  const base = { name: p.name, weight: p.weight, key: ds.path, dtype, shape };
  const v = copy ? 'copy-requested' : ds.viewable;
  if (v === true) {
    try {
      return { ...base, data: ds.view(), viewed: true };
    } catch (e) {
      if (!(e instanceof H5Error && e.code === 'H5_NOT_VIEWABLE')) throw e;
      return {
        ...base,
        data: (await ds.read({ signal })) as TypedArray,
        viewed: false,
        copyReason: String(e.reason ?? 'not-viewable'),
      };
    }
  }
  return { ...base, data: (await ds.read({ signal })) as TypedArray, viewed: false, copyReason: v };
}

/**
 * Loads the weights of a Keras file: a Keras 2 `.h5` model or weights file,
 * a Keras 3 `.weights.h5`, or a `.keras` archive. Layers come in model
 * order, each with its weights named '<layer>/<weight>'; data is a
 * zero-copy view of the file where the dataset allows it (else an owned
 * copy, with `viewed: false` and the reason).
 *
 * @example
 *   using m = await loadKeras('model.keras', { untrusted: true });
 *   for (const layer of m.layers) console.log(layer.name, layer.weights.map((w) => w.weight));
 *   const kernel = m.tensors.get('dense/kernel')!; // { dtype: 'float32', shape: [784, 128], data: Float32Array }
 */
export async function loadKeras(path: string, options: KerasLoadOptions = {}): Promise<LoadedKeras> {
  const site = new Error();
  checkPath(path);
  checkOptions(options);
  const copy = options.copy ?? false;
  return withSite(site, async () => {
    checkAbort(options.signal);
    const abs = resolve(path);
    const opened = await openAny(abs, options);
    const { file } = opened;
    try {
      const found = detect(file);
      if (!found) {
        throw notKeras(
          abs,
          opened.container === 'zip'
            ? `holds a ${WEIGHTS_MEMBER} without any Keras weight layout`
            : 'is HDF5 but has no Keras weight layout',
        );
      }
      let config: JsonValue | null = opened.config;
      let trainingConfig: JsonValue | null = null;
      let kerasVersion: string | null = null;
      let backend: string | null = null;
      let plan: { layers: PlannedLayer[]; optimizer: Planned[] };
      if (found.layout === 'keras3-weights') {
        plan = planKeras3(file, abs, config);
      } else {
        config = await jsonAttr(file, 'model_config', abs);
        trainingConfig = await jsonAttr(file, 'training_config', abs);
        kerasVersion = strAttr(found.root, 'keras_version') ?? strAttr(file, 'keras_version');
        backend = strAttr(found.root, 'backend') ?? strAttr(file, 'backend');
        plan = planKeras2(file, found.root, abs, classesFromConfig(config));
      }
      const zm = opened.zipMetadata ?? {};
      if (typeof zm.keras_version === 'string') kerasVersion = zm.keras_version;
      if (typeof zm.backend === 'string') backend = zm.backend;
      const { keras_version: _v, backend: _b, ...rest } = zm;
      const metadata: KerasMetadata = { ...rest, kerasVersion, backend };

      const all = [...plan.layers.flatMap((l) => l.weights), ...plan.optimizer];
      const names = new Set<string>();
      for (const p of plan.layers.flatMap((l) => l.weights)) {
        // Two stored names can collapse to one ('x:0' and 'x'); the HDF5 path is unique.
        if (names.has(p.name)) p.name = p.ds.path.slice(1);
        names.add(p.name);
      }
      // One dataset reached under many names (hard links, a weight listed by
      // many layers) is read once and its data shared: memory is bounded by
      // the file's datasets, not by how often the file names them (issue 21, #10).
      const ids = all.map((p) => identity(p.ds));
      const first = new Map<string, Planned>();
      all.forEach((p, i) => {
        if (!first.has(ids[i]!)) first.set(ids[i]!, p);
      });
      const unique = [...first.values()];
      const loaded = await boundedMap(
        unique,
        (p) => p.ds.byteLength,
        (p) => materialise(p, copy, options.signal),
      );
      const byId = new Map(unique.map((p, i) => [identity(p.ds), loaded[i]!]));
      const byDs = new Map(
        all.map((p, i) => {
          const w = byId.get(ids[i]!)!;
          return [p, first.get(ids[i]!) === p ? w : { ...w, name: p.name, weight: p.weight, key: p.ds.path }];
        }),
      );
      const layers: KerasLayer[] = plan.layers.map((l) => ({
        name: l.name,
        className: l.className,
        group: l.group,
        weights: l.weights.map((p) => byDs.get(p)!),
      }));
      const tensors = new Map<string, KerasWeight>();
      for (const l of layers) for (const w of l.weights) tensors.set(w.name, w);
      const optimizer = plan.optimizer.map((p) => byDs.get(p)!);
      const views = new Set([...tensors.values(), ...optimizer].filter((w) => w.viewed).map((w) => w.name));
      const close = (): void => file.close();
      return {
        path: abs,
        layout: found.layout,
        container: opened.container,
        source: opened.source,
        layers,
        tensors,
        optimizer,
        config,
        trainingConfig,
        metadata,
        digest: opened.digest,
        views,
        close,
        [Symbol.dispose]: close,
      };
    } catch (e) {
      file.close();
      throw e;
    }
  });
}
