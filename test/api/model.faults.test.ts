/**
 * I/O faults at every step of a save (test-only fault hook), and a real full
 * filesystem (a 2 MiB tmpfs, mounted when running as root): a clean H5Error,
 * the old file intact, no temp file left.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, ModelStore, loadModel, saveModel, verifyModel, type Tensor } from '../../lib/index.js';
import { setFaultHook, type SaveStep } from '../../lib/util/publish.js';
import { gaussian, rng, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-model-faults-');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const leftovers = (d: string) => readdirSync(d).filter((n) => n.includes('.h5vault-tmp-'));

const model = (seed: number, n = 4096): Record<string, Tensor> => ({
  'l0/w': { dtype: 'float32', shape: [n / 64, 64], data: gaussian(n, seed) },
  'l0/b': { dtype: 'float32', shape: [64], data: gaussian(64, seed + 1) },
  'l1/w': { dtype: 'float32', shape: [n / 64, 64], data: gaussian(n, seed + 2) },
});

const errnoError = (code: string, syscall: string) =>
  Object.assign(new Error(`${code}: injected ${syscall} failure`), { code, syscall });

afterAll(() => setFaultHook(undefined));

describe('fault at each step of saveModel', () => {
  const before: { step: SaveStep; tensor?: string; errno: string }[] = [
    { step: 'create', errno: 'EACCES' },
    { step: 'write', tensor: 'l0/b', errno: 'EIO' },
    { step: 'write', tensor: 'l0/w', errno: 'ENOSPC' },
    { step: 'write', tensor: 'l1/w', errno: 'ENOSPC' },
    { step: 'attrs', errno: 'EIO' },
    { step: 'close', errno: 'EIO' },
    { step: 'fsync', errno: 'EIO' },
    { step: 'rename', errno: 'EXDEV' },
  ];
  for (const f of before) {
    it(`${f.step}${f.tensor ? ` (${f.tensor})` : ''} fails with ${f.errno}: old file intact, no temp`, async () => {
      const p = join(dir, 'target.h5');
      const old = await saveModel(p, model(1));
      const seen: string[] = [];
      setFaultHook((step, d) => {
        seen.push(step);
        if (step === f.step && (f.tensor === undefined || d.tensor === f.tensor)) throw errnoError(f.errno, step);
      });
      const e = await saveModel(p, model(2), { compression: 'gzip' }).catch((x) => x);
      setFaultHook(undefined);
      expect(e).toBeInstanceOf(H5Error);
      expect(e.code).toBe('H5_IO');
      expect(e.errno).toBe(f.errno);
      expect(e.message).toContain(p);
      expect(seen.at(-1)).toBe(f.step);
      expect(sha(p)).toBe(old.digest);
      expect((await verifyModel(p)).ok).toBe(true);
      expect(leftovers(dir)).toEqual([]);
    });
  }

  it('fsync-dir fails after the rename: the new model is in place and complete, the error says durability is unknown', async () => {
    const p = join(dir, 'target.h5');
    await saveModel(p, model(1));
    setFaultHook((step) => {
      if (step === 'fsync-dir') throw errnoError('EIO', 'fsync');
    });
    const e = await saveModel(p, model(3)).catch((x) => x);
    setFaultHook(undefined);
    expect(e).toMatchObject({ code: 'H5_IO', errno: 'EIO' });
    expect(e.message).toMatch(/power loss/);
    const m = await loadModel(p);
    expect(m.tensors.get('l0/b')!.data).toEqual(gaussian(64, 4));
    m.close();
    expect(leftovers(dir)).toEqual([]);
  });

  it('steps are called in the documented order', async () => {
    const steps: string[] = [];
    setFaultHook((s) => void steps.push(s));
    await saveModel(join(dir, 'order.h5'), model(1));
    setFaultHook(undefined);
    expect(steps).toEqual([
      'create',
      'write',
      'write',
      'write',
      'attrs',
      'close',
      'check',
      'fsync',
      'rename',
      'fsync-dir',
    ]);
  });
});

describe('ModelStore publish faults', () => {
  it('a failed link, or a failure after the link, publishes nothing: the retry gets the number, nothing is adopted', async () => {
    const store = await ModelStore.open(join(dir, 'store'), { create: true });
    expect(await store.save('m', model(1))).toBe(1);
    setFaultHook((step) => {
      if (step === 'rename') throw errnoError('EIO', 'link');
    });
    await expect(store.save('m', model(2))).rejects.toMatchObject({ code: 'H5_IO' });
    setFaultHook(undefined);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1]);
    expect(leftovers(store.dir('m'))).toEqual([]);
    // Fail after the version file is linked but before the index is rewritten: the version is taken back...
    setFaultHook((step) => {
      if (step === 'fsync-dir') throw errnoError('EIO', 'fsync');
    });
    await expect(store.save('m', model(3))).rejects.toMatchObject({ code: 'H5_IO' });
    setFaultHook(undefined);
    expect(await store.latest('m')).toBe(1);
    expect(readdirSync(store.dir('m')).filter((n) => n.includes('v000002'))).toEqual([]);
    // ...so the caller's retry publishes it once, as version 2.
    expect(await store.save('m', model(4))).toBe(2);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1, 2]);
    const m2 = await store.load('m', 2);
    expect(m2.tensors.get('l0/b')!.data).toEqual(gaussian(64, 5)); // model(4)'s bias
    m2.close();
  });
});

// A real full filesystem. Mounting needs root (CAP_SYS_ADMIN); the hook tests above cover the same paths without it.
const mnt = join(dir, 'tiny');
mkdirSync(mnt);
const mounted =
  process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status === 0;
afterAll(() => {
  // Lazy: views made by verifyModel keep mappings of files on it until they are collected.
  if (mounted) spawnSync('umount', ['-l', mnt]);
});

describe.runIf(mounted)('ENOSPC on a 2 MiB tmpfs', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`${compression}: a save that does not fit fails cleanly and frees its temp`, async () => {
      const p = join(mnt, `m-${compression}.h5`);
      const old = await saveModel(p, model(1));
      const r = rng(11);
      const noise = new Uint8Array(3 << 20).map(() => (r() * 256) | 0); // 3 MiB of noise: no codec shrinks it below 2 MiB
      const big = { ...model(2), noise: { dtype: 'uint8' as const, shape: [noise.length], data: noise } };
      const e = await saveModel(p, big, { compression }).catch((x) => x);
      expect(e).toBeInstanceOf(H5Error);
      expect(['H5_IO', 'H5_ERROR']).toContain(e.code);
      expect(sha(p)).toBe(old.digest);
      expect(leftovers(mnt)).toEqual([]);
      // And the space is really free again: a model that fits saves fine.
      await saveModel(p, model(5));
      expect((await verifyModel(p)).ok).toBe(true);
    });
  }
});
