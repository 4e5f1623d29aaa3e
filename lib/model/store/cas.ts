/**
 * The content-addressed layout of the S3 model store (docs/object-storage.md#content-addressed-layout):
 *
 *   PREFIX/blobs/sha256/<ab>/<sha256>/<nonce>   one copy of a tensor's logical little-endian bytes
 *   PREFIX/gc/condemned/<ab>/<sha256>/<nonce>   gc's mark on that copy: no publisher may start using it
 *   PREFIX/NAME/versions/v000042.json           the manifest (format 2): tensors, their objects, how to rebuild
 *
 * A version is its manifest: the .h5 is rebuilt on the puller byte for byte by
 * the reproducible writer and checked against the manifest's file SHA-256.
 * Copies carry a nonce because a copy gc has condemned is never revived: a
 * publisher that needs those bytes uploads a new copy, so a stale gc decision
 * can only delete a copy no publisher started using after the mark.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3ClientLike } from '../../remote/options.js';
import { H5Error } from '../../errors.js';
import { loadS3, loadStorage } from '../../remote/sdk.js';
import type { RetryOptions } from '../../remote/retry.js';
import { boundedMap, leBytes, SHA256_HEX, tensorSha256 } from '../digest.js';
import { ARRAY_TYPES, typedArrayOf, type NumericDType, type TypedArray } from '../../h5/dtypes.js';
import type { Compression } from '../../h5/group.js';
import { prepareSave, writeModelInto, type WriterProvenance } from '../save.js';
import type { CopySource } from '../placed.js';
import type { Entry, JsonValue, Tensor } from '../schema.js';
import { createHash } from 'node:crypto';
import { checkAbort } from '../../util/abort.js';

/** What the S3 store moved and asked, since it was opened (`store.stats()`). */
export interface TransferStats {
  /** PutObject requests (tensor objects, whole files counted once per upload, records). */
  puts: number;
  gets: number;
  heads: number;
  lists: number;
  deletes: number;
  /** Payload bytes sent: tensor objects and whole files (records not counted). */
  bytesUploaded: number;
  /** Payload bytes received: tensor objects and whole files (records not counted). */
  bytesDownloaded: number;
  /** Tensor objects uploaded / found in the bucket and reused by a publish. */
  tensorsUploaded: number;
  tensorsReused: number;
  /** Tensor objects downloaded / taken from a cached earlier version by a pull. */
  tensorsDownloaded: number;
  tensorsFromCache: number;
  /**
   * Bytes of those reused tensors the kernel copied from the cached file into
   * the rebuilt one (copy_file_range), instead of writing them from memory:
   * uncompressed tensors of 256 KiB or more, less the prefix libhdf5 writes.
   */
  bytesCopied: number;
}

export const newStats = (): TransferStats => ({
  puts: 0,
  gets: 0,
  heads: 0,
  lists: 0,
  deletes: 0,
  bytesUploaded: 0,
  bytesDownloaded: 0,
  tensorsUploaded: 0,
  tensorsReused: 0,
  tensorsDownloaded: 0,
  tensorsFromCache: 0,
  bytesCopied: 0,
});

/** What cas.ts needs of the store: its client, bucket, key prefixing and retries. */
export interface CasContext {
  // The structural stand-in, not the SDK's S3Client: this file's declarations are
  // published (its stats and manifest types are public), and the SDK is an
  // optional peer whose types must not leak into them.
  s3: S3ClientLike;
  bucket: string;
  key(rel: string): string;
  retry<T>(fn: () => Promise<T>, what: string, o?: RetryOptions): Promise<T>;
  stats: TransferStats;
  concurrency: number;
  partBytes: number;
  /** The GC grace period: a publisher commits within half of it from checking the objects it reuses. */
  graceMs: number;
}

/** One tensor of a format-2 manifest. */
export interface CasTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** SHA-256 of the logical little-endian bytes (the file's h5vault.sha256 attribute). */
  sha256: string;
  bytes: number;
  /** The tensor object's key, relative to the store prefix. */
  object: string;
}

