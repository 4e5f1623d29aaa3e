/**
 * linkOnnx: rewrite an ONNX model so its initializers are served straight
 * from an h5vault/HDF5 file. Each linked initializer becomes
 * `data_location = EXTERNAL` with `location` (the .h5, relative to the new
 * model), `offset` (the dataset's data address) and `length`; onnxruntime
 * then maps those bytes from the .h5 itself (docs/runtime.md#onnx-runtime).
 */
import { readFile, open } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import { H5Error, withSite } from '../errors.js';
import { itemSize, type NumericDType, type TypedTensor } from '../h5/dtypes.js';
import { replaceAtomically } from '../util/atomic.js';
import { saveModel } from '../model/index.js';
import { ioError } from '../util/fsutil.js';
import { dtypeOfOnnx, listInitializers, relinkInitializers, type ExternalRef, type Initializer } from './model.js';

export interface LinkOptions {
  /**
   * Initializer name → dataset path in the .h5. An object lists names
   * explicitly (names it leaves out fall back to the default rule); a
   * function decides for every name (return undefined to keep it inline).
   * Default rule: the dataset named exactly like the initializer, else the
   * name with every '.' read as '/' (torch's 'encoder.0.weight' →
   * 'encoder/0/weight'), else the initializer stays inline.
   */
  map?: Record<string, string> | ((initializer: string) => string | undefined);
  /**
   * What to do with a dataset that cannot be served as it is stored
   * (chunked, compressed, big-endian, misaligned, compact): 'refuse'
   * (default: H5Error H5_NOT_LINKABLE listing them all) or 'repack' (copy
   * those tensors into a new .h5 next to the output model, written by
   * saveModel: contiguous, uncompressed, 64-byte aligned, and link to it).
   */
  onUnlinkable?: 'refuse' | 'repack';
  /** Path of the repacked .h5 (default: the output model's path with '.weights.h5' in place of '.onnx'). */
  repackPath?: string;
  /**
   * Compare each initializer's inline bytes with the dataset's before linking
   * (default true): a wrong mapping or a stale .h5 is refused (reason
   * 'data-differs') instead of silently changing the model's weights.
   */
  checkData?: boolean;
  /** Refuse when any initializer with data stays inline (default false: they are listed in `inline`). */
  requireAll?: boolean;
}

export interface LinkedInitializer {
  initializer: string;
  /** 'graph' or the subgraph it belongs to. */
  graph: string;
  /** Dataset path in the data file, e.g. '/fc/weight'. */
  dataset: string;
  /** Absolute path of the data file it points into. */
  file: string;
  offset: number;
  length: number;
}

export interface UnlinkableTensor {
  initializer: string;
  dataset: string | null;
  reason: string;
}

export interface LinkResult {
  /** Absolute path of the written model. */
  path: string;
  linked: LinkedInitializer[];
  /** Tensors copied into the repacked .h5 (a subset of linked). */
  repacked: string[];
  /** Absolute path of the repacked .h5, when one was written. */
  repackPath: string | null;
  /** Initializers left in the model with why (no matching dataset, empty, ...). */
  inline: { initializer: string; reason: string }[];
  /** Bytes of weights the model now reads from .h5 files instead of carrying them. */
  bytesLinked: number;
}

interface Plan {
  /** Position in the model's initializers (the walk order of listInitializers and relinkInitializers). */
  index: number;
  init: Initializer;
  ds: Dataset;
  dataset: string;
  dtype: NumericDType;
  length: number;
}

function checkOptions(o: LinkOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  if (o.map !== undefined && typeof o.map !== 'function' && (typeof o.map !== 'object' || o.map === null || Array.isArray(o.map)))
    throw new TypeError('options.map must be an object { initializer: datasetPath } or a function');
  if (o.map && typeof o.map === 'object' && !Object.values(o.map).every((v) => typeof v === 'string'))
    throw new TypeError('options.map values must be dataset paths (strings)');
  if (o.onUnlinkable !== undefined && o.onUnlinkable !== 'refuse' && o.onUnlinkable !== 'repack')
    throw new TypeError("options.onUnlinkable must be 'refuse' or 'repack'");
  if (o.repackPath !== undefined && (typeof o.repackPath !== 'string' || o.repackPath === '')) throw new TypeError('options.repackPath must be a non-empty string');
  for (const k of ['checkData', 'requireAll'] as const)
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`options.${k} must be a boolean`);
}

