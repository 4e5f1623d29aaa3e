/**
 * The S3 store under load and hostile conditions, on a real Ceph radosgw:
 * concurrent puller and publisher processes, a corrupted object, the
 * fallback for servers without conditional writes, the cache's LRU bound,
 * a slow and lossy connection, and typed errors.
 */
import { describe, it, expect, beforeAll, onTestFinished } from 'vitest';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelStore, S3ModelStore, type LoadedModel, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir } from '../helpers.js';
import { requireFreshDist, runNode } from '../api/model.helpers.js';
import { clientFor, makeBucket, sameBytes, sharedCluster, storeOptions } from './cluster.js';

const env = sharedCluster();
const dir = tempDir('h5vault-s3-load-');
const child = fileURLToPath(new URL('./s3.child.mjs', import.meta.url));
const MiB = 1024 * 1024;
const childEnv = {
  S3_ENDPOINT: env.S3_ENDPOINT,
  AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
  AWS_REGION: env.AWS_REGION,
};

const model = (seed: number, n = 64 * 1024): Record<string, Tensor> => ({
  w: { dtype: 'float32', shape: [n], data: gaussian(n, seed) },
  b: { dtype: 'float32', shape: [8], data: gaussian(8, seed + 1) },
});

const open = (bucket: string, cache: string, extra: object = {}) =>
  S3ModelStore.open(`s3://${bucket}/m`, { ...storeOptions(env, join(dir, cache)), create: true, ...extra });

/** As the child computes it: SHA-256 over name and bytes of every tensor, in name order. */
function tensorSha(m: LoadedModel): string {
  const h = createHash('sha256');
  for (const [name, t] of m.tensors)
    h.update(name).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex');
}

beforeAll(() => requireFreshDist());

describe('S3 store: concurrent processes', () => {
  it('8 puller processes into one cache: one download, all serve identical, verified bytes', async () => {
    const bucket = await makeBucket(env, 'pullers');
    const pub = await open(bucket, 'pullers-pub');
    await pub.save('m', model(7, 8 * MiB)); // 32 MiB
    const ref = await pub.load('m');
    const sha = tensorSha(ref);
    ref.close();
    const cache = join(dir, 'pullers-shared');
    const outs = await Promise.all(
      Array.from({ length: 8 }, () => runNode(child, ['pull', `s3://${bucket}/m`, 'm', 'latest', cache], childEnv)),
    );
    const res = outs.map((o) => JSON.parse(o) as { version: number; downloaded: boolean; sha: string; views: number });
    expect(res.filter((r) => r.downloaded)).toHaveLength(1);
    for (const r of res) expect(r).toMatchObject({ version: 1, sha, views: 2 });
    expect(readdirSync(join(cache, 'blobs'))).toHaveLength(1);
  });

  it('2 publisher processes × 20 versions with conditional writes: 40 distinct versions, none lost', async () => {
    const bucket = await makeBucket(env, 'publishers');
    const url = `s3://${bucket}/m`;
    const [a, b] = await Promise.all([
      runNode(child, ['publish', url, 'm', '20', '1000', join(dir, 'pub-a')], childEnv),
      runNode(child, ['publish', url, 'm', '20', '2000', join(dir, 'pub-b')], childEnv),
    ]);
    const got = [...(JSON.parse(a) as number[]), ...(JSON.parse(b) as number[])].sort((x, y) => x - y);
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const store = await open(bucket, 'publishers-check');
    const vs = await store.versions('m');
    expect(vs.map((v) => v.version)).toEqual(got);
    const seeds = new Set(vs.map((v) => v.metadata.seed));
    expect(seeds.size).toBe(40);
    expect(await store.gc('m', { graceMs: 0 })).toEqual({ objects: [], condemned: [], uploads: [], badRecords: [] }); // no object left unreferenced
  });

  it('without conditional writes, publishers sharing a lock directory still get distinct versions', async () => {
    const bucket = await makeBucket(env, 'fallback');
    const url = `s3://${bucket}/m`;
    const lockDir = join(dir, 'fallback-shared');
    const [a, b] = await Promise.all([
      runNode(child, ['publish', url, 'm', '10', '1000', lockDir, '0'], childEnv),
      runNode(child, ['publish', url, 'm', '10', '2000', lockDir, '0'], childEnv),
    ]);
    const got = [...(JSON.parse(a) as number[]), ...(JSON.parse(b) as number[])].sort((x, y) => x - y);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const store = await open(bucket, 'fallback-check');
    expect(new Set((await store.versions('m')).map((v) => v.metadata.seed)).size).toBe(20);
  });
});

