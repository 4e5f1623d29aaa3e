/** saveModel / loadModel round trips, validation, progress, abort, temp handling. */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import {
  File,
  H5Error,
  loadModel,
  saveModel,
  verifyModel,
  modelDigestOf,
  canonicalTensorList,
  type Tensor,
  type TypedArray,
} from '../../lib/index.js';
import { bytesEqual, gaussian, tempDir } from '../helpers.js';
import { NUMERIC, sample } from './fixtures.js';

const dir = tempDir('h5vault-model-save-');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const temps = () => readdirSync(dir).filter((n) => n.includes('.h5vault-tmp-'));

function model(seed = 1): Record<string, Tensor> {
  return {
    'encoder/layer0/kernel': { dtype: 'float32', shape: [64, 32], data: gaussian(64 * 32, seed) },
    'encoder/layer0/bias': { dtype: 'float32', shape: [32], data: gaussian(32, seed + 1) },
    'decoder/out': { dtype: 'float16', shape: [8, 4], data: sample('float16', 32, seed) as Uint16Array },
    step: { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(seed)) },
  };
}

describe('saveModel / loadModel round trip', () => {
  it('every numeric dtype comes back bit-exact, as views when uncompressed', async () => {
    const tensors: Record<string, Tensor> = {};
    NUMERIC.forEach((d, i) => {
      tensors[`all/${d}`] = { dtype: d, shape: [3, 7], data: sample(d, 21, i + 3) as TypedArray };
    });
    tensors['scalar/f64'] = { dtype: 'float64', shape: [], data: Float64Array.of(Math.PI) };
    tensors['empty/rows'] = { dtype: 'int32', shape: [0, 5], data: new Int32Array(0) };
    const p = join(dir, 'dtypes.h5');
    const res = await saveModel(p, tensors);
    expect(res.path).toBe(p);
    expect(res.bytes).toBe(readFileSync(p).length);
    expect(res.digest).toBe(sha(p));
    const m = await loadModel(p);
    expect([...m.tensors.keys()]).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = m.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(bytesEqual(got.data, t.data)).toBe(true);
      expect(m.views.has(name)).toBe(true);
    }
    expect(m.provenance!.tensors).toBe(Object.keys(tensors).length);
    expect(m.provenance!.bytes).toBe(Object.values(tensors).reduce((a, t) => a + t.data.byteLength, 0));
    expect(m.provenance!.modelDigest).toBe(res.modelDigest);
    m.close();
  });

  for (const compression of [
    'gzip',
    'lzf',
    'lz4',
    'zstd',
    { name: 'gzip', level: 9 },
    { name: 'zstd', level: 19 },
    'bitshuffle',
    { name: 'bitshuffle', compressor: 'zstd', level: 5 },
  ] as const) {
    it(`compression ${JSON.stringify(compression)}: same tensors, same model digest, copies not views`, async () => {
      const plain = await saveModel(join(dir, 'plain.h5'), model());
      const p = join(dir, `c-${JSON.stringify(compression).replace(/\W/g, '')}.h5`);
      const res = await saveModel(p, model(), { compression, shuffle: true });
      expect(res.modelDigest).toBe(plain.modelDigest);
      expect(res.digest).not.toBe(plain.digest);
      const m = await loadModel(p);
      expect(m.views.has('encoder/layer0/kernel')).toBe(false);
      expect(m.views.has('step')).toBe(true); // scalars are never filtered
      expect(bytesEqual(m.tensors.get('encoder/layer0/kernel')!.data, model()['encoder/layer0/kernel']!.data)).toBe(
        true,
      );
      const f = File.open(p);
      expect(f.dataset('encoder/layer0/kernel').filters.length).toBeGreaterThan(0);
      f.close();
      m.close();
    });
  }

  it('copy: true gives owned copies; views survive close()', async () => {
    const p = join(dir, 'copy.h5');
    await saveModel(p, model());
    const a = await loadModel(p, { copy: true });
    expect(a.views.size).toBe(0);
    const b = await loadModel(p);
    const kept = b.tensors.get('encoder/layer0/kernel')!.data as Float32Array;
    b.close();
    a.close();
    expect(bytesEqual(kept, model()['encoder/layer0/kernel']!.data)).toBe(true);
  });

  it('accepts a Map, stores metadata canonically, reads naturally as groups', async () => {
    const p1 = join(dir, 'meta1.h5');
    const p2 = join(dir, 'meta2.h5');
    const r1 = await saveModel(p1, new Map(Object.entries(model())), {
      metadata: { run: 'r42', params: { lr: 0.001, layers: [2, 3] }, ok: true, none: null },
    });
    const r2 = await saveModel(p2, model(), {
      metadata: { ok: true, none: null, params: { layers: [2, 3], lr: 0.001 }, run: 'r42' },
    });
    expect(r1.digest).toBe(r2.digest); // key order does not change the bytes
    const m = await loadModel(p1);
    expect(m.metadata).toEqual({ run: 'r42', params: { lr: 0.001, layers: [2, 3] }, ok: true, none: null });
    m.close();
    const f = File.open(p1);
    expect(f.keys()).toEqual(['decoder', 'encoder', 'step']);
    expect(f.group('encoder/layer0').keys()).toEqual(['bias', 'kernel']);
    expect(f.attrs.get('h5vault.metadata')).toBe(
      '{"none":null,"ok":true,"params":{"layers":[2,3],"lr":0.001},"run":"r42"}',
    );
    f.close();
  });

  it('model digest is the documented canonical serialisation', async () => {
    const t = model();
    const res = await saveModel(join(dir, 'digest.h5'), t);
    const items = Object.entries(t).map(([name, x]) => ({
      name,
      dtype: x.dtype,
      shape: x.shape,
      sha256: createHash('sha256')
        .update(new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength))
        .digest('hex'),
    }));
    const text = canonicalTensorList(items);
    expect(text.split('\n')[0]).toBe('h5vault-model-digest-v1');
    expect(text).toContain(`step\tint64\t\t${items.find((i) => i.name === 'step')!.sha256}\n`);
    expect(text).toContain('encoder/layer0/kernel\tfloat32\t64,32\t');
    expect(modelDigestOf(items)).toBe(createHash('sha256').update(text).digest('hex'));
    expect(res.modelDigest).toBe(modelDigestOf(items));
  });

  it('same tensors twice in one process: identical bytes', async () => {
    const a = await saveModel(join(dir, 'r1.h5'), model(5), { compression: 'gzip', metadata: { x: 1 } });
    const b = await saveModel(join(dir, 'r2.h5'), model(5), { compression: 'gzip', metadata: { x: 1 } });
    expect(a.digest).toBe(b.digest);
    expect(Buffer.compare(readFileSync(a.path), readFileSync(b.path))).toBe(0);
  });

  it('tensor data given as a subarray is hashed over its own bytes only', async () => {
    const big = gaussian(100, 9);
    const res = await saveModel(join(dir, 'sub.h5'), {
      w: { dtype: 'float32', shape: [10], data: big.subarray(20, 30) },
    });
    const m = await loadModel(res.path);
    expect(Array.from(m.tensors.get('w')!.data as Float32Array)).toEqual(Array.from(big.subarray(20, 30)));
    m.close();
  });
});

