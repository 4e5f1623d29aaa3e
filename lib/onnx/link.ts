/**
 * linkOnnx: rewrite an ONNX model so its initializers are served straight
 * from an h5vault/HDF5 file. Each linked initializer becomes
 * `data_location = EXTERNAL` with `location` (the .h5, relative to the new
 * model), `offset` (the dataset's data address) and `length`; onnxruntime
 * then maps those bytes from the .h5 itself (docs/runtime.md#onnx-runtime).
 */
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import { H5Error, withSite } from '../errors.js';
import { itemSize, type NumericDType, type TypedTensor } from '../h5/dtypes.js';
import { openInput, type Input } from '../safety/open.js';
import { prepareSave, writeTemp } from '../model/save.js';
import { commitStaged, ioError, publishFile, refuseExisting, type PublishTarget } from '../util/publish.js';
import { nameError, nameProblem } from '../util/names.js';
import { dtypeOfOnnx, listInitializers, relinkInitializers, type ExternalRef, type Initializer } from './model.js';
import {
  booleanOption,
  checkObject,
  checkPath,
  checkString,
  invalid,
  isPlainObject,
  oneOfOption,
  stringOption,
} from '../util/validate.js';

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
  /**
   * Replacing existing files. Default: `outPath` (the output you named) is
   * replaced, the repacked side file is not (an existing one is H5_EXISTS,
   * naming it). true: both are replaced (the CLI's --force). false: neither
   * (the CLI without --force).
   */
  overwrite?: boolean;
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
  checkObject(o);
  if (o.map !== undefined && typeof o.map !== 'function' && !isPlainObject(o.map))
    throw invalid('options.map', 'an object { initializer: datasetPath } or a function', o.map);
  if (isPlainObject(o.map))
    for (const [k, v] of Object.entries(o.map)) checkString(v, `options.map['${k}'] (a dataset path)`);
  oneOfOption(o, 'onUnlinkable', ['refuse', 'repack']);
  stringOption(o, 'repackPath');
  for (const k of ['checkData', 'requireAll', 'overwrite']) booleanOption(o, k);
}

/** An initializer whose name (or mapping) is not a dataset path the name rule accepts: refused, with why. */
class BadName {
  constructor(readonly reason: string) {}
}

