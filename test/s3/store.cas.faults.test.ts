/**
 * Faults of the content-addressed layout (layout: 'tensors') on a real Ceph
 * radosgw that the tests SIGKILL and restart (a cluster of this file's own, so
 * no other file sees its gateway die): a crash mid-publish (between tensor
 * PUTs) and mid-pull (between tensor GETs of a delta pull), with and without
 * the gateway coming back while the operation still retries; and gc racing
 * publishers in real processes.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3ModelStore, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir } from '../helpers.js';
import { requireFreshDist, runNode } from '../api/model.helpers.js';
import { clientFor, makeBucket, ownCluster, rgwStart, rgwStop, sameBytes, storeOptions } from './cluster.js';

requireFreshDist();
const env = ownCluster();
const dir = tempDir('h5vault-s3-cas-faults-');
const MiB = 1024 * 1024;
const child = fileURLToPath(new URL('./s3.child.mjs', import.meta.url));

/** 8 tensors of 2 MiB (each stored as two 1 MiB pieces): tensor i is seeded seed*100+i, or salt*100+i if i is in `changed`. */
function model(seed: number, changed: number[] = [], salt = 99): Record<string, Tensor> {
  const m: Record<string, Tensor> = {};
  for (let i = 0; i < 8; i++) {
    const s = (changed.includes(i) ? salt : seed) * 100 + i;
    m[`layers/${i}/w`] = { dtype: 'float32', shape: [MiB / 2], data: gaussian(MiB / 2, s) };
  }
  return m;
}

const open = (bucket: string, cache: string, extra: object = {}) =>
  S3ModelStore.open(`s3://${bucket}/m`, {
    ...storeOptions(env, join(dir, cache)),
    create: true,
    layout: 'tensors',
    concurrency: 2,
    ...extra,
  });

/** A progress callback that SIGKILLs radosgw at the first progress report, and starts it again `restartMs` later if given. */
function killAtFirstProgress(restartMs?: number): { killed: boolean; onProgress: (n: number) => void } {
  const k = {
    killed: false,
    onProgress: (n: number) => {
      if (k.killed || n === 0) return;
      k.killed = true;
      rgwStop(env);
      if (restartMs !== undefined) setTimeout(() => rgwStart(env), restartMs);
    },
  };
  return k;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Files of a cache's blobs directory other than complete, verified versions. */
const leftovers = (cache: string): string[] =>
  readdirSync(join(dir, cache, 'blobs')).filter((f) => !/^[0-9a-f]{64}\.h5$/.test(f));

/** Every tensor of `m` has the bytes of `want`. */
const sameModel = (m: { tensors: Map<string, Tensor> }, want: Record<string, Tensor>): boolean =>
  m.tensors.size === Object.keys(want).length &&
  Object.entries(want).every(([k, t]) => !!m.tensors.get(k) && sameBytes(m.tensors.get(k)!.data, t.data));

/** Every tensor object a version's manifest names exists on the server. */
async function objectsExist(store: S3ModelStore, bucket: string, name: string, v: number): Promise<boolean> {
  const sdk = await import('@aws-sdk/client-s3');
  const c = clientFor(env, sdk.S3Client);
  const rec = (await store.record(name, v))!;
  let all = true;
  // A tensor's one object, or each of its pieces (tensors of 2 MiB are stored as two 1 MiB pieces).
  for (const object of rec.tensors.flatMap((t) => (t.chunks ? t.chunks.map((k) => k.object) : [t.object!]))) {
    const ok = await c.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: `${store.prefix}/${object}` })).then(
      () => true,
      () => false,
    );
    all &&= ok;
  }
  c.destroy();
  return all;
}

