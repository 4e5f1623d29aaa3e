/**
 * The pull side of the content-addressed layout (cas.ts holds the layout, the
 * manifest's types and the publish): fetches the objects a version lacks,
 * each checked against its SHA-256, and rebuilds the file byte for byte with
 * the reproducible writer, taking what a cached version holds.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { H5Error } from '../../errors.js';
import { loadS3 } from '../../remote/sdk.js';
import { boundedMap, tensorSha256 } from '../digest.js';
import { ARRAY_TYPES, typedArrayOf, type NumericDType, type TypedArray } from '../../h5/dtypes.js';
import { prepareSave, writeModelInto } from '../save.js';
import type { CopySource, Sink } from '../placed.js';
import type { JsonValue, Tensor } from '../schema.js';
import { chunkRanges, type CasContext, type CasTensor, type RebuildRecipe } from './cas.js';

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
 * GETs one object (a tensor, or one piece of a chunked tensor: `what` names
 * it) into `into` (exactly its size) and checks its size and SHA-256.
 * An object bigger than two parts is fetched as parallel ranges of partBytes
 * (each through `slot`, so one big tensor uses every connection the pull may
 * open, and several tensors never open more than that).
 */
async function fetchObject(
  ctx: CasContext,
  what: string,
  o: { object: string; sha256: string },
  into: Uint8Array,
  slot: <T>(fn: () => Promise<T>) => Promise<T>,
  signal?: AbortSignal,
): Promise<void> {
  const { GetObjectCommand } = loadS3();
  const key = ctx.key(o.object);
  const bytes = into.byteLength;
  const part = bytes > 2 * ctx.partBytes ? ctx.partBytes : Math.max(1, bytes);
  const ranges: [number, number][] = [];
  for (let at = 0; at < bytes || ranges.length === 0; at += part) ranges.push([at, Math.min(bytes, at + part)]);
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
              `${what}: s3://${ctx.bucket}/${key} is larger than the ${bytes} bytes its manifest says; refusing it`,
              { code: 'H5_CHECKSUM_MISMATCH', expected: o.sha256 },
            );
          }
          into.set(chunk, pos);
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
  const hex = createHash('sha256').update(into).digest('hex');
  if (hex !== o.sha256) {
    throw new H5Error(
      `${what}: s3://${ctx.bucket}/${key} does not match the SHA-256 its manifest names (expected ${o.sha256}, got ${hex}); it was changed or corrupted on the server: nothing was cached`,
      { code: 'H5_CHECKSUM_MISMATCH', expected: o.sha256, actual: hex },
    );
  }
  ctx.stats.tensorsDownloaded++;
}

/**
 * Fills `ab` (t.bytes long) with tensor `t`: its one object, or each of its
 * pieces, taken from `cached` (pieces by SHA-256 that a cached version holds:
 * copied, not checked here, see rebuildInto) or fetched and checked. Resolves
 * to the SHA-256s of the pieces taken from `cached`.
 */
async function fetchTensor(
  ctx: CasContext,
  t: CasTensor,
  ab: ArrayBuffer,
  slot: <T>(fn: () => Promise<T>) => Promise<T>,
  signal: AbortSignal | undefined,
  cached: ReadonlyMap<string, Uint8Array> | undefined,
): Promise<string[]> {
  const buf = new Uint8Array(ab);
  if (!t.chunks) {
    await fetchObject(ctx, `tensor '${t.name}'`, { object: t.object!, sha256: t.sha256 }, buf, slot, signal);
    return [];
  }
  const reused: string[] = [];
  const ranges = chunkRanges(t.bytes, t.chunkBytes!);
  await Promise.all(
    t.chunks.map((c, i) => {
      const [a, b] = ranges[i]!;
      const have = cached?.get(c.sha256);
      if (have?.byteLength === b - a) {
        buf.set(have, a);
        reused.push(c.sha256);
        return undefined;
      }
      return fetchObject(ctx, `tensor '${t.name}' bytes ${a}-${b - 1}`, c, buf.subarray(a, b), slot, signal);
    }),
  );
  return reused;
}

/** The cached base version's file, open, and where each reused tensor's bytes lie in it (by SHA-256). */
export interface CachedFile {
  fd: number;
  offsets: Map<string, number>;
  /** Where each piece (by SHA-256) of its chunked tensors lies in it. */
  pieceOffsets?: Map<string, number>;
}

/**
 * A tensor's buffer (a chunked one's is only its stand-in, never written). A
 * manifest may name a tensor bigger than this process can allocate: that is a
 * typed error, not a RangeError from deep inside the pull.
 */
function allocate(t: CasTensor): ArrayBuffer {
  try {
    return new ArrayBuffer(t.bytes);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new H5Error(
      `tensor '${t.name}' (${t.bytes} bytes) cannot be allocated in this process (${e.message}): nothing was cached`,
      { code: 'H5_TOO_LARGE' },
    );
  }
}

