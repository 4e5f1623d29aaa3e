/**
 * Listing and naming in the S3 store: the models of a store, the versions of
 * a model (one LIST), reading a version record (memoised, a bad one reported
 * and skipped), and committing a new record under the next free number, which
 * is what publishes a version in either layout.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { H5Error } from '../../errors.js';
import { loadS3 } from '../../remote/sdk.js';
import { s3Status } from '../../remote/errors.js';
import { parseStoredJson } from '../../safety/budget.js';
import { acquireLock } from './lock.js';
import { checkName, checkVersion, NAME_RE, versionFile } from './common.js';
import type { S3StoreContext } from './s3-context.js';
import {
  isRecord,
  RECORD_MAX_BYTES,
  RECORD_RE,
  recordName,
  TOMBSTONE_BYTES,
  type BadRecord,
  type S3VersionRecord,
} from './s3-record.js';
import { checkAbort } from '../../util/abort.js';

async function bodyText(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

/** Names of the models with at least one version record, sorted. */
export async function listNames(ctx: S3StoreContext): Promise<string[]> {
  const { ListObjectsV2Command } = loadS3();
  const out = new Set<string>();
  const base = ctx.key('');
  let token: string | undefined;
  do {
    const r = await ctx.retry(
      () =>
        ctx.s3.send(
          new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: base, Delimiter: '/', ContinuationToken: token }),
        ),
      `cannot list '${ctx.root}'`,
    );
    for (const p of r.CommonPrefixes ?? []) {
      const n = p.Prefix!.slice(base.length).replace(/\/$/, '');
      if (NAME_RE.test(n)) out.add(n);
    }
    token = r.NextContinuationToken;
  } while (token);
  const names: string[] = [];
  for (const n of [...out].sort()) if ((await listVersions(ctx, n)).length) names.push(n);
  return names;
}

/**
 * Version numbers with a record, ascending (one LIST request per 1000 versions).
 * `pruned`: the numbers whose record is a tombstone instead.
 */
export async function listVersions(ctx: S3StoreContext, name: string, o: { pruned?: boolean } = {}): Promise<number[]> {
  const { ListObjectsV2Command } = loadS3();
  const base = ctx.key(`${name}/versions/`);
  const out: number[] = [];
  let token: string | undefined;
  do {
    const r = await ctx.retry(
      () => ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: base, ContinuationToken: token })),
      `cannot list the versions of '${ctx.dir(name)}'`,
    );
    for (const obj of r.Contents ?? []) {
      const m = RECORD_RE.exec(obj.Key!.slice(base.length));
      if (m && (obj.Size === TOMBSTONE_BYTES) === (o.pruned ?? false)) out.push(Number(m[1]));
    }
    token = r.NextContinuationToken;
  } while (token);
  return out.sort((a, b) => a - b);
}

/** One version's record (undefined if there is none, or it was pruned). */
export async function readRecord(
  ctx: S3StoreContext,
  name: string,
  version: number,
): Promise<S3VersionRecord | undefined> {
  checkName(name);
  checkVersion(version);
  const key = ctx.key(`${name}/versions/${recordName(version)}`);
  const known = ctx.records.get(key);
  if (known) return known;
  const { GetObjectCommand } = loadS3();
  let text: string | undefined;
  try {
    text = await ctx.retry(async () => {
      const r = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }));
      if (Number(r.ContentLength) === TOMBSTONE_BYTES) {
        (r.Body as { destroy?(): void } | undefined)?.destroy?.();
        return undefined;
      }
      if (!(Number(r.ContentLength) <= RECORD_MAX_BYTES)) {
        (r.Body as { destroy?(): void } | undefined)?.destroy?.();
        throw new H5Error(
          `s3://${ctx.bucket}/${key} is ${r.ContentLength} bytes: not an h5vault version record (at most ${RECORD_MAX_BYTES})`,
          { code: 'H5_CORRUPT' },
        );
      }
      return bodyText(r.Body);
    }, `s3://${ctx.bucket}/${key}`);
  } catch (e) {
    if (e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND') return undefined;
    throw e;
  }
  if (text === undefined) return undefined;
  let r: unknown;
  try {
    r = parseStoredJson(text);
  } catch {
    throw new H5Error(`s3://${ctx.bucket}/${key} is not valid JSON`, { code: 'H5_CORRUPT' });
  }
  if (!isRecord(r, name, version))
    throw new H5Error(`s3://${ctx.bucket}/${key} is not an h5vault version record (format 1)`, {
      code: 'H5_CORRUPT',
    });
  ctx.records.set(key, r);
  return r;
}