describe('saveModel progress and abort', () => {
  it('onProgress reaches (total, total), monotonically', async () => {
    const calls: [number, number][] = [];
    await saveModel(join(dir, 'prog.h5'), model(), { onProgress: (d, t) => calls.push([d, t]) });
    const total = Object.values(model()).reduce((a, t) => a + t.data.byteLength, 0);
    expect(calls.length).toBe(4);
    expect(calls.at(-1)).toEqual([total, total]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThanOrEqual(calls[i - 1]![0]);
  });

  it('aborting mid-save leaves the old file untouched and no temp behind', async () => {
    const p = join(dir, 'abort.h5');
    const old = await saveModel(p, model(1));
    const ac = new AbortController();
    const err = await saveModel(p, model(2), { signal: ac.signal, onProgress: () => ac.abort() }).catch((e) => e);
    expect(err).toBeInstanceOf(H5Error);
    expect(err.code).toBe('H5_ABORTED');
    expect(sha(p)).toBe(old.digest);
    expect(temps()).toEqual([]);
    const pre = await saveModel(p, model(3), { signal: AbortSignal.abort() }).catch((e) => e);
    expect(pre.code).toBe('H5_ABORTED');
    expect(sha(p)).toBe(old.digest);
  });
});

describe('saveModel temp files', () => {
  it('removes stale temps of dead processes and old ones, keeps live recent ones', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    const dead = join(dir, `.x.h5.h5vault-tmp-${deadPid}-abcdef`);
    const liveOld = join(dir, `.y.h5.h5vault-tmp-${process.ppid}-abcdef`);
    const liveNew = join(dir, `.z.h5.h5vault-tmp-${process.ppid}-012345`);
    for (const f of [dead, liveOld, liveNew]) writeFileSync(f, 'partial');
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(liveOld, twoHoursAgo, twoHoursAgo);
    await saveModel(join(dir, 'cleaner.h5'), model());
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(liveOld)).toBe(false);
    expect(existsSync(liveNew)).toBe(true);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(liveNew);
  });

  it('concurrent saves to one path: last rename wins, never a mixed file', async () => {
    const p = join(dir, 'race.h5');
    const rs = await Promise.all(
      [1, 2, 3, 4].map((s) => saveModel(p, model(s), { compression: s % 2 ? 'gzip' : 'none' })),
    );
    const final = sha(p);
    expect(rs.map((r) => r.digest)).toContain(final);
    const m = await loadModel(p);
    expect(rs.map((r) => r.modelDigest)).toContain(m.provenance!.modelDigest);
    m.close();
    expect(temps()).toEqual([]);
  });
});

