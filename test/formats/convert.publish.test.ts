// convertModel through the one door out (issue 21, item 4): the end-to-end
// SHA-256 check runs on the temp file BEFORE it can replace anything. A
// corruption injected into the temp (test-only fault hook, the same
// mechanism the save fault tests use) fails the conversion with
// H5_CHECKSUM_MISMATCH and leaves the old output byte-identical, for both
// output formats; no temp is left behind. And a source tensor name the
// output cannot hold is refused, naming it, before anything is written.
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, openSync, readFileSync, readdirSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { convertModel, H5Error, loadModel, openSafetensors, saveModel, saveSafetensors } from '../../lib/index.js';
import { setFaultHook } from '../../lib/util/publish.js';
import { requirePeers, tempDir } from '../helpers.js';
import { pyWrite } from './st.helpers.js';

requirePeers();
const dir = tempDir('h5vault-convert-publish-');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const leftovers = () => readdirSync(dir).filter((n) => n.includes('.h5vault-tmp-'));
afterEach(() => setFaultHook(undefined));

// 256 KiB of one distinctive value: contiguous in both formats, easy to find in the temp.
const PATTERN = new Float32Array(65536).fill(1234.5);
const NEEDLE = Buffer.from(PATTERN.buffer, 0, 64);
const SOURCE = {
  a: { dtype: 'float32' as const, shape: [256, 256], data: PATTERN },
  z: { dtype: 'float32' as const, shape: [4], data: Float32Array.of(1, 2, 3, 4) },
};

/** Flips one byte of tensor 'a' in the temp file, as a bad disk or a buggy writer would. */
function corrupt(temp: string): void {
  const at = readFileSync(temp).indexOf(NEEDLE);
  expect(at).toBeGreaterThan(0);
  const fd = openSync(temp, 'r+');
  try {
    writeSync(fd, Buffer.from([0x5a]), 0, 1, at + 1000);
  } finally {
    closeSync(fd);
  }
}

describe('convertModel checks before it publishes', () => {
  it('h5vault output: a mismatch found by the end-to-end check leaves the old output byte-identical', async () => {
    const src = join(dir, 'src.safetensors');
    await saveSafetensors(src, SOURCE);
    const out = join(dir, 'out.h5');
    const old = await saveModel(out, { kept: { dtype: 'int32', shape: [2], data: Int32Array.of(7, 8) } });
    // After the tensors are written and hashed from the file, before the
    // attributes: the stored SHA-256s are right, the bytes are not.
    setFaultHook((step, d) => {
      if (step === 'attrs' && d.path === out) corrupt(d.temp);
    });
    const e = await convertModel(src, out).catch((x: unknown) => x);
    setFaultHook(undefined);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_CHECKSUM_MISMATCH');
    expect((e as Error).message).toContain("tensor 'a'");
    expect(sha(out)).toBe(old.digest);
    const m = await loadModel(out);
    expect(Array.from(m.tensors.get('kept')!.data as Int32Array)).toEqual([7, 8]);
    m.close();
    expect(leftovers()).toEqual([]);
  });

  it('safetensors output: a mismatch found by the end-to-end check leaves the old output byte-identical', async () => {
    const src = join(dir, 'src.h5');
    await saveModel(src, SOURCE);
    const out = join(dir, 'out.safetensors');
    await saveSafetensors(out, { kept: { dtype: 'int32', shape: [2], data: Int32Array.of(7, 8) } });
    const before = sha(out);
    // 'a' is laid out first; when 'z' is about to be written, 'a' is in the temp.
    setFaultHook((step, d) => {
      if (step === 'write' && d.tensor === 'z' && d.path === out) corrupt(d.temp);
    });
    const e = await convertModel(src, out).catch((x: unknown) => x);
    setFaultHook(undefined);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_CHECKSUM_MISMATCH');
    expect(sha(out)).toBe(before);
    const st = await openSafetensors(out);
    expect([...st.tensors.keys()]).toEqual(['kept']);
    st.close();
    expect(leftovers()).toEqual([]);
  });

  it('without overwrite an existing output is H5_EXISTS before anything is read or written', async () => {
    const src = join(dir, 'src2.safetensors');
    await saveSafetensors(src, SOURCE);
    const out = join(dir, 'exists.h5');
    const old = await saveModel(out, { kept: { dtype: 'int32', shape: [1], data: Int32Array.of(1) } });
    await expect(convertModel(src, out, { overwrite: false })).rejects.toMatchObject({ code: 'H5_EXISTS', path: out });
    expect(sha(out)).toBe(old.digest);
    expect(leftovers()).toEqual([]);
  });
});

describe('convertModel applies the one name rule to the names it writes', () => {
  it("a safetensors tensor named '../W' cannot be an h5vault tensor: H5_UNSUPPORTED naming it, nothing written", async () => {
    const src = join(dir, 'dotdot.safetensors');
    pyWrite(src, [
      ['../W', 'F32', [2], 'np.array([1, 2], np.float32)'],
      ['ok', 'F32', [1], 'np.array([3], np.float32)'],
    ]);
    const out = join(dir, 'dotdot.h5');
    const e = await convertModel(src, out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect(e).toMatchObject({ code: 'H5_UNSUPPORTED', tensor: '../W' });
    expect((e as Error).message).toContain(
      `tensor name "../W" must be '/'-separated non-empty segments without '.' or '..'`,
    );
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
