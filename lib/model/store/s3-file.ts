/**
 * The S3 store's whole-file layout (format 1, the default): a version is one
 * immutable object, PREFIX/NAME/objects/<sha256>-<nonce>.h5, uploaded in
 * parallel multipart parts before its record is committed, and pulled with
 * parallel ranged GETs of that one object, hashed once it is complete.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { H5Error } from '../../errors.js';
import { loadS3, loadStorage } from '../../remote/sdk.js';
import { s3Status } from '../../remote/errors.js';
import type { S3StoreContext } from './s3-context.js';
import type { S3SaveOptions } from './s3-options.js';
import type { S3VersionRecord } from './s3-record.js';
import { checkRecordFits, commitRecord } from './s3-versions.js';
import { checkAbort } from '../../util/abort.js';

/** What one download worker copies into and writes at once (downloadFile). */
const SEGMENT_BYTES = 1024 * 1024;

/** Whole-file publish: uploads the version's file as one object, then commits its format-1 record. */
export async function saveFile(
  ctx: S3StoreContext,
  common: Omit<S3VersionRecord, 'version' | 'format' | 'tensors'>,
  file: string,
  tensors: S3VersionRecord['tensors'],
  options: S3SaveOptions,
): Promise<number> {
  const object = `${common.name}/objects/${common.digest}-${common.publisher.nonce}.h5`;
  const base = { ...common, format: 1 as const, object, tensors };
  // A record readers would refuse fails before the upload, not after it.
  checkRecordFits(base, ctx.dir(common.name));
  await uploadFile(ctx, file, ctx.key(object), common.bytes, options);
  ctx.stats.puts++;
  ctx.stats.bytesUploaded += common.bytes;
  return commitRecord(ctx, common.name, base, options.signal);
}

async function uploadFile(
  ctx: S3StoreContext,
  file: string,
  key: string,
  bytes: number,
  o: S3SaveOptions,
): Promise<void> {
  const { Upload } = loadStorage();
  const what = `cannot upload s3://${ctx.bucket}/${key}`;
  await ctx.retry(
    async () => {
      const body = createReadStream(file, { highWaterMark: 1024 * 1024 });
      const up = new Upload({
        client: ctx.s3,
        params: { Bucket: ctx.bucket, Key: key, Body: body, ContentType: 'application/x-hdf5' },
        queueSize: ctx.concurrency,
        partSize: ctx.partBytes,
        leavePartsOnError: false,
      });
      up.on('httpUploadProgress', (e) => o.onUploadProgress?.(e.loaded ?? 0, bytes));
      const abort = (): void => void up.abort().catch(() => {});
      o.signal?.addEventListener('abort', abort, { once: true });
      try {
        checkAbort(o.signal, 'save');
        await up.done();
      } catch (e) {
        if (o.signal?.aborted) {
          await settleAborted(ctx, up, key);
          throw new H5Error('save aborted', { code: 'H5_ABORTED' });
        }
        throw e;
      } finally {
        o.signal?.removeEventListener('abort', abort);
        body.destroy();
      }
    },
    what,
    { signal: o.signal },
  );
}

/**
 * After an abort, Upload.done() rejects at once, while lib-storage is still
 * finishing the parts in flight and then aborting the upload on the server.
 * A save that rejected must have nothing left running: wait for the parts,
 * then abort the upload ourselves (NoSuchUpload: lib-storage got there first).
 * Without this, a gc right after the rejected save raced lib-storage's abort
 * and failed with NoSuchUpload.
 */
