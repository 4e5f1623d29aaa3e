/**
 * The ModelStore contract: what every store backend (the local directory
 * store, the S3 store) must do, as one suite run against each
 * (test/api/model.store.contract.test.ts, test/s3/store.contract.test.ts).
 */
import { describe, it, expect } from 'vitest';
import { H5Error, type ModelStore, type Tensor } from '../../lib/index.js';
import { gaussian, waitFor } from '../helpers.js';

/** The API both stores share. */
export type ContractStore = Pick<
  ModelStore,
  'root' | 'dir' | 'names' | 'versions' | 'latest' | 'save' | 'load' | 'prune' | 'watch' | 'serve'
>;

export interface ContractBackend {
  /** Opens the store `sub` (a fresh one per test), creating it when asked. */
  open(sub: string, create: boolean): Promise<ContractStore>;
}

export const contractModel = (seed: number): Record<string, Tensor> => ({
  'block/w': { dtype: 'float32', shape: [128, 64], data: gaussian(128 * 64, seed) },
  'block/b': { dtype: 'float32', shape: [64], data: gaussian(64, seed + 100) },
});

export function storeContract(label: string, backend: ContractBackend): void {
  describe(`ModelStore contract: ${label}`, () => {
    it('open refuses a store that does not exist unless { create: true }', async () => {
      const e = await backend.open('never-created', false).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(H5Error);
      expect(e).toMatchObject({ code: 'H5_NOT_FOUND', message: expect.stringContaining('{ create: true }') });
      await backend.open('made', true);
      await expect(backend.open('made', false)).resolves.toBeDefined();
    });

    it('numbers versions per model, lists their records, loads the latest or a given one zero-copy', async () => {
      const store = await backend.open('basic', true);
      expect(await store.versions('resnet')).toEqual([]);
      expect(await store.latest('resnet')).toBeNull();
      await expect(store.load('resnet')).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
      expect(await store.save('resnet', contractModel(1), { metadata: { epoch: 1 } })).toBe(1);
      expect(await store.save('resnet', contractModel(2), { metadata: { epoch: 2 }, compression: 'gzip' })).toBe(2);
      expect(await store.save('resnet', contractModel(3))).toBe(3);
      expect(await store.save('bert', contractModel(9))).toBe(1);
      expect(await store.names()).toEqual(['bert', 'resnet']);
      const vs = await store.versions('resnet');
      expect(vs.map((v) => v.version)).toEqual([1, 2, 3]);
      expect(vs.map((v) => v.file)).toEqual(['v000001.h5', 'v000002.h5', 'v000003.h5']);
      expect(vs[1]!.metadata).toEqual({ epoch: 2 });
      for (const v of vs) {
        expect(v.digest).toMatch(/^[0-9a-f]{64}$/);
        expect(v.modelDigest).toMatch(/^[0-9a-f]{64}$/);
        expect(v.bytes).toBeGreaterThan(128 * 64 * 4);
        expect(Number.isNaN(Date.parse(v.createdAt))).toBe(false);
      }
      expect(await store.latest('resnet')).toBe(3);
      const latest = await store.load('resnet');
      expect(latest.version).toBe(3);
      expect(latest.digest).toBe(vs[2]!.digest);
      expect(latest.views.has('block/w')).toBe(true);
      expect(latest.tensors.get('block/w')!.data).toEqual(gaussian(128 * 64, 3));
      latest.close();
      const v2 = await store.load('resnet', 2, { copy: true });
      expect(v2.metadata).toEqual({ epoch: 2 });
      expect(v2.provenance!.modelDigest).toBe(vs[1]!.modelDigest);
      expect(v2.tensors.get('block/b')!.data).toEqual(gaussian(64, 102));
      v2.close();
      await expect(store.load('resnet', 7)).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
    });

    it('rejects bad names, versions and options with TypeError/RangeError before any I/O', async () => {
      const store = await backend.open('bad', true);
      await expect(store.save('../evil', contractModel(1))).rejects.toThrow(TypeError);
      await expect(store.save('a/b', contractModel(1))).rejects.toThrow(TypeError);
      await expect(store.save('', contractModel(1))).rejects.toThrow(TypeError);
      await expect(store.load('ok', 0)).rejects.toThrow(TypeError);
      await expect(store.load('ok', 1.5)).rejects.toThrow(TypeError);
      await expect(store.load('ok', undefined, { expectDigest: 'x' } as never)).rejects.toThrow(/index/);
      await expect(store.prune('ok', { keep: 0 })).rejects.toThrow(RangeError);
      expect(() => store.watch('ok', 42 as never)).toThrow(TypeError);
      expect(() => store.watch('ok', () => {}, { intervalMs: 1 })).toThrow(RangeError);
      expect(() => store.watch('ok', () => {}, { from: 0 })).toThrow(TypeError);
      expect(await store.versions('ok')).toEqual([]);
    });

    it('an aborted save publishes nothing and a later save takes the next number', async () => {
      const store = await backend.open('abort', true);
      expect(await store.save('m', contractModel(1))).toBe(1);
      const ac = new AbortController();
      ac.abort();
      await expect(store.save('m', contractModel(2), { signal: ac.signal })).rejects.toMatchObject({
        code: 'H5_ABORTED',
      });
      expect((await store.versions('m')).map((v) => v.version)).toEqual([1]);
      expect(await store.save('m', contractModel(3))).toBe(2);
      const m = await store.load('m');
      expect(m.tensors.get('block/b')!.data).toEqual(gaussian(64, 103));
      m.close();
    });

    it('prune keeps the newest N and never the latest; views of a pruned version stay valid', async () => {
      const store = await backend.open('prune', true);
      for (let s = 1; s <= 4; s++) await store.save('m', contractModel(s));
      const old = await store.load('m', 1);
      const w = old.tensors.get('block/w')!.data as Float32Array;
      old.close();
      expect(await store.prune('m', { keep: 2 })).toEqual([1, 2]);
      expect((await store.versions('m')).map((v) => v.version)).toEqual([3, 4]);
      await expect(store.load('m', 1)).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
      expect(await store.save('m', contractModel(5))).toBe(5); // numbers are never reused
      globalThis.gc?.();
      expect(w).toEqual(gaussian(128 * 64, 1));
      expect(await store.prune('m', { keep: 5 })).toEqual([]);
      expect(await store.prune('never-saved', { keep: 1 })).toEqual([]);
    });

    it('watch calls back with each new latest version, and from: fires for one published before it started', async () => {
      const store = await backend.open('watch', true);
      await store.save('m', contractModel(1));
      const seen: number[] = [];
      const stop = store.watch('m', (v) => void seen.push(v), { intervalMs: 50 });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual([]); // not for the version current when watching starts
      await store.save('m', contractModel(2));
      await waitFor(() => seen.includes(2), 10_000);
      stop();
      const late: number[] = [];
      const stop2 = store.watch('m', (v) => void late.push(v), { intervalMs: 50, from: 1 });
      await waitFor(() => late.includes(2), 10_000);
      stop2();
      expect(late).toEqual([2]);
    });

    it('serve swaps to a newly published version once it is loaded and verified', async () => {
      const store = await backend.open('serve', true);
      await store.save('m', contractModel(1));
      const swaps: number[] = [];
      const server = await store.serve('m', { intervalMs: 50, onSwap: (e) => void swaps.push(e.to) });
      try {
        expect(server.version).toBe(1);
        await store.save('m', contractModel(2));
        await waitFor(() => server.version === 2, 10_000);
        const b = await server.use((m) => m.tensors.get('block/b')!.data);
        expect(b).toEqual(gaussian(64, 102));
        expect(swaps).toEqual([1, 2]);
      } finally {
        await server.close();
      }
    });
  });
}