/** The error of a fetch that `stop` (or the caller's signal) cut short: not the cause of a failure. */
const isAbort = (e: unknown): boolean =>
  (e instanceof H5Error && e.code === 'H5_ABORTED') || (e as Error | undefined)?.name === 'AbortError';

/**
 * Delta pull: rebuilds the manifest's file into `temp` and resolves to its
 * SHA-256 (the cache compares it with the manifest's before renaming it in).
 * Tensors whose bytes a cached earlier version holds (`base.tensors`: by
 * SHA-256, its mapped memory) are reused; the others are fetched,
 * `concurrency` objects at a time, each checked against its SHA-256 on
 * arrival; of a chunked tensor, only the pieces `base.chunks` lacks. The
 * writer takes every tensor's SHA-256 from the manifest instead of hashing
 * 256 MiB again: the file's SHA-256, which the caller checks, covers every
 * byte. With `base.file` (the cached file open, and where each reused
 * tensor's bytes lie in it) the first write has the kernel copy the reused
 * tensors file to file, which costs a fraction of writing them from the
 * mapping (every page of which would fault in). If the file hash then differs
 * from `expected`, it is written again from memory (pieces it streamed are
 * copied from the first file, not fetched again); if it still differs, the
 * tensors and pieces taken from the cached version are hashed (checkReused)
 * and those that differ are fetched for one more write.
 */
