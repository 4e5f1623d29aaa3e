/**
 * convertModel: safetensors <-> h5vault models (saveModel's format), and Keras
 * (.h5, .weights.h5, .keras) -> either, with
 * every tensor's SHA-256 checked end to end, in bounded memory. Inputs are
 * read through ModelReaders (one per format; `registerModelReader` adds more,
 * e.g. Keras), outputs are written tensor by tensor. The metadata mapping is
 * documented in docs/runtime.md#safetensors.
 */
import { open } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import type { Compression } from '../h5/group.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { H5Error, withSite } from '../errors.js';
import type { UntrustedLimits } from '../safety/untrusted.js';
import { verifyModel } from '../model/index.js';
import { prepareSave, writeTemp } from '../model/save.js';
import { modelDigestOf, rangeSha256, tensorSha256 } from '../model/digest.js';
import { nameError, nameProblem } from '../util/names.js';
import { cleanStaleTemps, commitStaged, refuseExisting, type PublishTarget } from '../util/publish.js';
import { ATTR, canonicalJson, FORMAT_VERSION, TENSOR_SHA_ATTR, type JsonValue } from '../model/schema.js';
import {
  checkMetadata,
  DTYPE_TO_SAFETENSORS,
  isSafetensorsDType,
  openSafetensors,
  planSafetensors,
  writeSafetensorsAtomic,
  type PlannedTensor,
  type SafetensorsDType,
} from './safetensors.js';
import { loadKeras } from './keras.js';
import { openInput, type Input } from '../safety/open.js';
import { parseStoredJson } from '../safety/budget.js';
import { booleanOption, checkObject, checkOneOf, checkPath } from '../util/validate.js';

const OUTPUT_FORMATS: readonly OutputFormat[] = ['safetensors', 'h5vault'];

/** One tensor of a model being converted. */
export interface SourceTensor {
  name: string;
  dtype: NumericDType;
  shape: number[];
  byteLength: number;
  /** For safetensors' 8-bit floats (raw uint8 data): the format's dtype. */
  safetensorsDtype?: SafetensorsDType;
  /**
   * Returns the data, verified against the source's own checksum where it has
   * one (h5vault models). Views of a mapping are preferred: they are
   * file-backed, not anonymous memory. `copied` says the data is in memory
   * of its own instead. Called at most once per conversion.
   */
  load(): Promise<{ data: TypedArray; copied: boolean }>;
  /** SHA-256 (hex) of the tensor's little-endian bytes as stored in the source. */
  sha256(): Promise<string>;
}

/** A model opened for conversion. */
export interface ModelSource {
  /** Format name ('safetensors', 'h5vault', 'keras', ...). */
  format: string;
  tensors: SourceTensor[];
  /** h5vault-side metadata (JSON); see the mapping in docs/runtime.md#safetensors. */
  metadata: Record<string, JsonValue>;
  /** Model digest the source claims for itself (checked against the tensors), if any. */
  modelDigest?: string;
  close(): void | Promise<void>;
}

export interface ReaderOptions {
  untrusted?: boolean;
  limits?: UntrustedLimits;
  /**
   * @internal The input, pinned by convertModel through the one opener
   * (lib/safety/open.ts): the built-in readers read, hash and open it through
   * this descriptor, never by path. Open until the source is closed.
   */
  input?: Input;
}

/** Reads one input format. `detect` sees the first 16 bytes of the file. */
export interface ModelReader {
  format: string;
  detect(head: Uint8Array, path: string): boolean;
  open(path: string, options: ReaderOptions): Promise<ModelSource>;
}

export type OutputFormat = 'safetensors' | 'h5vault';

export interface ConvertOptions {
  /** Input format; default: detected from the file's first bytes. */
  from?: string;
  /** Output format; default from the extension (.safetensors; .h5/.hdf5/.h5vault). */
  to?: OutputFormat;
  /** h5vault output: codec for every tensor (default 'none': contiguous, viewable). */
  compression?: Compression;
  /** h5vault output: byte-shuffle before compressing. */
  shuffle?: boolean;
  /** h5vault input: walk the file in a limited child process first (docs/security.md). */
  untrusted?: boolean;
  limits?: UntrustedLimits;
  /** Called with bytes written so far and in total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * Replace an existing output (default true: you named it; the CLI passes
   * its --force). false: an existing output is H5_EXISTS, checked atomically.
   */
  overwrite?: boolean;
}