/** The dataset an initializer maps to, by the option or the default rule; null if none. */
function datasetFor(file: File, name: string, map: LinkOptions['map']): string | null {
  const candidates: string[] = [];
  if (typeof map === 'function') {
    const p = map(name);
    if (p === undefined) return null;
    if (typeof p !== 'string') throw new TypeError(`options.map('${name}') must return a dataset path or undefined`);
    candidates.push(p);
  } else if (map && Object.prototype.hasOwnProperty.call(map, name)) {
    candidates.push(map[name]!);
  } else {
    candidates.push(name, name.replaceAll('.', '/'));
  }
  for (const c of candidates) {
    const p = c.startsWith('/') ? c : `/${c}`;
    if (p !== '/' && !p.endsWith('/') && file.has(p) && file.get(p) instanceof Dataset) return p;
  }
  // An explicit mapping to something that is not there is a mistake, not a fallback.
  if (typeof map === 'function' || (map && Object.prototype.hasOwnProperty.call(map, name))) {
    throw new H5Error(`initializer '${name}' is mapped to '${candidates[0]}', which is not a dataset in '${file.path}'`, {
      code: 'H5_NOT_FOUND', initializer: name, dataset: candidates[0],
    });
  }
  return null;
}

/**
 * The first few items of a list for an error message, each cut to 300
 * characters, and how many more there are: the full list stays in the
 * error's `tensors` (a model with 10 M dims once made a 30 MB message).
 */
function fewOf(items: string[], sep: string, few = 10): string {
  const shown = items.slice(0, few).map((x) => (x.length > 300 ? `${x.slice(0, 300)}…` : x));
  return shown.join(sep) + (items.length > few ? `${sep}and ${items.length - few} more` : '');
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Compares the initializer's inline bytes with the dataset's bytes in the file, 16 MiB at a time. */
async function sameBytes(path: string, offset: number, raw: Uint8Array): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const step = 16 << 20;
    const buf = Buffer.allocUnsafe(Math.min(step, raw.length));
    for (let at = 0; at < raw.length; at += step) {
      const n = Math.min(step, raw.length - at);
      const { bytesRead } = await fh.read(buf, 0, n, offset + at);
      if (bytesRead !== n || Buffer.compare(buf.subarray(0, n), raw.subarray(at, at + n)) !== 0) return false;
    }
    return true;
  } finally {
    await fh.close();
  }
}

/** A '/'-separated location of `target` relative to the model's directory; ORT wants it inside that directory. */
function locationOf(modelPath: string, target: string): string {
  const rel = relative(dirname(modelPath), target);
  if (rel === '' || isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new H5Error(`'${target}' is not inside the output model's directory '${dirname(modelPath)}': onnxruntime only reads external data from the model's directory and below (write the model next to the .h5)`, {
      code: 'H5_NOT_LINKABLE', reason: 'outside-model-directory',
    });
  }
  return rel.split(sep).join('/');
}

/**
 * Rewrites `onnxPath`'s initializers to point into `h5Path` and writes the
 * result to `outPath` (atomically: temp file, fsync, rename). A dataset is
 * linked when its dtype and shape equal the initializer's and it is
 * contiguous, uncompressed, little-endian and element-aligned (exactly what
 * `Dataset.viewable` checks); other datasets are refused or repacked
 * (`onUnlinkable`). Initializers with no dataset stay inline.
 *
 * @example
 *   const r = await linkOnnx('model.onnx', 'weights.h5', 'model.linked.onnx');
 *   const session = await ort.InferenceSession.create(r.path, { extra: { session: { disable_prepacking: '1' } } });
 */