/** The neighbour versions of a pull and their records (nearRecords). */
export interface NearRecords {
  versions: number[];
  records: Promise<(S3VersionRecord | undefined)[]>;
}

/**
 * Reads the records of the versions nearest `version` (v-1, v+1, v-2, ...:
 * `ctx.concurrency` of them, at most that many GETs at once; a number never
 * used, or pruned, is undefined): the candidates a delta pull rebuilds from
 * (s3-tensors.ts). A pull of a store whose layout is 'tensors' starts it in
 * the same round as the pulled version's own record and hands it to the
 * delta pull.
 */
export function nearRecords(ctx: S3StoreContext, name: string, version: number): NearRecords {
  const versions: number[] = [];
  for (let d = 1; versions.length < ctx.concurrency && d <= version + ctx.concurrency; d++)
    for (const v of [version - d, version + d]) if (v >= 1 && versions.length < ctx.concurrency) versions.push(v);
  const records = Promise.all(versions.map((v) => readRecord(ctx, name, v).catch(() => undefined)));
  return { versions, records };
}

/**
 * The readable records of `name`, oldest first; the others are reported
 * (onBadRecord) and collected in `bad`. `newest` stops at the newest readable one.
 */
export async function readableRecords(
  ctx: S3StoreContext,
  name: string,
  o: { bad?: BadRecord[]; newest?: boolean } = {},
): Promise<S3VersionRecord[]> {
  const vs = await listVersions(ctx, name);
  if (o.newest) vs.reverse();
  const out: S3VersionRecord[] = [];
  for (const v of vs) {
    const r = await readable(ctx, name, v, o.bad);
    if (!r) continue;
    out.push(r);
    if (o.newest) break;
  }
  return out;
}

/** record(), with a record that is not one reported and skipped (undefined) instead of thrown. */
export async function readable(
  ctx: S3StoreContext,
  name: string,
  v: number,
  bad?: BadRecord[],
): Promise<S3VersionRecord | undefined> {
  try {
    return await readRecord(ctx, name, v);
  } catch (e) {
    if (!(e instanceof H5Error && e.code === 'H5_CORRUPT')) throw e;
    const b: BadRecord = { name, version: v, key: ctx.key(`${name}/versions/${recordName(v)}`), error: e };
    bad?.push(b);
    if (ctx.options.onBadRecord) ctx.options.onBadRecord(b);
    else
      process.emitWarning(`${ctx.root}: skipping the version record ${b.key}: ${e.message}`, {
        type: 'H5VaultWarning',
        code: 'H5_CORRUPT',
      });
    return undefined;
  }
}

/** The latest version number, or null if `name` has none (one LIST request). */
export async function latestVersion(ctx: S3StoreContext, name: string): Promise<number | null> {
  checkName(name);
  const [r] = await readableRecords(ctx, name, { newest: true });
  return r ? r.version : null;
}

/**
 * The record's bytes as commitRecord writes them, refused if readers would
 * refuse them (over RECORD_MAX_BYTES, see readRecord): a version nobody can
 * read must not be published. H5_TOO_LARGE.
 */
