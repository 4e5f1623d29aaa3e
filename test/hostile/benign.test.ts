/**
 * Benign files untrusted mode must open: limits judge what a read would
 * decode from storage, not what is declared. Unwritten chunked datasets
 * (nothing stored, nothing to decode), netCDF-style huge unlimited extents
 * with little or nothing written, and files in the newest format libhdf5
 * 1.10 writes (superblock v3, object header v2, dense link and attribute
 * storage in fractal heaps with v2 B-tree name/creation-order indexes, every
 * chunk index: single chunk, implicit, fixed array, extensible array, v2
 * B-tree). Each must open untrusted and read exactly what h5py reads.
 */
import { describe, expect, it } from 'vitest';
import { Dataset, File } from '../../lib/index.js';
import { python } from '../helpers.js';
import { hostileFiles } from './helpers.js';

const { p } = hostileFiles('h5vault-benign-', {
  python: `
import h5py, numpy as np, sys
d = sys.argv[1]
# Declared 7.6 MiB, nothing written.
with h5py.File(d + '/unwritten.h5', 'w') as f:
    f.create_dataset('u', shape=(1000, 1000), dtype='<f8', chunks=(100, 100))
    f.create_dataset('ugz', shape=(1000, 1000), dtype='<f8', chunks=(100, 100), compression='gzip', fillvalue=3.5)
# netCDF-style record variable: a huge declared extent, a few records written.
with h5py.File(d + '/records.h5', 'w') as f:
    v = f.create_dataset('time', shape=(2**40,), maxshape=(None,), dtype='<f8', chunks=(2**16,))
    v[:10] = np.arange(10)
    f.create_dataset('empty', shape=(2**40,), maxshape=(None,), dtype='<f8', chunks=(2**16,))
    f.attrs['Conventions'] = 'CF-1.8'
# Everything libver='latest' brings.
with h5py.File(d + '/latest.h5', 'w', libver='latest', track_order=True) as f:
    g = f.create_group('dense', track_order=True)
    for i in range(40):
        g.create_dataset('t%02d' % i, data=np.arange(i + 1, dtype='<i4'))
        g.attrs['a%02d' % i] = i
    f.create_dataset('single', data=np.arange(64, dtype='<f4').reshape(8, 8), chunks=(8, 8), compression='gzip')
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((4, 4)); dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    sid = h5py.h5s.create_simple((8, 8))
    h5py.h5d.create(f.id, b'implicit', h5py.h5t.NATIVE_INT32, sid, dcpl=dcpl)
    f['implicit'][...] = np.arange(64, dtype='<i4').reshape(8, 8)
    f.create_dataset('fixed', data=np.arange(600, dtype='<f8').reshape(20, 30), chunks=(4, 7), shuffle=True, compression='gzip')
    ea = f.create_dataset('earray', shape=(10, 6), maxshape=(None, 6), chunks=(3, 4), dtype='<i4')
    ea[...] = np.arange(60, dtype='<i4').reshape(10, 6)
    bt = f.create_dataset('btree2', shape=(9, 11), maxshape=(None, None), chunks=(4, 4), dtype='<i8', compression='lzf')
    bt[...] = np.arange(99, dtype='<i8').reshape(9, 11)
    f.create_dataset('compact', data=np.arange(5, dtype='<u2'))
    f.attrs['note'] = 'latest'
    f['soft'] = h5py.SoftLink('/fixed')
`,
});

/** Every dataset of a file as h5py reads it (flattened), in the JSON-able shape h5vault gives. */
function h5pyData(path: string, names: string[], count?: number): Record<string, number[]> {
  return JSON.parse(
    python(
      `
import h5py, json, sys
out = {}
with h5py.File(sys.argv[1], 'r') as f:
    for n in sys.argv[2].split(','):
        d = f[n]
        x = d[:int(sys.argv[3])] if sys.argv[3] != '-' else d[...]
        out[n] = [float(v) for v in x.reshape(-1)]
print(json.dumps(out))
`,
      [path, names.join(','), count === undefined ? '-' : String(count)],
    ),
  );
}

describe('untrusted mode judges what will be decoded', () => {
  it('unwritten chunked datasets (7.6 MiB declared, 0 B stored) open and read as fill values', async () => {
    const f = await File.openAsync(p('unwritten.h5'), { untrusted: true });
    try {
      const u = (await f.dataset('u').read()) as Float64Array;
      expect(u.length).toBe(1e6);
      expect(u.every((v) => v === 0)).toBe(true);
      const g = (await f.dataset('ugz').read({ start: [990, 990], count: [10, 10] })) as Float64Array;
      expect(Array.from(g)).toEqual(new Array(100).fill(3.5));
    } finally {
      f.close();
    }
  });

  it('a netCDF-style record variable declaring 8 TiB with 10 records written opens; hyperslabs match h5py', async () => {
    const f = await File.openAsync(p('records.h5'), { untrusted: true });
    try {
      expect(f.dataset('time').shape).toEqual([2 ** 40]);
      const got = Array.from((await f.dataset('time').read({ start: [0], count: [12] })) as Float64Array);
      expect(got).toEqual(h5pyData(p('records.h5'), ['time'], 12).time);
      expect(f.attrs.get('Conventions')).toBe('CF-1.8');
    } finally {
      f.close();
    }
  });

  it("a libver='latest' file with dense groups, creation order and every chunk index opens and reads like h5py", async () => {
    const f = await File.openAsync(p('latest.h5'), { untrusted: true });
    try {
      const names: string[] = [];
      for (const [path, o] of f.walk()) if (o instanceof Dataset) names.push(path.slice(1));
      expect(names.length).toBe(46);
      const want = h5pyData(p('latest.h5'), names);
      for (const n of names) {
        const got = Array.from((await f.dataset(n).read()) as ArrayLike<number | bigint>, Number);
        expect(got, n).toEqual(want[n]);
      }
      expect(f.group('dense').attrs.keys().length).toBe(40);
      expect(f.group('dense').attrs.get('a39')).toBe(39);
      expect(f.attrs.get('note')).toBe('latest');
    } finally {
      f.close();
    }
  });

  it('a real bomb is still refused: stored chunks that decode > 1000x their size', async () => {
    python(
      `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    ds = f.create_dataset('b', shape=(2**22,), chunks=(2**20,), dtype='<f4', compression='gzip')
    import zlib
    for i in range(4):
        ds.id.write_direct_chunk((i * 2**20,), zlib.compress(b'\\0' * 16, 9))
`,
      [p('bomb.h5')],
    );
    await expect(File.openAsync(p('bomb.h5'), { untrusted: true })).rejects.toMatchObject({
      code: 'H5_UNSAFE_FILE',
      reason: 'shape-bomb',
      message: expect.stringMatching(/decodes 16\.0 MiB from \d+ B stored/),
    });
  });
});