describe('content-addressed S3 store: radosgw killed mid-publish', () => {
  it('restarted while the tensor PUTs retry: the publish completes as exactly one version', async () => {
    const bucket = await makeBucket(env, 'cpubretry');
    const store = await open(bucket, 'pub1');
    expect(await store.save('m', model(1))).toBe(1);
    const kill = killAtFirstProgress(1500);
    const before = store.stats();
    const v2 = model(1, [0, 1, 2, 3, 4, 5]);
    expect(await store.save('m', v2, { onUploadProgress: kill.onProgress })).toBe(2);
    expect(kill.killed).toBe(true);
    expect(store.stats().tensorsUploaded - before.tensorsUploaded).toBe(12); // 6 tensors of 2 pieces
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1, 2]);
    expect(await objectsExist(store, bucket, 'm', 2)).toBe(true);
    const reader = await open(bucket, 'pub1-reader');
    const m = await reader.load('m');
    expect(m.version).toBe(2);
    expect(sameModel(m, v2)).toBe(true);
    m.close();
    for (const s of [store, reader]) s.destroy();
  });

  it('down for good: a typed network error, no visible version, orphan copies that gc removes, and the retry publishes', async () => {
    const bucket = await makeBucket(env, 'cpubfail');
    const grace = 1500;
    const store = await open(bucket, 'pub2', { retry: { attempts: 2, baseMs: 50 }, blobGraceMs: grace });
    expect(await store.save('m', model(3))).toBe(1);
    const kill = killAtFirstProgress();
    const err = await store
      .save('m', model(3, [0, 1, 2, 3, 4, 5]), { onUploadProgress: kill.onProgress })
      .catch((e: unknown) => e);
    rgwStart(env);
    expect(kill.killed).toBe(true);
    expect(err).toMatchObject({ code: 'H5_S3_NETWORK' });
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1]);
    // The copies the dead publish uploaded (at least the one that reported progress) are named by no
    // manifest: the first gc a grace period later marks them, the next one a grace period on deletes them.
    await sleep(grace + 1100); // LastModified has one-second resolution
    const g1 = await store.gc('m');
    expect(g1.condemned.length).toBeGreaterThan(0);
    expect(g1.objects).toEqual([]);
    await sleep(grace + 1100);
    const g2 = await store.gc('m');
    expect(new Set(g2.objects)).toEqual(new Set(g1.condemned));
    expect(await objectsExist(store, bucket, 'm', 1)).toBe(true);
    // The retry uploads new copies (the condemned ones are never revived) and publishes version 2.
    expect(await store.save('m', model(3, [0, 1, 2, 3, 4, 5]))).toBe(2);
    const reader = await open(bucket, 'pub2-reader');
    for (const [v, want] of [
      [1, model(3)],
      [2, model(3, [0, 1, 2, 3, 4, 5])],
    ] as const) {
      const m = await reader.load('m', v);
      expect(sameModel(m, want)).toBe(true);
      m.close();
    }
    for (const s of [store, reader]) s.destroy();
  });
});

