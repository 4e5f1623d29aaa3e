/**
 * saveModel: write tensors + provenance to a temp file next to the target,
 * close, check it reads back, fsync, rename over the target, fsync the
 * directory, all through the one publisher (lib/util/publish.ts; invariant 5). Byte-reproducible: tensors and attributes are written in a
 * fixed order and nothing time-dependent is stored (invariant 7).
 */
import { type FileHandle, open, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { File } from '../h5/file.js';
import { createSpec, type Compression } from '../h5/group.js';
import type { Dataset } from '../h5/dataset.js';
import { H5Error, withSite } from '../errors.js';
import { libraryInfo } from '../h5/runtime.js';
import {
  ATTR,
  canonicalJson,
  entriesOf,
  FORMAT_VERSION,
  packageVersion,
  TENSOR_SHA_ATTR,
  type Entry,
  type JsonValue,
  type TensorsInput,
} from './schema.js';
import {
  boundedMap,
  fileSha256,
  modelDigestOf,
  rangeSha256,
  SHA256_HEX,
  tensorSha256,
  warmHashWorkers,
} from './digest.js';
import { encodeIndex, INDEX_ATTR } from './tensor-index.js';
import { cleanStaleTemps, commitStaged, faultPoint, ioError, stageFile, startWriteback } from '../util/publish.js';
import {
  booleanOption,
  checkObject,
  checkPath,
  fileTarget,
  functionOption,
  invalid,
  isPlainObject,
  signalOption,
} from '../util/validate.js';
import { checkAbort } from '../util/abort.js';
import { type CopySource, PlacedWrites, placeable, type Sink, storageOffset } from './placed.js';

export interface SaveOptions {
  /** Codec for every tensor of rank >= 1 with at least one element (default 'none': contiguous, viewable). */
  compression?: Compression;
  /** Byte-shuffle before compressing (ignored without compression). */
  shuffle?: boolean;
  /** Your provenance (run id, data hash, hyper-parameters): JSON, stored canonically (sorted keys). */
  metadata?: Record<string, JsonValue>;
  /** Called after each tensor (or slab of a big one) with logical bytes written so far and in total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the save (H5_ABORTED); the target is untouched and the temp file removed. */
  signal?: AbortSignal;
}

export interface SaveResult {
  /** Absolute path of the saved file. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** SHA-256 (hex) of the file's bytes: pass it as loadModel's expectDigest. */
  digest: string;
  /** SHA-256 (hex) over the canonical tensor list; independent of codec and file layout. */
  modelDigest: string;
}

/** @internal validated save arguments. */
export interface PreparedSave {
  entries: Entry[];
  compression: Compression;
  shuffle: boolean;
  metadataJson: string;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * @internal The writer's provenance to record instead of this process's:
   * a content-addressed pull rebuilds a file another machine wrote, and the
   * file's bytes (so its SHA-256) include these attributes.
   */
  writer?: WriterProvenance;
  /**
   * @internal Resolves when the named tensor's data is in place (undefined:
   * it is already): a delta pull writes while its downloads arrive, and the
   * writer waits for each tensor only when its turn comes. A rejection fails
   * the write.
   */
  ready?: (name: string) => Promise<unknown> | undefined;
  /**
   * @internal For a tensor the writer places (uncompressed, 256 KiB or more):
   * a Sink that writes its bytes straight into the file as they arrive,
   * instead of `ready` (undefined: use `ready`). Asked once per such tensor,
   * after `ready` is known not to be needed for it.
   */
  sink?: (name: string) => Sink | undefined;
}

/** @internal The provenance attributes that depend on the writing process, not on the model. */
export interface WriterProvenance {
  version: string;
  hdf5: string;
  node: string;
  platform: string;
}

/** @internal a finished, fsynced temp file, not yet published. */
export interface WrittenTemp {
  temp: string;
  bytes: number;
  digest: string;
  modelDigest: string;
}

// Contiguous tensors bigger than this are written in row slabs so progress
// and abort have a useful granularity. Compressed tensors are written whole:
// partial chunk writes would re-encode chunks and change the file layout.
const SLAB_BYTES = 64 * 1024 * 1024;

/** @internal validates everything before any file is touched. */
export function prepareSave(tensors: TensorsInput, options: SaveOptions): PreparedSave {
  checkObject(options);
  const entries = entriesOf(tensors);
  const compression: Compression = options.compression ?? 'none';
  const shuffle = booleanOption(options, 'shuffle', false);
  const metadata = options.metadata ?? {};
  if (!isPlainObject(metadata)) throw invalid('options.metadata', 'a plain object of JSON values', metadata);
  const metadataJson = canonicalJson(metadata);
  functionOption(options, 'onProgress');
  signalOption(options);
  // Validate the codec against every tensor now (e.g. szip on bool) rather than halfway through the file.
  for (const e of entries) createSpec(datasetOptions(e, compression, shuffle));
  return { entries, compression, shuffle, metadataJson, onProgress: options.onProgress, signal: options.signal };
}

function isFiltered(e: Entry, compression: Compression): boolean {
  const name = typeof compression === 'string' ? compression : compression.name;
  // Scalars cannot be chunked, and empty tensors have nothing to compress.
  return name !== 'none' && e.tensor.shape.length > 0 && e.tensor.data.length > 0;
}

function datasetOptions(e: Entry, compression: Compression, shuffle: boolean) {
  const { dtype, shape } = e.tensor;
  return isFiltered(e, compression) ? { dtype, shape, compression, shuffle } : { dtype, shape };
}

// A write of more bytes than libhdf5's sieve buffer (64 KiB by default;
// h5vault never changes it) goes straight to the file with pwrite before
// H5Dwrite returns. A tensor all of whose writes are at least this big is
// therefore in the file as soon as its write resolves, and its hash can start
// while the next tensor writes (smaller ones wait for file.flush()).
const DIRECT_WRITE_BYTES = 1024 * 1024;

/** Writes one tensor; resolves true when every write went straight to the file (see DIRECT_WRITE_BYTES). */
async function writeTensor(
  ds: Dataset,
  e: Entry,
  filtered: boolean,
  p: PreparedSave,
  progress: (n: number) => void,
): Promise<boolean> {
  const { shape, data } = e.tensor;
  if (data.length === 0) return false;
  const rowElems = shape.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = rowElems * data.BYTES_PER_ELEMENT;
  if (filtered || shape.length === 0 || e.byteLength <= SLAB_BYTES || rowBytes === 0) {
    await ds.write(data, { signal: p.signal });
    progress(e.byteLength);
    return !filtered && e.byteLength >= DIRECT_WRITE_BYTES;
  }
  const rows = Math.max(1, Math.floor(SLAB_BYTES / rowBytes));
  let smallest = Number.POSITIVE_INFINITY;
  for (let r = 0; r < shape[0]!; r += rows) {
    checkAbort(p.signal, 'save');
    const n = Math.min(rows, shape[0]! - r);
    const start = [r, ...shape.slice(1).map(() => 0)];
    const count = [n, ...shape.slice(1)];
    await ds.write(data.subarray(r * rowElems, (r + n) * rowElems), { start, count, signal: p.signal });
    progress(n * rowBytes);
    smallest = Math.min(smallest, n * rowBytes);
  }
  return smallest >= DIRECT_WRITE_BYTES;
}

/** SHA-256 of a contiguous tensor's bytes as stored in the file (by a hash worker reading `fd`). */
async function storedSha256(fd: number, e: Entry, ds: Dataset): Promise<string> {
  return (await rangeSha256(fd, storageOffset(e, ds, 'hash'), e.byteLength)).hex;
}

/**
 * Per-entry SHA-256: from memory (compressed and empty tensors, already
 * computed), already started from the file (tensors written straight
 * through), or from the file now (the rest, after file.flush()).
 */
async function hashEntries(
  stored: (i: number) => Promise<string>,
  entries: Entry[],
  inMemory: Entry[],
  memShas: string[],
  started: Map<number, Promise<string>>,
): Promise<string[]> {
  const byEntry = new Map(inMemory.map((e, i) => [e, memShas[i]!]));
  const idx = entries.map((_, i) => i).filter((i) => !byEntry.has(entries[i]!) && !started.has(i));
  const fromFile = await boundedMap(idx, (i) => entries[i]!.byteLength, stored);
  const shas = entries.map((e) => byEntry.get(e) ?? '');
  idx.forEach((i, k) => {
    shas[i] = fromFile[k]!;
  });
  for (const [i, sha] of started) shas[i] = await sha;
  return shas;
}

/**
 * @internal Writes the model to a fresh temp file next to `target` through
 * the publisher's first half (lib/util/publish.ts): written, closed, hashed,
 * CHECKED (it must read back as written: its tensor index, which lists every
 * name, is compared with what was encoded), then given the mode and owner of
 * `modeOf` (default: `target`, the file it will replace) and fsynced.
 * `check` adds the caller's own verification (convert's end-to-end SHA-256).
 * On any failure the temp file is removed.
 */
export async function writeTemp(
  target: string,
  p: PreparedSave,
  modeOf: string = target,
  check?: (temp: string, w: WrittenTemp) => Promise<void>,
): Promise<WrittenTemp> {
  let indexText = '';
  const staged = await stageFile(target, {
    modeOf,
    signal: p.signal,
    write: async (temp) => {
      const r = await writeModelFile(target, temp, p);
      indexText = r.indexText;
      return r.written;
    },
    check: async (temp, w) => {
      readsBackAsWritten(target, temp, indexText);
      await check?.(temp, w);
    },
  });
  return staged.result;
}

/** The check every saved model passes before it can replace anything: its index (every tensor's name, dtype, shape, offset, SHA-256) reads back as written. */
function readsBackAsWritten(target: string, temp: string, indexText: string): void {
  const f = File.open(temp);
  try {
    const back = f.attrs.has(INDEX_ATTR) ? f.attrs.get(INDEX_ATTR) : undefined;
    if (back !== indexText) {
      throw new H5Error(
        `the model written for '${target}' does not read back as written (its tensor index differs): nothing was published`,
        { code: 'H5_CORRUPT' },
      );
    }
  } finally {
    f.close();
  }
}

/**
 * @internal Writes the model into `temp` (a path nothing else uses) and
 * hashes it, without the read-back check or publishing: for a caller that
 * checks the result against a known file SHA-256 instead (a content-addressed
 * pull, lib/model/store/cas.ts, whose cache publishes through lib/util/publish.ts).
 */
export async function writeModelInto(
  temp: string,
  p: PreparedSave,
  knownSha256?: ReadonlyMap<string, string>,
  copyFrom?: CopySource,
): Promise<WrittenTemp> {
  return (await writeModelFile(temp, temp, p, knownSha256, copyFrom)).written;
}

/**
 * `knownSha256` (tensor name -> SHA-256) is taken as each tensor's hash
 * instead of hashing it: only writeModelInto passes it, for a caller that
 * checked each tensor's bytes against that hash already and checks the whole
 * file's SHA-256 against an independently known one before anything uses the
 * file (a content-addressed pull: the file hash covers every byte, so a wrong
 * hash here can only make the file mismatch, never pass). saveModel and
 * writeTemp never pass it: a normal save always hashes the caller's data.
 */
async function writeModelFile(
  target: string,
  temp: string,
  p: PreparedSave,
  knownSha256?: ReadonlyMap<string, string>,
  copyFrom?: CopySource,
): Promise<{ written: WrittenTemp; indexText: string }> {
  const known = knownSha256 ? p.entries.map((e) => knownSha256.get(e.name)) : undefined;
  if (known?.some((h) => h === undefined || !SHA256_HEX.test(h)))
    throw new TypeError('writeModelInto: knownSha256 must give a SHA-256 for every tensor');
  if (copyFrom && !known) throw new TypeError('writeModelInto: copyFrom needs knownSha256');
  warmHashWorkers();
  const where = { path: target, temp };
  const total = p.entries.reduce((a, e) => a + e.byteLength, 0);
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    p.onProgress?.(done, total);
  };
  // Tensors stored contiguous are hashed from the file by worker threads (no
  // copy on the event loop, and the hash covers what is really in the file),
  // each as soon as its bytes are in the file, while the next one writes.
  // Compressed tensors are only available as input memory: they hash through
  // WebCrypto, on the libuv pool, during the writes.
  const inMemory = known ? [] : p.entries.filter((e) => isFiltered(e, p.compression) || e.byteLength === 0);
  const hashing = boundedMap(
    inMemory,
    (e) => e.byteLength,
    (e) => tensorSha256(e.tensor.data),
  );
  hashing.catch(() => {}); // observed below; avoid an unhandled rejection if a write fails first
  // Work that reads `reader`'s fd in the background: all of it settles before the fd closes.
  const background: Promise<unknown>[] = [];
  const inBackground = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => {}); // observed where awaited, or settled in the cleanup below
    background.push(work);
    return work;
  };
  const started = new Map<number, Promise<string>>();
  // Tensors written outside libhdf5 (only with known hashes: they are never hashed here).
  const placed = known ? new PlacedWrites(temp, p.signal, progress) : undefined;
  let file: File | undefined;
  let reader: FileHandle | undefined;
  try {
    checkAbort(p.signal, 'save');
    await faultPoint('create', where);
    file = File.create(temp);
    reader = await open(temp, 'r');
    const fd = reader.fd;
    const groups = new Set<string>();
    const datasets: Dataset[] = [];
    for (const [k, e] of p.entries.entries()) {
      checkAbort(p.signal, 'save');
      await faultPoint('write', { ...where, tensor: e.name });
      // Parent groups are created explicitly, in name order, with h5vault's
      // group settings (no timestamps), never as libhdf5 intermediate groups.
      for (let i = e.name.indexOf('/'); i >= 0; i = e.name.indexOf('/', i + 1)) {
        const g = e.name.slice(0, i);
        if (!groups.has(g)) {
          file.createGroup(g);
          groups.add(g);
        }
      }
      const filtered = isFiltered(e, p.compression);
      const ds = file.createDataset(e.name, datasetOptions(e, p.compression, p.shuffle));
      datasets.push(ds);
      const from = copyFrom?.offsets.get(e.name);
      const sink = placed && from === undefined && placeable(e, filtered) ? p.sink?.(e.name) : undefined;
      const arrival = sink ? undefined : p.ready?.(e.name);
      // A tensor still arriving does not hold up the ones after it: its range is allocated now and written when it is in.
      const src = from !== undefined ? { fd: copyFrom!.fd, from } : sink ? { sink } : arrival && { arrival };
      if (placed && src && !filtered && (await placed.place(ds, e, src))) continue;
      if (sink) throw new Error(`bug: tensor '${e.name}' was offered a sink but not placed`);
      await arrival;
      if ((await writeTensor(ds, e, filtered, p, progress)) && !known)
        started.set(k, inBackground(storedSha256(fd, e, ds)));
    }
    file.flush(); // contiguous data leaves libhdf5's sieve buffer for the file
    await placed?.finish();
    await placed?.close();
    if (copyFrom) copyFrom.copied = (copyFrom.copied ?? 0) + placed!.copied;
    // The disk writes the tensors while they hash and the attributes go in:
    // without this the kernel would hold them until the publish's fsync
    // (a model is far below the dirty-page threshold), which then waits for all of it.
    const writeback = inBackground(startWriteback(reader));
    const shas = known
      ? (known as string[])
      : await hashEntries(
          (i) => inBackground(storedSha256(fd, p.entries[i]!, datasets[i]!)),
          p.entries,
          inMemory,
          await hashing,
          started,
        );
    checkAbort(p.signal, 'save');
    await faultPoint('attrs', where);
    // Attributes in name order after all data: the order of libhdf5 calls
    // fixes the file layout, so it must not depend on which hash finished first.
    datasets.forEach((ds, i) => {
      ds.attrs.set(TENSOR_SHA_ATTR, shas[i]!);
    });
    const modelDigest = modelDigestOf(
      p.entries.map((e, i) => ({ name: e.name, dtype: e.tensor.dtype, shape: e.tensor.shape, sha256: shas[i]! })),
    );
    const a = file.attrs;
    a.set(ATTR.format, FORMAT_VERSION);
    const w = p.writer;
    a.set(ATTR.version, w?.version ?? packageVersion());
    a.set(ATTR.hdf5, w?.hdf5 ?? libraryInfo().hdf5);
    a.set(ATTR.node, w?.node ?? process.version);
    a.set(ATTR.platform, w?.platform ?? `${process.platform}-${process.arch}`);
    a.set(ATTR.tensors, p.entries.length);
    a.set(ATTR.bytes, total);
    a.set(ATTR.modelDigest, modelDigest);
    a.set(ATTR.metadata, p.metadataJson);
    // Last, after everything it describes: the tensor index (tensor-index.ts)
    // lets loadModel map every tensor without opening each dataset.
    const indexText = encodeIndex(
      p.entries.map((e, i) => ({
        name: e.name,
        dtype: e.tensor.dtype,
        shape: e.tensor.shape,
        offset: isFiltered(e, p.compression) || e.byteLength === 0 ? null : datasets[i]!.offset,
        bytes: e.byteLength,
        sha256: shas[i]!,
      })),
    );
    a.set(INDEX_ATTR, indexText);
    await faultPoint('close', where);
    const f = file;
    file = undefined;
    await f.closeAsync();
    // The whole file's hash reads it back while the disk takes what the close wrote.
    const [hashed] = await Promise.all([inBackground(fileSha256(fd)), writeback, inBackground(startWriteback(reader))]);
    await reader.close();
    reader = undefined;
    return { written: { temp, bytes: hashed.size, digest: hashed.hex, modelDigest }, indexText };
  } catch (e) {
    await placed?.close().catch(() => {}); // before the truncate: no placed write lands after it
    if (file) {
      // Free the temp's blocks before closing: on a full disk, libhdf5's close
      // must still flush its metadata, and if that fails too it keeps the
      // file open (holding the space of a file we are about to unlink).
      await truncate(temp, 0).catch(() => {});
      await file.closeAsync().catch(() => {});
    }
    await hashing.catch(() => {});
    await Promise.allSettled(background); // hash workers read the fd: it stays open until they are done
    await reader?.close().catch(() => {});
    throw ioError(e, `cannot save '${target}'`);
  }
}

/**
 * Saves tensors to `path` atomically and durably: readers see the old file or
 * the complete new one, never a mix, and after the promise resolves the new
 * file survives a crash or power loss. See docs/model-storage.md.
 *
 * @example
 *   const res = await saveModel('model.h5', { 'dense/kernel': { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) } },
 *     { compression: 'gzip', metadata: { run: 'r42' } });
 */
export async function saveModel(path: string, tensors: TensorsInput, options: SaveOptions = {}): Promise<SaveResult> {
  const site = new Error();
  checkPath(path);
  const p = prepareSave(tensors, options);
  return withSite(site, async () => {
    const target = fileTarget(path);
    const dir = dirname(target);
    await cleanStaleTemps(dir);
    const w = await writeTemp(target, p);
    // The caller named `path` as the output: replacing it is what they asked for.
    await commitStaged(w.temp, target, { overwrite: true, signal: p.signal });
    return { path: target, bytes: w.bytes, digest: w.digest, modelDigest: w.modelDigest };
  });
}