export interface ConvertResult {
  input: string;
  output: string;
  from: string;
  to: OutputFormat;
  tensors: number;
  /** Sum of the tensors' sizes in bytes. */
  bytes: number;
  /** Model digest (docs/model-storage.md) of the tensors, equal in input and output. */
  modelDigest: string;
  /** SHA-256 of the output file. */
  digest: string;
  /** Tensors that had to be copied into memory on the way (misaligned safetensors tensors, compressed h5vault tensors). */
  copied: string[];
}

/** The key of safetensors `__metadata__` carrying non-string h5vault metadata as canonical JSON. */
export const META_JSON_KEY = 'h5vault.metadata';
/** The key of safetensors `__metadata__` carrying the h5vault model digest. */
export const META_DIGEST_KEY = 'h5vault.model_digest';
/** The h5vault metadata key recording safetensors dtypes h5vault has no dtype for (8-bit floats). */
export const META_DTYPES_KEY = 'safetensors.dtypes';

const readers: ModelReader[] = [];

/**
 * Adds an input format to convertModel / `h5vault convert` (tried before the
 * built-in ones). A reader for Keras files wraps its loader's tensors as
 * SourceTensors with their views.
 */
export function registerModelReader(reader: ModelReader): void {
  if (
    typeof reader !== 'object' ||
    reader === null ||
    typeof reader.format !== 'string' ||
    typeof reader.detect !== 'function' ||
    typeof reader.open !== 'function'
  )
    throw new TypeError('reader must be { format: string, detect(head, path), open(path, options) }');
  const i = readers.findIndex((r) => r.format === reader.format);
  if (i >= 0) readers.splice(i, 1);
  readers.unshift(reader);
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

// --- safetensors input ---------------------------------------------------------

/** safetensors __metadata__ -> h5vault metadata (docs/runtime.md#safetensors). */
export function metadataFromSafetensors(
  meta: Record<string, string> | null,
  f8: Record<string, string>,
  path: string,
): { metadata: Record<string, JsonValue>; modelDigest?: string } {
  const out: Record<string, JsonValue> = {};
  let modelDigest: string | undefined;
  for (const [k, v] of Object.entries(meta ?? {})) {
    if (k === META_DIGEST_KEY) modelDigest = v;
    else if (k !== META_JSON_KEY) out[k] = v;
  }
  const json = meta?.[META_JSON_KEY];
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseStoredJson(json);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new H5Error(`'${path}': __metadata__.${META_JSON_KEY} is not a JSON object`, { code: 'H5_CORRUPT' });
    Object.assign(out, parsed);
  }
  if (Object.keys(f8).length) out[META_DTYPES_KEY] = f8;
  return { metadata: out, modelDigest };
}

const safetensorsReader: ModelReader = {
  format: 'safetensors',
  detect: (head) => head.length >= 9 && head[8] === 0x7b,
  async open(path, options) {
    // Mapped and hashed through one descriptor: the pinned input, or one pinned here for a direct call.
    const fh = options.input ?? (await openInput(path, 'safetensors file'));
    let st: Awaited<ReturnType<typeof openSafetensors>>;
    try {
      st = await openSafetensors(path, { input: fh });
    } catch (e) {
      if (fh !== options.input) fh.close();
      throw e;
    }
    const f8: Record<string, string> = {};
    const tensors: SourceTensor[] = [...st.tensors.entries()].map(([name, t]) => {
      if (t.safetensorsDtype !== DTYPE_TO_SAFETENSORS[t.dtype]) f8[name] = t.safetensorsDtype;
      return {
        name,
        dtype: t.dtype,
        shape: t.shape,
        byteLength: t.byteLength,
        safetensorsDtype: t.safetensorsDtype,
        load: async () => ({ data: t.data, copied: t.copied }),
        // Hashed from the file by a worker thread: no copy, nothing on the event loop.
        sha256: async () =>
          t.byteLength === 0 ? tensorSha256(t.data) : (await rangeSha256(fh.fd, t.offset, t.byteLength)).hex,
      };
    });
    const { metadata, modelDigest } = metadataFromSafetensors(st.metadata, f8, st.path);
    return {
      format: 'safetensors',
      tensors,
      metadata,
      modelDigest,
      close: async () => {
        st.close();
        if (fh !== options.input) fh.close();
      },
    };
  },
};

