/**
 * loadModel / verifyModel: open a model file (optionally only after its
 * file SHA-256 matched), hand out tensors as zero-copy views where possible,
 * and check every tensor's SHA-256 and the model digest (invariant 6).
 */
import { resolve } from 'node:path';
import { File } from '../h5/file.js';
import { native, type ModelLayoutRow } from '../addon/binding.js';
import { Dataset } from '../h5/dataset.js';
import { H5Error, withSite } from '../errors.js';
import { typedTensor, type NumericDType, type TypedArray, type TypedTensor } from '../h5/dtypes.js';
import { constants as bufferConstants } from 'node:buffer';
import { fstatSync } from 'node:fs';
import { endianness } from 'node:os';
import { ARRAY_TYPES } from '../h5/dtypes.js';
import { fileStampOf, type FileStamp, type UntrustedLimits } from '../safety/untrusted.js';
import type { Input } from '../safety/open.js';
import { sameStamp } from './store/verified.js';
import { INDEX_ATTR, indexBindingProblem, parseIndex, type IndexEntry } from './tensor-index.js';
import { ATTR, compareNames, FORMAT_VERSION, TENSOR_SHA_ATTR, type JsonValue, type Provenance } from './schema.js';
import { boundedMap, modelDigestOf, rangeSha256, SHA256_HEX, tensorSha256 } from './digest.js';
import { ioError } from '../util/publish.js';
import { parseStoredJson } from '../safety/budget.js';
import { booleanOption, checkObject, checkPath, expectDigestOption, signalOption } from '../util/validate.js';

export interface LoadOptions {
  /** Check every tensor's SHA-256 and the model digest (default true). */
  verify?: boolean;
  /** Expected SHA-256 (hex) of the file's bytes, checked before libhdf5 parses the file. */
  expectDigest?: string;
  /** Always copy tensor data into owned memory (default false: zero-copy views where possible). */
  copy?: boolean;
  /** Stops between tensors (H5_ABORTED). */
  signal?: AbortSignal;
  /**
   * Walk the file in a limited child process before libhdf5 opens it here
   * (File.open's { untrusted }, docs/security.md). Skipped when expectDigest
   * matched: a file whose SHA-256 you already trust is not hostile.
   */
  untrusted?: boolean;
  /** Limits of that walk. */
  limits?: UntrustedLimits;
}

export interface LoadedModel {
  path: string;
  /** Tensors by name ('encoder/layer0/kernel'), in name order; `dtype` narrows `data`. */
  tensors: Map<string, TypedTensor>;
  /** The user metadata given to saveModel ({} for files without it). */
  metadata: Record<string, JsonValue>;
  /** Root provenance attributes; null for HDF5 files not written by saveModel (verify: false only). */
  provenance: Provenance | null;
  /** SHA-256 of the file bytes, when expectDigest was given (it is then equal to it). */
  digest: string | undefined;
  /** Names of the tensors whose data is a zero-copy view of the file mapping. */
  views: Set<string>;
  /** Closes the file. Views stay valid until collected (the mapping outlives the file handle). */
  close(): void;
  [Symbol.dispose](): void;
}

export interface VerifyOptions {
  /** @internal The file, already pinned by the caller (lib/safety/open.ts): opened, hashed and walked through it. */
  input?: Input;
  expectDigest?: string;
  signal?: AbortSignal;
  /** As in LoadOptions. */
  untrusted?: boolean;
  limits?: UntrustedLimits;
}

export interface TensorReport {
  name: string;
  ok: boolean;
  /** SHA-256 stored in the file (null if the tensor has none). */
  expected: string | null;
  /** SHA-256 of the data as read (null if it could not be read). */
  actual: string | null;
  /** Why the tensor could not be read (e.g. a corrupt compressed chunk). */
  error?: string;
}

export interface VerifyReport {
  ok: boolean;
  path: string;
  /** SHA-256 of the file bytes, when expectDigest was given. */
  digest: string | undefined;
  /** Model digest recomputed from the data (null if a tensor could not be read). */
  modelDigest: string | null;
  /** Model digest stored in the file's provenance. */
  expectedModelDigest: string;
  tensors: TensorReport[];
  /** Every reason ok is false, one line each. */
  problems: string[];
}

