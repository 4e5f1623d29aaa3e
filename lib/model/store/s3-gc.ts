/**
 * Deleting in the S3 store: prune (old versions of a model), gc of what
 * interrupted publishes left (whole-file objects, multipart uploads), and the
 * mark-then-sweep of the store's shared tensor objects.
 */
import { H5Error } from '../../errors.js';
import { loadS3 } from '../../remote/sdk.js';
import { BLOB_ROOT, blobOfCondemned, CONDEMNED_ROOT, condemnedKey, isBlobKey, listAll } from './cas.js';
import type { S3StoreContext } from './s3-context.js';
import type { GcResult } from './s3-options.js';
import { recordName, TOMBSTONE_BYTES, type BadRecord } from './s3-record.js';
import { listNames, readableRecords, readRecord } from './s3-versions.js';

/**
 * Prunes all but the newest `keep` readable versions of `name` (store.prune):
 * its record first, made a tombstone so the number is never used again, then
 * its whole-file object.
 */
export async function pruneVersions(ctx: S3StoreContext, name: string, keep: number): Promise<number[]> {
  const { DeleteObjectCommand, PutObjectCommand } = loadS3();
  // Only readable records count: a junk record must not make prune drop the real latest.
  const vs = (await readableRecords(ctx, name)).map((r) => r.version);
  const drop = vs.slice(0, Math.max(0, vs.length - keep));
  for (const v of drop) {
    const rec = await readRecord(ctx, name, v).catch(() => undefined);
    const key = ctx.key(`${name}/versions/${recordName(v)}`);
    await ctx.retry(
      () => ctx.s3.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: new Uint8Array(TOMBSTONE_BYTES) })),
      `cannot prune s3://${ctx.bucket}/${key}`,
    );
    ctx.records.delete(key);
    // A manifest's tensor objects may be shared: gc removes them once no version references them.
    const object = rec?.object;
    if (object)
      await ctx.retry(
        () => ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.key(object) })),
        `cannot prune s3://${ctx.bucket}/${ctx.key(object)}`,
      );
  }
  return drop;
}

/**
 * Removes this model's unreferenced whole-file objects and abandoned multipart
 * uploads older than `graceMs`, then sweeps the store's tensor objects (store.gc).
 */
export async function collectGarbage(ctx: S3StoreContext, name: string, graceMs: number): Promise<GcResult> {
  const { ListObjectsV2Command, DeleteObjectCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand } =
    loadS3();
  const now = Date.now();
  // Objects first listed, then records: a record committed in between names an object we already saw as young or as referenced.
  const base = ctx.key(`${name}/objects/`);
  const objects: { key: string; age: number }[] = [];
  let token: string | undefined;
  do {
    const r = await ctx.retry(
      () => ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: base, ContinuationToken: token })),
      `cannot list '${ctx.dir(name)}'`,
    );
    for (const o of r.Contents ?? []) objects.push({ key: o.Key!, age: now - (o.LastModified?.getTime() ?? now) });
    token = r.NextContinuationToken;
  } while (token);
  const referenced = new Set<string>();
  const out: GcResult = { objects: [], condemned: [], uploads: [], badRecords: [] };
  for (const r of await readableRecords(ctx, name, { bad: out.badRecords }))
    if (r.object) referenced.add(ctx.key(r.object));
  for (const o of objects) {
    if (referenced.has(o.key) || o.age < graceMs) continue;
    await ctx.retry(
      () => ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: o.key })),
      `cannot delete s3://${ctx.bucket}/${o.key}`,
    );
    out.objects.push(o.key);
  }
  let keyMarker: string | undefined;
  let idMarker: string | undefined;
  for (;;) {
    const r = await ctx.retry(
      () =>
        ctx.s3.send(
          new ListMultipartUploadsCommand({
            Bucket: ctx.bucket,
            Prefix: base,
            KeyMarker: keyMarker,
            UploadIdMarker: idMarker,
          }),
        ),
      `cannot list the multipart uploads of '${ctx.dir(name)}'`,
    );
    for (const u of r.Uploads ?? []) {
      if (now - (u.Initiated?.getTime() ?? now) < graceMs) continue;
      // NoSuchUpload: it completed or was aborted (by its publisher, another gc) since the listing: gone either way.
      const gone = await ctx
        .retry(
          () =>
            ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: u.Key!, UploadId: u.UploadId! })),
          `cannot abort an upload of s3://${ctx.bucket}/${u.Key}`,
        )
        .then(
          () => true,
          (e: unknown) => {
            if (e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND') return false;
            throw e;
          },
        );
      if (gone) out.uploads.push(u.Key!);
    }
    if (!r.IsTruncated) break;
    keyMarker = r.NextKeyMarker;
    idMarker = r.NextUploadIdMarker;
  }
  await sweepTensors(ctx, out);
  return out;
}

