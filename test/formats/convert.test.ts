// convertModel / `h5vault convert`: safetensors <-> h5vault models in both
// directions with names, dtypes (bfloat16, 8-bit floats) and metadata kept,
// SHA-256 checked end to end (a flipped byte in the source is caught), and
// files from an independent writer (Python) on the safetensors side.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  convertModel,
  type H5Error,
  loadModel,
  openSafetensors,
  saveModel,
  saveSafetensors,
  type Tensor,
} from '../../lib/index.js';
import { requirePeers, tempDir, gaussian } from '../helpers.js';
import { ensureBuilt, h5vault, json } from '../cli/run.js';
import { hex, pyRead, pyWrite } from './st.helpers.js';

requirePeers();
const dir = tempDir('h5vault-convert-');
const w = gaussian(64 * 64, 5);

const MODEL: Record<string, Tensor> = {
  'enc/kernel': { dtype: 'float32', shape: [64, 64], data: w },
  'enc/bias': { dtype: 'bfloat16', shape: [64], data: Uint16Array.from({ length: 64 }, (_, i) => 0x3f80 + i) },
  steps: { dtype: 'int64', shape: [], data: BigInt64Array.from([1200n]) },
  mask: { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) },
};

beforeAll(() => ensureBuilt());

describe('convertModel', () => {
  it('h5vault -> safetensors -> h5vault keeps names, dtypes, bytes, metadata and the model digest', async () => {
    const h5 = join(dir, 'a.h5');
    const saved = await saveModel(h5, MODEL, { metadata: { run: 'r42', epochs: 3, tags: ['x'] }, compression: 'gzip' });
    const st = join(dir, 'a.safetensors');
    const r1 = await convertModel(h5, st);
    expect(r1).toMatchObject({ from: 'h5vault', to: 'safetensors', tensors: 4, modelDigest: saved.modelDigest });
    expect(r1.copied.sort()).toEqual(['enc/bias', 'enc/kernel', 'mask']); // compressed tensors are read, scalars are not chunked
    // An independent reader sees the tensors and the metadata mapping.
    const py = pyRead(st);
    expect(py.tensors['enc/bias']!.dtype).toBe('BF16');
    expect(py.tensors['enc/kernel']!.hex).toBe(hex(w));
    expect(py.metadata).toEqual({
      run: 'r42',
      'h5vault.metadata': '{"epochs":3,"tags":["x"]}',
      'h5vault.model_digest': saved.modelDigest,
    });
    const back = join(dir, 'b.h5');
    const r2 = await convertModel(st, back);
    expect(r2).toMatchObject({ from: 'safetensors', to: 'h5vault', modelDigest: saved.modelDigest, copied: [] });
    using m = await loadModel(back);
    expect(m.metadata).toEqual({ run: 'r42', epochs: 3, tags: ['x'] });
    expect(m.provenance!.modelDigest).toBe(saved.modelDigest);
    for (const [name, t] of Object.entries(MODEL)) {
      expect(m.tensors.get(name)!.dtype).toBe(t.dtype);
      expect(hex(m.tensors.get(name)!.data)).toBe(hex(t.data));
    }
  });

  it('safetensors from Python -> h5vault -> safetensors: the second round trip is byte-identical', async () => {
    const src = join(dir, 'py.safetensors');
    pyWrite(
      src,
      [
        ['model.embed', 'BF16', [4, 2], "np.arange(8, dtype='<u2') + 0x3f00"],
        ['model.q', 'F8_E5M2', [4], "np.array([1, 2, 3, 4], 'u1')"],
        ['model.w', 'F16', [2, 2], "np.array([[1, 2], [3, 4]], '<f2')"],
      ],
      { format: 'pt' },
    );
    const h5 = join(dir, 'py.h5');
    await convertModel(src, h5);
    using m = await loadModel(h5);
    expect(m.metadata).toEqual({ format: 'pt', 'safetensors.dtypes': { 'model.q': 'F8_E5M2' } });
    expect(m.tensors.get('model.embed')!.dtype).toBe('bfloat16');
    const st2 = join(dir, 'py2.safetensors');
    const h52 = join(dir, 'py2.h5');
    const st3 = join(dir, 'py3.safetensors');
    await convertModel(h5, st2);
    await convertModel(st2, h52);
    await convertModel(h52, st3);
    expect(Buffer.compare(readFileSync(st2), readFileSync(st3))).toBe(0);
    const a = pyRead(src);
    const b = pyRead(st2);
    expect(b.metadata).toMatchObject({ format: 'pt' });
    for (const name of Object.keys(a.tensors)) {
      expect(b.tensors[name]!.dtype).toBe(a.tensors[name]!.dtype);
      expect(b.tensors[name]!.hex).toBe(a.tensors[name]!.hex);
    }
  });

  it('a flipped byte in an h5vault source is caught on read (H5_CHECKSUM_MISMATCH) and no output is written', async () => {
    const h5 = join(dir, 'flip.h5');
    await saveModel(h5, { w: { dtype: 'float32', shape: [1024], data: gaussian(1024, 9) } });
    using m = await loadModel(h5);
    const off = (await import('../../lib/index.js')).File.open(h5);
    const offset = off.dataset('w').offset!;
    off.close();
    const bytes = readFileSync(h5);
    bytes[offset + 100]! ^= 0x40;
    writeFileSync(h5, bytes);
    const out = join(dir, 'flip.safetensors');
    const e = await convertModel(h5, out).catch((x: unknown) => x);
    expect((e as H5Error).code).toBe('H5_CHECKSUM_MISMATCH');
    expect((e as H5Error & { tensor: string }).tensor).toBe('w');
    expect(() => readFileSync(out)).toThrow();
    void m;
  });

  it('a safetensors file whose tensors no longer match its recorded model digest is refused', async () => {
    const st = join(dir, 'digest.safetensors');
    await saveSafetensors(
      st,
      { w: { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) } },
      { 'h5vault.model_digest': '0'.repeat(64) },
    );
    const e = await convertModel(st, join(dir, 'digest.h5')).catch((x: unknown) => x);
    expect((e as H5Error).code).toBe('H5_CHECKSUM_MISMATCH');
  });

  it('refuses inputs that are neither format, same in/out paths, and unknown output extensions', async () => {
    const txt = join(dir, 'x.txt');
    writeFileSync(txt, 'hello world, not a model');
    expect(((await convertModel(txt, join(dir, 'x.h5')).catch((x: unknown) => x)) as H5Error).code).toBe(
      'H5_UNSUPPORTED',
    );
    await expect(convertModel(txt, txt)).rejects.toThrow(TypeError);
    await expect(convertModel(txt, join(dir, 'x.bin'))).rejects.toThrow(/output format/);
  });
});