/** Validates the options; returns them with expectDigest lowercased. */
function checkLoadOptions<T extends LoadOptions | VerifyOptions>(o: T): T {
  checkObject(o);
  signalOption(o);
  for (const k of ['untrusted', 'verify', 'copy']) booleanOption(o, k);
  return expectDigestOption(o);
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new H5Error('load aborted', { code: 'H5_ABORTED' });
}

/**
 * Opens `path` with libhdf5, once. With `expectDigest` the file is hashed
 * through a descriptor File.openAsync holds and libhdf5 opens that very
 * descriptor (lib/safety/untrusted.ts): a path replaced in between is never parsed.
 */
/** @internal How much of the file the caller already vouches for (ModelStore's verified-once record). */
export interface Vouch {
  /** Identity of the file when its bytes last hashed to expectDigest: that file is not hashed again. */
  stamp?: FileStamp;
  /** The tensors of a file hashing to expectDigest were verified before: a matching file digest implies them. */
  tensorsVerified?: boolean;
}

interface Opened {
  file: File;
  digest?: string;
  /** The file's bytes are vouched for (expectDigest matched, or the vouched stamp): its tensor index is trusted as its layout. */
  trusted: boolean;
  /** Neither the file nor its tensors need hashing. */
  skipHashes: boolean;
  /** The open hashed the whole file. */
  fileHashed: boolean;
}

async function openChecked(path: string, o: LoadOptions | VerifyOptions, vouch: Vouch = {}): Promise<Opened> {
  const expectDigest = o.expectDigest;
  const pinned = (o as VerifyOptions).input ? { input: (o as VerifyOptions).input } : {};
  if (expectDigest === undefined) {
    const file = o.untrusted
      ? await File.openAsync(path, { untrusted: true, limits: o.limits, ...pinned })
      : File.open(path, pinned);
    return { file, trusted: false, skipHashes: false, fileHashed: false };
  }
  const file = await File.openAsync(path, {
    ...pinned,
    expectDigest,
    ...(vouch.stamp ? { vouchedStamp: vouch.stamp } : {}),
    ...(o.untrusted ? { untrusted: true, limits: o.limits } : {}),
  });
  // The open skipped the hash only if libhdf5's file still has the vouched identity.
  const sameFile = vouch.stamp !== undefined && sameStamp(fileStampOf(file), vouch.stamp);
  return {
    file,
    digest: expectDigest,
    trusted: true,
    skipHashes: sameFile || vouch.tensorsVerified === true,
    fileHashed: !sameFile,
  };
}

function corrupt(path: string, what: string): H5Error {
  return new H5Error(`'${path}' has an invalid ${what} attribute`, { code: 'H5_CORRUPT' });
}

/** Reads the schema-v1 root attributes; null when the file has no `h5vault.format`. */
function readProvenance(
  file: File,
  path: string,
): { provenance: Provenance | null; metadata: Record<string, JsonValue> } {
  const a = file.attrs;
  if (!a.has(ATTR.format)) return { provenance: null, metadata: {} };
  const format = a.get(ATTR.format);
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 1) throw corrupt(path, ATTR.format);
  if (format > FORMAT_VERSION) {
    throw new H5Error(
      `'${path}' uses model format ${format}; this h5vault reads format ${FORMAT_VERSION} (upgrade h5vault)`,
      {
        code: 'H5_UNSUPPORTED',
      },
    );
  }
  const str = (k: string): string => {
    const v = a.has(k) ? a.get(k) : undefined;
    if (typeof v !== 'string') throw corrupt(path, k);
    return v;
  };
  const num = (k: string): number => {
    const v = a.has(k) ? a.get(k) : undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw corrupt(path, k);
    return v;
  };
  let metadata: unknown;
  try {
    metadata = parseStoredJson(str(ATTR.metadata));
  } catch {
    throw corrupt(path, ATTR.metadata);
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw corrupt(path, ATTR.metadata);
  const modelDigest = str(ATTR.modelDigest);
  if (!SHA256_HEX.test(modelDigest)) throw corrupt(path, ATTR.modelDigest);
  const provenance: Provenance = {
    format,
    h5vault: str(ATTR.version),
    hdf5: str(ATTR.hdf5),
    node: str(ATTR.node),
    platform: str(ATTR.platform),
    tensors: num(ATTR.tensors),
    bytes: num(ATTR.bytes),
    modelDigest,
  };
  return { provenance, metadata: metadata as Record<string, JsonValue> };
}

