/**
 * loadModel without expectDigest checks a model's tensor index against the
 * layout libhdf5 reads from the object headers (one native call for every
 * dataset, lib/model/load.ts layoutMatches) before it maps anything from the
 * index. Each case forges an index that points at real bytes and is bound to
 * the provenance, so only the layout check stands between it and a wrong
 * answer: a big-endian dataset at an indexed offset (mapping it would give
 * byte-swapped values), an extra dataset the index leaves out, a tensor's own
 * SHA-256 attribute that disagrees with the index, a dataset rewritten
 * chunked. Every load gives the values that were saved, or a typed error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, saveModel, type Tensor } from '../../lib/index.js';
import { gaussian, python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-layout-check-');
const base = join(dir, 'base.h5');
const tensors: Record<string, Tensor> = {
  'dense/bias': { dtype: 'float32', shape: [64], data: gaussian(64, 1) },
  'dense/kernel': { dtype: 'float32', shape: [64, 32], data: gaussian(2048, 2) },
  'emb/table': { dtype: 'float64', shape: [40], data: Float64Array.from(gaussian(40, 3)) },
};

beforeAll(async () => {
  requirePeers();
  await saveModel(base, tensors);
});

/** A copy of the base model edited by h5py; `code` sees f (r+), np, json and `index`/`put_index` for the index rows. */
function forged(name: string, code: string): string {
  const p = join(dir, name);
  copyFileSync(base, p);
  python(
    `import h5py, numpy as np, json, sys
f = h5py.File(sys.argv[1], 'r+')
doc = json.loads(f.attrs['h5vault.index'])
index = {row[0]: row for row in doc['tensors']}
def put_index():
    f.attrs['h5vault.index'] = json.dumps(doc, separators=(',', ':'))
${code}
f.close()
`,
    [p],
  );
  return p;
}

async function expectSaved(p: string, opts: { verify?: boolean } = {}): Promise<void> {
  const m = await loadModel(p, opts);
  try {
    for (const [name, t] of Object.entries(tensors)) {
      expect(Array.from(m.tensors.get(name)!.data as Float32Array), name).toEqual(Array.from(t.data as Float32Array));
    }
  } finally {
    m.close();
  }
}

describe('the layout check of an index loadModel does not vouch for', () => {
  it('an untouched model maps every tensor from its index, verified or not', async () => {
    await expectSaved(base);
    await expectSaved(base, { verify: false });
    const m = await loadModel(base, { verify: false });
    expect([...m.views].sort()).toEqual(Object.keys(tensors).sort());
    m.close();
  });

  it('a big-endian dataset at the indexed offset is read with conversion, never mapped as is', async () => {
    const p = forged(
      'big-endian.h5',
      `
old = f['dense/kernel'][()]
sha = f['dense/kernel'].attrs['h5vault.sha256']
del f['dense/kernel']
d = f.create_dataset('dense/kernel', data=old.astype('>f4'))
d.attrs['h5vault.sha256'] = sha
index['dense/kernel'][3] = d.id.get_offset()
put_index()`,
    );
    await expectSaved(p, { verify: false });
    await expectSaved(p);
  });

  it('a dataset the index leaves out makes the index H5_CORRUPT (it does not describe the file)', async () => {
    const p = forged('extra.h5', `f['dense/extra'] = np.zeros(4, '<f4')`);
    for (const opts of [{}, { verify: false }]) {
      await expect(loadModel(p, opts)).rejects.toMatchObject({ code: 'H5_CORRUPT' });
    }
  });

  it("a tensor's SHA-256 attribute that disagrees with its data fails a verifying load", async () => {
    const p = forged('sha-attr.h5', `f['dense/bias'].attrs['h5vault.sha256'] = '0' * 64`);
    await expect(loadModel(p)).rejects.toMatchObject({ code: 'H5_CHECKSUM_MISMATCH', tensor: 'dense/bias' });
    await expectSaved(p, { verify: false });
  });

  it('a dataset rewritten chunked (no offset) while the index keeps the old offset is H5_CORRUPT', async () => {
    const p = forged(
      'chunked.h5',
      `
old = f['emb/table'][()]
sha = f['emb/table'].attrs['h5vault.sha256']
del f['emb/table']
d = f.create_dataset('emb/table', data=old, chunks=(8,))
d.attrs['h5vault.sha256'] = sha`,
    );
    for (const opts of [{}, { verify: false }]) {
      await expect(loadModel(p, opts)).rejects.toMatchObject({ code: 'H5_CORRUPT' });
    }
  });
});