/** The dataset an initializer maps to, by the option or the default rule; null if none; BadName if the path breaks the name rule. */
function datasetFor(file: File, name: string, map: LinkOptions['map']): string | null | BadName {
  const candidates: string[] = [];
  const explicit = typeof map === 'function' || (map !== undefined && Object.hasOwn(map, name));
  if (typeof map === 'function') {
    const p = map(name);
    if (p === undefined) return null;
    if (typeof p !== 'string') throw new TypeError(`options.map('${name}') must return a dataset path or undefined`);
    candidates.push(p);
  } else if (explicit) {
    candidates.push(map![name]!);
  } else {
    candidates.push(name, name.replaceAll('.', '/'));
  }
  for (const [i, c] of candidates.entries()) {
    const p = c.startsWith('/') ? c : `/${c}`;
    // The one name rule, before the file is asked: a path such as '/../W'
    // names no dataset h5vault would create or look up. For the name itself
    // (or an explicit mapping) that refuses this initializer; the dotted
    // fallback ('a..b' -> 'a//b') is only a guess, so it is just skipped.
    const problem = nameProblem('dataset', p);
    if (problem !== null) {
      if (i === 0) {
        return new BadName(
          `bad-name: ${nameError('dataset', p, problem).message}; map it to a dataset explicitly (map: { [name]: 'dataset/path' }) or keep it inline (a map function returning undefined)`,
        );
      }
      continue;
    }
    if (p !== '/' && file.has(p) && file.get(p) instanceof Dataset) return p;
  }
  // An explicit mapping to something that is not there is a mistake, not a fallback.
  if (explicit) {
    throw new H5Error(
      `initializer '${name}' is mapped to '${candidates[0]}', which is not a dataset in '${file.path}'`,
      {
        code: 'H5_NOT_FOUND',
        initializer: name,
        dataset: candidates[0],
      },
    );
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

/**
 * Largest .onnx read into memory: protobuf caps a message at 2 GiB (bigger
 * models keep their weights as external data).
 */
const MAX_ONNX_BYTES = 2 ** 31;

/** Compares the initializer's inline bytes with the dataset's bytes in the pinned .h5, 16 MiB at a time. */
async function sameBytes(h5: Input, offset: number, raw: Uint8Array): Promise<boolean> {
  const step = 16 << 20;
  const buf = Buffer.allocUnsafe(Math.min(step, raw.length));
  for (let at = 0; at < raw.length; at += step) {
    const n = Math.min(step, raw.length - at);
    const bytesRead = await h5.read(buf, 0, n, offset + at);
    if (bytesRead !== n || Buffer.compare(buf.subarray(0, n), raw.subarray(at, at + n)) !== 0) return false;
  }
  return true;
}

/** The model's bytes, read through the one opener: a FIFO or /dev/zero is refused before any read (issue 21, #9). */
async function readModel(src: string): Promise<Uint8Array> {
  const input = await openInput(src, 'ONNX model');
  try {
    return new Uint8Array(await input.readAll(MAX_ONNX_BYTES));
  } finally {
    input.close();
  }
}

/** A '/'-separated location of `target` relative to the model's directory; ORT wants it inside that directory. */
function locationOf(modelPath: string, target: string): string {
  const rel = relative(dirname(modelPath), target);
  if (rel === '' || isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new H5Error(
      `'${target}' is not inside the output model's directory '${dirname(modelPath)}': onnxruntime only reads external data from the model's directory and below (write the model next to the .h5)`,
      {
        code: 'H5_NOT_LINKABLE',
        reason: 'outside-model-directory',
      },
    );
  }
  return rel.split(sep).join('/');
}

/**
 * An initializer already stored as external data, written to `out`: its
 * `location` is relative to the model's directory, so when `out` is in
 * another directory it is rewritten to name the same file from there
 * (undefined: nothing to change). A location that would leave `out`'s
 * directory (onnxruntime refuses '..') is a refusal reason (a string).
 */
function relocated(init: Initializer, src: string, out: string): ExternalRef | string | undefined {
  if (dirname(src) === dirname(out)) return undefined;
  const entries = init.externalData ?? [];
  const location = entries.find(([k]) => k === 'location')?.[1];
  if (location === undefined)
    return 'external-data: no location entry, so it cannot be pointed at from another directory';
  if (isAbsolute(location)) return undefined;
  const file = resolve(dirname(src), ...location.split('/'));
  let loc: string;
  try {
    loc = locationOf(out, file);
  } catch {
    return `external-data: its file '${file}' (location '${location}' next to '${src}') is not inside the output model's directory '${dirname(out)}', and onnxruntime reads external data only from there: write the model next to it, or in a directory above`;
  }
  return { location: loc, extra: entries.filter(([k]) => k !== 'location') };
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
export async function linkOnnx(
  onnxPath: string,
  h5Path: string,
  outPath: string,
  options: LinkOptions = {},
): Promise<LinkResult> {
  const site = new Error();
  checkPath(onnxPath, 'onnxPath');
  checkPath(h5Path, 'h5Path');
  checkPath(outPath, 'outPath');
  checkOptions(options);
  return withSite(site, async () => {
    const src = resolve(onnxPath);
    const out = resolve(outPath);
    const h5 = resolve(h5Path);
    if (out === src) throw new TypeError('outPath must differ from onnxPath (the original model is kept)');
    // The output you named is replaced unless overwrite is false; side files only with overwrite: true.
    const outTarget: PublishTarget = {
      overwrite: options.overwrite !== false,
      role: 'output model',
      allow: 'pass --force or { overwrite: true }',
    };
    const sideTarget: PublishTarget = {
      overwrite: options.overwrite === true,
      role: 'repacked weights file',
      allow: 'pass --force or { overwrite: true }, or choose another --repack-path / repackPath',
    };
    await refuseExisting(out, outTarget);
    const model = await readModel(src);
    const inits = listInitializers(model);
    const checkData = options.checkData ?? true;
    // The .h5 is pinned: libhdf5 opens that descriptor and the data check reads it, never the path again.
    const h5In = await openInput(h5, 'HDF5 weights file');
    let file: File;
    try {
      file = File.open(h5, { input: h5In });
    } catch (e) {
      h5In.close();
      throw e;
    }
    try {
      const plans: Plan[] = [];
      const refused: UnlinkableTensor[] = [];
      const needRepack: Plan[] = [];
      const inline: LinkResult['inline'] = [];
      const keptExternal = new Map<number, ExternalRef>();
      for (const [index, init] of inits.entries()) {
        if (init.external) {
          // Not linked, but its relative location must still point at the
          // same file once the model is written to another directory.
          const ref = relocated(init, src, out);
          if (typeof ref === 'string') refused.push({ initializer: init.name, dataset: null, reason: ref });
          else if (ref) keptExternal.set(index, ref);
          inline.push({ initializer: init.name, reason: 'already-external' });
          continue;
        }
        const found = datasetFor(file, init.name, options.map);
        if (found instanceof BadName) {
          refused.push({ initializer: init.name, dataset: null, reason: found.reason });
          continue;
        }
        const dataset = found;
        if (dataset === null) {
          inline.push({ initializer: init.name, reason: 'no-dataset' });
          continue;
        }
        const ds = file.dataset(dataset);
        const dtype = dtypeOfOnnx(init.dataType);
        const dsType = ds.dtype;
        if (dtype === undefined || dsType === 'string' || dsType === 'unsupported' || dtype !== dsType) {
          refused.push({
            initializer: init.name,
            dataset,
            reason: `dtype: the initializer is ${dtype ?? `ONNX type ${init.dataType}`}, the dataset ${dsType}`,
          });
          continue;
        }
        if (!sameShape(init.dims, ds.shape)) {
          refused.push({
            initializer: init.name,
            dataset,
            reason: `shape: the initializer is [${init.dims.join(', ')}], the dataset [${ds.shape.join(', ')}]`,
          });
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
            refused.push({
              initializer: init.name,
              dataset,
              reason:
                'no-raw-data: the initializer keeps its values in typed fields, so they cannot be compared byte for byte (pass checkData: false)',
            });
            continue;
          }
          const same =
            init.raw.length === length &&
            (viewable === true
              ? await sameBytes(h5In, ds.offset!, init.raw)
              : Buffer.compare(await bytesOf(ds), init.raw) === 0);
          if (!same) {
            refused.push({
              initializer: init.name,
              dataset,
              reason: "data-differs: the dataset does not hold the initializer's values",
            });
            continue;
          }
        }
        const plan: Plan = { index, init, ds, dataset, dtype, length };
        plans.push(plan);
        if (viewable !== true) needRepack.push(plan);
      }
      if (refused.length) {
        throw new H5Error(
          `cannot link ${refused.length} initializer(s) of '${src}' to '${h5}': ${fewOf(
            refused.map((r) => `'${r.initializer}' → ${r.dataset ?? '(none)'}: ${r.reason}`),
            '; ',
          )}`,
          {
            code: 'H5_NOT_LINKABLE',
            tensors: refused,
          },
        );
      }
      if (options.requireAll) {
        const left = inline.filter((i) => i.reason === 'no-dataset');
        if (left.length) {
          throw new H5Error(
            `${left.length} initializer(s) of '${src}' have no dataset in '${h5}': ${fewOf(
              left.map((l) => `'${l.initializer}'`),
              ', ',
            )}`,
            {
              code: 'H5_NOT_LINKABLE',
              tensors: left.map((l) => ({ initializer: l.initializer, dataset: null, reason: l.reason })),
            },
          );
        }
      }
      // Repack: the tensors that cannot be served as stored, copied by saveModel into a contiguous, aligned file.
      let repackPath: string | null = null;
      const repackedOffsets = new Map<string, number>();
      if (needRepack.length) {
        repackPath = resolve(options.repackPath ?? `${out.replace(/\.onnx$/i, '')}.weights.h5`);
        if (repackPath === h5) throw new TypeError('repackPath must differ from the .h5 being linked');
        // A side file: the user did not name it, so an existing one is never replaced without overwrite: true.
        await refuseExisting(repackPath, sideTarget);
        const tensors: Record<string, TypedTensor> = {};
        for (const p of needRepack) tensors[p.dataset.slice(1)] = (await p.ds.readTensor()) as TypedTensor;
        const w = await writeTemp(repackPath, prepareSave(tensors, { metadata: { 'h5vault.repacked_from': h5 } }));
        await commitStaged(w.temp, repackPath, sideTarget);
        const r = File.open(repackPath);
        try {
          for (const p of needRepack) {
            const d = r.dataset(p.dataset);
            if (d.viewable !== true || d.offset === null)
              throw new H5Error(`repacked '${p.dataset}' is not contiguous (${String(d.viewable)})`, {
                code: 'H5_ERROR',
              });
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
        linked.push({
          initializer: init.name,
          graph: init.graph,
          dataset: p.dataset,
          file: target,
          offset,
          length: p.length,
        });
      }
      for (const [index, ref] of keptExternal) refs.set(index, ref);
      const parts = relinkInitializers(model, (_init, index) => refs.get(index));
      await publishFile(out, {
        ...outTarget,
        write: async (tmp) => {
          const fh = await open(tmp, 'wx');
          try {
            await fh.writeFile(parts ? Buffer.concat(parts) : model);
          } finally {
            await fh.close();
          }
        },
      }).catch((e) => {
        throw ioError(e, `cannot write '${out}'`);
      });
      return {
        path: out,
        linked,
        repacked: needRepack.map((p) => p.dataset),
        repackPath,
        inline,
        bytesLinked: linked.reduce((a, l) => a + l.length, 0),
      };
    } finally {
      file.close();
      h5In.close();
    }
  });
}

async function bytesOf(ds: Dataset): Promise<Buffer> {
  const d = await ds.read();
  if (Array.isArray(d)) throw new TypeError('string dataset');
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}