describe('S3 store: AbortSignal', () => {
  it('an abort mid-upload publishes nothing and gc finds nothing left; an abort mid-download caches nothing', async () => {
    const bucket = await makeBucket(env, 'abort');
    const pub = await open(bucket, 'abort-pub', { partBytes: 5 * MiB, concurrency: 2 });
    await pub.save('m', model(1));
    const ac = new AbortController();
    const err = await pub
      .save('m', model(2, 6 * MiB), { signal: ac.signal, onUploadProgress: (sent) => sent > 0 && ac.abort() })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'H5_ABORTED' });
    expect((await pub.versions('m')).map((v) => v.version)).toEqual([1]);
    expect(await pub.gc('m', { graceMs: 0 })).toMatchObject({ objects: [] }); // the aborted multipart upload was aborted on the server too
    await pub.save('m', model(3, 6 * MiB));
    const reader = await open(bucket, 'abort-reader', { partBytes: 5 * MiB, concurrency: 2 });
    const ac2 = new AbortController();
    const err2 = await reader
      .load('m', 2, { signal: ac2.signal, onDownloadProgress: (n) => n > 0 && ac2.abort() })
      .catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: 'H5_ABORTED' });
    expect(readdirSync(join(dir, 'abort-reader', 'blobs'))).toEqual([]);
    const m = await reader.load('m', 2);
    expect(sameBytes(m.tensors.get('w')!.data, gaussian(6 * MiB, 3))).toBe(true);
    m.close();
  });
});

describe('S3 store: a corrupted object', () => {
  it('is refused with a typed digest error before libhdf5 parses it, never cached; the served version keeps serving', async () => {
    const bucket = await makeBucket(env, 'corrupt');
    const pub = await open(bucket, 'corrupt-pub');
    await pub.save('m', model(1));
    await pub.save('m', model(2));
    const rec = (await pub.record('m', 2))!;
    // Overwrite the object under the same key, same size, one byte changed, through the S3 API.
    const { S3Client, GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const raw = clientFor(env, S3Client);
    const key = `m/${rec.object}`;
    const bytes = await (
      await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    ).Body!.transformToByteArray();
    bytes[bytes.length >> 1] ^= 0x01;
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    raw.destroy();

    const server = await open(bucket, 'corrupt-server');
    await expect(server.load('m', 2)).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
      message: expect.stringMatching(/refusing/),
    });
    expect(readdirSync(join(dir, 'corrupt-server', 'blobs'))).toEqual([]);
    // Serving: the corrupt latest is rejected, version 1 serves, and a good version 3 is swapped in later.
    const rejected: { version: number; code: unknown }[] = [];
    const served = await server.serve('m', {
      intervalMs: 50,
      onReject: (e) => void rejected.push({ version: e.version, code: (e.error as { code?: unknown }).code }),
    });
    try {
      expect(served.version).toBe(1);
      expect(rejected).toEqual([{ version: 2, code: 'H5_CHECKSUM_MISMATCH' }]);
      expect(await served.use((m) => m.tensors.get('b')!.data)).toEqual(gaussian(8, 2));
      await pub.save('m', model(3));
      const end = Date.now() + 10_000;
      while (served.version !== 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(served.version).toBe(3);
    } finally {
      await served.close();
    }
  });
});

