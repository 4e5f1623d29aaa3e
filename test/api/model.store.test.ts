/** ModelStore: immutable versions, digest checked before parse, prune with live views, watch, concurrent savers. */
import { describe, it, expect, beforeAll } from 'vitest';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { H5Error, ModelStore, verifyModel, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir, waitFor } from '../helpers.js';
import { requireFreshDist, runNode } from './model.helpers.js';

const dir = tempDir('h5vault-model-store-');
const child = fileURLToPath(new URL('./model.child.mjs', import.meta.url));

const model = (seed: number): Record<string, Tensor> => ({
  'block/w': { dtype: 'float32', shape: [128, 64], data: gaussian(128 * 64, seed) },
  'block/b': { dtype: 'float32', shape: [64], data: gaussian(64, seed + 100) },
});

describe('ModelStore basics', () => {
  it('versions are numbered, immutable, listed with their records; load picks latest or a given one', async () => {
    const store = await ModelStore.open(join(dir, 'basic'), { create: true });
    expect(await store.versions('resnet')).toEqual([]);
    expect(await store.latest('resnet')).toBeNull();
    await expect(store.load('resnet')).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
    expect(await store.save('resnet', model(1), { metadata: { epoch: 1 } })).toBe(1);
    expect(await store.save('resnet', model(2), { metadata: { epoch: 2 }, compression: 'gzip' })).toBe(2);
    expect(await store.save('resnet', model(3))).toBe(3);
    expect(await store.save('bert', model(9))).toBe(1);
    expect(await store.names()).toEqual(['bert', 'resnet']);
    const vs = await store.versions('resnet');
    expect(vs.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(vs.map((v) => v.file)).toEqual(['v000001.h5', 'v000002.h5', 'v000003.h5']);
    expect(vs[1]!.metadata).toEqual({ epoch: 2 });
    for (const v of vs) {
      expect(v.bytes).toBe(readFileSync(store.path('resnet', v.version)).length);
      expect(Number.isNaN(Date.parse(v.createdAt))).toBe(false);
    }
    const latest = await store.load('resnet');
    expect(latest.version).toBe(3);
    expect(latest.digest).toBe(vs[2]!.digest);
    expect(latest.tensors.get('block/b')!.data).toEqual(gaussian(64, 103));
    latest.close();
    const v2 = await store.load('resnet', 2, { copy: true });
    expect(v2.metadata).toEqual({ epoch: 2 });
    expect(v2.provenance!.modelDigest).toBe(vs[1]!.modelDigest);
    v2.close();
    await expect(store.load('resnet', 7)).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
  });

  it('a changed version file is refused before libhdf5 parses it', async () => {
    const store = await ModelStore.open(join(dir, 'tamper'), { create: true });
    await store.save('m', model(1));
    const p = store.path('m', 1);
    const fd = openSync(p, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 0);
    b[0]! ^= 0x80; // the superblock signature: libhdf5 would not even recognise the file
    writeSync(fd, b, 0, 1, 0);
    closeSync(fd);
    await expect(store.load('m')).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
      message: expect.stringMatching(/refusing to parse/),
    });
  });

  it('rejects bad names, versions and options with clear errors', async () => {
    const store = await ModelStore.open(join(dir, 'bad'), { create: true });
    await expect(store.save('../evil', model(1))).rejects.toThrow(TypeError);
    await expect(store.save('a/b', model(1))).rejects.toThrow(TypeError);
    await expect(store.save('', model(1))).rejects.toThrow(TypeError);
    await expect(store.load('ok', 0)).rejects.toThrow(TypeError);
    await expect(store.load('ok', 1.5)).rejects.toThrow(TypeError);
    await expect(store.load('ok', undefined, { expectDigest: 'x' } as never)).rejects.toThrow(/index/);
    await expect(store.prune('ok', { keep: 0 })).rejects.toThrow(RangeError);
    expect(() => store.watch('ok', 42 as never)).toThrow(TypeError);
    expect(() => store.watch('ok', () => {}, { intervalMs: 1 })).toThrow(RangeError);
    await expect(ModelStore.open('')).rejects.toThrow(TypeError);
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    await expect(ModelStore.open(join(dir, 'not-a-dir'), { create: true })).rejects.toMatchObject({ code: 'H5_IO' });
  });

  it('open without { create: true } refuses a path that is not a store (a typo) and creates nothing', async () => {
    const typo = join(dir, 'no-such-store', 'models');
    const e = await ModelStore.open(typo).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect(e).toMatchObject({ code: 'H5_NOT_FOUND', path: typo });
    expect((e as Error).message).toContain(typo);
    expect((e as Error).message).toContain('{ create: true }');
    expect(existsSync(join(dir, 'no-such-store'))).toBe(false);
    // An existing directory that is not a store is refused too, and left unmarked.
    mkdirSync(join(dir, 'plain-dir'));
    await expect(ModelStore.open(join(dir, 'plain-dir'))).rejects.toMatchObject({
      code: 'H5_NOT_FOUND',
      message: expect.stringMatching(/is not a model store/),
    });
    expect(readdirSync(join(dir, 'plain-dir'))).toEqual([]);
    writeFileSync(join(dir, 'a-file'), 'x');
    await expect(ModelStore.open(join(dir, 'a-file'))).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
    await expect(ModelStore.open(typo, { create: 'yes' } as never)).rejects.toThrow(TypeError);
    // Created explicitly, it opens without the option afterwards.
    const made = await ModelStore.open(typo, { create: true });
    await made.save('m', model(1));
    const again = await ModelStore.open(typo);
    expect(await again.latest('m')).toBe(1);
  });

  it('a corrupt index is reported as H5_CORRUPT', async () => {
    const store = await ModelStore.open(join(dir, 'corrupt'), { create: true });
    await store.save('m', model(1));
    writeFileSync(join(store.dir('m'), 'index.json'), '{"format": 1, "versions": [{"version": "one"}]}');
    await expect(store.load('m')).rejects.toMatchObject({ code: 'H5_CORRUPT' });
  });
});

