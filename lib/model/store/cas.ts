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
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3ClientLike } from '../../remote/options.js';
import { H5Error } from '../../errors.js';
import { loadS3, loadStorage } from '../../remote/sdk.js';
import type { RetryOptions } from '../../remote/retry.js';
import { boundedMap, leBytes, SHA256_HEX, tensorSha256 } from '../digest.js';
import type { Compression } from '../../h5/group.js';
import type { WriterProvenance } from '../save.js';
import type { Entry } from '../schema.js';
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
  /** A publish cuts tensors bigger than this into pieces of this size (Infinity: never). */
  chunkBytes: number;
}

/** One tensor of a format-2 manifest. */
export interface CasTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** SHA-256 of the logical little-endian bytes (the file's h5vault.sha256 attribute). */
  sha256: string;
  bytes: number;
  /** The tensor object's key, relative to the store prefix (a tensor stored whole). */
  object?: string;
  /**
   * A bigger tensor is cut every `chunkBytes` bytes (the last piece may be
   * shorter) and each piece is an object of its own, keyed by its SHA-256:
   * a fine-tune that changes a block of rows uploads and downloads only the
   * pieces it touched (docs/object-storage.md#chunks-of-big-tensors).
   */
  chunkBytes?: number;
  chunks?: CasChunk[];
}

/** One piece of a chunked tensor: its SHA-256 and the object holding it. */
export interface CasChunk {
  sha256: string;
  object: string;
}

/** The smallest piece a manifest may name: a GET per few bytes would make a pull crawl. */
export const MIN_CHUNK_BYTES = 64 * 1024;

/**
 * By default, tensors bigger than this are stored as pieces of this size. Measured on
 * fine-tune-like changes (bench/dedup.mjs, docs/benchmarks.md): 1 MiB pieces
 * upload 2.4% of a 254 MiB model for a 1.5% block of embedding rows, against
 * 24.6% as whole tensors and 2.1% as 256 KiB pieces, with a quarter of the
 * objects (each costs a LIST at publish and a GET at pull); content-defined
 * cuts do no better on tensors, whose bytes never shift.
 */
export const CHUNK_BYTES = 1024 * 1024;

/** Where each piece of a tensor of `bytes` bytes starts and ends. */
export function chunkRanges(bytes: number, chunkBytes: number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at < bytes; at += chunkBytes) out.push([at, Math.min(bytes, at + chunkBytes)]);
  return out;
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

/** One tensor of a publish: its SHA-256 and, if it is chunked, its pieces' SHA-256s (in order). */
export interface PlannedTensor {
  entry: Entry;
  sha256: string;
  bytes: number;
  chunks?: string[];
}

/**
 * The objects a publish needs, from the validated save input (their bytes are
 * the input's memory, no copy): one per tensor of at most `chunkBytes`, one per
 * piece of a bigger one (its pieces are hashed here, on the libuv pool).
 */
export async function uploadPlan(
  entries: Entry[],
  shaByName: Map<string, string>,
  chunkBytes: number,
  signal?: AbortSignal,
): Promise<{ items: UploadItem[]; tensors: PlannedTensor[] }> {
  const tensors = entries.map((e): PlannedTensor & { data: Uint8Array } => {
    const sha = shaByName.get(e.name);
    if (!sha || !SHA256_HEX.test(sha))
      throw new H5Error(`tensor '${e.name}' has no SHA-256 in the written file`, { code: 'H5_ERROR' });
    return { entry: e, sha256: sha, bytes: e.byteLength, data: leBytes(e.tensor.data) };
  });
  const items: UploadItem[] = [];
  const pieces: { t: (typeof tensors)[number]; i: number; data: Uint8Array }[] = [];
  for (const t of tensors) {
    if (t.bytes <= chunkBytes) {
      items.push({ sha256: t.sha256, bytes: t.bytes, data: t.data });
      continue;
    }
    const ranges = chunkRanges(t.bytes, chunkBytes);
    t.chunks = new Array<string>(ranges.length);
    for (const [i, [a, b]] of ranges.entries()) pieces.push({ t, i, data: t.data.subarray(a, b) });
  }
  const shas = await boundedMap(
    pieces,
    (p) => p.data.byteLength,
    async (p) => {
      checkAbort(signal, 'save');
      return tensorSha256(p.data);
    },
  );
  pieces.forEach((p, k) => {
    p.t.chunks![p.i] = shas[k]!;
    items.push({ sha256: shas[k]!, bytes: p.data.byteLength, data: p.data });
  });
  return { items, tensors: tensors.map(({ data: _, ...t }) => t) };
}
