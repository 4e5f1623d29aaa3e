/** ModelStore.serve: swap only to complete, verified versions; retire a version when its last lease ends; refuse corrupt versions. */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import {
  H5Error,
  ModelStore,
  type RejectEvent,
  type RetireEvent,
  type ServedModel,
  type SwapEvent,
  type Tensor,
} from '../../lib/index.js';
import { tempDir, waitFor } from '../helpers.js';
import { saveCorrupt } from './model.serve.helpers.js';

const dir = tempDir('h5vault-model-serve-');

/** Version k's weights are all k: a value read through any lease names the version it came from. */
const model = (k: number): Record<string, Tensor> => ({
  w: { dtype: 'float32', shape: [64, 16], data: new Float32Array(64 * 16).fill(k) },
  b: { dtype: 'float32', shape: [16], data: new Float32Array(16).fill(k) },
});

const weight = (m: ServedModel): number => (m.tensors.get('w')!.data as Float32Array)[0]!;

function events() {
  const log = {
    swaps: [] as SwapEvent[],
    rejects: [] as RejectEvent[],
    retires: [] as RetireEvent[],
    errors: [] as unknown[],
  };
  return {
    log,
    hooks: {
      onSwap: (e: SwapEvent) => void log.swaps.push(e),
      onReject: (e: RejectEvent) => void log.rejects.push(e),
      onRetire: (e: RetireEvent) => void log.retires.push(e),
      onError: (e: unknown) => void log.errors.push(e),
    },
  };
}

describe('ModelStore.serve swaps', () => {
  it('serves the latest, swaps to a new version, and retires the old one only when its last lease is released', async () => {
    const store = await ModelStore.open(join(dir, 'swap'), { create: true });
    await store.save('m', model(1));
    const { log, hooks } = events();
    const disposed: number[] = [];
    const server = await store.serve('m', {
      ...hooks,
      load: (m) => ({ version: m.version, weight: weight(m) }),
      dispose: (rt) => void disposed.push(rt.version),
    });
    expect(server.version).toBe(1);
    expect(log.swaps.map((e) => [e.from, e.to])).toEqual([[null, 1]]);
    const held = server.acquire(); // an in-flight request on v1
    expect(held.model).toEqual({ version: 1, weight: 1 });

    await store.save('m', model(2));
    await waitFor(() => server.version === 2);
    expect(log.swaps.map((e) => [e.from, e.to])).toEqual([
      [null, 1],
      [1, 2],
    ]);
    expect(log.swaps[1]!.info.version).toBe(2);
    expect(log.swaps[1]!.loadMs).toBeGreaterThan(0);
    // v1 is still held: not disposed, its data still readable through the held lease.
    expect(disposed).toEqual([]);
    expect(server.live).toEqual([
      { version: 2, refs: 1 },
      { version: 1, refs: 1 },
    ]);
    expect(weight(held.loaded)).toBe(1);
    expect(await server.use((rt, lease) => [rt.weight, lease.version])).toEqual([2, 2]);

    held.release();
    held.release(); // idempotent: must not retire v2's count
    await waitFor(() => disposed.length === 1);
    expect(disposed).toEqual([1]);
    expect(log.retires.map((e) => e.version)).toEqual([1]);
    expect(server.live).toEqual([{ version: 2, refs: 1 }]);

    await server.close();
    expect(disposed).toEqual([1, 2]);
    expect(() => server.acquire()).toThrow(expect.objectContaining({ code: 'H5_CLOSED' }));
    expect(log.errors).toEqual([]);
  });

  it('no request sees a version before its load hook has finished', async () => {
    const store = await ModelStore.open(join(dir, 'half'), { create: true });
    await store.save('m', model(1));
    let releaseLoad: (() => void) | undefined;
    let loading = 0;
    const server = await store.serve('m', {
      load: async (m) => {
        if (m.version === 2) {
          loading = 2;
          await new Promise<void>((r) => {
            releaseLoad = r;
          });
        }
        return weight(m);
      },
    });
    await store.save('m', model(2));
    await waitFor(() => loading === 2);
    // v2 is verified and in the middle of the user's load: requests still get v1.
    for (let i = 0; i < 20; i++) expect(await server.use((w, lease) => [w, lease.version])).toEqual([1, 1]);
    releaseLoad!();
    await waitFor(() => server.version === 2);
    expect(await server.use((w) => w)).toBe(2);
    await server.close();
  });

  it('a corrupt new version is refused with a typed error and the old one keeps serving; the next good one swaps in', async () => {
    const store = await ModelStore.open(join(dir, 'corrupt'), { create: true });
    await store.save('m', model(1));
    const { log, hooks } = events();
    const server = await store.serve('m', hooks);
    expect(await saveCorrupt(store, 'm', model(2), 'w')).toBe(2);
    await waitFor(() => log.rejects.length === 1);
    const r = log.rejects[0]!;
    expect(r).toMatchObject({ name: 'm', version: 2, serving: 1 });
    expect(r.error).toBeInstanceOf(H5Error);
    expect(r.error).toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
      message: expect.stringMatching(/refusing to parse/),
    });
    expect(server.version).toBe(1);
    expect(await server.use((m) => weight(m))).toBe(1);
    await store.save('m', model(3));
    await waitFor(() => server.version === 3);
    expect(await server.use((m) => weight(m))).toBe(3);
    expect(log.swaps.map((e) => e.to)).toEqual([1, 3]);
    await server.close();
    expect(log.retires.map((e) => e.version).sort()).toEqual([1, 3]);
  });

  it('a version whose load hook throws is refused (and its file closed); the old one keeps serving', async () => {
    const store = await ModelStore.open(join(dir, 'hook-throws'), { create: true });
    await store.save('m', model(1));
    const { log, hooks } = events();
    const server = await store.serve('m', {
      ...hooks,
      load: (m) => {
        if (m.version === 2) throw new Error('runtime cannot build v2');
        return weight(m);
      },
    });
    await store.save('m', model(2));
    await waitFor(() => log.rejects.length === 1);
    expect(log.rejects[0]).toMatchObject({
      version: 2,
      serving: 1,
      error: expect.objectContaining({ message: 'runtime cannot build v2' }),
    });
    expect(server.live).toEqual([{ version: 1, refs: 1 }]);
    expect(await server.use((w) => w)).toBe(1);
    await server.close();
  });
});

