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
  // Numbering, records, load of the latest or a given version: the shared contract
  // (model.store.contract.ts) checks them for both backends. What is local only:
  it("a version is a file: path() names it and its record gives that file's size", async () => {
    const store = await ModelStore.open(join(dir, 'basic'), { create: true });
    await store.save('resnet', model(1));
    await store.save('resnet', model(2), { compression: 'gzip' });
    const vs = await store.versions('resnet');
    expect(vs.map((v) => v.file)).toEqual(['v000001.h5', 'v000002.h5']);
    for (const v of vs) expect(v.bytes).toBe(readFileSync(store.path('resnet', v.version)).length);
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

  // Bad names, versions and options: the shared contract. Local only:
  it('open refuses an empty path (TypeError) and a file where the store directory should be (H5_IO)', async () => {
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
  // Keep N, never the latest, views of a pruned version stay valid, numbers never
  // reused: the shared contract. Local only: the pruned files are unlinked (the
  // contract's valid views are then mappings of unlinked files).
  it('unlinks the files of the pruned versions and keeps the others', async () => {
    const store = await ModelStore.open(join(dir, 'prune'), { create: true });
    for (let s = 1; s <= 3; s++) await store.save('m', model(s));
    expect(await store.prune('m', { keep: 1 })).toEqual([1, 2]);
    expect([1, 2, 3].map((v) => existsSync(store.path('m', v)))).toEqual([false, false, true]);
  });
});

describe('ModelStore watch', () => {
  // Callbacks for new versions and { from }: the shared contract. Local only: fs.watch and its fallback.
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
