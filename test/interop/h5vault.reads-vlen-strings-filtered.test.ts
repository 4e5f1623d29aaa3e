/**
 * Variable-length strings in filtered chunks (h5py, netCDF-4 and AnnData
 * write them with gzip or LZF): each stored value is a global heap ID, larger
 * than the in-memory pointer libhdf5 sizes the dataset's type with, and the
 * bounded decoders' per-chunk limit must allow for it. Found by the
 * conformance corpus (jHDF's chunked_v4_datasets.hdf5, AnnData 0.7 archives).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'vlen-filtered.h5');
const PIPELINES = ['gzip', 'lzf', 'shuffle-gzip', 'gzip-chunk1', 'lzf-2d'];
let expected: Record<string, string[]> = {};

beforeAll(() => {
  expected = JSON.parse(
    python(
      `import h5py, numpy as np, sys, json
rng = np.random.default_rng(5)
words = [''.join(chr(c) for c in rng.integers(97, 123, size=int(n))) for n in rng.integers(0, 40, size=90)]
words[3] = 'µ-ünïcode ✓'
dt = h5py.string_dtype('utf-8')
out = {}
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('gzip', data=np.array(words, dtype=object), dtype=dt, chunks=(6,), compression='gzip')
    f.create_dataset('lzf', data=np.array(words, dtype=object), dtype=dt, chunks=(6,), compression='lzf')
    f.create_dataset('shuffle-gzip', data=np.array(words, dtype=object), dtype=dt, chunks=(7,), compression='gzip', shuffle=True)
    f.create_dataset('gzip-chunk1', data=np.array(words, dtype=object), dtype=dt, chunks=(1,), compression='gzip', compression_opts=9)
    f.create_dataset('lzf-2d', data=np.array(words, dtype=object).reshape(9, 10), dtype=dt, chunks=(2, 3), compression='lzf')
for k in ['gzip', 'lzf', 'shuffle-gzip', 'gzip-chunk1', 'lzf-2d']:
    out[k] = words
print(json.dumps(out))`,
      [p],
    ),
  ) as Record<string, string[]>;
});

describe('variable-length strings in filtered chunks read like h5py', () => {
  for (const name of PIPELINES) {
    it(name, async () => {
      const f = File.open(p);
      try {
        const ds = f.dataset(name);
        expect(ds.filters.length).toBeGreaterThan(0);
        expect(await ds.read()).toEqual(expected[name]);
        expect(ds.readSync()).toEqual(expected[name]);
      } finally {
        f.close();
      }
    });
  }
});

// A variable-length string nested in a compound or an array type: libhdf5's
// H5Tdetect_class(type, H5T_VLEN) does not see it, so such chunks were bounded
// at their in-memory size and refused as decompression bombs (H5_CORRUPT).
// Found by the conformance corpus (jHDF's array_vlen_chunked_compound).
describe('variable-length strings inside compounds and array types, in filtered chunks, read like h5py', () => {
  const q = join(dir, 'vlen-nested-filtered.h5');
  let want: { names: string[][]; rec: { id: number[]; label: string[]; note: string[] } } = {
    names: [],
    rec: { id: [], label: [], note: [] },
  };
  beforeAll(() => {
    want = JSON.parse(
      python(
        `import h5py, numpy as np, sys, json
s = h5py.string_dtype('utf-8')
arr = np.dtype([('name', s, (2,))])
rec = np.dtype([('id', '<i4'), ('label', s), ('note', s)])
names = [['James', 'Ellie'], ['µ-ünï ✓', ''], ['a' * 300, 'b']]
labels = ['x' * 500, 'short', '']
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('array_of_vlen', data=np.array([tuple([n]) for n in names], dtype=arr), chunks=(1,), compression='gzip')
    f.create_dataset('compound_vlen', data=np.array([(i, l, l[::-1] + '!') for i, l in enumerate(labels)], dtype=rec), chunks=(1,), compression='gzip', shuffle=True)
g = h5py.File(sys.argv[1], 'r')
print(json.dumps({'names': [[x.decode() for x in r] for r in g['array_of_vlen']['name']],
                  'rec': {'id': g['compound_vlen']['id'].tolist(), 'label': [x.decode() for x in g['compound_vlen']['label']], 'note': [x.decode() for x in g['compound_vlen']['note']]}}))`,
        [q],
      ),
    ) as typeof want;
  });

  it('compound of one array(2) of vlen strings, gzip, one record per chunk', async () => {
    const f = File.open(q);
    try {
      const v = await f.dataset('array_of_vlen').read<{ name: string[] }>();
      expect(v.name).toEqual(want.names.flat());
      expect(want.names[0]).toEqual(['James', 'Ellie']);
    } finally {
      f.close();
    }
  });

  it('compound { id: int32, label, note: vlen strings }, shuffle + gzip, one record per chunk', async () => {
    const f = File.open(q);
    try {
      const v = await f.dataset('compound_vlen').read<{ id: Int32Array; label: string[]; note: string[] }>();
      expect(Array.from(v.id)).toEqual(want.rec.id);
      expect(v.label).toEqual(want.rec.label);
      expect(v.note).toEqual(want.rec.note);
    } finally {
      f.close();
    }
  });
});