describe('saveModel argument errors', () => {
  const p = join(dir, 'bad.h5');
  const f32 = (n: number) => new Float32Array(n);
  const cases: [string, () => Promise<unknown>, RegExp, abstract new (...args: never[]) => Error][] = [
    ['empty path', () => saveModel('', model()), /non-empty string/, TypeError],
    ['tensors not an object', () => saveModel(p, 42 as never), /Record<string, Tensor>/, TypeError],
    [
      'leading slash',
      () => saveModel(p, { '/a': { dtype: 'float32', shape: [1], data: f32(1) } }),
      /segments/,
      TypeError,
    ],
    [
      'double slash',
      () => saveModel(p, { 'a//b': { dtype: 'float32', shape: [1], data: f32(1) } }),
      /segments/,
      TypeError,
    ],
    [
      'dot segment',
      () => saveModel(p, { 'a/../b': { dtype: 'float32', shape: [1], data: f32(1) } }),
      /segments/,
      TypeError,
    ],
    [
      'tab in name',
      () => saveModel(p, { 'a\tb': { dtype: 'float32', shape: [1], data: f32(1) } }),
      /control character/,
      TypeError,
    ],
    [
      'name is also a group',
      () =>
        saveModel(p, {
          a: { dtype: 'float32', shape: [1], data: f32(1) },
          'a/b': { dtype: 'float32', shape: [1], data: f32(1) },
        }),
      /also a group/,
      TypeError,
    ],
    [
      'string dtype',
      () => saveModel(p, { a: { dtype: 'string', shape: [1], data: ['x'] } as never }),
      /numeric dtype/,
      TypeError,
    ],
    [
      'wrong array class',
      () => saveModel(p, { a: { dtype: 'float64', shape: [1], data: f32(1) } }),
      /Float64Array/,
      TypeError,
    ],
    [
      'shape mismatch',
      () => saveModel(p, { a: { dtype: 'float32', shape: [2, 2], data: f32(3) } }),
      /holds 4/,
      RangeError,
    ],
    [
      'negative dim',
      () => saveModel(p, { a: { dtype: 'float32', shape: [-1], data: f32(0) } }),
      /non-negative/,
      TypeError,
    ],
    [
      'metadata function',
      () => saveModel(p, model(), { metadata: { f: (() => 1) as never } }),
      /metadata\.f is a function/,
      TypeError,
    ],
    ['metadata NaN', () => saveModel(p, model(), { metadata: { x: NaN } }), /non-finite/, TypeError],
    ['metadata Date', () => saveModel(p, model(), { metadata: { d: new Date() as never } }), /Date/, TypeError],
    ['metadata array', () => saveModel(p, model(), { metadata: [] as never }), /plain object/, TypeError],
    [
      'unknown codec',
      () => saveModel(p, model(), { compression: 'brotli' as never }),
      /unknown compression/,
      TypeError,
    ],
    [
      'szip on bool',
      () => saveModel(p, { b: { dtype: 'bool', shape: [4], data: new Uint8Array(4) } }, { compression: 'szip' }),
      /szip/,
      TypeError,
    ],
    ['shuffle not boolean', () => saveModel(p, model(), { shuffle: 1 as never }), /shuffle/, TypeError],
    ['signal not a signal', () => saveModel(p, model(), { signal: {} as never }), /AbortSignal/, TypeError],
    ['missing directory', () => saveModel(join(dir, 'no/such/dir/m.h5'), model()), /no\/such\/dir/, H5Error],
  ];
  for (const [what, run, msg, cls] of cases) {
    it(what, async () => {
      const e = (await run().catch((x: unknown) => x)) as Error;
      expect(e).toBeInstanceOf(cls);
      expect(String(e.message)).toMatch(msg);
      expect(existsSync(p)).toBe(false);
    });
  }

  it('loadModel refuses bad options and non-model files clearly', async () => {
    await expect(loadModel(join(dir, 'nope.h5'))).rejects.toMatchObject({ code: 'H5_FILE_NOT_FOUND' });
    await expect(loadModel(join(dir, 'plain.h5'), { expectDigest: 'abc' })).rejects.toThrow(TypeError);
    await expect(loadModel(join(dir, 'plain.h5'), { verify: 'yes' as never })).rejects.toThrow(TypeError);
    const foreign = join(dir, 'foreign.h5');
    const f = File.create(foreign);
    f.createDataset('w', { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) });
    f.close();
    await expect(loadModel(foreign)).rejects.toMatchObject({
      code: 'H5_UNSUPPORTED',
      message: expect.stringMatching(/verify: false/),
    });
    const m = await loadModel(foreign, { verify: false });
    expect(m.provenance).toBeNull();
    expect(Array.from(m.tensors.get('w')!.data as Float32Array)).toEqual([1, 2]);
    m.close();
    writeFileSync(join(dir, 'text.h5'), 'not hdf5');
    await expect(loadModel(join(dir, 'text.h5'))).rejects.toMatchObject({ code: 'H5_NOT_HDF5' });
  });

  it('untrusted: true walks the file in a child first (lib/safety/untrusted.ts), then loads and verifies', async () => {
    const p = join(dir, 'untrusted.h5');
    const res = await saveModel(p, model(4));
    const m = await loadModel(p, { untrusted: true });
    expect(m.provenance!.modelDigest).toBe(res.modelDigest);
    m.close();
    expect((await verifyModel(p, { untrusted: true })).ok).toBe(true);
    await expect(loadModel(join(dir, 'text.h5'), { untrusted: true })).rejects.toBeInstanceOf(H5Error);
    await expect(loadModel(p, { untrusted: 'yes' as never })).rejects.toThrow(TypeError);
  });
});