/**
 * Mark-then-sweep of the store's tensor objects (docs/object-storage.md#gc-racing-publish).
 * Order matters: marks, then objects, then every model's manifests are
 * listed. An object no manifest references is marked once it is older than
 * blobGraceMs, and deleted (then its mark) once its mark, listed before the
 * manifests, is older than blobGraceMs. A publisher never starts using a
 * marked copy, and one that checked a copy before its mark commits within
 * blobGraceMs / 2: its manifest is in the listing of any gc that may delete it.
 * A store with an unreadable record deletes no tensor object (it may be a
 * manifest referencing them).
 */
async function sweepTensors(ctx: S3StoreContext, out: GcResult): Promise<void> {
  const grace = ctx.graceMs;
  const now = Date.now();
  const marks = new Map((await listAll(ctx, CONDEMNED_ROOT)).map((m) => [blobOfCondemned(m.rel), m.lastModified]));
  const blobs = (await listAll(ctx, BLOB_ROOT)).filter((b) => isBlobKey(b.rel));
  if (blobs.length === 0 && marks.size === 0) return;
  const referenced = new Set<string>();
  const bad: BadRecord[] = [];
  for (const n of await listNames(ctx))
    for (const r of await readableRecords(ctx, n, { bad }))
      if (r.format === 2)
        for (const t of r.tensors) {
          if (t.object) referenced.add(t.object);
          for (const c of t.chunks ?? []) referenced.add(c.object);
        }
  for (const b of bad) if (!out.badRecords.some((o) => o.key === b.key)) out.badRecords.push(b);
  if (bad.length) return;
  const { DeleteObjectCommand, PutObjectCommand } = loadS3();
  const del = async (rel: string): Promise<void> => {
    ctx.stats.deletes++;
    await ctx.retry(
      () => ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.key(rel) })),
      `cannot delete s3://${ctx.bucket}/${ctx.key(rel)}`,
    );
  };
  const present = new Set(blobs.map((b) => b.rel));
  for (const b of blobs) {
    const mark = marks.get(b.rel);
    if (referenced.has(b.rel)) {
      // Referenced after all (its publisher checked it before the mark): publishers may use it again.
      if (mark !== undefined) await del(condemnedKey(b.rel));
    } else if (mark !== undefined) {
      if (now - mark <= grace) continue;
      await del(b.rel);
      await del(condemnedKey(b.rel));
      out.objects.push(ctx.key(b.rel));
    } else if (now - b.lastModified > grace) {
      ctx.stats.puts++;
      await ctx.retry(
        () =>
          ctx.s3.send(
            new PutObjectCommand({
              Bucket: ctx.bucket,
              Key: ctx.key(condemnedKey(b.rel)),
              Body: '',
              ContentLength: 0,
            }),
          ),
        `cannot mark s3://${ctx.bucket}/${ctx.key(b.rel)}`,
      );
      out.condemned.push(ctx.key(b.rel));
    }
  }
  // Marks whose object is gone (a gc stopped between the two deletes).
  for (const [rel, at] of marks) if (!present.has(rel) && now - at > grace) await del(condemnedKey(rel));
}