describe('ModelStore.serve start and close', () => {
  it('starts on the newest version that verifies, reporting the refused newer ones', async () => {
    const store = await ModelStore.open(join(dir, 'restart'), { create: true });
    await store.save('m', model(1));
    await saveCorrupt(store, 'm', model(2), 'b');
    const { log, hooks } = events();
    const server = await store.serve('m', hooks);
    expect(server.version).toBe(1);
    expect(log.rejects.map((e) => [e.version, (e.error as H5Error).code, e.serving])).toEqual([
      [2, 'H5_CHECKSUM_MISMATCH', null],
    ]);
    // The refused latest is not retried by the watch; the next publish is served.
    await store.save('m', model(3));
    await waitFor(() => server.version === 3);
    expect(log.rejects).toHaveLength(1);
    await server.close();
  });

  it('refuses to start with a typed error when no version can be served', async () => {
    const store = await ModelStore.open(join(dir, 'none'), { create: true });
    await expect(store.serve('m')).rejects.toMatchObject({ code: 'H5_NOT_FOUND' });
    await saveCorrupt(store, 'm', model(1), 'w');
    await expect(store.serve('m', { onReject: () => {} })).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });
  });

  it('close() resolves only after the last lease is released, disposing every version once', async () => {
    const store = await ModelStore.open(join(dir, 'close'), { create: true });
    await store.save('m', model(1));
    const disposed: number[] = [];
    const server = await store.serve('m', { load: (m) => m.version, dispose: (v) => void disposed.push(v) });
    const lease = server.acquire();
    let closed = false;
    const done = server.close().then(() => {
      closed = true;
    });
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); // let close() run as far as it can
    expect(closed).toBe(false);
    expect(disposed).toEqual([]);
    expect(() => server.acquire()).toThrow(H5Error);
    expect(lease.model).toBe(1);
    lease[Symbol.dispose]();
    await done;
    expect(disposed).toEqual([1]);
    await server.close(); // idempotent
  });

  it('rejects bad arguments with TypeError/RangeError', async () => {
    const store = await ModelStore.open(join(dir, 'args'), { create: true });
    await expect(store.serve('../x')).rejects.toThrow(TypeError);
    await expect(store.serve('m', { load: 42 } as never)).rejects.toThrow(TypeError);
    await expect(store.serve('m', { intervalMs: 1 })).rejects.toThrow(RangeError);
    await expect(store.serve('m', null as never)).rejects.toThrow(TypeError);
  });
});
