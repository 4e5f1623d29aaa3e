/**
 * S3 store faults on a real Ceph radosgw that the tests SIGKILL and restart
 * (a cluster of this file's own, so no other file sees its gateway die):
 * a crash mid-publish and mid-pull, with and without the gateway coming
 * back while the operation still retries.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { S3ModelStore, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir } from '../helpers.js';
import { makeBucket, ownCluster, sameBytes, rgwStart, rgwStop, storeOptions } from './cluster.js';

const env = ownCluster();
const dir = tempDir('h5vault-s3-faults-');
const MiB = 1024 * 1024;

// 24 MiB of float32: five 5 MiB parts, so a crash lands between parts.
const big = (seed: number): Record<string, Tensor> => ({
  w: { dtype: 'float32', shape: [6 * MiB], data: gaussian(6 * MiB, seed) },
  b: { dtype: 'float32', shape: [16], data: gaussian(16, seed + 1) },
});

const open = (bucket: string, cache: string, extra: object = {}) =>
  S3ModelStore.open(`s3://${bucket}/m`, {
    ...storeOptions(env, join(dir, cache)),
    create: true,
    partBytes: 5 * MiB,
    concurrency: 2,
    ...extra,
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Files of a cache's blobs directory other than complete, verified versions. */
const leftovers = (cache: string): string[] =>
  readdirSync(join(dir, cache, 'blobs')).filter((f) => !/^[0-9a-f]{64}\.h5$/.test(f));

describe('S3 store: radosgw killed mid-publish', () => {
  it('restarted while the upload retries: the publish completes as exactly one version', async () => {
    const bucket = await makeBucket(env, 'pubretry');
    const store = await open(bucket, 'pub1');
    expect(await store.save('m', big(1))).toBe(1);
    let killed = false;
    const saving = store.save('m', big(2), {
      onUploadProgress: (sent) => {
        if (!killed && sent > 0) {
          killed = true;
          rgwStop(env);
          setTimeout(() => rgwStart(env), 1500);
        }
      },
    });
    expect(await saving).toBe(2);
    expect(killed).toBe(true);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1, 2]);
    const reader = await open(bucket, 'pub1-reader');
    const m = await reader.load('m');
    expect(m.pull.downloaded).toBe(true);
    expect(sameBytes(m.tensors.get('w')!.data, gaussian(6 * MiB, 2))).toBe(true);
    m.close();
  });

  it('down for good: a typed network error, no visible version, garbage that gc removes, and the retry publishes', async () => {
    const bucket = await makeBucket(env, 'pubfail');
    const store = await open(bucket, 'pub2', { retry: { attempts: 2, baseMs: 50 } });
    expect(await store.save('m', big(3))).toBe(1);
    let killed = false;
    const err = await store
      .save('m', big(4), {
        onUploadProgress: (sent) => {
          if (!killed && sent > 0) {
            killed = true;
            rgwStop(env);
          }
        },
      })
      .catch((e: unknown) => e);
    rgwStart(env);
    expect(err).toMatchObject({ code: 'H5_S3_NETWORK' });
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1]);
    expect(await store.latest('m')).toBe(1);
    // What the dead publish left (a multipart upload, parts) is garbage: gc with no grace removes it, and keeps version 1.
    const gc = await store.gc('m', { graceMs: 0 });
    expect(gc.objects.length + gc.uploads.length).toBeGreaterThan(0);
    expect(await store.gc('m', { graceMs: 0 })).toEqual({ objects: [], condemned: [], uploads: [], badRecords: [] });
    expect(await store.save('m', big(4))).toBe(2);
    const reader = await open(bucket, 'pub2-reader');
    for (const [v, seed] of [
      [1, 3],
      [2, 4],
    ] as const) {
      const m = await reader.load('m', v);
      expect(sameBytes(m.tensors.get('w')!.data, gaussian(6 * MiB, seed))).toBe(true);
      m.close();
    }
  });
});

describe('S3 store: radosgw killed mid-pull', () => {
  it('restarted while the ranges retry: the pull resumes and verifies', async () => {
    const bucket = await makeBucket(env, 'pullretry');
    const pub = await open(bucket, 'pull1-pub');
    await pub.save('m', big(5));
    const reader = await open(bucket, 'pull1');
    let killed = false;
    const m = await reader.load('m', undefined, {
      onDownloadProgress: (n) => {
        if (!killed && n > 0) {
          killed = true;
          rgwStop(env);
          setTimeout(() => rgwStart(env), 1500);
        }
      },
    });
    expect(killed).toBe(true);
    expect(m.pull.downloaded).toBe(true);
    expect(sameBytes(m.tensors.get('w')!.data, gaussian(6 * MiB, 5))).toBe(true);
    m.close();
    expect(leftovers('pull1')).toEqual([]);
  });

  it('down for good: a typed network error and nothing in the cache; after the restart the pull completes', async () => {
    const bucket = await makeBucket(env, 'pullfail');
    const pub = await open(bucket, 'pull2-pub');
    await pub.save('m', big(6));
    const reader = await open(bucket, 'pull2', { retry: { attempts: 2, baseMs: 50 } });
    const info = (await reader.versions('m'))[0]!;
    let killed = false;
    const err = await reader
      .load('m', 1, {
        onDownloadProgress: (n) => {
          if (!killed && n > 0) {
            killed = true;
            rgwStop(env);
          }
        },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'H5_S3_NETWORK' });
    // No poisoned cache: neither the version nor a partial file.
    expect(existsSync(reader.cache.path(info.digest))).toBe(false);
    expect(leftovers('pull2')).toEqual([]);
    rgwStart(env);
    await sleep(100);
    const m = await reader.load('m', 1);
    expect(m.pull.downloaded).toBe(true);
    expect(sameBytes(m.tensors.get('w')!.data, gaussian(6 * MiB, 6))).toBe(true);
    m.close();
  });
});