export async function rebuildInto(
  ctx: CasContext,
  temp: string,
  m: { tensors: CasTensor[]; rebuild: RebuildRecipe },
  expected: string,
  base: { tensors: Map<string, TypedArray>; chunks?: Map<string, Uint8Array>; file?: CachedFile } | undefined,
  signal?: AbortSignal,
  onProgress?: (received: number, total: number) => void,
): Promise<string> {
  const bySha = new Map<string, CasTensor>();
  for (const t of m.tensors) if (!bySha.has(t.sha256)) bySha.set(t.sha256, t);
  const have = new Map<string, ArrayBuffer | TypedArray>();
  if (base)
    for (const t of bySha.values())
      if (base.tensors.get(t.sha256)?.byteLength === t.bytes) have.set(t.sha256, base.tensors.get(t.sha256)!);
  // Pieces of chunked tensors the cached version holds (a changed tensor keeps
  // the pieces it did not change). Not hashed unless the file then differs.
  const pieces = new Map(base?.chunks ?? []);
  /** The pieces taken from `pieces`. */
  const usedPieces = new Set<string>();
  /** Tensors fetched into memory that took pieces from `pieces`. */
  const partly = new Set<string>();
  // Pieces fetched (checked) and written into this attempt's file, at their
  // offsets there; after a failed attempt, that file (unlinked, still open)
  // is where the next attempt copies them from instead of fetching them again.
  let landed = new Map<string, number>();
  let prev: { fd: number; at: Map<string, number> } | undefined;
  const toFetch = (t: CasTensor): number =>
    t.chunks
      ? chunkRanges(t.bytes, t.chunkBytes!).reduce(
          (a, [x, y], i) => a + (pieces.get(t.chunks![i]!.sha256)?.byteLength === y - x ? 0 : y - x),
          0,
        )
      : t.bytes;
  let total = [...bySha.values()].reduce((a, t) => a + (have.has(t.sha256) ? 0 : toFetch(t)), 0);
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
  // A chunked tensor is not fetched into memory: the writer asks for it when
  // it has allocated its range, and its pieces are streamed into the file
  // (`sinkFor`), at most `concurrency` pieces in memory at a time. Its buffer
  // here is only its Tensor's stand-in, never written (calloc'd pages that are
  // never touched cost no memory), unless the writer cannot place the tensor
  // and asks with `ready` instead: then it is fetched into that buffer.
  const deferred = new Set<string>();
  const fetchInto = (t: CasTensor, ab: ArrayBuffer): void => {
    const done = fetchTensor(ctx, t, ab, slot, stop.signal, pieces).then((reused) => {
      if (reused.length > 0) partly.add(t.sha256);
      for (const sha of reused) usedPieces.add(sha);
      received += t.bytes - reused.reduce((a, sha) => a + pieces.get(sha)!.byteLength, 0);
      onProgress?.(received, total);
    });
    done.catch(() => stop.abort());
    arriving.set(t.sha256, done);
  };
  const fetchMissing = (): void => {
    for (const t of bySha.values()) {
      if (have.has(t.sha256)) continue;
      const ab = allocate(t);
      have.set(t.sha256, ab);
      if (t.chunks) deferred.add(t.sha256);
      else fetchInto(t, ab);
    }
  };
  const ready = (name: string): Promise<unknown> | undefined => {
    const sha = shaOf.get(name)!;
    if (deferred.delete(sha)) fetchInto(bySha.get(sha)!, have.get(sha) as ArrayBuffer);
    return arriving.get(sha);
  };
  // Piece buffers, reused (fresh memory faults in every page on first touch).
  const buffers: Uint8Array[] = [];
  const bufferSlot = slots(ctx.concurrency);
  let streams = 0;
  const sinkFor = (t: CasTensor, copy: CachedFile | undefined): Sink => {
    return async (write, copyRange, at) => {
      const ranges = chunkRanges(t.bytes, t.chunkBytes!);
      await Promise.all(
        t.chunks!.map(async (c, i) => {
          const [a, b] = ranges[i]!;
          const cached = pieces.get(c.sha256);
          if (cached?.byteLength === b - a) {
            usedPieces.add(c.sha256);
            const from = copy?.pieceOffsets?.get(c.sha256);
            // Not hashed here: the file hash covers it (see checkReused).
            return from === undefined ? write(cached, a) : copyRange(copy!.fd, from, a, b - a);
          }
          const earlier = prev?.at.get(c.sha256);
          if (earlier !== undefined) {
            await copyRange(prev!.fd, earlier, a, b - a);
            landed.set(c.sha256, at + a);
            return;
          }
          return bufferSlot(async () => {
            const buf = buffers.pop() ?? new Uint8Array(t.chunkBytes!);
            try {
              const into = buf.byteLength >= b - a ? buf.subarray(0, b - a) : new Uint8Array(b - a);
              await fetchObject(ctx, `tensor '${t.name}' bytes ${a}-${b - 1}`, c, into, slot, stop.signal);
              received += b - a;
              onProgress?.(received, total);
              await write(into, a);
              landed.set(c.sha256, at + a);
            } finally {
              if (buffers.length < ctx.concurrency) buffers.push(buf);
            }
          });
        }),
      );
    };
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
    p.ready = ready;
    p.sink = (name) => {
      const sha = shaOf.get(name)!;
      if (!deferred.has(sha)) return undefined;
      const sink = sinkFor(bySha.get(sha)!, copy);
      // Observed by the writer (a failure fails the write) and, for the error reported, by `arrived`.
      return (write, copyRange, at) => {
        const done = sink(write, copyRange, at);
        done.catch(() => stop.abort());
        arriving.set(`${sha}/${++streams}`, done);
        return done;
      };
    };
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
      // Written again from memory and the mapping, without kernel copies (the
      // pieces fetched for the first file are copied from it, not fetched again).
      await restart();
      hex = await arrived(write());
    }
    return await checkReused(hex);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (prev) closeSync(prev.fd);
  }
  /** Before the writer creates its file afresh: keeps the failed file open for the pieces it holds. */
  async function restart(): Promise<void> {
    if (landed.size > 0) {
      const fd = openSync(temp, 'r');
      if (prev) closeSync(prev.fd);
      prev = { fd, at: landed };
      landed = new Map();
    }
    await rm(temp, { force: true });
  }
  /**
   * The file differs: hashes what was taken from the cached version unchecked
   * (its tensors and pieces); those that differ (a cached file damaged on disk
   * since it was verified, or a base manifest that lies) are fetched and the
   * file is written once more.
   */
  async function checkReused(hex: string): Promise<string> {
    const reused = [...have].filter(([, v]) => !(v instanceof ArrayBuffer));
    const used = [...usedPieces];
    if (hex !== expected && (reused.length > 0 || used.length > 0)) {
      const okTensors = await boundedMap(
        reused,
        ([, v]) => v.byteLength,
        async ([sha, v]) => (await tensorSha256(v as TypedArray)) === sha,
      );
      const okPieces = await boundedMap(
        used,
        (sha) => pieces.get(sha)!.byteLength,
        async (sha) => (await tensorSha256(pieces.get(sha)!)) === sha,
      );
      let again = false;
      for (const [sha, v] of reused.filter((_, i) => !okTensors[i])) {
        have.delete(sha);
        total += v.byteLength;
        again = true;
      }
      const bad = new Set(used.filter((_, i) => !okPieces[i]));
      for (const sha of bad) {
        total += pieces.get(sha)!.byteLength;
        pieces.delete(sha);
        again = true;
      }
      // A tensor fetched into memory holds its bad pieces: fetched again (its good ones come from the cache again).
      for (const sha of partly)
        if (bySha.get(sha)!.chunks!.some((c) => bad.has(c.sha256))) {
          have.delete(sha);
          partly.delete(sha);
        }
      if (again) {
        fetchMissing();
        await restart();
        hex = await arrived(write());
      }
    }
    ctx.stats.tensorsFromCache += [...have.values()].filter((v) => !(v instanceof ArrayBuffer)).length;
    return hex;
  }
}