/** Everything the reproducible writer needs besides the tensors to rebuild the file byte for byte. */
export interface RebuildRecipe {
  compression: Compression;
  shuffle: boolean;
  /** The metadata exactly as written (canonical JSON). */
  metadataJson: string;
  writer: WriterProvenance;
}

/**
 * @internal test-only (test/s3/store.cas.test.ts): runs between a publisher's
 * check of its tensor objects and its manifest's creation, where a slow
 * publisher would be paused. Not exported from the package.
 */
export const casTestHooks: { beforeCommit?: () => Promise<void> } = {};

export const BLOB_ROOT = 'blobs/sha256/';
export const CONDEMNED_ROOT = 'gc/condemned/';
const BLOB_REL_RE = /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})\/([0-9a-f]{16})$/;

export function blobPrefix(sha: string): string {
  return `${BLOB_ROOT}${sha.slice(0, 2)}/${sha}/`;
}

/** A tensor object key is ours if it is blobs/sha256/<ab>/<sha>/<nonce> with <ab> the sha's first byte. */
export function isBlobKey(rel: unknown, sha?: string): rel is string {
  if (typeof rel !== 'string') return false;
  const m = BLOB_REL_RE.exec(rel);
  return !!m && m[2]!.startsWith(m[1]!) && (sha === undefined || m[2] === sha);
}

export const condemnedKey = (blobRel: string): string => CONDEMNED_ROOT + blobRel.slice(BLOB_ROOT.length);
export const blobOfCondemned = (rel: string): string => BLOB_ROOT + rel.slice(CONDEMNED_ROOT.length);

/** Every key under `rel` (relative to the store prefix) with its size and last-modified time. */
export async function listAll(
  ctx: CasContext,
  rel: string,
): Promise<{ rel: string; size: number; lastModified: number }[]> {
  const { ListObjectsV2Command } = loadS3();
  const base = ctx.key(rel);
  const strip = ctx.key('').length;
  const out: { rel: string; size: number; lastModified: number }[] = [];
  let token: string | undefined;
  do {
    ctx.stats.lists++;
    const r = await ctx.retry(
      () => ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: base, ContinuationToken: token })),
      `cannot list s3://${ctx.bucket}/${base}`,
    );
    for (const o of r.Contents ?? [])
      out.push({ rel: o.Key!.slice(strip), size: Number(o.Size), lastModified: o.LastModified?.getTime() ?? 0 });
    token = r.NextContinuationToken;
  } while (token);
  return out;
}

interface UploadItem {
  sha256: string;
  bytes: number;
  data: Uint8Array;
}

/**
 * Delta publish, step 1: makes every tensor present as an uncondemned object
 * and returns their keys. The condemned marks are listed first, then each
 * tensor's copies (so a copy we reuse existed after we saw it unmarked);
 * tensors without a usable copy are uploaded as a new copy. `checkedAt`
 * (performance.now()) starts the publisher's window: its manifest must be
 * created before checkedAt + graceMs / 2, else this runs again.
 */
export async function ensureTensorObjects(
  ctx: CasContext,
  items: UploadItem[],
  signal?: AbortSignal,
  onProgress?: (sent: number, total: number) => void,
): Promise<{ keys: Map<string, string>; checkedAt: number }> {
  const checkedAt = performance.now();
  const unique = [...new Map(items.map((i) => [i.sha256, i])).values()];
  const condemned = new Set((await listAll(ctx, CONDEMNED_ROOT)).map((c) => blobOfCondemned(c.rel)));
  const total = unique.reduce((a, i) => a + i.bytes, 0);
  let sent = 0;
  const keys = new Map<string, string>();
  await boundedMap(
    unique,
    (i) => i.bytes,
    async (item) => {
      checkAbort(signal, 'save');
      const copies = await listAll(ctx, blobPrefix(item.sha256));
      const usable = copies.find(
        (c) => isBlobKey(c.rel, item.sha256) && c.size === item.bytes && !condemned.has(c.rel),
      );
      if (usable) {
        ctx.stats.tensorsReused++;
        keys.set(item.sha256, usable.rel);
      } else {
        const rel = `${blobPrefix(item.sha256)}${randomBytes(8).toString('hex')}`;
        await putObject(ctx, rel, item.data, signal);
        ctx.stats.tensorsUploaded++;
        keys.set(item.sha256, rel);
      }
      sent += item.bytes;
      onProgress?.(sent, total);
    },
    ctx.concurrency,
  );
  return { keys, checkedAt };
}