describe('ModelStore prune', () => {
  it('keeps the newest N; views of a pruned version stay valid after its file is unlinked', async () => {
    const store = await ModelStore.open(join(dir, 'prune'), { create: true });
    for (let s = 1; s <= 5; s++) await store.save('m', model(s));
    const old = await store.load('m', 1);
    expect(old.views.has('block/w')).toBe(true);
    const w = old.tensors.get('block/w')!.data as Float32Array;
    old.close();
    expect(await store.prune('m', { keep: 2 })).toEqual([1, 2, 3]);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([4, 5]);
    expect(existsSync(store.path('m', 1))).toBe(false);
    await expect(store.load('m', 1)).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
    // A new version is published over the pruned ones while the view is held.
    expect(await store.save('m', model(6))).toBe(6);
    globalThis.gc?.();
    expect(w).toEqual(gaussian(128 * 64, 1)); // every element, read through the mapping of the unlinked file
    expect(await store.prune('m', { keep: 5 })).toEqual([]);
    expect(await store.prune('never-saved', { keep: 1 })).toEqual([]);
  });
});

describe('ModelStore watch', () => {
  it('calls back with each new latest version (fs.watch)', async () => {
    const store = await ModelStore.open(join(dir, 'watch'), { create: true });
    await store.save('m', model(1));
    const seen: number[] = [];
    // A long poll period: a prompt callback proves the fs.watch path fired.
    const stop = store.watch('m', (v) => void seen.push(v), { intervalMs: 60_000 });
    await new Promise((r) => setTimeout(r, 50));
    await store.save('m', model(2));
    await waitFor(() => seen.includes(2), 5000);
    await store.save('m', model(3));
    await waitFor(() => seen.includes(3), 5000);
    stop();
    await store.save('m', model(4));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([2, 3]);
  });

  it('with { from }, a version published before the first index read is reported too', async () => {
    const store = await ModelStore.open(join(dir, 'watch-from'), { create: true });
    await store.save('m', model(1));
    await store.save('m', model(2)); // the caller knows v1 only: v2 came in before it started watching
    const seen: number[] = [];
    const stop = store.watch('m', (v) => void seen.push(v), { intervalMs: 60_000, from: 1 });
    await waitFor(() => seen.length > 0, 5000);
    stop();
    expect(seen).toEqual([2]);
    expect(() => store.watch('m', () => {}, { from: 0 })).toThrow(TypeError);
  });

  it('falls back to polling (the model directory does not exist when watching starts)', async () => {
    const store = await ModelStore.open(join(dir, 'poll'), { create: true });
    const seen: number[] = [];
    const errors: unknown[] = [];
    const stop = store.watch('late', (v) => void seen.push(v), { intervalMs: 50, onError: (e) => errors.push(e) });
    await new Promise((r) => setTimeout(r, 120));
    await store.save('late', model(1));
    await waitFor(() => seen.includes(1), 5000);
    stop();
    expect(errors).toEqual([]);
  });

  it('a throwing callback goes to onError, watching continues', async () => {
    const store = await ModelStore.open(join(dir, 'watch-err'), { create: true });
    await store.save('m', model(1));
    const errors: unknown[] = [];
    const seen: number[] = [];
    const stop = store.watch(
      'm',
      (v) => {
        seen.push(v);
        if (v === 2) throw new Error('boom');
      },
      { intervalMs: 50, onError: (e) => errors.push(e) },
    );
    await new Promise((r) => setTimeout(r, 80));
    await store.save('m', model(2));
    await waitFor(() => errors.length === 1, 5000);
    await store.save('m', model(3));
    await waitFor(() => seen.includes(3), 5000);
    stop();
    expect((errors[0] as Error).message).toBe('boom');
  });
});