async function settleAborted(
  ctx: S3StoreContext,
  up: InstanceType<ReturnType<typeof loadStorage>['Upload']>,
  key: string,
): Promise<void> {
  const internals = up as unknown as { concurrentUploaders?: Promise<unknown>[]; uploadId?: string };
  await Promise.allSettled(internals.concurrentUploaders ?? []);
  if (!internals.uploadId) return;
  const { AbortMultipartUploadCommand } = loadS3();
  await ctx
    .retry(
      () =>
        ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: internals.uploadId })),
      `cannot abort the upload of s3://${ctx.bucket}/${key}`,
    )
    .catch((e: unknown) => {
      if (!(e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND')) throw e;
    });
}

/**
 * Parallel ranged GETs into `temp`; resolves when the file is complete (the
 * cache then hashes it in a worker thread and compares with the record).
 * Each worker copies what arrives into one reused 1 MiB segment and writes it
 * at its offset: no per-range buffers. Fresh memory is expensive here (every
 * new page faults: ~1.3 ms per MiB on the 2-core VM, more than the copy), and
 * the old design (a fresh 16 MiB buffer per range, hashed in file order on
 * the event loop) spent ~2 s of a 256 MiB pull's CPU on it and on GC.
 * A range whose connection drops resumes at the byte it stopped.
 */
export async function downloadFile(
  ctx: S3StoreContext,
  rec: S3VersionRecord,
  temp: string,
  signal?: AbortSignal,
  onProgress?: (n: number, total: number) => void,
): Promise<undefined> {
  const { GetObjectCommand, HeadObjectCommand } = loadS3();
  const key = ctx.key(rec.object!);
  const what = `cannot download s3://${ctx.bucket}/${key}`;
  const head = await ctx.retry(
    () => ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key }), { abortSignal: signal }),
    what,
    { signal },
  );
  if (head.ContentLength !== rec.bytes) {
    throw new H5Error(
      `s3://${ctx.bucket}/${key} is ${head.ContentLength} bytes, but its version record says ${rec.bytes}: it was changed on the server; refusing it`,
      {
        code: 'H5_CHECKSUM_MISMATCH',
        expected: rec.digest,
      },
    );
  }
  // Every range must come from the same object: a concurrent overwrite fails with 412 instead of mixing bytes.
  const etag = head.ETag;
  const fh = await open(temp, 'w');
  let received = 0;
  const parts = Math.ceil(rec.bytes / ctx.partBytes);
  try {
    let next = 0;
    let failure: { e: unknown } | undefined;
    const worker = async (): Promise<void> => {
      const seg = Buffer.allocUnsafe(SEGMENT_BYTES);
      while (next < parts && !failure) {
        const i = next++;
        const start = i * ctx.partBytes;
        const end = Math.min(rec.bytes, start + ctx.partBytes);
        // seg holds the bytes [segAt, segAt + fill) of the file; pos = segAt + fill survives a retry.
        let segAt = start;
        let fill = 0;
        const flush = async (): Promise<void> => {
          if (fill === 0) return;
          await fh.write(seg, 0, fill, segAt);
          segAt += fill;
          fill = 0;
        };
        try {
          await ctx.retry(
            async () => {
              const r = await ctx.s3.send(
                new GetObjectCommand({
                  Bucket: ctx.bucket,
                  Key: key,
                  Range: `bytes=${segAt + fill}-${end - 1}`,
                  IfMatch: etag,
                }),
                { abortSignal: signal },
              );
              for await (const chunk of r.Body as AsyncIterable<Uint8Array>) {
                if (segAt + fill + chunk.length > end)
                  throw new H5Error(`${what}: the server sent more bytes than the range asked for`, {
                    code: 'H5_S3_ERROR',
                  });
                for (let off = 0; off < chunk.length; ) {
                  const n = Math.min(SEGMENT_BYTES - fill, chunk.length - off);
                  seg.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), fill);
                  fill += n;
                  off += n;
                  if (fill === SEGMENT_BYTES) await flush();
                }
                received += chunk.length;
                ctx.stats.bytesDownloaded += chunk.length;
                onProgress?.(received, rec.bytes);
              }
              if (segAt + fill !== end)
                throw Object.assign(new Error(`premature close: range ended at ${segAt + fill} of ${end}`), {
                  code: 'ERR_STREAM_PREMATURE_CLOSE',
                });
            },
            what,
            { signal },
          );
          await flush();
        } catch (e) {
          failure ??= { e }; // the other ranges stop; the file is closed only once they have
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ctx.concurrency, parts) }, worker));
    if (failure) throw failure.e;
    return undefined;
  } catch (e) {
    if (s3Status(e) === 412 || (e instanceof H5Error && (e as H5Error & { status?: number }).status === 412)) {
      throw new H5Error(`s3://${ctx.bucket}/${key} changed on the server during the download; refusing it`, {
        code: 'H5_CHECKSUM_MISMATCH',
        expected: rec.digest,
      });
    }
    throw e;
  } finally {
    await fh.close();
  }
}
