/**
 * h5py (libver 'latest') datasets whose unlimited dimension is not the first
 * (an extensible-array chunk index, which libhdf5 1.10's chunk-info queries
 * label with the wrong coordinates) read exactly like h5py reads them:
 * whole, as hyperslabs, sync and async, trusted and untrusted. The file is
 * written by real h5py; h5py's own reads are the reference.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const p = join(tempDir(), 'unlimited-not-first.h5');
let ref: Record<string, number[]> = {};

beforeAll(() => {
  ref = JSON.parse(
    python(
      `
import h5py, numpy as np, sys, json
with h5py.File(sys.argv[1], 'w', libver='latest') as f:
    x = f.create_dataset('x', shape=(4, 6), maxshape=(4, None), chunks=(2, 3), dtype='i4')
    x[...] = np.arange(24).reshape(4, 6)
    # gzip, a third dimension, unwritten chunks with a custom fill value
    y = f.create_dataset('y', shape=(3, 5, 4), maxshape=(3, None, 4), chunks=(2, 2, 3), dtype='<f4',
                         compression='gzip', fillvalue=-1)
    y[:, 0:2, :] = np.arange(24, dtype='<f4').reshape(3, 2, 4)
    y[2, 4, 3] = 99
    # grown after writing
    z = f.create_dataset('z', shape=(2, 3), maxshape=(2, None), chunks=(1, 2), dtype='<i2')
    z[...] = [[1, 2, 3], [4, 5, 6]]
    z.resize((2, 7))
    z[:, 5:7] = [[7, 8], [9, 10]]
out = {}
with h5py.File(sys.argv[1], 'r') as f:
    for n in ('x', 'y', 'z'):
        out[n] = f[n][...].ravel().tolist()
    out['x[2:4]'] = f['x'][2:4].ravel().tolist()
    out['y[:, 1::2, ::3]'] = f['y'][:, 1::2, ::3].ravel().tolist()
print(json.dumps(out))
`,
      [p],
    ),
  );
});

describe('unlimited dimension not first (extensible-array index)', () => {
  it('is what h5py reads: 0..23 for the (4,6) example', () => {
    expect(ref.x).toEqual([...Array(24).keys()]);
  });

  it('reads whole datasets like h5py, sync and async', async () => {
    using f = File.open(p);
    for (const n of ['x', 'y', 'z']) {
      expect(Array.from((await f.dataset(n).read()) as ArrayLike<number>), n).toEqual(ref[n]);
      expect(Array.from(f.dataset(n).readSync() as ArrayLike<number>), n).toEqual(ref[n]);
    }
  });

  it('reads hyperslabs like h5py (rows 2-3 were all zeros)', async () => {
    using f = File.open(p);
    expect(Array.from((await f.dataset('x').read({ start: [2, 0], count: [2, 6] })) as Int32Array)).toEqual(
      ref['x[2:4]'],
    );
    const y = await f.dataset('y').read({ start: [0, 1, 0], count: [3, 2, 2], step: [1, 2, 3] });
    expect(Array.from(y as Float32Array)).toEqual(ref['y[:, 1::2, ::3]']);
  });

  it('reads the same in untrusted mode', async () => {
    const f = await File.openAsync(p, { untrusted: true });
    try {
      for (const n of ['x', 'y', 'z'])
        expect(Array.from((await f.dataset(n).read()) as ArrayLike<number>), n).toEqual(ref[n]);
    } finally {
      f.close();
    }
  });
});