interface Scanned {
  name: string;
  ds: Dataset;
  dtype: NumericDType;
  shape: number[];
  bytes: number;
  expected: string | null;
  actual: string | null;
  data?: TypedArray;
  viewed: boolean;
  error?: unknown;
}

function isTensorDType(d: string): d is NumericDType {
  return Object.hasOwn(ARRAY_TYPES, d);
}

/**
 * Numeric datasets of the file in name order (walk() visits depth-first in
 * name order). String datasets are text, not tensors, and are not loaded
 * (docs/model-storage.md); a dataset of any other type is refused
 * (H5_UNSUPPORTED_TYPE, naming it) rather than left out of the model unseen.
 */
function listTensors(file: File): Scanned[] {
  const out: Scanned[] = [];
  const refused: string[] = [];
  for (const [p, obj] of file.walk()) {
    if (!(obj instanceof Dataset)) continue;
    const dtype = obj.dtype;
    if (dtype === 'string') continue;
    if (!isTensorDType(dtype)) {
      refused.push(p);
      continue;
    }
    const sha = obj.attrs.has(TENSOR_SHA_ATTR) ? obj.attrs.get(TENSOR_SHA_ATTR) : null;
    out.push({
      name: p.slice(1),
      ds: obj,
      dtype,
      shape: obj.shape,
      bytes: obj.byteLength,
      expected: typeof sha === 'string' ? sha : null,
      actual: null,
      viewed: false,
    });
  }
  if (refused.length) {
    throw new H5Error(
      `'${file.filename}' holds dataset${refused.length > 1 ? 's' : ''} of a type h5vault cannot load as a tensor: ${refused.map((p) => `'${p}'`).join(', ')}; read ${refused.length > 1 ? 'them' : 'it'} with File instead`,
      { code: 'H5_UNSUPPORTED_TYPE', datasets: refused },
    );
  }
  return out;
}

/**
 * Loads each tensor (view if possible unless `copy`, else an async read) and
 * hashes it if `verify`, several at a time. A view's bytes are the file's
 * bytes, so views are hashed from the file by worker threads (nothing copied
 * or hashed on the event loop); copies are hashed from memory. Read errors
 * are recorded per tensor, not thrown, so verifyModel can report them all.
 */
