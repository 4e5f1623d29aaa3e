/**
 * ModelStore's verified-once records: a version verified in full by a load
 * is not hashed again while its file keeps the same
 * identity; any write to the file (even one that puts the mtime back) changes
 * the ctime, and the next load hashes it and catches the change.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { File, ModelStore, type Tensor } from '../../lib/index.js';
import { bytesEqual, gaussian, tempDir } from '../helpers.js';
import { saveCorrupt } from './model.serve.helpers.js';

const tensors: Record<string, Tensor> = {
  'enc/w': { dtype: 'float32', shape: [64, 32], data: gaussian(2048, 1) },
  'enc/b': { dtype: 'float32', shape: [32], data: gaussian(32, 2) },
  step: { dtype: 'int64', shape: [], data: BigInt64Array.of(3n) },
};

async function freshStore(): Promise<ModelStore> {
  return ModelStore.open(tempDir('h5vault-store-verified-'), { create: true });
}

/** Overwrites one tensor's bytes in place (same size), then puts the mtime back to the nanosecond: only the ctime shows the write. */
function tamperKeepingMtime(path: string, tensor: string): void {
  const f = File.open(path);
  const offset = f.dataset(tensor).offset!;
  f.close();
  const ref = `${path}.times`;
  execFileSync('touch', ['-r', path, ref]); // utimensat: nanosecond times, unlike fs.utimes' doubles
  const before = statSync(path, { bigint: true });
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(16, 0x7f), 0, 16, offset);
  closeSync(fd);
  execFileSync('touch', ['-r', ref, path]);
  const after = statSync(path, { bigint: true });
  expect(after.mtimeNs).toBe(before.mtimeNs);
  expect(after.size).toBe(before.size);
  expect(after.ctimeNs).not.toBe(before.ctimeNs);
}

describe('ModelStore verified once', () => {
  it('the first load verifies in full and records it; later loads hash nothing and return the same data', async () => {
    const store = await freshStore();
    const v = await store.save('m', tensors);
    const rec = join(store.dir('m'), `.v00000${v}.h5.verified`);
    expect(existsSync(rec)).toBe(false);
    const first = await store.load('m');
    expect(first.hashed).toEqual({ file: true, tensors: true });
    first.close();
    expect(existsSync(rec)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const m = await store.load('m');
      expect(m.hashed).toEqual({ file: false, tensors: false });
      expect(bytesEqual(m.tensors.get('enc/w')!.data, tensors['enc/w']!.data)).toBe(true);
      expect(m.views.has('enc/w')).toBe(true);
      m.close();
    }
  });

  it('a byte flipped between hashing and publishing (fault hook) is caught by the first load and never recorded', async () => {
    const store = await freshStore();
    await saveCorrupt(store, 'm', tensors, 'enc/w');
    await expect(store.load('m')).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });
    expect(existsSync(join(store.dir('m'), '.v000001.h5.verified'))).toBe(false);
  });

  it('bytes rewritten with the mtime put back (utimes) are caught: the ctime changed, the file is hashed, the load fails', async () => {
    const store = await freshStore();
    const v = await store.save('m', tensors);
    (await store.load('m')).close();
    expect((await store.load('m')).hashed).toEqual({ file: false, tensors: false });
    const path = store.path('m', v);
    tamperKeepingMtime(path, 'enc/w');
    await expect(store.load('m')).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });
    // Every later load fails too: the record did not learn the tampered file.
    await expect(store.load('m')).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });
  });

  it('a metadata-only change (chmod) costs one file hash, which stands for the tensors; the record then follows the file', async () => {
    const store = await freshStore();
    const v = await store.save('m', tensors);
    (await store.load('m')).close();
    chmodSync(store.path('m', v), 0o600);
    const m1 = await store.load('m');
    expect(m1.hashed).toEqual({ file: true, tensors: false });
    m1.close();
    const m2 = await store.load('m');
    expect(m2.hashed).toEqual({ file: false, tensors: false });
    m2.close();
  });

  it('a compressed version is verified in full by its first load, then not again; reverify hashes everything', async () => {
    const store = await freshStore();
    await store.save('m', tensors, { compression: 'lz4' });
    const m1 = await store.load('m');
    expect(m1.hashed).toEqual({ file: true, tensors: true });
    m1.close();
    const m2 = await store.load('m');
    expect(m2.hashed).toEqual({ file: false, tensors: false });
    expect(bytesEqual(m2.tensors.get('enc/w')!.data, tensors['enc/w']!.data)).toBe(true);
    m2.close();
    const m3 = await store.load('m', undefined, { reverify: true });
    expect(m3.hashed).toEqual({ file: true, tensors: true });
    m3.close();
    await expect(store.load('m', undefined, { reverify: 1 as unknown as boolean })).rejects.toThrow(TypeError);
  });

  it('verify: false still checks the file digest but writes no record; a record for another digest or a malformed one is ignored', async () => {
    const store = await freshStore();
    await store.save('m', tensors, { compression: 'gzip' });
    const rec = join(store.dir('m'), '.v000001.h5.verified');
    const m1 = await store.load('m', undefined, { verify: false });
    expect(m1.hashed).toEqual({ file: true, tensors: false });
    m1.close();
    expect(existsSync(rec)).toBe(false);
    (await store.load('m')).close(); // full verification writes it
    const good = JSON.parse(readFileSync(rec, 'utf8')) as { digest: string };
    writeFileSync(rec, JSON.stringify({ ...good, digest: 'f'.repeat(64) }));
    const m2 = await store.load('m');
    expect(m2.hashed).toEqual({ file: true, tensors: true });
    m2.close();
    writeFileSync(rec, '{not json');
    const m3 = await store.load('m');
    expect(m3.hashed).toEqual({ file: true, tensors: true });
    m3.close();
  });

  it('a tampered file is caught even after the fast path was used, and prune removes records', async () => {
    const store = await freshStore();
    await store.save('m', tensors);
    await store.save('m', tensors);
    (await store.load('m', 1)).close();
    (await store.load('m', 2)).close();
    tamperKeepingMtime(store.path('m', 1), 'enc/b');
    await expect(store.load('m', 1)).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });
    await store.prune('m', { keep: 1 });
    expect(existsSync(join(store.dir('m'), '.v000001.h5.verified'))).toBe(false);
    expect(existsSync(join(store.dir('m'), '.v000002.h5.verified'))).toBe(true);
  });
});