export function recordBody(record: S3VersionRecord, where: string): string {
  const body = `${JSON.stringify(record, null, 1)}\n`;
  const bytes = Buffer.byteLength(body);
  if (bytes > RECORD_MAX_BYTES) {
    const pieces = record.tensors.reduce((a, t) => a + (t.chunks?.length ?? 1), 0);
    throw new H5Error(
      `cannot publish '${where}': its version record would be ${bytes} bytes and readers accept at most ${RECORD_MAX_BYTES} ` +
        `(${record.tensors.length} tensors in ${pieces} objects, ${record.rebuild?.metadataJson.length ?? 0} bytes of metadata); ` +
        'nothing was published. Fewer objects: a store opened with a larger chunkBytes; or less metadata',
      { code: 'H5_TOO_LARGE' },
    );
  }
  return body;
}

/**
 * recordBody's check before a publisher uploads anything: the record as it
 * will be, but for its number and time (a few bytes; commitRecord checks the
 * exact bytes again).
 */
export function checkRecordFits(base: Omit<S3VersionRecord, 'version'>, where: string): void {
  recordBody({ ...base, version: 999_999, file: versionFile(999_999), createdAt: new Date().toISOString() }, where);
}

/** Creates the version record under the next free number. */
export async function commitRecord(
  ctx: S3StoreContext,
  name: string,
  base: Omit<S3VersionRecord, 'version'>,
  signal?: AbortSignal,
  beforePut?: () => Promise<void>,
): Promise<number> {
  const { PutObjectCommand, HeadObjectCommand } = loadS3();
  const conditional = ctx.options.conditionalWrites ?? true;
  let release: (() => Promise<void>) | undefined;
  if (!conditional) {
    const dir = join(ctx.options.lockDir ?? ctx.cache.dir, 'publish-locks');
    await mkdir(dir, { recursive: true });
    const id = `${ctx.bucket}/${ctx.prefix}/${name}`.replace(/[^A-Za-z0-9._-]/g, '_');
    release = await acquireLock(join(dir, `${id}.lock`), ctx.options.lock);
  }
  try {
    // After the latest version and every pruned number (see TOMBSTONE_BYTES); a
    // number junk holds is skipped below (412), but junk does not set the start:
    // an object named v9999999.json must not make the next version 10,000,000.
    const pruned = (await listVersions(ctx, name, { pruned: true })).reduce((a, b) => Math.max(a, b), 0);
    let version = Math.max((await latestVersion(ctx, name)) ?? 0, pruned) + 1;
    for (; ; version++) {
      checkAbort(signal, 'save');
      await beforePut?.();
      const key = ctx.key(`${name}/versions/${recordName(version)}`);
      const record: S3VersionRecord = {
        ...base,
        version,
        file: versionFile(version),
        createdAt: new Date().toISOString(),
      };
      const body = recordBody(record, ctx.dir(name));
      if (!conditional) {
        // Under the shared lock: a number is free if no record exists.
        const exists = await ctx
          .retry(
            () => ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key })),
            `s3://${ctx.bucket}/${key}`,
          )
          .then(
            () => true,
            (e) => {
              if (e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND') return false;
              throw e;
            },
          );
        if (exists) continue;
      }
      try {
        await ctx.retry(
          () =>
            ctx.s3.send(
              new PutObjectCommand({
                Bucket: ctx.bucket,
                Key: key,
                Body: body,
                ContentType: 'application/json',
                ...(conditional ? { IfNoneMatch: '*' } : {}),
              }),
            ),
          `cannot publish version ${version} of '${ctx.dir(name)}'`,
          { signal },
        );
        ctx.records.set(key, record);
        return version;
      } catch (e) {
        const st = (e as { status?: number }).status ?? s3Status(e);
        if (!(conditional && (st === 412 || st === 409))) throw e;
        // Taken. By us, if a retried request had already succeeded: then it is our record.
        ctx.records.delete(key);
        const theirs = await readable(ctx, name, version);
        if (theirs?.publisher.nonce === base.publisher.nonce) return version;
      }
    }
  } finally {
    await release?.();
  }
}