describe('h5vault convert (CLI)', () => {
  it('converts both ways with --json output and exit 0; a corrupt header exits 1 with the code', async () => {
    const st = join(dir, 'cli.safetensors');
    await saveSafetensors(
      st,
      { 'a.b': { dtype: 'float32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) } },
      { format: 'pt' },
    );
    const h5 = join(dir, 'cli.h5');
    const r = h5vault(['convert', st, h5, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = json<{ ok: boolean; tensors: number; from: string; to: string; modelDigest: string }>(r);
    expect(doc).toMatchObject({ ok: true, tensors: 1, from: 'safetensors', to: 'h5vault' });
    const st2 = join(dir, 'cli2.safetensors');
    const r2 = h5vault(['convert', h5, st2]);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/OK: 1 tensors/);
    using o = await openSafetensors(st2);
    expect(Array.from(o.tensors.get('a.b')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    const bad = join(dir, 'bad.safetensors');
    const bytes = readFileSync(st);
    bytes.writeBigUInt64LE(10n ** 9n, 0);
    writeFileSync(bad, bytes);
    expect(h5vault(['convert', st, h5]).status).toBe(3); // exists, no --force
    expect(h5vault(['convert', st, h5, '--force']).status).toBe(0);
    const r3 = h5vault(['convert', bad, join(dir, 'bad.h5')]);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toMatch(/H5_SAFETENSORS_INVALID/);
    expect(h5vault(['convert', st]).status).toBe(2);
  });
});