async function putObject(ctx: CasContext, rel: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  const key = ctx.key(rel);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const what = `cannot upload s3://${ctx.bucket}/${key}`;
  if (data.byteLength > ctx.partBytes) {
    // Big tensors go up in parallel parts (one object; S3's single PUT stops at 5 GiB).
    const { Upload } = loadStorage();
    await ctx.retry(
      async () => {
        const up = new Upload({
          client: ctx.s3 as S3Client,
          params: { Bucket: ctx.bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
          queueSize: ctx.concurrency,
          partSize: ctx.partBytes,
          leavePartsOnError: false,
        });
        await up.done();
      },
      what,
      { signal },
    );
  } else {
    const { PutObjectCommand } = loadS3();
    await ctx.retry(
      () =>
        ctx.s3.send(
          new PutObjectCommand({
            Bucket: ctx.bucket,
            Key: key,
            Body: body,
            ContentLength: body.length,
            ContentType: 'application/octet-stream',
          }),
          { abortSignal: signal },
        ),
      what,
      { signal },
    );
  }
  ctx.stats.puts++;
  ctx.stats.bytesUploaded += data.byteLength;
}

/** The tensors to upload, from the validated save input (their bytes are the input's memory, no copy). */
export function uploadItems(entries: Entry[], shaByName: Map<string, string>): (UploadItem & { entry: Entry })[] {
  return entries.map((e) => {
    const sha = shaByName.get(e.name);
    if (!sha || !SHA256_HEX.test(sha))
      throw new H5Error(`tensor '${e.name}' has no SHA-256 in the written file`, { code: 'H5_ERROR' });
    return { sha256: sha, bytes: e.byteLength, data: leBytes(e.tensor.data), entry: e };
  });
}

/** A counting semaphore: at most `n` holders at once (the GETs of one pull share the store's concurrency). */
function slots(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let free = n;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await fn();
    } finally {
      const w = waiting.shift();
      if (w) w();
      else free++;
    }
  };
}

/**
 * GETs one tensor object into `ab` (t.bytes long; fresh memory by default)
 * and checks its size and SHA-256.
 * An object bigger than two parts is fetched as parallel ranges of partBytes
 * (each through `slot`, so one big tensor uses every connection the pull may
 * open, and several tensors never open more than that).
 */
async function fetchTensor(
  ctx: CasContext,
  t: CasTensor,
  slot: <T>(fn: () => Promise<T>) => Promise<T>,
  signal?: AbortSignal,
  ab: ArrayBuffer = new ArrayBuffer(t.bytes),
): Promise<ArrayBuffer> {
  const { GetObjectCommand } = loadS3();
  const key = ctx.key(t.object);
  const buf = new Uint8Array(ab);
  const part = t.bytes > 2 * ctx.partBytes ? ctx.partBytes : Math.max(1, t.bytes);
  const ranges: [number, number][] = [];
  for (let at = 0; at < t.bytes || ranges.length === 0; at += part) ranges.push([at, Math.min(t.bytes, at + part)]);
  const whole = ranges.length === 1;
  const getRange = async ([start, end]: [number, number]): Promise<void> => {
    let pos = start;
    await ctx.retry(
      async () => {
        ctx.stats.gets++;
        // A dropped connection resumes where it stopped.
        const range = whole ? (pos > 0 ? `bytes=${pos}-` : undefined) : `bytes=${pos}-${end - 1}`;
        const r = await ctx.s3.send(
          new GetObjectCommand({ Bucket: ctx.bucket, Key: key, ...(range ? { Range: range } : {}) }),
          { abortSignal: signal },
        );
        for await (const chunk of r.Body as AsyncIterable<Uint8Array>) {
          if (pos + chunk.length > end) {
            throw new H5Error(
              `tensor '${t.name}': s3://${ctx.bucket}/${key} is larger than the ${t.bytes} bytes its manifest says; refusing it`,
              { code: 'H5_CHECKSUM_MISMATCH', expected: t.sha256 },
            );
          }
          buf.set(chunk, pos);
          pos += chunk.length;
          ctx.stats.bytesDownloaded += chunk.length;
        }
        if (pos !== end)
          throw Object.assign(new Error(`premature close: ${pos} of ${end} bytes`), {
            code: 'ERR_STREAM_PREMATURE_CLOSE',
          });
      },
      `cannot download s3://${ctx.bucket}/${key}`,
      { signal },
    );
  };
  if (whole) await slot(() => getRange(ranges[0]!));
  else await Promise.all(ranges.map((r) => slot(() => getRange(r))));
  const hex = createHash('sha256').update(buf).digest('hex');
  if (hex !== t.sha256) {
    throw new H5Error(
      `tensor '${t.name}': s3://${ctx.bucket}/${key} does not match the SHA-256 its manifest names (expected ${t.sha256}, got ${hex}); it was changed or corrupted on the server: nothing was cached`,
      { code: 'H5_CHECKSUM_MISMATCH', expected: t.sha256, actual: hex },
    );
  }
  ctx.stats.tensorsDownloaded++;
  return ab;
}