describe('content-addressed S3 store: radosgw killed mid-pull', () => {
  it('restarted while the tensor GETs retry: the delta pull resumes and verifies', async () => {
    const bucket = await makeBucket(env, 'cpullretry');
    const pub = await open(bucket, 'pull1-pub');
    await pub.save('m', model(5));
    const v2 = model(5, [1, 2, 3, 4, 5, 6]);
    await pub.save('m', v2);
    const reader = await open(bucket, 'pull1');
    (await reader.load('m', 1)).close();
    const kill = killAtFirstProgress(1500);
    const before = reader.stats();
    const m = await reader.load('m', 2, { onDownloadProgress: kill.onProgress });
    expect(kill.killed).toBe(true);
    expect(m.pull.downloaded).toBe(true);
    expect(reader.stats().tensorsDownloaded - before.tensorsDownloaded).toBe(12); // 6 tensors of 2 pieces
    expect(reader.stats().tensorsFromCache - before.tensorsFromCache).toBe(2);
    expect(sameModel(m, v2)).toBe(true);
    m.close();
    expect(leftovers('pull1')).toEqual([]);
    for (const s of [pub, reader]) s.destroy();
  });

  it('down for good: a typed network error and nothing in the cache; after the restart the delta pull completes', async () => {
    const bucket = await makeBucket(env, 'cpullfail');
    const pub = await open(bucket, 'pull2-pub');
    await pub.save('m', model(6));
    const v2 = model(6, [1, 2, 3, 4, 5, 6]);
    await pub.save('m', v2);
    const reader = await open(bucket, 'pull2', { retry: { attempts: 2, baseMs: 50 } });
    (await reader.load('m', 1)).close();
    const info = (await reader.versions('m')).find((v) => v.version === 2)!;
    const kill = killAtFirstProgress();
    const err = await reader.load('m', 2, { onDownloadProgress: kill.onProgress }).catch((e: unknown) => e);
    expect(kill.killed).toBe(true);
    expect(err).toMatchObject({ code: 'H5_S3_NETWORK' });
    // No poisoned cache: neither the version nor a partial file.
    expect(existsSync(reader.cache.path(info.digest))).toBe(false);
    expect(leftovers('pull2')).toEqual([]);
    rgwStart(env);
    await sleep(100);
    const m = await reader.load('m', 2);
    expect(m.pull.downloaded).toBe(true);
    expect(sameModel(m, v2)).toBe(true);
    m.close();
    for (const s of [pub, reader]) s.destroy();
  });
});

/** Runs s3.child.mjs with the cluster's env; resolves to its last stdout line, parsed. */
const run = async (args: string[]): Promise<unknown> =>
  JSON.parse((await runNode(child, args, env as unknown as NodeJS.ProcessEnv)).trim().split('\n').pop()!);

describe('content-addressed S3 store: gc racing publishers, in real processes', () => {
  it('3 publishers and a pruning gc loop run concurrently; after, every listed version pulls and verifies', async () => {
    const bucket = await makeBucket(env, 'cgcrace');
    const url = `s3://${bucket}/m`;
    // A short grace period so that copies are marked and deleted while the publishers run:
    // the bytes of changed tensors recur every 3 versions, so publishers need bytes whose
    // copy gc has marked (after a prune) and must upload new copies of them.
    const grace = '3000';
    (await open(bucket, 'race-create')).destroy(); // the store exists before its gc opens it
    // gc keeps only the 2 latest versions, so a publisher stalled between picking its number and
    // creating its record sees that number pruned: it must still get a number of its own (a pruned
    // record is a tombstone; with deleted records, 2 publishers each got versions 32 and 46).
    const KEEP = '2';
    const publishers = [1, 2, 3].map((p) =>
      run(['cas-publish', url, 'm', '20', String(p), join(dir, `race-pub${p}`), grace]),
    );
    const stop = join(dir, 'race-stop');
    const gc = run(['gc-loop', url, 'm', join(dir, 'race-gc'), grace, KEEP, stop]);
    const versions = (await Promise.all(publishers).finally(() => writeFileSync(stop, ''))) as number[][];
    const totals = (await gc) as { runs: number; pruned: number; condemned: number; deleted: number };
    // Racing publishers got distinct versions.
    const all = versions.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // The race happened: gc pruned versions, then marked and deleted copies while publishers ran.
    expect(totals.pruned).toBeGreaterThan(0);
    expect(totals.condemned).toBeGreaterThan(0);
    expect(totals.deleted).toBeGreaterThan(0);
    const r = (await run(['verify-all', url, 'm', join(dir, 'race-verify')])) as {
      versions: number[];
      mismatched: string[];
    };
    expect(r.versions.length).toBeGreaterThanOrEqual(2);
    expect(r.mismatched).toEqual([]);
    // And every object each listed manifest names exists (a fresh server pulls them all above, too).
    const store = await open(bucket, 'race-check');
    for (const v of r.versions) expect(await objectsExist(store, bucket, 'm', v)).toBe(true);
    store.destroy();
  }, 300_000); // 60 publishes with stalls and a gc loop: ~110 s at a load of 22 on 2 cores
});