// --- Keras input ---------------------------------------------------------------

const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

/** Keras files carry no checksums: each weight is hashed from its data as read (a view of the file where possible). */
const kerasReader: ModelReader = {
  format: 'keras',
  // .keras archives by their zip signature; Keras .h5 files share HDF5's
  // signature with h5vault models, so the h5vault reader hands those over
  // once it has opened the file (with the caller's untrusted setting) and
  // found a Keras layout instead of h5vault's attributes.
  detect: (head) => ZIP_SIGNATURE.every((b, i) => head[i] === b),
  async open(path, options) {
    const k = await loadKeras(path, {
      untrusted: options.untrusted,
      limits: options.limits,
      ...(options.input ? { input: options.input } : {}),
    });
    const tensors: SourceTensor[] = [...k.tensors.entries()].map(([name, w]) => ({
      name,
      dtype: w.dtype as NumericDType,
      shape: w.shape,
      byteLength: (w.data as TypedArray).byteLength,
      load: async () => ({ data: w.data as TypedArray, copied: !w.viewed }),
      sha256: async () => tensorSha256(w.data as TypedArray),
    }));
    const metadata: Record<string, JsonValue> = {
      source: { format: 'keras', layout: k.layout, container: k.container },
      keras: { metadata: k.metadata as unknown as JsonValue, config: k.config, trainingConfig: k.trainingConfig },
    };
    return { format: 'keras', tensors, metadata, close: () => k.close() };
  },
};

/** The groups/attributes a Keras weights file has at its root (lib/formats/keras.ts). */
function looksLikeKeras(file: File): boolean {
  return (
    file.attrs.has('layer_names') || file.attrs.has('keras_version') || file.has('model_weights') || file.has('layers')
  );
}

// --- h5vault input -------------------------------------------------------------