/** The cached base version's file, open, and where each reused tensor's bytes lie in it (by SHA-256). */
export interface CachedFile {
  fd: number;
  offsets: Map<string, number>;
}

/** The error of a fetch that `stop` (or the caller's signal) cut short: not the cause of a failure. */
const isAbort = (e: unknown): boolean =>
  (e instanceof H5Error && e.code === 'H5_ABORTED') || (e as Error | undefined)?.name === 'AbortError';

/**
 * Delta pull: rebuilds the manifest's file into `temp` and resolves to its
 * SHA-256 (the cache compares it with the manifest's before renaming it in).
 * Tensors whose bytes a cached earlier version holds (`base.tensors`: by
 * SHA-256, its mapped memory) are reused; the others are fetched whole,
 * `concurrency` at a time, each checked against its SHA-256 on arrival. The
 * writer takes every tensor's SHA-256 from the manifest instead of hashing
 * 256 MiB again: the file's SHA-256, which the caller checks, covers every
 * byte. With `base.file` (the cached file open, and where each reused
 * tensor's bytes lie in it) the first write has the kernel copy the reused
 * tensors file to file, which costs a fraction of writing them from the
 * mapping (every page of which would fault in). If the file hash then differs
 * from `expected`, it is written again from memory; if it still differs, the
 * reused tensors are hashed (a cached file damaged on disk since it was
 * verified, or a base manifest that lies): those that differ are fetched and
 * the file is written once more.
 */