export async function linkOnnx(onnxPath: string, h5Path: string, outPath: string, options: LinkOptions = {}): Promise<LinkResult> {
  const site = new Error();
  for (const [k, v] of [['onnxPath', onnxPath], ['h5Path', h5Path], ['outPath', outPath]] as const)
    if (typeof v !== 'string' || v === '') throw new TypeError(`${k} must be a non-empty string`);
  checkOptions(options);
  return withSite(site, async () => {
    const src = resolve(onnxPath);
    const out = resolve(outPath);
    const h5 = resolve(h5Path);
    if (out === src) throw new TypeError('outPath must differ from onnxPath (the original model is kept)');
    const model = new Uint8Array(await readFile(src).catch((e) => { throw ioError(e, `cannot read '${src}'`); }));
    const inits = listInitializers(model);
    const checkData = options.checkData ?? true;
    const file = File.open(h5);
    try {
      const plans: Plan[] = [];
      const refused: UnlinkableTensor[] = [];
      const needRepack: Plan[] = [];
      const inline: LinkResult['inline'] = [];
      for (const [index, init] of inits.entries()) {
        const dataset = datasetFor(file, init.name, options.map);
        if (init.external) {
          inline.push({ initializer: init.name, reason: 'already-external' });
          continue;
        }
        if (dataset === null) {
          inline.push({ initializer: init.name, reason: 'no-dataset' });
          continue;
        }
        const ds = file.dataset(dataset);
        const dtype = dtypeOfOnnx(init.dataType);
        const dsType = ds.dtype;
        if (dtype === undefined || dsType === 'string' || dsType === 'unsupported' || dtype !== dsType) {
          refused.push({ initializer: init.name, dataset, reason: `dtype: the initializer is ${dtype ?? `ONNX type ${init.dataType}`}, the dataset ${dsType}` });
          continue;
        }
        if (!sameShape(init.dims, ds.shape)) {
          refused.push({ initializer: init.name, dataset, reason: `shape: the initializer is [${init.dims.join(', ')}], the dataset [${ds.shape.join(', ')}]` });
          continue;
        }
        const length = ds.size * itemSize(dtype);
        if (length === 0) {
          inline.push({ initializer: init.name, reason: 'empty' });
          continue;
        }
        const viewable = ds.viewable;
        if (viewable !== true && options.onUnlinkable !== 'repack') {
          refused.push({ initializer: init.name, dataset, reason: viewable });
          continue;
        }
        if (checkData) {
          if (init.raw === undefined) {
            refused.push({ initializer: init.name, dataset, reason: 'no-raw-data: the initializer keeps its values in typed fields, so they cannot be compared byte for byte (pass checkData: false)' });
            continue;
          }
          const same = init.raw.length === length
            && (viewable === true ? await sameBytes(h5, ds.offset!, init.raw) : Buffer.compare(await bytesOf(ds), init.raw) === 0);
          if (!same) {
            refused.push({ initializer: init.name, dataset, reason: 'data-differs: the dataset does not hold the initializer\'s values' });
            continue;
          }
        }
        const plan: Plan = { index, init, ds, dataset, dtype, length };
        plans.push(plan);
        if (viewable !== true) needRepack.push(plan);
      }
      if (refused.length) {
        throw new H5Error(`cannot link ${refused.length} initializer(s) of '${src}' to '${h5}': ${fewOf(refused.map((r) => `'${r.initializer}' → ${r.dataset ?? '(none)'}: ${r.reason}`), '; ')}`, {
          code: 'H5_NOT_LINKABLE', tensors: refused,
        });
      }
      if (options.requireAll) {
        const left = inline.filter((i) => i.reason === 'no-dataset');
        if (left.length) {
          throw new H5Error(`${left.length} initializer(s) of '${src}' have no dataset in '${h5}': ${fewOf(left.map((l) => `'${l.initializer}'`), ', ')}`, {
            code: 'H5_NOT_LINKABLE', tensors: left.map((l) => ({ initializer: l.initializer, dataset: null, reason: l.reason })),
          });
        }
      }
      // Repack: the tensors that cannot be served as stored, copied by saveModel into a contiguous, aligned file.
      let repackPath: string | null = null;
      const repackedOffsets = new Map<string, number>();
      if (needRepack.length) {
        repackPath = resolve(options.repackPath ?? out.replace(/\.onnx$/i, '') + '.weights.h5');
        if (repackPath === h5) throw new TypeError('repackPath must differ from the .h5 being linked');
        const tensors: Record<string, TypedTensor> = {};
        for (const p of needRepack) tensors[p.dataset.slice(1)] = await p.ds.readTensor() as TypedTensor;
        await saveModel(repackPath, tensors, { metadata: { 'h5vault.repacked_from': h5 } });
        const r = File.open(repackPath);
        try {
          for (const p of needRepack) {
            const d = r.dataset(p.dataset);
            if (d.viewable !== true || d.offset === null) throw new H5Error(`repacked '${p.dataset}' is not contiguous (${String(d.viewable)})`, { code: 'H5_ERROR' });
            repackedOffsets.set(p.dataset, d.offset);
          }
        } finally {
          r.close();
        }
      }
      const linked: LinkedInitializer[] = [];
      const refs = new Map<number, ExternalRef>();
      for (const p of plans) {
        const init = p.init;
        const repacked = repackedOffsets.get(p.dataset);
        const target = repacked !== undefined ? repackPath! : h5;
        const offset = repacked ?? p.ds.offset!;
        const ref = { location: locationOf(out, target), offset, length: p.length };
        refs.set(p.index, ref);
        linked.push({ initializer: init.name, graph: init.graph, dataset: p.dataset, file: target, offset, length: p.length });
      }
      const parts = relinkInitializers(model, (_init, index) => refs.get(index));
      await replaceAtomically(out, async (tmp) => {
        const fh = await open(tmp, 'wx');
        try {
          await fh.writeFile(parts ? Buffer.concat(parts) : model);
        } finally {
          await fh.close();
        }
      }).catch((e) => { throw ioError(e, `cannot write '${out}'`); });
      return {
        path: out, linked, repacked: needRepack.map((p) => p.dataset), repackPath, inline,
        bytesLinked: linked.reduce((a, l) => a + l.length, 0),
      };
    } finally {
      file.close();
    }
  });
}

async function bytesOf(ds: Dataset): Promise<Buffer> {
  const d = await ds.read();
  if (Array.isArray(d)) throw new TypeError('string dataset');
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}
