// convertModel / `h5vault convert` with Keras input: real Keras 2 .h5 files and
// a real Keras 3 .keras archive (test/fixtures/keras, provenance in its README)
// become h5vault models and safetensors files whose tensors equal what h5py
// reads from the Keras file, under loadKeras's weight names.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { convertModel, H5Error, loadKeras, loadModel, openSafetensors, type TypedArray } from '../../lib/index.js';
import { requirePeers, tempDir, python, bytesEqual } from '../helpers.js';
import { hex } from './st.helpers.js';

requirePeers();
const dir = tempDir('h5vault-convert-keras-');
const fixtures = new URL('../fixtures/keras/', import.meta.url).pathname;

/** SHA-free oracle: every dataset of a Keras .h5 file as hex, read by h5py. */
function h5pyHex(path: string): Record<string, string> {
  return JSON.parse(
    python(
      `
import h5py, json, sys
out = {}
def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and obj.dtype.kind in 'fiub':
        out['/' + name] = obj[()].astype(obj.dtype.newbyteorder('<')).tobytes().hex()
with h5py.File(sys.argv[1], 'r') as f:
    f.visititems(visit)
print(json.dumps(out))
`,
      [path],
    ),
  ) as Record<string, string>;
}

describe('convertModel with Keras input', () => {
  it('a Keras 2 full model (.h5) becomes an h5vault model: every layer weight, named as loadKeras names it, equal to h5py', async () => {
    const src = join(fixtures, 'simple_lstm_tf_keras_2_model.h5');
    const out = join(dir, 'lstm.h5');
    const r = await convertModel(src, out);
    const k = await loadKeras(src);
    expect(r.from).toBe('keras');
    expect(r.tensors).toBe(k.tensors.size);
    expect(r.tensors).toBeGreaterThan(0);
    const oracle = h5pyHex(src);
    const m = await loadModel(out); // verifies every tensor's SHA-256
    try {
      expect([...m.tensors.keys()].sort()).toEqual([...k.tensors.keys()].sort());
      for (const [name, w] of k.tensors) {
        expect(hex(m.tensors.get(name)!.data as TypedArray)).toBe(oracle[w.key]);
      }
      const meta = m.metadata as {
        source: { format: string; layout: string };
        keras: { metadata: { kerasVersion: string | null } };
      };
      expect(meta.source).toMatchObject({ format: 'keras', layout: k.layout });
      expect(meta.keras.metadata.kerasVersion).toBe(k.metadata.kerasVersion);
    } finally {
      m.close();
      k.close();
    }
  });

  it("a Keras 3 .keras archive becomes a safetensors file with the same bytes as the archive's weights", async () => {
    const src = join(fixtures, 'flownet_final_model.keras');
    const out = join(dir, 'flownet.safetensors');
    const r = await convertModel(src, out);
    expect(r.from).toBe('keras');
    const k = await loadKeras(src);
    const st = await openSafetensors(out);
    try {
      expect(st.tensors.size).toBe(k.tensors.size);
      for (const [name, w] of k.tensors) {
        const t = st.tensors.get(name)!;
        expect(t.dtype).toBe(w.dtype);
        expect(t.shape).toEqual(w.shape);
        expect(bytesEqual(t.data, w.data as TypedArray)).toBe(true);
      }
    } finally {
      st.close();
      k.close();
    }
  });

  it('an HDF5 file that is neither an h5vault model nor Keras is refused with a typed error', async () => {
    const plain = join(dir, 'plain.h5');
    python(
      `
import h5py, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['x'] = [1, 2, 3]
`,
      [plain],
    );
    const e = await convertModel(plain, join(dir, 'plain.safetensors')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_UNSUPPORTED');
  });
});