async function scan(
  file: File,
  list: Scanned[],
  o: { verify: boolean; copy: boolean; keep: boolean; signal?: AbortSignal },
): Promise<void> {
  // Views are hashed through libhdf5's own descriptor: the bytes hashed are
  // the bytes mapped and parsed, even if the path is replaced meanwhile.
  const fd = o.verify ? native.fileDescriptor(file.fileHandle) : undefined;
  await boundedMap(
    list,
    (t) => t.bytes,
    async (t) => {
      checkAbort(o.signal);
      try {
        let data: TypedArray;
        const offset = t.ds.offset;
        if (!o.copy && t.ds.viewable === true) {
          data = t.ds.view();
          t.viewed = true;
          if (fd !== undefined && offset !== null && t.bytes > 0) {
            t.actual = (
              await rangeSha256(fd, offset, t.bytes).catch((e) => {
                throw ioError(e, `cannot read '${file.filename}'`);
              })
            ).hex;
          }
        } else {
          data = (await t.ds.read({ signal: o.signal })) as TypedArray;
        }
        if (o.verify && t.actual === null) t.actual = await tensorSha256(data);
        if (o.keep) t.data = data;
      } catch (e) {
        if (e instanceof H5Error && e.code === 'H5_ABORTED') throw e;
        t.error = e;
      }
    },
  );
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Model-level checks: tensor count and the model digest over what is stored. */
function modelProblems(
  list: Scanned[],
  prov: Provenance,
  useActual: boolean,
): { problems: string[]; digest: string | null } {
  const problems: string[] = [];
  if (list.length !== prov.tensors)
    problems.push(`the file holds ${list.length} tensors, its provenance says ${prov.tensors}`);
  const complete = list.every((t) => (useActual ? t.actual : t.expected) !== null);
  const digest = complete
    ? modelDigestOf(
        list.map((t) => ({
          name: t.name,
          dtype: t.dtype,
          shape: t.shape,
          sha256: (useActual ? t.actual : t.expected)!,
        })),
      )
    : null;
  if (digest !== null && digest !== prov.modelDigest)
    problems.push(`model digest ${digest} does not match the stored ${prov.modelDigest}`);
  return { problems, digest };
}

/**
 * Loads a model saved by saveModel (or, with verify: false, any HDF5 file's
 * numeric datasets). Verification failures throw H5Error H5_CHECKSUM_MISMATCH
 * naming the tensor; a changed file with expectDigest throws it before parsing.
 *
 * @example
 *   const m = await loadModel('model.h5', { expectDigest: res.digest });
 *   const w = m.tensors.get('dense/kernel')!;
 *   if (w.dtype === 'float32') w.data; // Float32Array: dtype narrows data
 *   m.close();
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const site = new Error();
  checkPath(path);
  const o = checkLoadOptions(options);
  return withSite(site, async () => (await loadModelAt(resolve(path), o)).model);
}

/** @internal What loadModelAt did, for ModelStore's verified-once record. */
export interface LoadOutcome {
  model: LoadedModel;
  /** Every byte was vouched for or checked: the file digest matched and every tensor was verified (now or, vouched, before). */
  verified: boolean;
  /** Identity of the file libhdf5 opened (the one verified). */
  stamp: FileStamp;
  /** What this load hashed: the whole file (expectDigest), the tensors (verify). */
  hashed: { file: boolean; tensors: boolean };
}

/** @internal loadModel on an absolute path, with what the caller already vouches for. */
export async function loadModelAt(abs: string, options: LoadOptions, vouch: Vouch = {}): Promise<LoadOutcome> {
  const verify = options.verify ?? true;
  const copy = options.copy ?? false;
  checkAbort(options.signal);
  const opened = await openChecked(abs, options, vouch);
  const { file, digest } = opened;
  try {
    const { provenance, metadata } = readProvenance(file, abs);
    if (verify && !provenance) {
      throw new H5Error(
        `'${abs}' is not an h5vault model (no ${ATTR.format} attribute), so it has no checksums; pass { verify: false } to load it anyway`,
        {
          code: 'H5_UNSUPPORTED',
        },
      );
    }
    const close = (): void => file.close();
    const done = (tensors: Map<string, TypedTensor>, views: Set<string>): LoadOutcome => ({
      model: { path: abs, tensors, metadata, provenance, digest, views, close, [Symbol.dispose]: close },
      verified: verify && digest !== undefined,
      stamp: fileStampOf(file),
      hashed: { file: opened.fileHashed, tensors: verify && !opened.skipHashes },
    });
    const index = provenance ? readIndex(file, abs, provenance, verify) : null;
    // A vouched-for file's index is its layout; any other file's index is
    // mapped only after every tensor's real layout was read and matched it.
    if (index && !copy && canMapIndexed(file) && (opened.trusted || layoutMatches(file, index, verify))) {
      const r = await loadIndexed(file, abs, index, { verify: verify && !opened.skipHashes, signal: options.signal });
      return done(r.tensors, r.views);
    }
    const list = listTensors(file);
    // An index the loader does not trust is still a claim the file makes: it must describe the real layout.
    if (index) checkIndexLayout(abs, index, list);
    await scan(file, list, { verify: verify && !opened.skipHashes, copy, keep: true, signal: options.signal });
    for (const t of list) {
      if (t.error !== undefined) {
        const e = t.error;
        if (e instanceof H5Error) {
          throw new H5Error(`tensor '${t.name}': ${e.message}`, {
            code: e.code,
            major: e.major,
            minor: e.minor,
            tensor: t.name,
          });
        }
        throw e;
      }
      if (verify && !opened.skipHashes && t.actual !== t.expected) {
        throw new H5Error(
          t.expected === null
            ? `tensor '${t.name}' in '${abs}' has no ${TENSOR_SHA_ATTR} checksum`
            : `tensor '${t.name}' in '${abs}' does not match its checksum (stored ${t.expected}, data ${t.actual})`,
          { code: 'H5_CHECKSUM_MISMATCH', tensor: t.name, expected: t.expected, actual: t.actual },
        );
      }
    }
    if (verify && provenance) {
      const { problems } = modelProblems(list, provenance, false);
      if (problems.length) throw new H5Error(`'${abs}': ${problems.join('; ')}`, { code: 'H5_CHECKSUM_MISMATCH' });
    }
    const tensors = new Map<string, TypedTensor>();
    const views = new Set<string>();
    for (const t of list) {
      tensors.set(t.name, typedTensor(t.dtype, t.shape, t.data!));
      if (t.viewed) views.add(t.name);
    }
    return done(tensors, views);
  } catch (e) {
    file.close();
    throw e;
  }
}

// --- the tensor index (tensor-index.ts) ---------------------------------------

const LITTLE = endianness() === 'LE';
const MAX_MAPPED_BYTES = bufferConstants.MAX_LENGTH;
// The mapping of the tensors is made through libhdf5's own descriptor, so it
// is the inode that was vetted and parsed; without /proc there is no such
// path and the loader walks the file instead.
const PROC_FD = '/proc/self/fd';

function fdOf(file: File): number {
  return native.fileDescriptor(file.fileHandle);
}

/**
 * The file's index; null when it has none (h5py-written, older h5vault) or
 * one of another version. An index not bound to the provenance is an
 * H5_CHECKSUM_MISMATCH when verifying, and ignored (the file is walked)
 * when the caller asked not to verify.
 */
function readIndex(file: File, abs: string, prov: Provenance, verify: boolean): IndexEntry[] | null {
  if (!file.attrs.has(INDEX_ATTR)) return null;
  const entries = parseIndex(abs, file.attrs.get(INDEX_ATTR), fstatSync(fdOf(file)).size);
  const problem = entries && indexBindingProblem(entries, prov);
  if (!problem) return entries;
  if (verify) throw new H5Error(`'${abs}': ${problem}`, { code: 'H5_CHECKSUM_MISMATCH' });
  return null;
}

/**
 * Views over the index need a little-endian host (the index's bytes are
 * little-endian), libhdf5's descriptor reachable by path, and a file that fits
 * one ArrayBuffer (the whole file is mapped as one). Bigger files are walked;
 * dataset views also map the whole file, so they cannot view them either
 * (docs/benchmarks.md#verification-at-hash-speed).
 */
function canMapIndexed(file: File): boolean {
  return LITTLE && file.mode === 'r' && process.platform === 'linux' && fstatSync(fdOf(file)).size <= MAX_MAPPED_BYTES;
}

/** Depth-first walk order: path segments compared one by one, each by its UTF-8 bytes (libhdf5's name index). */
function compareWalkOrder(a: string, b: string): number {
  // ASCII names: the same as comparing with '/' below every other character.
  const n = Math.min(a.length, b.length);
  let ascii = true;
  for (let i = 0; i < n && ascii; i++) {
    const p = a.charCodeAt(i);
    const q = b.charCodeAt(i);
    if (p >= 0x80 || q >= 0x80) ascii = false;
    else if (p !== q) return p === 0x2f ? -1 : q === 0x2f ? 1 : p < q ? -1 : 1;
  }
  if (ascii) return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareNames(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/**
 * True when the file's datasets, as libhdf5 reads their object headers (one
 * native call for all of them), are exactly what the index says: the same
 * tensors, dtypes, shapes and sizes, each indexed offset the start of a
 * contiguous, allocated, little-endian, internal data block (so mapping it
 * gives the stored values), every other tensor without one, and (when
 * verifying) each tensor's own SHA-256 attribute equal to the index's. That is everything
 * the walk path checks, so a false answer sends the load down that path,
 * which reports what differs (H5_CORRUPT, H5_UNSUPPORTED_TYPE, a checksum
 * error) exactly as before.
 */
function layoutMatches(file: File, index: IndexEntry[], verify: boolean): boolean {
  // Without verify the tensors' own SHA-256 attributes are not read (the walk path ignores them too).
  const rows = native.modelLayout(file.fileHandle, verify ? TENSOR_SHA_ATTR : '');
  if (!rows) return false;
  const byName = new Map<string, ModelLayoutRow>();
  for (const r of rows) {
    if (r[1] === 'string') continue;
    if (!isTensorDType(r[1])) return false;
    byName.set(r[0].slice(1), r);
  }
  if (byName.size !== index.length) return false;
  for (const e of index) {
    const r = byName.get(e.name);
    if (!r) return false;
    const [, dtype, shape, offset, bytes, layout, bigEndian, external, allocated, sha] = r;
    if (dtype !== e.dtype || bytes !== e.bytes || (verify && sha !== e.sha256)) return false;
    if (shape.length !== e.shape.length || shape.some((n, i) => n !== e.shape[i])) return false;
    if ((bytes === 0 ? null : offset) !== e.offset) return false;
    if (e.offset !== null && (layout !== 'contiguous' || bigEndian || external || !allocated)) return false;
  }
  return true;
}

/** Throws H5_CORRUPT unless the index lists exactly the file's tensors with their real dtype, shape, size and offset. */
function checkIndexLayout(abs: string, index: IndexEntry[], list: Scanned[]): void {
  const wrong = (why: string): H5Error =>
    new H5Error(`'${abs}': its ${INDEX_ATTR} attribute does not describe the file (${why})`, { code: 'H5_CORRUPT' });
  if (index.length !== list.length) throw wrong(`it lists ${index.length} tensors, the file holds ${list.length}`);
  const byName = new Map(list.map((t) => [t.name, t]));
  index.forEach((e) => {
    const t = byName.get(e.name);
    if (!t) throw wrong(`it lists '${e.name}', which the file does not hold`);
    const off = t.bytes === 0 ? null : t.ds.offset;
    if (e.dtype !== t.dtype || e.shape.join(',') !== t.shape.join(',') || e.bytes !== t.bytes || e.offset !== off) {
      throw wrong(
        `tensor '${e.name}' is ${t.dtype}[${t.shape.join(',')}] at ${String(off)}, the index says ${e.dtype}[${e.shape.join(',')}] at ${String(e.offset)}`,
      );
    }
  });
}

/**
 * Maps every tensor from the index: one mapping of the file, a typed array
 * per tensor over it; only compressed tensors open their dataset (to decode
 * it). With `verify`, each tensor's bytes are hashed against the index's
 * SHA-256 (bound to the stored model digest by parseIndex).
 */
async function loadIndexed(
  file: File,
  abs: string,
  index: IndexEntry[],
  o: { verify: boolean; signal?: AbortSignal },
): Promise<{ tensors: Map<string, TypedTensor>; views: Set<string> }> {
  const fd = fdOf(file);
  const mapped = index.some((e) => e.offset !== null && e.bytes > 0)
    ? await native.mapFile(`${PROC_FD}/${fd}`).catch((e) => {
        throw ioError(e, `cannot map '${abs}'`);
      })
    : null;
  const tensors = new Map<string, TypedTensor>();
  const views = new Set<string>();
  const data: TypedArray[] = [];
  // The map lists tensors in the walk's order (depth-first, each group's links
  // by name), as loads of files without an index do.
  const order = index.map((_, i) => i).sort((a, b) => compareWalkOrder(index[a]!.name, index[b]!.name));
  for (const e of index) {
    const Ctor = ARRAY_TYPES[e.dtype];
    let d: TypedArray;
    if (e.bytes === 0) {
      d = new Ctor(new ArrayBuffer(0));
      views.add(e.name); // as Dataset.view() of an empty dataset: nothing to copy
    } else if (e.offset !== null) {
      // parseIndex bounded the range by the file's size when it was opened; the mapping was made since.
      if (!mapped || e.offset + e.bytes > mapped.size)
        throw new H5Error(`'${abs}' is shorter than its tensor index says (tensor '${e.name}')`, {
          code: 'H5_CORRUPT',
        });
      if (e.offset % Ctor.BYTES_PER_ELEMENT === 0) {
        d = new Ctor(mapped.buffer, e.offset, e.bytes / Ctor.BYTES_PER_ELEMENT);
        views.add(e.name);
      } else {
        d = new Ctor(mapped.buffer.slice(e.offset, e.offset + e.bytes));
      }
    } else {
      checkAbort(o.signal);
      try {
        d = (await file.dataset(e.name).read({ signal: o.signal })) as TypedArray;
      } catch (err) {
        if (err instanceof H5Error && err.code !== 'H5_ABORTED') {
          throw new H5Error(`tensor '${e.name}': ${err.message}`, {
            code: err.code,
            major: err.major,
            minor: err.minor,
            tensor: e.name,
          });
        }
        throw err;
      }
    }
    data.push(d);
  }
  for (const i of order) tensors.set(index[i]!.name, typedTensor(index[i]!.dtype, index[i]!.shape, data[i]!));
  if (o.verify) {
    const actual = await boundedMap(
      index,
      (e) => e.bytes,
      async (e, i) => {
        checkAbort(o.signal);
        if (e.bytes === 0) return await tensorSha256(data[i]!);
        if (e.offset === null) return tensorSha256(data[i]!);
        return (
          await rangeSha256(fd, e.offset, e.bytes).catch((err) => {
            throw ioError(err, `cannot read '${abs}'`);
          })
        ).hex;
      },
    );
    index.forEach((e, i) => {
      if (actual[i] !== e.sha256) {
        throw new H5Error(
          `tensor '${e.name}' in '${abs}' does not match its checksum (stored ${e.sha256}, data ${actual[i]})`,
          {
            code: 'H5_CHECKSUM_MISMATCH',
            tensor: e.name,
            expected: e.sha256,
            actual: actual[i],
          },
        );
      }
    });
  }
  return { tensors, views };
}

/**
 * Re-hashes every tensor and checks the model digest; reports instead of
 * throwing (except: unreadable/non-model file, expectDigest mismatch).
 *
 * @example
 *   const r = await verifyModel('model.h5');
 *   if (!r.ok) console.error(r.problems.join('\n'));
 */
export async function verifyModel(path: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const site = new Error();
  checkPath(path);
  const options = checkLoadOptions(opts);
  return withSite(site, async () => {
    checkAbort(options.signal);
    const abs = resolve(path);
    const { file, digest } = await openChecked(abs, options);
    try {
      const { provenance } = readProvenance(file, abs);
      if (!provenance) {
        throw new H5Error(`'${abs}' is not an h5vault model (no ${ATTR.format} attribute): nothing to verify against`, {
          code: 'H5_UNSUPPORTED',
        });
      }
      const list = listTensors(file);
      const problems: string[] = [];
      const indexProblems: string[] = [];
      try {
        const index = readIndex(file, abs, provenance, true);
        if (index) checkIndexLayout(abs, index, list);
      } catch (e) {
        if (!(e instanceof H5Error) || (e.code !== 'H5_CORRUPT' && e.code !== 'H5_CHECKSUM_MISMATCH')) throw e;
        indexProblems.push(e.message);
      }
      await scan(file, list, { verify: true, copy: false, keep: false, signal: options.signal });
      const tensors: TensorReport[] = list.map((t) => {
        const r: TensorReport = {
          name: t.name,
          ok: t.error === undefined && t.expected !== null && t.actual === t.expected,
          expected: t.expected,
          actual: t.actual,
        };
        if (t.error !== undefined) {
          r.error = errMessage(t.error);
          problems.push(`tensor '${t.name}' cannot be read: ${r.error}`);
        } else if (t.expected === null) problems.push(`tensor '${t.name}' has no ${TENSOR_SHA_ATTR} checksum`);
        else if (!r.ok)
          problems.push(`tensor '${t.name}' does not match its checksum (stored ${t.expected}, data ${t.actual})`);
        return r;
      });
      const m = modelProblems(list, provenance, true);
      // The recomputed digest mismatching is a consequence of a bad tensor already listed; report it only when the tensors look fine.
      if (problems.length === 0) problems.push(...m.problems);
      else problems.push(...m.problems.filter((p) => !p.startsWith('model digest')));
      problems.push(...indexProblems);
      return {
        ok: problems.length === 0,
        path: abs,
        digest,
        modelDigest: m.digest,
        expectedModelDigest: provenance.modelDigest,
        tensors,
        problems,
      };
    } finally {
      file.close();
    }
  });
}
