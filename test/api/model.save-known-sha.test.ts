/**
 * writeModelInto's knownSha256 (the content-addressed pull's rebuild takes each
 * tensor's SHA-256 from its verified manifest instead of hashing it again): the
 * hashes are written as given, so only the file's SHA-256 checked by the caller
 * makes them safe; saveModel has no way to pass them and always hashes.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveModel, verifyModel, type Tensor } from '../../lib/index.js';
import { prepareSave, writeModelInto } from '../../lib/model/save.js';
import { gaussian, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-known-sha-');
const sha = (b: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
    .digest('hex');

function model(): Record<string, Tensor> {
  return {
    'a/kernel': { dtype: 'float32', shape: [256, 64], data: gaussian(256 * 64, 3) },
    'a/bias': { dtype: 'float32', shape: [64], data: gaussian(64, 4) },
    empty: { dtype: 'int32', shape: [0], data: new Int32Array(0) },
  };
}
const trueShas = (m: Record<string, Tensor>) => new Map(Object.entries(m).map(([k, t]) => [k, sha(t.data)]));

describe('writeModelInto with knownSha256', () => {
  it('with the true hashes it writes the byte-identical file saveModel writes', async () => {
    const m = model();
    const saved = await saveModel(join(dir, 'saved.h5'), m, { metadata: { run: 1 } });
    const temp = join(dir, 'known.h5');
    const w = await writeModelInto(temp, prepareSave(m, { metadata: { run: 1 } }), trueShas(m));
    expect(w.digest).toBe(saved.digest);
    expect(readFileSync(temp).equals(readFileSync(saved.path))).toBe(true);
  });

  it('a wrong hash is written as given: the file SHA-256 differs and verifyModel names the tensor', async () => {
    const m = model();
    const saved = await saveModel(join(dir, 'saved2.h5'), m);
    const shas = trueShas(m);
    shas.set('a/bias', 'f'.repeat(64));
    const temp = join(dir, 'wrong.h5');
    const w = await writeModelInto(temp, prepareSave(m, {}), shas);
    expect(w.digest).not.toBe(saved.digest);
    const r = await verifyModel(temp);
    expect(r.ok).toBe(false);
    expect(r.tensors.find((t) => t.name === 'a/bias')).toMatchObject({ ok: false, expected: 'f'.repeat(64) });
  });

  it('a map without every tensor is a TypeError and writes nothing', async () => {
    const m = model();
    const shas = trueShas(m);
    shas.delete('empty');
    const temp = join(dir, 'partial.h5');
    await expect(writeModelInto(temp, prepareSave(m, {}), shas)).rejects.toThrow(TypeError);
    expect(existsSync(temp)).toBe(false);
  });

  it('saveModel cannot be given hashes: an extra knownSha256 option is ignored, every tensor is hashed', async () => {
    const m = model();
    const bogus = new Map(Object.keys(m).map((k) => [k, '0'.repeat(64)]));
    const opts = { knownSha256: bogus } as unknown as Parameters<typeof saveModel>[2];
    const res = await saveModel(join(dir, 'opt.h5'), m, opts);
    const plain = await saveModel(join(dir, 'plain.h5'), m);
    expect(res.digest).toBe(plain.digest);
    const r = await verifyModel(res.path); // re-hashes every tensor against the stored hashes
    expect(r.ok).toBe(true);
    expect(r.tensors.map((t) => t.expected)).toEqual(r.tensors.map((t) => sha(m[t.name]!.data)));
  });
});