describe('ModelStore concurrency', () => {
  beforeAll(requireFreshDist);

  it('two processes saving to one model at once get disjoint versions, all published and valid', async () => {
    const root = join(dir, 'concurrent');
    await ModelStore.open(root, { create: true });
    const [a, b] = await Promise.all([
      runNode(child, ['store-save', root, 'shared', '4', '100']),
      runNode(child, ['store-save', root, 'shared', '4', '200']),
    ]).then((rs) => rs.map((r) => JSON.parse(r) as number[]));
    expect([...a!, ...b!].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const store = await ModelStore.open(root);
    const vs = await store.versions('shared');
    expect(vs.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await store.latest('shared')).toBe(8);
    for (const v of vs) {
      const r = await verifyModel(store.path('shared', v.version), { expectDigest: v.digest });
      expect(r.ok).toBe(true);
      expect(r.modelDigest).toBe(v.modelDigest);
    }
    // Each process's versions carry its own metadata, in its own order.
    const pids = new Set(vs.map((v) => v.metadata.pid));
    expect(pids.size).toBe(2);
    expect(existsSync(join(store.dir('shared'), '.lock'))).toBe(false);
  });

  it('a lock left by a dead process is broken; a live one times out with H5_FILE_LOCKED', async () => {
    const root = join(dir, 'locks');
    const store = await ModelStore.open(root, { create: true, lock: { timeoutMs: 300 } });
    const mdir = join(root, 'm');
    mkdirSync(mdir, { recursive: true });
    const c = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => c.on('exit', r));
    writeFileSync(join(mdir, '.lock'), JSON.stringify({ pid: c.pid, host: hostname(), token: 'dead' }));
    expect(await store.save('m', model(1))).toBe(1);
    writeFileSync(join(mdir, '.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), token: 'live' }));
    const e = await store.save('m', model(2)).catch((x) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect(e.code).toBe('H5_FILE_LOCKED');
    expect(e.message).toContain(`pid ${process.ppid}`);
    expect(readdirTemps(mdir)).toEqual([]);
  });

  it('an orphan version file (publisher died after link) is adopted by the next save', async () => {
    const store = await ModelStore.open(join(dir, 'orphan'), { create: true });
    await store.save('m', model(1));
    const src = store.path('m', 1);
    // Simulate: v2 fully written and linked, index not yet rewritten.
    writeFileSync(store.path('m', 2), readFileSync(src));
    expect(await store.latest('m')).toBe(1);
    expect(await store.save('m', model(3))).toBe(3);
    const vs = await store.versions('m');
    expect(vs.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(vs[1]!.digest).toBe(vs[0]!.digest);
    const m2 = await store.load('m', 2);
    m2.close();
  });
});

function readdirTemps(d: string): string[] {
  return readdirSync(d).filter((n) => n.includes('h5vault-tmp'));
}