const h5vaultReader: ModelReader = {
  format: 'h5vault',
  detect: (head) => HDF5_SIGNATURE.every((b, i) => head[i] === b),
  async open(path, options) {
    // Walked (untrusted), opened by libhdf5 and hashed through one pinned descriptor.
    const pinned = options.input ?? (await openInput(path, 'model'));
    const own = pinned !== options.input;
    let file: File;
    try {
      file = await File.openAsync(path, {
        ...(options.untrusted ? { untrusted: true, limits: options.limits } : {}),
        input: pinned,
      });
    } catch (e) {
      if (own) pinned.close();
      throw e;
    }
    let fh: Input | undefined;
    try {
      const a = file.attrs;
      if (!a.has(ATTR.format)) {
        if (looksLikeKeras(file)) {
          file.close();
          return await kerasReader.open(path, { ...options, input: pinned });
        }
        throw new H5Error(
          `'${path}' is not an h5vault model (no ${ATTR.format} attribute): it has no checksums to carry over`,
          { code: 'H5_UNSUPPORTED' },
        );
      }
      const format = a.get(ATTR.format);
      if (typeof format !== 'number' || format > FORMAT_VERSION)
        throw new H5Error(
          `'${path}' uses model format ${String(format)}; this h5vault converts format ${FORMAT_VERSION}`,
          { code: 'H5_UNSUPPORTED' },
        );
      const metaText = a.has(ATTR.metadata) ? a.get(ATTR.metadata) : '{}';
      const digest = a.has(ATTR.modelDigest) ? a.get(ATTR.modelDigest) : undefined;
      let metadata: unknown;
      try {
        metadata = parseStoredJson(String(metaText));
      } catch {
        metadata = undefined;
      }
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata) || typeof digest !== 'string')
        throw new H5Error(`'${path}' has invalid h5vault provenance attributes`, { code: 'H5_CORRUPT' });
      fh = pinned;
      const fd = fh.fd;
      const tensors: SourceTensor[] = [];
      for (const [p, obj] of file.walk()) {
        if (!(obj instanceof Dataset)) continue;
        const dtype = obj.dtype;
        if (dtype === 'string' || dtype === 'unsupported') continue;
        const name = p.slice(1);
        const stored = obj.attrs.has(TENSOR_SHA_ATTR) ? obj.attrs.get(TENSOR_SHA_ATTR) : null;
        if (typeof stored !== 'string')
          throw new H5Error(`tensor '${name}' in '${path}' has no ${TENSOR_SHA_ATTR} checksum`, {
            code: 'H5_CHECKSUM_MISMATCH',
            tensor: name,
          });
        const ds = obj;
        tensors.push({
          name,
          dtype,
          shape: ds.shape,
          byteLength: ds.byteLength,
          sha256: async () => stored,
          // Verified on read: a view is hashed from the file, a read (compressed tensor) from memory.
          load: async () => {
            let data: TypedArray;
            let actual: string;
            const viewed = ds.viewable === true && ds.byteLength > 0 && ds.offset !== null;
            if (viewed) {
              data = ds.view() as TypedArray;
              actual = (await rangeSha256(fd, ds.offset!, ds.byteLength)).hex;
            } else {
              data = (await ds.read()) as TypedArray;
              actual = await tensorSha256(data);
            }
            if (actual !== stored) {
              throw new H5Error(
                `tensor '${name}' in '${path}' does not match its checksum (stored ${stored}, data ${actual})`,
                {
                  code: 'H5_CHECKSUM_MISMATCH',
                  tensor: name,
                  expected: stored,
                  actual,
                },
              );
            }
            return { data, copied: !viewed && ds.byteLength > 0 };
          },
        });
      }
      const h = fh;
      return {
        format: 'h5vault',
        tensors,
        metadata: metadata as Record<string, JsonValue>,
        modelDigest: digest,
        close: async () => {
          file.close();
          if (own) h.close();
        },
      };
    } catch (e) {
      file.close();
      if (own) pinned.close();
      throw e;
    }
  },
};

/** h5vault metadata -> safetensors __metadata__ plus the 8-bit-float dtypes it records (docs/runtime.md#safetensors). */
export function metadataToSafetensors(
  metadata: Record<string, JsonValue>,
  modelDigest: string,
  tensors: SourceTensor[],
): {
  meta: Record<string, string>;
  f8: Map<string, SafetensorsDType>;
} {
  const meta: Record<string, string> = {};
  const rest: Record<string, JsonValue> = {};
  const f8 = new Map<string, SafetensorsDType>();
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [k, v] of Object.entries(metadata)) {
    if (k === META_DTYPES_KEY && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [name, d] of Object.entries(v)) {
        const t = byName.get(name);
        if (!t || !isSafetensorsDType(d) || t.dtype !== 'uint8' || d === 'U8')
          throw new H5Error(
            `metadata.${META_DTYPES_KEY}.${name} = ${JSON.stringify(d)} does not name an 8-bit-float tensor of this model`,
            { code: 'H5_CORRUPT' },
          );
        f8.set(name, d);
      }
    } else if (typeof v === 'string' && !k.startsWith('h5vault.')) {
      meta[k] = v;
    } else {
      rest[k] = v;
    }
  }
  if (Object.keys(rest).length) meta[META_JSON_KEY] = canonicalJson(rest);
  meta[META_DIGEST_KEY] = modelDigest;
  return { meta, f8 };
}

// --- the conversion ------------------------------------------------------------

function sniff(input: Input): Promise<Uint8Array> {
  return input.readAt(0, 16);
}

function outputFormat(path: string, to: OutputFormat | undefined): OutputFormat {
  if (to !== undefined) {
    checkOneOf(to, 'options.to', OUTPUT_FORMATS);
    return to;
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.h5' || ext === '.hdf5' || ext === '.h5vault') return 'h5vault';
  throw new TypeError(`cannot tell the output format from '${path}': name it .safetensors or .h5, or pass to`);
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new H5Error('conversion aborted', { code: 'H5_ABORTED' });
}

async function sourceShas(src: ModelSource): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of src.tensors) out.set(t.name, await t.sha256());
  return out;
}

