/** Checksums: flipped bits in tensor data are detected and named; expectDigest refuses changed files before parsing. */
import { describe, it, expect } from 'vitest';
import { closeSync, copyFileSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error, loadModel, saveModel, verifyModel, type Tensor } from '../../lib/index.js';
import { gaussian, rng, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-model-verify-');

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

const tensors: Record<string, Tensor> = {
  'a/kernel': { dtype: 'float32', shape: [32, 16], data: gaussian(512, 1) },
  'a/bias': { dtype: 'float32', shape: [16], data: gaussian(16, 2) },
  // Incompressible: its bytes appear verbatim inside compressed chunks, so the test can find them.
  'b/noise': { dtype: 'uint8', shape: [4096], data: randomBytes(4096, 3) },
  'b/ids': { dtype: 'int64', shape: [40], data: BigInt64Array.from({ length: 40 }, (_, i) => BigInt(i * 7919)) },
};

function flipBit(path: string, offset: number, bit: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0]! ^= 1 << bit;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

/** [name, fileOffset, byteLength] of each uncompressed tensor's data. */
function dataRanges(path: string): [string, number, number][] {
  const f = File.open(path);
  const out = Object.keys(tensors).map((n) => {
    const d = f.dataset(n);
    return [n, d.offset!, d.byteLength] as [string, number, number];
  });
  f.close();
  return out;
}

async function expectDetected(path: string, name: string, digest: string): Promise<void> {
  const r = await verifyModel(path);
  expect(r.ok).toBe(false);
  expect(r.tensors.filter((t) => !t.ok).map((t) => t.name)).toEqual([name]);
  expect(r.problems.join('\n')).toContain(`'${name}'`);
  const e = await loadModel(path).catch((x) => x);
  expect(e).toBeInstanceOf(H5Error);
  expect(e.message).toContain(`'${name}'`);
  expect(e.tensor).toBe(name);
  const refused = await loadModel(path, { expectDigest: digest }).catch((x) => x);
  expect(refused.code).toBe('H5_CHECKSUM_MISMATCH');
  expect(refused.message).toMatch(/refusing to parse/);
}

describe('bit flips in an uncompressed model', () => {
  it('each of 48 random single-bit flips in tensor data is detected and attributed', async () => {
    const p = join(dir, 'plain.h5');
    const res = await saveModel(p, tensors);
    expect((await verifyModel(p)).ok).toBe(true);
    const ranges = dataRanges(p);
    const total = ranges.reduce((a, r) => a + r[2], 0);
    const r = rng(42);
    for (let i = 0; i < 48; i++) {
      // Pick a byte uniformly over all tensor data, then find whose it is.
      let k = Math.floor(r() * total);
      const [name, off, len] = ranges.find((x) => {
        if (k < x[2]) return true;
        k -= x[2];
        return false;
      })!;
      expect(k).toBeLessThan(len);
      const bit = Math.floor(r() * 8);
      flipBit(p, off + k, bit);
      await expectDetected(p, name, res.digest);
      flipBit(p, off + k, bit); // restore
    }
    expect((await verifyModel(p, { expectDigest: res.digest })).ok).toBe(true);
  });
});

describe('bit flips in compressed models', () => {
  for (const compression of ['gzip', 'lz4', 'lzf'] as const) {
    it(`${compression}: flips inside a compressed chunk are detected (bad data or a failed decode)`, async () => {
      const p = join(dir, `${compression}.h5`);
      const res = await saveModel(p, tensors, { compression });
      const file = readFileSync(p);
      const noise = tensors['b/noise']!.data as Uint8Array;
      const r = rng(7);
      let flips = 0;
      for (let attempt = 0; attempt < 400 && flips < 12; attempt++) {
        // A 12-byte window of the incompressible tensor found verbatim in the file is inside its chunk.
        const i = Math.floor(r() * (noise.length - 12));
        const at = file.indexOf(Buffer.from(noise.subarray(i, i + 12)));
        if (at < 0 || file.indexOf(Buffer.from(noise.subarray(i, i + 12)), at + 1) >= 0) continue;
        const off = at + Math.floor(r() * 12);
        const bit = Math.floor(r() * 8);
        const copy = join(dir, `${compression}-flip.h5`);
        copyFileSync(p, copy);
        flipBit(copy, off, bit);
        const rep = await verifyModel(copy);
        expect(rep.ok).toBe(false);
        const bad = rep.tensors.find((t) => !t.ok)!;
        expect(bad.name).toBe('b/noise');
        expect(rep.tensors.filter((t) => !t.ok)).toHaveLength(1);
        await expect(loadModel(copy)).rejects.toMatchObject({ tensor: 'b/noise' });
        await expect(loadModel(copy, { expectDigest: res.digest })).rejects.toMatchObject({
          code: 'H5_CHECKSUM_MISMATCH',
        });
        flips++;
      }
      expect(flips).toBe(12);
    });
  }
});

describe('tampering with structure and checksums', () => {
  it('a rewritten tensor, a removed checksum, a wrong count or digest are all reported', async () => {
    const base = join(dir, 'tamper.h5');
    await saveModel(base, tensors);
    const edit = (name: string, fn: (f: File) => void): string => {
      const p = join(dir, `tamper-${name}.h5`);
      copyFileSync(base, p);
      const f = File.open(p, { mode: 'r+' });
      fn(f);
      f.close();
      return p;
    };
    const rewritten = edit('data', (f) => f.dataset('a/bias').writeSync(new Float32Array(16)));
    let r = await verifyModel(rewritten);
    expect(r.tensors.find((t) => !t.ok)?.name).toBe('a/bias');
    await expect(loadModel(rewritten)).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH', tensor: 'a/bias' });

    const noSum = edit('nosum', (f) => f.dataset('b/ids').attrs.delete('h5vault.sha256'));
    r = await verifyModel(noSum);
    expect(r.ok).toBe(false);
    expect(r.tensors.find((t) => t.name === 'b/ids')).toMatchObject({ ok: false, expected: null });
    await expect(loadModel(noSum)).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
      message: expect.stringMatching(/no h5vault.sha256/),
    });

    const count = edit('count', (f) => f.attrs.set('h5vault.tensors', 5));
    r = await verifyModel(count);
    expect(r.ok).toBe(false);
    expect(r.problems.join()).toMatch(/holds 4 tensors, its provenance says 5/);
    await expect(loadModel(count)).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });

    const digest = edit('digest', (f) => f.attrs.set('h5vault.model_digest', '0'.repeat(64)));
    r = await verifyModel(digest);
    expect(r.ok).toBe(false);
    expect(r.tensors.every((t) => t.ok)).toBe(true);
    expect(r.problems.join()).toMatch(/model digest/);
    await expect(loadModel(digest)).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH' });
    // verify: false loads it anyway (the caller asked not to check).
    const m = await loadModel(digest, { verify: false });
    expect(m.tensors.size).toBe(4);
    m.close();

    const future = edit('format', (f) => f.attrs.set('h5vault.format', 2));
    await expect(loadModel(future)).rejects.toMatchObject({
      code: 'H5_UNSUPPORTED',
      message: expect.stringMatching(/format 2/),
    });
    const badMeta = edit('meta', (f) => f.attrs.set('h5vault.metadata', '{oops'));
    await expect(loadModel(badMeta)).rejects.toMatchObject({
      code: 'H5_CORRUPT',
      message: expect.stringMatching(/h5vault.metadata/),
    });
  });
});