describe('S3 store: the cache', () => {
  it('a version mapped by another process is never evicted; once that process is gone (killed), it is', async () => {
    const bucket = await makeBucket(env, 'lruproc');
    const pub = await open(bucket, 'lruproc-pub');
    for (let s = 1; s <= 3; s++) await pub.save('m', model(s, 256 * 1024));
    const d = (await pub.versions('m')).map((v) => `${v.digest}.h5`);
    const cache = join(dir, 'lruproc');
    const holder = spawn(process.execPath, [child, 'hold', `s3://${bucket}/m`, 'm', '1', cache], {
      env: { ...process.env, ...childEnv },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    onTestFinished(() => void holder.kill('SIGKILL')); // never left running by a failed assertion
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (x) => String(x).includes('held') && resolve());
      holder.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    const reader = await open(bucket, 'lruproc', {
      cacheMaxBytes: Math.floor((await pub.versions('m'))[0]!.bytes * 1.5),
    });
    (await reader.load('m', 2)).close();
    (await reader.load('m', 3)).close();
    // Over the bound with only v1 (pinned by the other process) and v3 (just pulled): v2 went, v1 stayed.
    expect(new Set(readdirSync(join(cache, 'blobs')))).toEqual(new Set([d[0], d[2]]));
    const exited = new Promise((r) => holder.on('exit', r));
    holder.kill('SIGKILL');
    await exited;
    (await reader.load('m', 2)).close();
    // The dead holder's pin no longer counts: v1, least recently used, is evicted.
    expect(readdirSync(join(cache, 'blobs'))).toEqual([d[1]]);
  });

  it('pull pre-warms the cache: one download, then hits; a load after it maps the cached file', async () => {
    const bucket = await makeBucket(env, 'pull');
    const pub = await open(bucket, 'pull-pub');
    await pub.save('m', model(21));
    const reader = await open(bucket, 'pull');
    const first = await reader.pull('m');
    expect(first).toMatchObject({ version: 1, downloaded: true });
    expect(await reader.pull('m', 1)).toEqual({ ...first, downloaded: false });
    const m = await reader.load('m');
    expect(m.pull).toEqual({ downloaded: false, path: first.path });
    expect(m.path).toBe(first.path);
    m.close();
    await expect(reader.pull('m', 9)).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
    await expect(reader.pull('nothing')).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
  });

  it('evicts least recently used versions past its bound, never a mapped (pinned) one', async () => {
    const bucket = await makeBucket(env, 'lru');
    const pub = await open(bucket, 'lru-pub');
    for (let s = 1; s <= 4; s++) await pub.save('m', model(s, 256 * 1024)); // ~1 MiB each
    const size = (await pub.versions('m'))[0]!.bytes;
    const reader = await open(bucket, 'lru', { cacheMaxBytes: Math.floor(size * 2.5) });
    const v1 = await reader.load('m', 1); // held: pinned
    const v2 = await reader.load('m', 2);
    v2.close();
    const v3 = await reader.load('m', 3);
    v3.close();
    // Three files exceed 2.5: v2 (least recently used, not pinned) went, v1 stayed although older.
    const cached = async () => new Set(readdirSync(join(dir, 'lru', 'blobs')));
    const d = (await reader.versions('m')).map((v) => `${v.digest}.h5`);
    expect(await cached()).toEqual(new Set([d[0], d[2]]));
    expect((await reader.cacheStats()).pinned).toEqual([(await reader.versions('m'))[0]!.digest]);
    expect(sameBytes(v1.tensors.get('w')!.data, gaussian(256 * 1024, 1))).toBe(true);
    v1.close();
    const v4 = await reader.load('m', 4);
    v4.close();
    expect(await cached()).toEqual(new Set([d[2], d[3]])); // v1, released and least recent, is gone now
    const again = await reader.load('m', 1);
    expect(again.pull.downloaded).toBe(true);
    again.close();
  });
});

/**
 * A TCP proxy to radosgw that delays every chunk and cuts one response
 * connection in `dropEvery` after some bytes: a slow, lossy link on loopback
 * (tc netem on lo would slow down every process on this shared machine).
 */
function lossyProxy(
  target: URL,
  delayMs: number,
  dropEvery: number,
): Promise<{ server: Server; url: string; drops: () => number }> {
  let n = 0;
  let drops = 0;
  const server = createServer((client: Socket) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    const drop = ++n % dropEvery === 0;
    let sent = 0;
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      upstream.pause();
      setTimeout(() => {
        sent += d.length;
        if (drop && sent > 256 * 1024) {
          drops++;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(d, () => upstream.resume());
      }, delayMs);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${port}`, drops: () => drops });
    }),
  );
}

describe('S3 store: a slow, lossy connection', () => {
  it('pulls complete and verify through a proxy that delays and drops connections', async () => {
    const bucket = await makeBucket(env, 'lossy');
    const pub = await open(bucket, 'lossy-pub');
    await pub.save('m', model(11, 4 * MiB)); // 16 MiB
    const proxy = await lossyProxy(new URL(env.S3_ENDPOINT), 1, 3);
    try {
      const reader = await open(bucket, 'lossy', { endpoint: proxy.url, partBytes: 5 * MiB, concurrency: 4 });
      const m = await reader.load('m');
      expect(m.pull.downloaded).toBe(true);
      expect(sameBytes(m.tensors.get('w')!.data, gaussian(4 * MiB, 11))).toBe(true);
      m.close();
      expect(proxy.drops()).toBeGreaterThan(0);
    } finally {
      proxy.server.close();
    }
  });
});

describe('S3 store: typed errors', () => {
  it('bad credentials, a missing bucket and an unreachable endpoint; secrets never in messages', async () => {
    const bucket = await makeBucket(env, 'errors');
    const secret = 'not-the-secret-0123456789abcdef';
    const bad = await ModelStore.open(`s3://${bucket}/m`, {
      endpoint: env.S3_ENDPOINT,
      cacheDir: join(dir, 'err'),
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: secret },
    }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'H5_S3_ACCESS_DENIED' });
    expect(String((bad as Error).message) + JSON.stringify(bad)).not.toContain(secret);
    await expect(
      ModelStore.open('s3://no-such-bucket-h5v/m', { ...storeOptions(env, join(dir, 'err')), create: true }),
    ).rejects.toMatchObject({ code: 'H5_S3_NOT_FOUND' });
    const down = await ModelStore.open(`s3://${bucket}/m`, {
      ...storeOptions(env, join(dir, 'err')),
      endpoint: 'http://127.0.0.1:9',
      retry: { attempts: 1 },
      maxAttempts: 1,
    }).catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'H5_S3_NETWORK' });
    await expect(ModelStore.open('s3://ab/x', {})).rejects.toThrow(TypeError); // bucket names have 3+ characters
    await expect(
      ModelStore.open(`s3://${bucket}/m`, { ...storeOptions(env, join(dir, 'err')), partBytes: 1024 }),
    ).rejects.toThrow(RangeError);
  });
});
