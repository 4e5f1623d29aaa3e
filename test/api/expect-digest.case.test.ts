// expectDigest takes a SHA-256 as users have it, in either case (sha256sum
// prints lowercase, PowerShell's Get-FileHash uppercase), on every entry point
// that takes one: File.open(Async), loadModel, verifyModel, loadKeras. Before,
// File.open accepted uppercase and the other three refused it with TypeError.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File, fileDigest, H5Error, loadKeras, loadModel, saveModel, verifyModel } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-digest-case-');
const KERAS = new URL('../fixtures/keras/', import.meta.url).pathname;

async function model() {
  const path = join(dir, 'm.h5');
  const r = await saveModel(path, { w: { dtype: 'float32', shape: [3], data: new Float32Array([1, 2, 3]) } });
  return { path, lower: r.digest, upper: r.digest.toUpperCase() };
}

describe('expectDigest in either case', () => {
  it('uppercase hex is accepted by File.open, loadModel, verifyModel and loadKeras, and reported lowercase', async () => {
    const { path, lower, upper } = await model();
    using f = await File.openAsync(path, { expectDigest: upper });
    expect(f.dataset('w').shape).toEqual([3]);
    using m = await loadModel(path, { expectDigest: upper });
    expect(m.digest).toBe(lower);
    const v = await verifyModel(path, { expectDigest: upper });
    expect(v.ok).toBe(true);
    const kpath = join(dir, 'k.h5');
    copyFileSync(join(KERAS, 'simple_lstm_tf_keras_2_weights.h5'), kpath);
    const kd = await fileDigest(kpath);
    using k = await loadKeras(kpath, { expectDigest: kd.toUpperCase() });
    expect(k.digest).toBe(kd);
  });

  it('a mismatch in uppercase is H5_CHECKSUM_MISMATCH with the expected digest lowercased, on every entry point', async () => {
    const { path } = await model();
    const wrong = 'AB'.repeat(32);
    for (const load of [
      () => File.openAsync(path, { expectDigest: wrong }),
      () => loadModel(path, { expectDigest: wrong }),
      () => verifyModel(path, { expectDigest: wrong }),
      () => loadKeras(path, { expectDigest: wrong }),
    ]) {
      const e = await load().then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(H5Error);
      expect((e as H5Error).code).toBe('H5_CHECKSUM_MISMATCH');
      expect((e as H5Error).message).toContain('ab'.repeat(32));
    }
  });

  it('anything but 64 hex characters is one TypeError message on every entry point', async () => {
    const { path } = await model();
    for (const load of [
      () => File.openAsync(path, { expectDigest: 'abc' }),
      () => loadModel(path, { expectDigest: 'abc' }),
      () => verifyModel(path, { expectDigest: 'g'.repeat(64) }),
      () => loadKeras(path, { expectDigest: 'abc' }),
    ])
      await expect(load()).rejects.toThrow(
        new TypeError("options.expectDigest must be a SHA-256 digest: 64 hex characters (got 'abc')").message.slice(
          0,
          60,
        ),
      );
  });
});
