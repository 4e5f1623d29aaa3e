/**
 * File.open('s3://bucket/key'): lazy, read-only reads of an object on a real
 * radosgw, compared value by value with the same file read locally and by h5py.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { File, H5Error, Dataset, type Group } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { ensureBuilt } from '../cli/run.js';
import { startCluster, type Cluster } from './cluster.js';

let cl: Cluster;
const dir = tempDir('h5vault-remote-');
const mixed = join(dir, 'mixed.h5');
const big = join(dir, 'big.h5');
const BUCKET = 'lazy-reads';

// Every dtype and layout the engine and libhdf5 paths read: contiguous,
// chunked+gzip+shuffle, chunked+lz4, fletcher32, compact, strings, scalars,
// nested groups, attributes.
const MAKE_MIXED = `
import h5py, hdf5plugin, numpy as np, sys
rng = np.random.default_rng(7)
with h5py.File(sys.argv[1], 'w') as f:
    f.attrs['model'] = 'remote-test'
    f.attrs['layers'] = np.arange(5, dtype='i4')
    f['f32'] = rng.standard_normal((300, 70)).astype('f4')
    f['f64'] = rng.standard_normal(1000)
    f['u8'] = rng.integers(0, 255, 4096, dtype='u1')
    f['i64/scalar'] = np.int64(-42)
    f.create_dataset('i64/gz', data=rng.integers(-10**12, 10**12, (200, 300)), chunks=(50, 64), compression='gzip', shuffle=True)
    f.create_dataset('lz4', data=rng.standard_normal((512, 512)).astype('f4'), chunks=(128, 128), **hdf5plugin.LZ4())
    f.create_dataset('f16fl', data=rng.standard_normal(5000).astype('f2'), chunks=(1000,), fletcher32=True)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    ds = h5py.h5d.create(f.id, b'compact', h5py.h5t.NATIVE_INT16, h5py.h5s.create_simple((10,)), dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(10, dtype='i2'))
    f['deep/er/still'] = np.arange(12, dtype='u4').reshape(3, 4)
    f['deep'].attrs['note'] = 'nested'
    f['text'] = np.array([b'alpha', b'beta', b'gamma'])
`;

// 16 float32 tensors of 4 MiB (64 MiB) as h5vault's models lay them out: the
// fraction a single tensor read fetches is what matters.
const MAKE_BIG = `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    for i in range(16):
        f.create_dataset('layers/%02d/w' % i, data=np.full(1 << 20, i, dtype='f4') + np.arange(1 << 20, dtype='f4') * 1e-6)
`;

const H5PY_DIGESTS = `
import h5py, hashlib, json, sys, numpy as np, hdf5plugin
out = {}
def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and obj.dtype.kind != 'S':
        out['/' + name] = hashlib.sha256(np.ascontiguousarray(obj[()]).astype(obj.dtype.newbyteorder('<')).tobytes()).hexdigest()
with h5py.File(sys.argv[1], 'r') as f:
    f.visititems(visit)
print(json.dumps(out))
`;

function datasets(g: Group, out: Dataset[] = []): Dataset[] {
  for (const k of g.keys()) {
    const o = g.get(k);
    if (o instanceof Dataset) out.push(o);
    else datasets(o, out);
  }
  return out;
}

// Reads here are of numeric and string datasets only (ReadData covers every class).
function sha(v: unknown): string {
  const d = v as ArrayBufferView | string[];
  if (Array.isArray(d)) return createHash('sha256').update(JSON.stringify(d)).digest('hex');
  return createHash('sha256')
    .update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
    .digest('hex');
}

beforeAll(async () => {
  requirePeers();
  ensureBuilt(); // the block cache runs dist/remote/cache-worker.js
  cl = await startCluster();
  python(MAKE_MIXED, [mixed]);
  python(MAKE_BIG, [big]);
  await cl.bucket(BUCKET);
  await cl.put(BUCKET, 'models/mixed.h5', readFileSync(mixed));
  await cl.put(BUCKET, 'models/big.h5', readFileSync(big));
}, 180_000);

afterAll(async () => cl?.stop(), 120_000);

describe('File.open(s3://...)', () => {
  it('reads every dataset and attribute exactly as the local file and h5py do', async () => {
    const local = File.open(mixed);
    const remote = File.open(`s3://${BUCKET}/models/mixed.h5`, cl.options);
    const want = JSON.parse(python(H5PY_DIGESTS, [mixed])) as Record<string, string>;
    try {
      expect(remote.filename).toBe(`s3://${BUCKET}/models/mixed.h5`);
      expect(remote.mode).toBe('r');
      expect(remote.attrs.keys()).toEqual(local.attrs.keys());
      for (const k of local.attrs.keys()) expect(remote.attrs.get(k)).toEqual(local.attrs.get(k));
      expect(remote.group('deep').attrs.get('note')).toBe('nested');
      const ls = datasets(local);
      const rs = datasets(remote);
      expect(rs.map((d) => d.path)).toEqual(ls.map((d) => d.path));
      expect(rs.length).toBeGreaterThanOrEqual(10);
      let compared = 0;
      for (let i = 0; i < ls.length; i++) {
        const [l, r] = [ls[i]!, rs[i]!];
        expect([r.dtype, r.shape, r.layout, r.filters.map((f) => f.id)]).toEqual([
          l.dtype,
          l.shape,
          l.layout,
          l.filters.map((f) => f.id),
        ]);
        const [lv, rv, rsync] = [await l.read(), await r.read(), r.readSync()];
        expect(sha(rv)).toBe(sha(lv));
        expect(sha(rsync)).toBe(sha(lv));
        if (want[l.path]) {
          expect(sha(rv), l.path).toBe(want[l.path]);
          compared++;
        }
      }
      expect(compared).toBe(Object.keys(want).length);
      // A selection reads through the same path.
      const part = await remote.dataset('i64/gz').read({ start: [10, 20], count: [30, 40] });
      expect(sha(part)).toBe(sha(await local.dataset('i64/gz').read({ start: [10, 20], count: [30, 40] })));
    } finally {
      local.close();
      remote.close();
    }
  });

  it('reading one 4 MiB tensor of a 64 MiB file fetches that tensor and a few small blocks', async () => {
    const size = readFileSync(big).length;
    const f = await File.openAsync(`s3://${BUCKET}/models/big.h5`, cl.options);
    try {
      const before = f.remote!;
      expect(before.size).toBe(size);
      const d = f.dataset('layers/07/w');
      const v = (await d.read()) as Float32Array;
      expect(v.length).toBe(1 << 20);
      expect(v[0]).toBe(7);
      expect(v[1000]).toBeCloseTo(7 + 1000e-6, 6);
      const local = File.open(big);
      expect(sha(v)).toBe(sha(await local.dataset('layers/07/w').read()));
      local.close();
      const s = f.remote!;
      // The tensor itself plus metadata blocks: far from the whole file.
      expect(s.bytesFetched).toBeGreaterThanOrEqual(4 << 20);
      expect(s.bytesFetched).toBeLessThan((4 << 20) + 8 * 256 * 1024);
      expect(s.s3Requests).toBeLessThan(12);
      expect(s.driverRequests).toBeGreaterThan(s.s3Requests); // the cache absorbed metadata reads
    } finally {
      f.close();
    }
  });

  it('close() while a read is pending: the read completes with the right bytes, later calls are H5_CLOSED', async () => {
    const f = File.open(`s3://${BUCKET}/models/big.h5`, cl.options);
    const d = f.dataset('layers/09/w');
    const p = d.read();
    f.close();
    const v = (await p) as Float32Array;
    const local = File.open(big);
    expect(sha(v)).toBe(sha(await local.dataset('layers/09/w').read()));
    local.close();
    await expect(d.read()).rejects.toMatchObject({ code: 'H5_CLOSED' });
  });

  it('takes credentials from the standard AWS environment variables when none are given', () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: cl.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: cl.env.AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_S3: cl.env.S3_ENDPOINT,
    });
    try {
      const f = File.open(`s3://${BUCKET}/models/mixed.h5`);
      expect(f.dataset('u8').readSync().length).toBe(4096);
      f.close();
    } finally {
      process.env = saved;
    }
  });

  it('takes credentials from a shared credentials file and profile (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE)', () => {
    const creds = join(dir, 'aws-credentials');
    writeFileSync(
      creds,
      `[lazy]\naws_access_key_id = ${cl.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${cl.env.AWS_SECRET_ACCESS_KEY}\n`,
    );
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: creds,
      AWS_CONFIG_FILE: join(dir, 'no-config'),
      AWS_PROFILE: 'lazy',
    });
    try {
      const f = File.open(`s3://${BUCKET}/models/mixed.h5`, { endpoint: cl.env.S3_ENDPOINT });
      expect(f.dataset('u8').readSync().length).toBe(4096);
      f.close();
    } finally {
      process.env = saved;
    }
  });

  it('a missing object or bucket is H5_S3_NOT_FOUND, wrong keys H5_S3_ACCESS_DENIED, and no message holds the secret', () => {
    const codeOf = (url: string, o = cl.options) => {
      try {
        File.open(url, o).close();
      } catch (e) {
        expect(e).toBeInstanceOf(H5Error);
        expect((e as Error).message).not.toContain(cl.env.AWS_SECRET_ACCESS_KEY);
        expect((e as Error).stack ?? '').not.toContain(cl.env.AWS_SECRET_ACCESS_KEY);
        return (e as H5Error).code;
      }
      return 'opened';
    };
    expect(codeOf(`s3://${BUCKET}/models/nope.h5`)).toBe('H5_S3_NOT_FOUND');
    expect(codeOf('s3://no-such-bucket-here/x.h5')).toBe('H5_S3_NOT_FOUND');
    const bad = {
      ...cl.options,
      credentials: { accessKeyId: cl.env.AWS_ACCESS_KEY_ID, secretAccessKey: 'wrong-secret-0123456789' },
    };
    expect(codeOf(`s3://${BUCKET}/models/mixed.h5`, bad)).toBe('H5_S3_ACCESS_DENIED');
  });

  it('openAsync: opens off the event loop, rejects with the same typed errors as open', async () => {
    const url = `s3://${BUCKET}/models/mixed.h5`;
    const opens = await Promise.all([File.openAsync(url, cl.options), File.openAsync(url, cl.options)]);
    for (const f of opens) {
      expect(f.dataset('deep/er/still').readSync()).toEqual(new Uint32Array(12).map((_, i) => i));
      f.close();
    }
    await expect(File.openAsync(`s3://${BUCKET}/models/nope.h5`, cl.options)).rejects.toMatchObject({
      code: 'H5_S3_NOT_FOUND',
    });
    await expect(File.openAsync(url, { ...cl.options, mode: 'r+' })).rejects.toMatchObject({ code: 'H5_READ_ONLY' });
    await cl.put(BUCKET, 'junk2.bin', new Uint8Array(4096).fill(7));
    await expect(File.openAsync(`s3://${BUCKET}/junk2.bin`, cl.options)).rejects.toMatchObject({ code: 'H5_NOT_HDF5' });
  });

  it('an object that is not HDF5 is H5_NOT_HDF5', async () => {
    await cl.put(BUCKET, 'junk.bin', new TextEncoder().encode('not an hdf5 file at all, just text'.repeat(100)));
    expect(() => File.open(`s3://${BUCKET}/junk.bin`, cl.options)).toThrow(
      expect.objectContaining({ code: 'H5_NOT_HDF5' }),
    );
  });

  it('refuses writes, untrusted opens, views and malformed URLs with typed errors', () => {
    const url = `s3://${BUCKET}/models/mixed.h5`;
    expect(() => File.open(url, { ...cl.options, mode: 'r+' })).toThrow(
      expect.objectContaining({ code: 'H5_READ_ONLY' }),
    );
    expect(() => File.open(url, { ...cl.options, untrusted: true })).toThrow(
      expect.objectContaining({ code: 'H5_UNSUPPORTED', reason: 'remote-untrusted' }),
    );
    expect(() => File.open('s3://ab/x.h5', cl.options)).toThrow(TypeError); // the same answer as ModelStore.open's (lib/remote/url.ts)
    expect(() => File.open('s3://bucket-only', cl.options)).toThrow(TypeError);
    const f = File.open(url, cl.options);
    try {
      const d = f.dataset('f32');
      expect(d.viewable).toBe('remote');
      expect(() => d.view()).toThrow(expect.objectContaining({ code: 'H5_NOT_VIEWABLE', reason: 'remote' }));
      expect(d.viewOrCopy().viewed).toBe(false);
    } finally {
      f.close();
    }
  });

  it('an object replaced on the server while open is H5_S3_CHANGED, never a mix of two versions', async () => {
    await cl.put(BUCKET, 'models/replaced.h5', readFileSync(big));
    const f = File.open(`s3://${BUCKET}/models/replaced.h5`, { ...cl.options, blockSize: 64 * 1024 });
    try {
      const first = f.dataset('layers/00/w');
      expect(((await first.read()) as Float32Array)[0]).toBe(0);
      await cl.put(BUCKET, 'models/replaced.h5', readFileSync(mixed).subarray(0)); // a different file under the same key
      // Opening the dataset reads its object header, which is not cached yet.
      await expect((async () => f.dataset('layers/15/w').read())()).rejects.toMatchObject({ code: 'H5_S3_CHANGED' });
    } finally {
      f.close();
    }
  });

  it("a local file's error raised while a remote read is failing keeps its own code; the remote read gets the S3 one", async () => {
    await cl.put(BUCKET, 'models/replaced-2.h5', readFileSync(big));
    const f = File.open(`s3://${BUCKET}/models/replaced-2.h5`, { ...cl.options, blockSize: 64 * 1024 });
    const local = File.open(mixed);
    try {
      const ds = f.dataset('layers/03/w'); // its header is read (and cached) now
      await cl.put(BUCKET, 'models/replaced-2.h5', readFileSync(mixed)); // the next range GET fails If-Match (412)
      const pending = ds.read().then(
        () => 'read',
        (e: unknown) => (e as H5Error).code,
      );
      // Errors on the local file while that read fails on the pool: the main thread
      // stays in this loop, so the remote failure happens between or during these calls.
      const codes = new Set<string>();
      for (const until = Date.now() + 3000; Date.now() < until; ) {
        try {
          local.attrs.get('no-such-attribute');
        } catch (e) {
          codes.add((e as H5Error).code);
        }
      }
      expect([...codes]).toEqual(['H5_NOT_FOUND']);
      expect(await pending).toBe('H5_S3_CHANGED');
    } finally {
      local.close();
      f.close();
    }
  });

  it('radosgw killed before and during reads: typed H5_S3_NETWORK, the process stays up, reads work again after a restart', async () => {
    const f = File.open(`s3://${BUCKET}/models/big.h5`, { ...cl.options, maxAttempts: 2 });
    try {
      const local = File.open(big);
      const want = sha(await local.dataset('layers/03/w').read());
      // During: a read in flight when the gateway dies either completed before
      // it died (then its bytes are right) or fails typed.
      const inflight = f
        .dataset('layers/01/w')
        .read()
        .then(
          (v) => ({ ok: sha(v) === sha(local.dataset('layers/01/w').readSync()) }),
          (e: unknown) => ({ code: (e as H5Error).code }),
        );
      await cl.rgwStop();
      const r = await inflight;
      if ('ok' in r) expect(r.ok).toBe(true);
      else expect(r.code).toBe('H5_S3_NETWORK');
      // After: nothing answers.
      await expect((async () => f.dataset('layers/03/w').read())()).rejects.toMatchObject({ code: 'H5_S3_NETWORK' });
      expect(() => f.dataset('layers/05/w').readSync()).toThrow(expect.objectContaining({ code: 'H5_S3_NETWORK' }));
      await cl.rgwStart();
      expect(sha(await f.dataset('layers/03/w').read())).toBe(want);
      local.close();
    } finally {
      f.close();
    }
  }, 180_000);
});
