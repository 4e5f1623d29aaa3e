/**
 * ModelStore publishes a version only together with its index entry. A save
 * whose index write fails for real (index.json is a mount point, so renaming
 * over it fails with EBUSY), or a publisher killed between linking the version
 * file and writing the index, publishes nothing: the caller's retry gets the
 * number once, and the leftover is removed, never adopted.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, ModelStore, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir } from '../helpers.js';
import { DIST_URL, ensureDist } from '../lifecycle/child.js';

const dir = tempDir('h5vault-store-publish-');
const model = (seed: number): Record<string, Tensor> => ({
  w: { dtype: 'float32', shape: [32, 32], data: gaussian(1024, seed) },
  b: { dtype: 'float32', shape: [32], data: gaussian(32, seed + 1) },
});
// Everything but the index, the lock and verified-once records (written by loads): versions, pending markers, temps.
const entries = (d: string) =>
  readdirSync(d)
    .filter((n) => n !== 'index.json' && n !== '.lock' && !/^\.v\d+\.h5\.verified$/.test(n))
    .sort();

describe('ModelStore publish is atomic', () => {
  it('the index write fails (EBUSY): the save rejects, nothing is published, the retry publishes version 2 once', async () => {
    const store = await ModelStore.open(join(dir, 'ebusy'), { create: true });
    expect(await store.save('m', model(1))).toBe(1);
    const index = join(store.dir('m'), 'index.json');
    // A bind mount of index.json onto itself: readable as before, but rename() over it fails with EBUSY.
    const m = spawnSync('mount', ['--bind', index, index], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot bind-mount ${index} (needs root): ${m.stderr}`);
    let e: unknown;
    try {
      e = await store.save('m', model(2)).catch((x) => x);
    } finally {
      spawnSync('umount', [index]);
    }
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_IO');
    expect((e as H5Error & { errno?: string }).errno).toBe('EBUSY');
    expect(await store.latest('m')).toBe(1);
    expect(entries(store.dir('m'))).toEqual(['v000001.h5']);
    // The caller retries: one new version, with the retried tensors.
    expect(await store.save('m', model(2))).toBe(2);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1, 2]);
    const l = await store.load('m');
    expect(l.version).toBe(2);
    expect(l.tensors.get('b')!.data).toEqual(gaussian(32, 3));
    l.close();
    expect(entries(store.dir('m'))).toEqual(['v000001.h5', 'v000002.h5']);
  });

  it('a publisher killed after linking the version file, before the index: the next save removes it and takes the number', async () => {
    ensureDist();
    const root = join(dir, 'killed');
    const store = await ModelStore.open(root, { create: true });
    expect(await store.save('m', model(1))).toBe(1);
    const script = join(dir, 'killed-child.mjs');
    writeFileSync(
      script,
      `const H5 = await import(${JSON.stringify(DIST_URL)});
       const { setFaultHook } = await import(${JSON.stringify(new URL('util/publish.js', DIST_URL).href)});
       // The version file is linked; the index is not written yet: die here.
       setFaultHook((step) => { if (step === 'fsync-dir') process.kill(process.pid, 'SIGKILL'); });
       const store = await H5.ModelStore.open(process.argv[2]);
       const t = (n) => ({ dtype: 'float32', shape: [n], data: new Float32Array(n).fill(9) });
       await store.save('m', { w: { ...t(1024), shape: [32, 32] }, b: t(32) });
       console.log('not killed');`,
    );
    const r = spawnSync(process.execPath, [script, root], { encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    expect(entries(store.dir('m'))).toEqual(['.v000002.h5.pending', 'v000001.h5', 'v000002.h5']);
    expect(await store.latest('m')).toBe(1);
    // The killed save never returned a version: it must not be published by anyone.
    expect(await store.save('m', model(4))).toBe(2);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1, 2]);
    const l = await store.load('m', 2);
    expect(l.tensors.get('b')!.data).toEqual(gaussian(32, 5));
    l.close();
    expect(entries(store.dir('m'))).toEqual(['v000001.h5', 'v000002.h5']);
  });

  it('prune also removes an abandoned unpublished version without publishing it', async () => {
    const store = await ModelStore.open(join(dir, 'prune'), { create: true });
    expect(await store.save('m', model(1))).toBe(1);
    expect(await store.save('m', model(2))).toBe(2);
    // What a dead publisher leaves: the version file and its marker (pid 0x7fffffff is not alive).
    const d = store.dir('m');
    spawnSync('ln', [join(d, 'v000002.h5'), join(d, 'v000003.h5')]);
    writeFileSync(
      join(d, '.v000003.h5.pending'),
      JSON.stringify({ pid: 0x7fffffff, host: (await import('node:os')).hostname() }),
    );
    expect(await store.prune('m', { keep: 1 })).toEqual([1]);
    expect((await store.versions('m')).map((v) => v.version)).toEqual([2]);
    expect(entries(d)).toEqual(['v000002.h5']);
  });
});