function digestOf(src: ModelSource, shas: Map<string, string>): string {
  return modelDigestOf(
    src.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, sha256: shas.get(t.name)! })),
  );
}

/**
 * Converts a model between safetensors and h5vault's model format (either
 * direction; more inputs through registerModelReader). Names, dtypes
 * (bfloat16 and the 8-bit floats included) and metadata are kept; every
 * tensor's SHA-256 is checked on the way in (against the source's stored
 * checksums where it has them) and again on the written temp file, before
 * the one publisher (lib/util/publish.ts) may put it in place: a mismatch
 * publishes nothing and leaves an existing output as it was. Memory stays bounded: tensors are views of
 * file mappings where possible and are written one at a time.
 *
 * @example
 *   const r = await convertModel('model.safetensors', 'model.h5');
 *   console.log(r.tensors, r.modelDigest);
 */
export async function convertModel(
  inPath: string,
  outPath: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const site = new Error();
  checkPath(inPath, 'inPath');
  checkPath(outPath, 'outPath');
  checkObject(options);
  const input = resolve(inPath);
  const output = resolve(outPath);
  if (input === output) throw new TypeError('the input and output paths are the same file');
  const to = outputFormat(output, options.to);
  booleanOption(options, 'overwrite');
  const target: PublishTarget = {
    overwrite: options.overwrite !== false,
    role: 'output',
    allow: 'pass --force or { overwrite: true }',
  };
  return withSite(site, async () => {
    checkAbort(options.signal);
    await refuseExisting(output, target);
    const all = [...readers, safetensorsReader, kerasReader, h5vaultReader];
    let reader: ModelReader | undefined;
    if (options.from !== undefined) {
      reader = all.find((r) => r.format === options.from);
      if (!reader)
        throw new TypeError(`unknown input format '${options.from}' (known: ${all.map((r) => r.format).join(', ')})`);
    } else {
    }
    // The one door in: a FIFO or device is refused here, before any reader runs (issue 21, #9).
    const pinned = await openInput(input, 'model');
    let src: ModelSource;
    try {
      if (!reader) {
        const head = await sniff(pinned);
        reader = all.find((r) => r.detect(head, input));
        if (!reader)
          throw new H5Error(`'${input}' is neither a safetensors file, a .keras archive nor an HDF5 file`, {
            code: 'H5_UNSUPPORTED',
          });
      }
      src = await reader.open(input, { untrusted: options.untrusted, limits: options.limits, input: pinned });
    } catch (e) {
      pinned.close();
      throw e;
    }
    try {
      // The one name rule, before anything is hashed or written: a name the
      // output format cannot hold is the input's data, so an H5Error naming it.
      const kind = to === 'safetensors' ? 'safetensors tensor' : 'tensor';
      for (const t of src.tensors) {
        const problem = nameProblem(kind, t.name);
        if (problem !== null) {
          throw new H5Error(
            `'${input}': ${nameError(kind, t.name, problem).message}, so it cannot be written as ${to}; nothing was written`,
            {
              code: 'H5_UNSUPPORTED',
              tensor: t.name,
            },
          );
        }
      }
      const shas = await sourceShas(src);
      const modelDigest = digestOf(src, shas);
      if (src.modelDigest !== undefined && src.modelDigest !== modelDigest) {
        throw new H5Error(
          `'${input}': the model digest of its tensors is ${modelDigest}, the file claims ${src.modelDigest}`,
          {
            code: 'H5_CHECKSUM_MISMATCH',
            expected: src.modelDigest,
            actual: modelDigest,
          },
        );
      }
      const copied: string[] = [];
      const bytes = src.tensors.reduce((a, t) => a + t.byteLength, 0);
      const digest =
        to === 'safetensors'
          ? await toSafetensors(src, output, modelDigest, shas, copied, options, target)
          : await toH5vault(src, output, modelDigest, shas, copied, options, target);
      return { input, output, from: src.format, to, tensors: src.tensors.length, bytes, modelDigest, digest, copied };
    } finally {
      try {
        await src.close();
      } finally {
        pinned.close();
      }
    }
  });
}

