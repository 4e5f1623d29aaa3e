/**
 * Every atomic replace keeps the replaced file's permission bits, and as root
 * its owner: a private (0600) model stays private after saveModel, a
 * File.create overwrite, a repack over it; a ModelStore's index keeps its
 * mode, and each new version takes the mode and owner of the newest one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { File, ModelStore, saveModel, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir } from '../helpers.js';
import { ensureBuilt, h5vault } from '../cli/run.js';

const dir = tempDir('h5vault-replace-mode-');
const model = (seed: number): Record<string, Tensor> => ({
  w: { dtype: 'float32', shape: [16], data: gaussian(16, seed) },
});
const mode = (p: string) => statSync(p).mode & 0o7777;
// Root may give files away: an owner that is not root proves the owner was copied.
const OWNER = { uid: 4321, gid: 8765 };
const isRoot = process.geteuid?.() === 0;

function privatise(p: string, m = 0o600): void {
  chmodSync(p, m);
  if (isRoot) chownSync(p, OWNER.uid, OWNER.gid);
}

function expectKept(p: string, m = 0o600): void {
  expect(mode(p).toString(8)).toBe(m.toString(8));
  if (isRoot) expect({ uid: statSync(p).uid, gid: statSync(p).gid }).toEqual(OWNER);
}

beforeAll(() => {
  if (!isRoot) throw new Error('these tests check that the owner is kept, which needs root');
  ensureBuilt();
});

describe('atomic replaces keep mode and owner', () => {
  it('saveModel over a 0600 file', async () => {
    const p = join(dir, 'save.h5');
    await saveModel(p, model(1));
    privatise(p);
    await saveModel(p, model(2));
    expectKept(p);
  });

  it('File.create overwrite of a 0640 file', () => {
    const p = join(dir, 'create.h5');
    File.create(p).close();
    privatise(p, 0o640);
    const f = File.create(p, { overwrite: true });
    f.createDataset('x', { dtype: 'int8', shape: [1], data: Int8Array.of(1) });
    f.close();
    expectKept(p, 0o640);
  });

  it('repack --force over its input', async () => {
    const p = join(dir, 'repack.h5');
    await saveModel(p, model(3));
    privatise(p);
    const r = h5vault(['repack', p, p, '--force', '--compression', 'gzip']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expectKept(p);
  });

  it("ModelStore: the index keeps its mode, a new version takes the newest version's", async () => {
    const store = await ModelStore.open(join(dir, 'store'), { create: true });
    expect(await store.save('m', model(4))).toBe(1);
    privatise(store.path('m', 1));
    privatise(join(store.dir('m'), 'index.json'));
    expect(await store.save('m', model(5))).toBe(2);
    expectKept(store.path('m', 2));
    expectKept(join(store.dir('m'), 'index.json'));
  });
});
