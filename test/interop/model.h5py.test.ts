/** Interop: h5py reads a saved model's provenance, metadata, checksums and tensors; h5py-written files load with verify: false. */
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { loadModel, saveModel, type Tensor } from '../../lib/index.js';
import { gaussian, python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-model-h5py-');
beforeAll(requirePeers);

const tensors: Record<string, Tensor> = {
  'encoder/layer0/kernel': { dtype: 'float32', shape: [16, 8], data: gaussian(128, 1) },
  'encoder/layer0/bias': { dtype: 'float32', shape: [8], data: gaussian(8, 2) },
  'head/w16': { dtype: 'float16', shape: [4, 4], data: Uint16Array.from({ length: 16 }, (_, i) => 0x3c00 + i) },
  step: { dtype: 'int64', shape: [], data: BigInt64Array.of(1234n) },
};

describe('h5py reads saved models', () => {
  for (const compression of ['none', 'gzip', 'lzf', 'lz4'] as const) {
    it(`${compression}: provenance, metadata, per-tensor SHA-256 and data match`, async () => {
      const p = join(dir, `m-${compression}.h5`);
      const res = await saveModel(p, tensors, { compression, metadata: { run: 'r1', lr: 0.5 } });
      const out = python(
        `
import sys, json, hashlib, h5py, hdf5plugin, numpy as np
f = h5py.File(sys.argv[1], 'r')
a = f.attrs
def s(v): return v.decode() if isinstance(v, bytes) else str(v)
res = {k: (int(a[k]) if k in ('h5vault.format', 'h5vault.tensors', 'h5vault.bytes') else s(a[k])) for k in a.keys()}
t = {}
def visit(name, o):
    if isinstance(o, h5py.Dataset):
        d = o[()]
        arr = np.ascontiguousarray(d).astype(d.dtype.newbyteorder('<'))
        t[name] = {'sha': s(o.attrs['h5vault.sha256']), 'mine': hashlib.sha256(arr.tobytes()).hexdigest(),
                   'shape': list(o.shape), 'dtype': str(o.dtype), 'sum': float(np.asarray(d, dtype=np.float64).sum())}
f.visititems(visit)
print(json.dumps({'attrs': res, 'tensors': t}))
`,
        [p],
      );
      const r = JSON.parse(out) as {
        attrs: Record<string, string | number>;
        tensors: Record<string, { sha: string; mine: string; shape: number[]; dtype: string; sum: number }>;
      };
      expect(r.attrs['h5vault.format']).toBe(1);
      expect(r.attrs['h5vault.model_digest']).toBe(res.modelDigest);
      expect(r.attrs['h5vault.tensors']).toBe(4);
      expect(r.attrs['h5vault.hdf5']).toBe('1.10.8');
      expect(r.attrs['h5vault.node']).toBe(process.version);
      expect(JSON.parse(String(r.attrs['h5vault.metadata']))).toEqual({ lr: 0.5, run: 'r1' });
      expect(Object.keys(r.tensors).sort()).toEqual(Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(r.tensors)) {
        expect(t.mine).toBe(t.sha); // h5py's view of the bytes hashes to what we stored
        expect(t.shape).toEqual(tensors[name]!.shape);
      }
      expect(r.tensors['head/w16']!.dtype).toBe('float16');
      expect(r.tensors.step!.sum).toBe(1234);
      const expected = Array.from(tensors['encoder/layer0/kernel']!.data as Float32Array).reduce((x, y) => x + y, 0);
      expect(r.tensors['encoder/layer0/kernel']!.sum).toBeCloseTo(expected, 4);
    });
  }

  it('an h5py-written file loads with verify: false (and is refused with verify: true)', async () => {
    const p = join(dir, 'h5py.h5');
    python(
      `
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('dense/kernel', data=np.arange(12, dtype='<f4').reshape(3, 4))
    f.create_dataset('dense/bias', data=np.arange(4, dtype='>i8'), compression='gzip')
    f.create_dataset('names', data=[b'a', b'b'])
`,
      [p],
    );
    await expect(loadModel(p)).rejects.toMatchObject({ code: 'H5_UNSUPPORTED' });
    const m = await loadModel(p, { verify: false });
    expect([...m.tensors.keys()]).toEqual(['dense/bias', 'dense/kernel']); // string datasets are not tensors
    expect(Array.from(m.tensors.get('dense/kernel')!.data as Float32Array)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(Array.from(m.tensors.get('dense/bias')!.data as BigInt64Array)).toEqual([0n, 1n, 2n, 3n]);
    expect(m.provenance).toBeNull();
    m.close();
  });
});