export async function rebuildInto(
  ctx: CasContext,
  temp: string,
  m: { tensors: CasTensor[]; rebuild: RebuildRecipe },
  expected: string,
  base: { tensors: Map<string, TypedArray>; file?: CachedFile } | undefined,
  signal?: AbortSignal,
  onProgress?: (received: number, total: number) => void,
): Promise<string> {
  const bySha = new Map<string, CasTensor>();
  for (const t of m.tensors) if (!bySha.has(t.sha256)) bySha.set(t.sha256, t);
  const have = new Map<string, ArrayBuffer | TypedArray>();
  if (base)
    for (const t of bySha.values())
      if (base.tensors.get(t.sha256)?.byteLength === t.bytes) have.set(t.sha256, base.tensors.get(t.sha256)!);
  let total = [...bySha.values()].reduce((a, t) => a + (have.has(t.sha256) ? 0 : t.bytes), 0);
  let received = 0;
  const slot = slots(ctx.concurrency);
  // The writer does not wait for the downloads: each missing tensor gets its
  // buffer now and is fetched into it, all of them queued on `slot` in the
  // manifest's (name) order, and the writer waits for each one only when its
  // turn comes, while it lays out, copies and writes the tensors before it.
  // One failure aborts the others (`stop`) and is the one reported.
  const arriving = new Map<string, Promise<unknown>>();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const fetchMissing = (): void => {
    for (const t of bySha.values()) {
      if (have.has(t.sha256)) continue;
      const ab = new ArrayBuffer(t.bytes);
      have.set(t.sha256, ab);
      const done = fetchTensor(ctx, t, slot, stop.signal, ab).then(() => {
        received += t.bytes;
        onProgress?.(received, total);
      });
      done.catch(() => stop.abort());
      arriving.set(t.sha256, done);
    }
  };
  const arrived = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (e) {
      stop.abort();
      const first = await Promise.allSettled(arriving.values()).then(
        (r) => r.find((x): x is PromiseRejectedResult => x.status === 'rejected' && !isAbort(x.reason))?.reason,
      );
      throw first ?? e;
    }
  };
  const shaOf = new Map(m.tensors.map((t) => [t.name, t.sha256]));
  const write = async (copy?: CachedFile): Promise<string> => {
    const tensors = new Map<string, Tensor>();
    for (const t of m.tensors) {
      const src = have.get(t.sha256)!;
      const dtype = t.dtype as NumericDType;
      const C = ARRAY_TYPES[dtype];
      const data =
        src instanceof ArrayBuffer
          ? typedArrayOf(dtype, src)
          : src instanceof C
            ? src // the cached version's mapped memory, no copy
            : // The same bytes under another dtype (identical bytes may be two tensors of different dtypes).
              src.byteOffset % C.BYTES_PER_ELEMENT === 0
              ? new C(src.buffer as ArrayBuffer, src.byteOffset, src.byteLength / C.BYTES_PER_ELEMENT)
              : typedArrayOf(dtype, src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength) as ArrayBuffer);
      tensors.set(t.name, { dtype, shape: t.shape, data } as Tensor);
    }
    const p = prepareSave(tensors, {
      compression: m.rebuild.compression,
      shuffle: m.rebuild.shuffle,
      metadata: JSON.parse(m.rebuild.metadataJson) as Record<string, JsonValue>,
      signal,
    });
    p.metadataJson = m.rebuild.metadataJson;
    p.writer = m.rebuild.writer;
    p.ready = (name) => arriving.get(shaOf.get(name)!);
    // Reused tensors copied file to file where the cached file holds them (by name here).
    const copyFrom: CopySource | undefined = copy && {
      fd: copy.fd,
      offsets: new Map(
        m.tensors.flatMap((t): [string, number][] => {
          const at = have.get(t.sha256) instanceof ArrayBuffer ? undefined : copy.offsets.get(t.sha256);
          return at === undefined ? [] : [[t.name, at]];
        }),
      ),
    };
    // Every tensor's bytes match this hash: fetched ones were checked on arrival, reused ones are checked below if the file differs.
    const w = await writeModelInto(temp, p, shaOf, copyFrom);
    if (w.digest === expected) ctx.stats.bytesCopied += copyFrom?.copied ?? 0;
    return w.digest;
  };
  try {
    fetchMissing();
    let hex = await arrived(write(base?.file));
    if (hex !== expected && base?.file) {
      await rm(temp, { force: true }); // the writer creates its file afresh
      hex = await write();
    }
    return await checkReused(hex);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  async function checkReused(hex: string): Promise<string> {
    const reused = [...have].filter(([, v]) => !(v instanceof ArrayBuffer));
    if (hex !== expected && reused.length > 0) {
      const ok = await boundedMap(
        reused,
        ([, v]) => v.byteLength,
        async ([sha, v]) => (await tensorSha256(v as TypedArray)) === sha,
      );
      const bad = reused.filter((_, i) => !ok[i]);
      if (bad.length > 0) {
        for (const [sha, v] of bad) {
          have.delete(sha);
          total += v.byteLength;
        }
        fetchMissing();
        await rm(temp, { force: true }); // the writer creates its file afresh
        hex = await arrived(write());
      }
    }
    ctx.stats.tensorsFromCache += [...have.values()].filter((v) => !(v instanceof ArrayBuffer)).length;
    return hex;
  }
}
