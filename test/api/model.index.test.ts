/**
 * The tensor index saveModel writes (root attribute h5vault.index): h5py reads
 * it and it agrees with h5py's view of the layout; loadModel maps from it when
 * the file's bytes are vouched for (expectDigest), checks it against the
 * layout otherwise, and walks files without one.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, loadModel, saveModel, verifyModel, type Tensor } from '../../lib/index.js';
import { encodeIndex, INDEX_ATTR, type IndexEntry } from '../../lib/model/tensor-index.js';
import { bytesEqual, gaussian, python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-model-index-');
beforeAll(requirePeers);

const tensors: Record<string, Tensor> = {
  'a/bias': { dtype: 'float32', shape: [16], data: gaussian(16, 1) },
  'a/kernel': { dtype: 'float32', shape: [16, 4], data: gaussian(64, 2) },
  'a.x': { dtype: 'float32', shape: [16], data: gaussian(16, 3) }, // sorts before 'a/...' by bytes, after it in a depth-first walk
  'b/ids': { dtype: 'int64', shape: [3], data: BigInt64Array.of(1n, 2n, 3n) },
  'b/empty': { dtype: 'uint8', shape: [0, 4], data: new Uint8Array(0) },
  'b/half': { dtype: 'float16', shape: [2, 2], data: Uint16Array.of(0x3c00, 0x4000, 0x4200, 0x4400) },
  step: { dtype: 'int32', shape: [], data: Int32Array.of(7) },
};

function readIndexAttr(p: string): {
  format: number;
  tensors: [string, string, number[], number | null, number, string][];
} {
  const f = File.open(p);
  try {
    return JSON.parse(f.attrs.get(INDEX_ATTR) as string);
  } finally {
    f.close();
  }
}

function rewriteIndex(src: string, name: string, fn: (rows: IndexEntry[]) => IndexEntry[] | string): string {
  const p = join(dir, name);
  copyFileSync(src, p);
  const doc = readIndexAttr(p);
  const rows = doc.tensors.map(
    ([n, dtype, shape, offset, bytes, sha256]) => ({ name: n, dtype, shape, offset, bytes, sha256 }) as IndexEntry,
  );
  const out = fn(rows);
  const f = File.open(p, { mode: 'r+' });
  f.attrs.set(INDEX_ATTR, typeof out === 'string' ? out : encodeIndex(out));
  f.close();
  return p;
}

describe('saveModel writes a tensor index', () => {
  it('h5py reads it as a string whose offsets, sizes, dtypes, shapes and SHA-256s are what h5py sees in the datasets', async () => {
    const p = join(dir, 'h5py.h5');
    await saveModel(p, tensors);
    const out = python(
      `
import sys, json, h5py
f = h5py.File(sys.argv[1], 'r')
idx = json.loads(f.attrs['h5vault.index'])
res = []
for name, dtype, shape, offset, nbytes, sha in idx['tensors']:
    d = f[name]
    off = d.id.get_offset()
    res.append({'name': name, 'ok_shape': list(d.shape) == shape, 'offset': None if off is None else int(off), 'claimed': offset,
                'nbytes': int(d.size * d.dtype.itemsize), 'claimed_bytes': nbytes, 'sha_ok': bool(d.attrs['h5vault.sha256'] == sha)})
print(json.dumps({'format': idx['format'], 'rows': res}))
`,
      [p],
    );
    const r = JSON.parse(out) as {
      format: number;
      rows: {
        name: string;
        ok_shape: boolean;
        offset: number | null;
        claimed: number | null;
        nbytes: number;
        claimed_bytes: number;
        sha_ok: boolean;
      }[];
    };
    expect(r.format).toBe(1);
    expect(r.rows.map((x) => x.name)).toEqual(
      Object.keys(tensors).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    for (const row of r.rows) {
      expect(row).toMatchObject({ ok_shape: true, sha_ok: true, claimed_bytes: row.nbytes });
      // An empty tensor has no storage: h5py says None, the index null.
      expect(row.claimed).toBe(row.nbytes === 0 ? null : row.offset);
    }
  });

  it('compressed tensors are listed without an offset, and the file stays byte-identical on re-save', async () => {
    const a = join(dir, 'gz1.h5');
    const b = join(dir, 'gz2.h5');
    await saveModel(a, tensors, { compression: 'gzip' });
    await saveModel(b, tensors, { compression: 'gzip' });
    expect(bytesEqual(readFileSync(a), readFileSync(b))).toBe(true);
    const idx = readIndexAttr(a);
    expect(idx.tensors.find((t) => t[0] === 'a/kernel')![3]).toBeNull();
    expect(idx.tensors.find((t) => t[0] === 'step')![3]).toBeTypeOf('number'); // scalars cannot be chunked: stored contiguous
  });
});

describe('loadModel and the tensor index', () => {
  it('with expectDigest maps every tensor from the index: same data as the walk, zero-copy, verified', async () => {
    for (const compression of ['none', 'lz4'] as const) {
      const p = join(dir, `load-${compression}.h5`);
      const res = await saveModel(p, tensors, { compression });
      const fast = await loadModel(p, { expectDigest: res.digest });
      const walked = await loadModel(p);
      expect([...fast.tensors.keys()]).toEqual([...walked.tensors.keys()]);
      for (const [name, t] of walked.tensors) {
        const u = fast.tensors.get(name)!;
        expect({ dtype: u.dtype, shape: u.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
        expect(bytesEqual(u.data, t.data)).toBe(true);
        expect(bytesEqual(u.data, tensors[name]!.data)).toBe(true);
      }
      expect(fast.views).toEqual(walked.views);
      if (compression === 'none') expect(fast.views.has('a/kernel')).toBe(true);
      fast.close();
      walked.close();
    }
  });

  it('a tensor whose bytes changed after saving is caught through the index (expectDigest of the changed file)', async () => {
    const p = join(dir, 'changed.h5');
    await saveModel(p, tensors);
    const f = File.open(p, { mode: 'r+' });
    f.dataset('a/kernel').writeSync(new Float32Array(64));
    f.close();
    const digest = (await verifyModel(p)).tensors.length ? createHashOf(p) : '';
    await expect(loadModel(p, { expectDigest: digest })).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
      tensor: 'a/kernel',
    });
  });

  it('an index that lies about offsets is refused without expectDigest (plain and untrusted) and reported by verifyModel', async () => {
    const base = join(dir, 'liar-base.h5');
    await saveModel(base, tensors);
    // Swap the offsets of two same-sized tensors: each SHA-256 still names the right data for h5py.
    const liar = rewriteIndex(base, 'liar.h5', (rows) => {
      const x = rows.find((r) => r.name === 'a.x')!;
      const y = rows.find((r) => r.name === 'a/bias')!;
      [x.offset, y.offset] = [y.offset, x.offset];
      return rows;
    });
    for (const opts of [{}, { verify: false }, { untrusted: true }]) {
      await expect(loadModel(liar, opts)).rejects.toMatchObject({
        code: 'H5_CORRUPT',
        message: expect.stringMatching(/h5vault.index attribute does not describe the file/),
      });
    }
    const r = await verifyModel(liar);
    expect(r.ok).toBe(false);
    expect(r.tensors.every((t) => t.ok)).toBe(true);
    expect(r.problems.join('\n')).toMatch(/does not describe the file \(tensor 'a(\.x|\/bias)'/);
    // Vouched for by its digest, the index is trusted as the layout, and the data still has to match its SHA-256.
    await expect(loadModel(liar, { expectDigest: createHashOf(liar) })).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
    });
  });

  it('a dataset replaced by another HDF5 writer (h5py) after saving: the stale index never serves the old bytes', async () => {
    const edit = async (name: string, shape: string): Promise<string> => {
      const p = join(dir, name);
      await saveModel(p, tensors);
      python(
        `
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r+')
sha = f['a/kernel'].attrs['h5vault.sha256']
del f['a/kernel']
d = f.create_dataset('a/kernel', data=np.ones(${shape}, dtype='<f4'))
d.attrs['h5vault.sha256'] = sha
f.close()
`,
        [p],
      );
      return p;
    };
    // Another shape: the index's claim is refused whether or not the caller verifies.
    const reshaped = await edit('h5py-reshape.h5', '(8, 8)');
    for (const opts of [{}, { verify: false }]) {
      await expect(loadModel(reshaped, opts)).rejects.toMatchObject({
        code: 'H5_CORRUPT',
        message: expect.stringMatching(/tensor 'a\/kernel'/),
      });
    }
    // Same shape: libhdf5 may reuse the freed space (then the new bytes fail their checksum) or not (then the offset is wrong).
    const same = await edit('h5py-same.h5', '(16, 4)');
    await expect(loadModel(same)).rejects.toMatchObject({
      code: expect.stringMatching(/^(H5_CORRUPT|H5_CHECKSUM_MISMATCH)$/),
    });
    const m = await loadModel(same, { verify: false }).catch((e: { code?: string }) => e);
    if ('tensors' in m) {
      expect(Array.from(m.tensors.get('a/kernel')!.data as Float32Array)).toEqual(new Array(64).fill(1)); // what h5py reads
      m.close();
    } else expect(m.code).toBe('H5_CORRUPT');
  });

  it('a malformed index is H5_CORRUPT; one not bound to the provenance is H5_CHECKSUM_MISMATCH, ignored with verify: false', async () => {
    const base = join(dir, 'bad-base.h5');
    const res = await saveModel(base, tensors);
    const notJson = rewriteIndex(base, 'bad-json.h5', () => '{oops');
    await expect(loadModel(notJson)).rejects.toMatchObject({
      code: 'H5_CORRUPT',
      message: expect.stringMatching(/h5vault.index.*not JSON/),
    });
    const outside = rewriteIndex(base, 'bad-range.h5', (rows) =>
      rows.map((r) => (r.name === 'a/kernel' ? { ...r, offset: 1 << 30 } : r)),
    );
    await expect(loadModel(outside)).rejects.toMatchObject({
      code: 'H5_CORRUPT',
      message: expect.stringMatching(/a\/kernel.*claims bytes/),
    });
    const overlap = rewriteIndex(base, 'bad-overlap.h5', (rows) => {
      const k = rows.find((r) => r.name === 'a/kernel')!;
      return rows.map((r) => (r.name === 'a/bias' ? { ...r, offset: k.offset! + 4 } : r));
    });
    await expect(loadModel(overlap)).rejects.toMatchObject({
      code: 'H5_CORRUPT',
      message: expect.stringMatching(/overlap/),
    });
    const unbound = rewriteIndex(base, 'bad-sha.h5', (rows) =>
      rows.map((r) => (r.name === 'step' ? { ...r, sha256: '0'.repeat(64) } : r)),
    );
    await expect(loadModel(unbound)).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
      message: expect.stringMatching(/do not hash to the stored model digest/),
    });
    const m = await loadModel(unbound, { verify: false });
    expect(m.tensors.size).toBe(Object.keys(tensors).length);
    m.close();
    // A future index version is not understood: the file is walked, and loads.
    const future = rewriteIndex(base, 'future.h5', () => JSON.stringify({ format: 2, tensors: 'elsewhere' }));
    const m2 = await loadModel(future, { expectDigest: createHashOf(future) });
    expect(bytesEqual(m2.tensors.get('a/kernel')!.data, tensors['a/kernel']!.data)).toBe(true);
    m2.close();
    expect(res.digest).not.toBe(createHashOf(future));
  });

  it('files without an index (h5py-written) load through the walk', async () => {
    const p = join(dir, 'plain.h5');
    python(
      `
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f['w'] = np.arange(12, dtype='<f4').reshape(3, 4)
`,
      [p],
    );
    const m = await loadModel(p, { verify: false });
    expect(Array.from(m.tensors.get('w')!.data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    m.close();
  });
});

function createHashOf(p: string): string {
  return python(`import sys, hashlib; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())`, [p]).trim();
}
