/**
 * The S3 store's version records are untrusted input (anyone with write access
 * to the bucket can put a key under versions/): a record that is not one is
 * skipped and reported, never the end of load/gc/prune (issue 21, defect 16).
 * And an aborted save leaves nothing running behind its rejection.
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { S3ModelStore, type BadRecord, type Tensor } from '../../lib/index.js';
import { RECORD_MAX_BYTES } from '../../lib/model/store/s3-record.js';
import { gaussian, tempDir } from '../helpers.js';
import { clientFor, makeBucket, sharedCluster, storeOptions } from './cluster.js';

const env = sharedCluster();
const dir = tempDir('h5vault-s3-records-');
const MiB = 1024 * 1024;

const model = (seed: number, n = 64 * 1024): Record<string, Tensor> => ({
  w: { dtype: 'float32', shape: [n], data: gaussian(n, seed) },
});

async function put(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const raw = clientFor(env, S3Client);
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  raw.destroy();
}

describe('S3 store: records that are not records', () => {
  it('junk under versions/ (not JSON, the wrong record, oversized) is skipped and reported by latest, load, versions, prune, gc and save', async () => {
    const bucket = await makeBucket(env, 'junk');
    const bad: BadRecord[] = [];
    const store = await S3ModelStore.open(`s3://${bucket}/m`, {
      ...storeOptions(env, join(dir, 'junk')),
      create: true,
      onBadRecord: (b) => bad.push(b),
    });
    expect(await store.save('m', model(1))).toBe(1);
    expect(await store.save('m', model(2))).toBe(2);
    await put(bucket, 'm/m/versions/v9999999.json', 'this is not a version record');
    await put(bucket, 'm/m/versions/v000003.json', JSON.stringify({ format: 1, name: 'm', version: 7 }));
    await put(bucket, 'm/m/versions/v000050.json', new Uint8Array(17 * MiB).fill(0x20)); // whitespace: JSON.parse would take it

    expect(await store.latest('m')).toBe(2);
    const m = await store.load('m');
    expect(m.version).toBe(2);
    expect(m.tensors.get('w')!.data).toEqual(gaussian(64 * 1024, 2));
    m.close();
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1, 2]);
    expect(new Set(bad.map((b) => b.version))).toEqual(new Set([3, 50, 9999999]));
    expect(bad.every((b) => b.error.code === 'H5_CORRUPT')).toBe(true);
    expect(bad.find((b) => b.version === 50)!.error.message).toMatch(/at most/);

    // Asked for by number, a bad record is an error, typed.
    await expect(store.load('m', 9999999)).rejects.toMatchObject({ code: 'H5_CORRUPT' });

    const g = await store.gc('m', { graceMs: 0 });
    expect(g.objects).toEqual([]); // both real versions' objects are referenced
    expect(g.badRecords.map((b) => b.key).sort()).toEqual([
      'm/m/versions/v000003.json',
      'm/m/versions/v000050.json',
      'm/m/versions/v9999999.json',
    ]);

    // The next number skips the one the junk holds.
    expect(await store.save('m', model(4))).toBe(4);
    expect(await store.prune('m', { keep: 1 })).toEqual([1, 2]);
    expect(await store.latest('m')).toBe(4);
    store.destroy();
  });

  it('without onBadRecord, a skipped record is a process warning with code H5_CORRUPT', async () => {
    const bucket = await makeBucket(env, 'warn');
    const store = await S3ModelStore.open(`s3://${bucket}/m`, {
      ...storeOptions(env, join(dir, 'warn')),
      create: true,
    });
    await store.save('m', model(1));
    await put(bucket, 'm/m/versions/v000009.json', '{');
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(await store.latest('m')).toBe(1);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => [w.name, w.code])).toEqual([['H5VaultWarning', 'H5_CORRUPT']]);
    expect(warnings[0]!.message).toContain('m/m/versions/v000009.json');
    store.destroy();
  });
});

describe('S3 store: an aborted save', () => {
  it('has aborted its multipart upload on the server by the time it rejects, and gc right after it succeeds', async () => {
    const bucket = await makeBucket(env, 'abortrace');
    const store = await S3ModelStore.open(`s3://${bucket}/m`, {
      ...storeOptions(env, join(dir, 'abortrace')),
      create: true,
      partBytes: 5 * MiB,
      concurrency: 2,
    });
    const { S3Client, ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
    const raw = clientFor(env, S3Client);
    try {
      for (let round = 0; round < 5; round++) {
        const ac = new AbortController();
        const err = await store
          .save('m', model(round, 6 * MiB), { signal: ac.signal, onUploadProgress: (sent) => sent > 0 && ac.abort() })
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'H5_ABORTED' });
        const left = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        expect(left.Uploads ?? []).toEqual([]);
        expect(await store.gc('m', { graceMs: 0 })).toMatchObject({ objects: [], uploads: [] });
      }
      expect(await store.versions('m')).toEqual([]);
    } finally {
      raw.destroy();
      store.destroy();
    }
  });
});

describe('S3 store: manifests that ask too much', () => {
  it('a manifest naming a tensor bigger than the process can allocate: H5_TOO_LARGE, nothing cached', async () => {
    const bucket = await makeBucket(env, 'huge');
    const opts = (cache: string) => ({
      ...storeOptions(env, join(dir, cache)),
      create: true,
      layout: 'tensors' as const,
    });
    const pub = await S3ModelStore.open(`s3://${bucket}/m`, opts('huge-pub'));
    await pub.save('m', model(3));
    const rec = (await pub.record('m', 1))!;
    // The same object and hash, a shape of 2^46 floats (256 TiB): a valid record, an impossible pull.
    const t = rec.tensors[0]!;
    const huge = { ...rec, version: 2, tensors: [{ ...t, shape: [2 ** 46], bytes: 2 ** 48 }] };
    await put(bucket, 'm/m/versions/v000002.json', JSON.stringify(huge));
    const server = await S3ModelStore.open(`s3://${bucket}/m`, opts('huge-server'));
    const err = await server.load('m', 2).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'H5_TOO_LARGE' });
    expect((err as Error).message).toContain("tensor 'w' (281474976710656 bytes)");
    expect(await server.cache.has(rec.digest)).toBe(false);
    pub.destroy();
    server.destroy();
  });

  for (const layout of ['file', 'tensors'] as const)
    it(`layout '${layout}': a save whose record readers would refuse (17 MiB of metadata) is H5_TOO_LARGE before any upload; nothing is published`, async () => {
      const bucket = await makeBucket(env, `bigrec-${layout}`);
      const store = await S3ModelStore.open(`s3://${bucket}/m`, {
        ...storeOptions(env, join(dir, `bigrec-${layout}`)),
        create: true,
        layout,
      });
      const before = store.stats();
      const err = await store
        .save('m', model(4), { metadata: { notes: 'x'.repeat(17 * MiB) } })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'H5_TOO_LARGE' });
      expect((err as Error).message).toContain(`readers accept at most ${RECORD_MAX_BYTES}`);
      expect(store.stats().puts - before.puts).toBe(0);
      expect(await store.versions('m')).toEqual([]);
      // The store is fine: a save that fits is version 1, and loads.
      expect(await store.save('m', model(4), { metadata: { notes: 'short' } })).toBe(1);
      const m = await store.load('m');
      expect(m.metadata).toEqual({ notes: 'short' });
      m.close();
      store.destroy();
    });
});