function mismatch(output: string, name: string, expected: string, actual: string | null): H5Error {
  return new H5Error(
    `tensor '${name}' as written for '${output}' has SHA-256 ${actual ?? '(unreadable)'}, the source's is ${expected}: nothing was published`,
    {
      code: 'H5_CHECKSUM_MISMATCH',
      tensor: name,
      expected,
      actual,
    },
  );
}

async function toSafetensors(
  src: ModelSource,
  output: string,
  modelDigest: string,
  shas: Map<string, string>,
  copied: string[],
  options: ConvertOptions,
  target: PublishTarget,
): Promise<string> {
  const { meta, f8 } = metadataToSafetensors(src.metadata, modelDigest, src.tensors);
  const planned: PlannedTensor[] = src.tensors.map((t) => ({
    name: t.name,
    safetensorsDtype: f8.get(t.name) ?? t.safetensorsDtype ?? DTYPE_TO_SAFETENSORS[t.dtype],
    shape: t.shape,
    byteLength: t.byteLength,
    load: async () => {
      checkAbort(options.signal);
      const { data, copied: c } = await t.load();
      if (c) copied.push(t.name);
      return data;
    },
  }));
  const plan = planSafetensors(planned, checkMetadata(meta));
  // The end-to-end check runs on the temp, before it can replace anything:
  // parse its header like any reader and hash every tensor from the file.
  const check = async (temp: string): Promise<void> => {
    const st = await openSafetensors(temp);
    const fh = await open(temp, 'r');
    try {
      for (const t of src.tensors) {
        const o = st.tensors.get(t.name);
        const actual = !o
          ? null
          : o.byteLength === 0
            ? await tensorSha256(o.data)
            : (await rangeSha256(fh.fd, o.offset, o.byteLength)).hex;
        if (actual !== shas.get(t.name)) throw mismatch(output, t.name, shas.get(t.name)!, actual);
      }
    } finally {
      st.close();
      await fh.close();
    }
  };
  const written = await writeSafetensorsAtomic(
    output,
    plan,
    { onProgress: options.onProgress, signal: options.signal },
    { ...target, check },
  );
  return written.digest;
}

async function toH5vault(
  src: ModelSource,
  output: string,
  modelDigest: string,
  shas: Map<string, string>,
  copied: string[],
  options: ConvertOptions,
  target: PublishTarget,
): Promise<string> {
  const tensors = new Map<string, { dtype: NumericDType; shape: number[]; data: TypedArray }>();
  for (const t of src.tensors) {
    checkAbort(options.signal);
    const { data, copied: c } = await t.load();
    if (c) copied.push(t.name);
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  const p = prepareSave(tensors, {
    metadata: src.metadata,
    compression: options.compression,
    shuffle: options.shuffle,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  await cleanStaleTemps(dirname(output));
  // The end-to-end check runs on the temp, before it can replace anything:
  // every tensor re-hashed from the new file against the source's SHA-256.
  const w = await writeTemp(output, p, output, async (temp, written) => {
    if (written.modelDigest !== modelDigest) {
      throw new H5Error(
        `'${output}' was written with model digest ${written.modelDigest}, the source's is ${modelDigest}: nothing was published`,
        {
          code: 'H5_CHECKSUM_MISMATCH',
          expected: modelDigest,
          actual: written.modelDigest,
        },
      );
    }
    const report = await verifyModel(temp, { expectDigest: written.digest, signal: options.signal });
    for (const t of report.tensors) {
      const expected = shas.get(t.name);
      if (expected === undefined || t.actual !== expected || !t.ok)
        throw mismatch(output, t.name, expected ?? '(none)', t.actual);
    }
    if (!report.ok)
      throw new H5Error(`'${output}' failed verification: ${report.problems.join('; ')}`, {
        code: 'H5_CHECKSUM_MISMATCH',
      });
  });
  tensors.clear();
  await commitStaged(w.temp, output, { ...target, signal: options.signal });
  return w.digest;
}
