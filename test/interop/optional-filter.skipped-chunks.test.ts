/**
 * A dataset whose pipeline holds an OPTIONAL filter nobody registered reads
 * like h5py: chunks stored with that filter skipped (its bit set in the
 * chunk's filter mask, as libhdf5 does when an optional filter cannot run)
 * read back as stored; only a chunk that really needs the filter fails, with
 * H5_FILTER_UNAVAILABLE. The file is written by real h5py.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const p = join(tempDir(), 'optional-filter.h5');
let h5pyReads: Record<string, number[] | string> = {};

beforeAll(() => {
  h5pyReads = JSON.parse(
    python(
      `
import h5py, numpy as np, sys, json
def make(f, name, shape, chunks, maxshape=None):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    dcpl.set_filter(32123, h5py.h5z.FLAG_OPTIONAL, ())  # optional, registered nowhere
    h5py.h5d.create(f.id, name.encode(), h5py.h5t.STD_I32LE, h5py.h5s.create_simple(shape, maxshape), dcpl)
    return f[name]
with h5py.File(sys.argv[1], 'w') as f:
    # libhdf5 skips the unavailable optional filter on write: every chunk's mask bit is set
    make(f, 'skipped', (10,), (4,))[...] = np.arange(10, dtype='<i4')
    d = make(f, 'skipped2d', (5, 6), (2, 4), (5, h5py.h5s.UNLIMITED))
    d[...] = np.arange(30, dtype='<i4').reshape(5, 6)
    # chunks written directly: one stored raw (mask set), one that needs the filter
    d = make(f, 'mixed', (8,), (4,))
    d.id.write_direct_chunk((0,), np.arange(100, 104, dtype='<i4').tobytes(), filter_mask=1)
    d.id.write_direct_chunk((4,), b'needs 32123', filter_mask=0)
out = {}
with h5py.File(sys.argv[1], 'r') as f:
    for n in ('skipped', 'skipped2d'):
        out[n] = f[n][...].ravel().tolist()
    out['mixed[0:4]'] = f['mixed'][0:4].tolist()
    try:
        f['mixed'][...]
        out['mixed'] = 'read'
    except OSError:
        out['mixed'] = 'error'
print(json.dumps(out))
`,
      [p],
    ),
  );
});

describe('an optional filter that is not available', () => {
  it('h5py reads the chunks stored without it (the reference)', () => {
    expect(h5pyReads.skipped).toEqual([...Array(10).keys()]);
    expect(h5pyReads['mixed[0:4]']).toEqual([100, 101, 102, 103]);
    expect(h5pyReads.mixed).toBe('error');
  });

  it('chunks stored with the filter skipped read like h5py (sync, async, hyperslab)', async () => {
    using f = File.open(p);
    const d = f.dataset('skipped');
    expect(d.filters).toEqual([expect.objectContaining({ id: 32123, optional: true, available: false })]);
    expect(Array.from(d.readSync() as Int32Array)).toEqual(h5pyReads.skipped);
    expect(Array.from((await d.read()) as Int32Array)).toEqual(h5pyReads.skipped);
    const d2 = f.dataset('skipped2d');
    expect(Array.from((await d2.read()) as Int32Array)).toEqual(h5pyReads.skipped2d);
    const rows = (await d2.read({ start: [1, 1], count: [2, 3], step: [2, 2] })) as Int32Array;
    expect(Array.from(rows)).toEqual([7, 9, 11, 19, 21, 23]);
    expect(Array.from((await f.dataset('mixed').read({ start: [0], count: [4] })) as Int32Array)).toEqual(
      h5pyReads['mixed[0:4]'],
    );
  });

  it('a chunk that needs the filter is H5_FILTER_UNAVAILABLE, naming it', async () => {
    using f = File.open(p);
    const e = await f
      .dataset('mixed')
      .read()
      .then(
        () => null,
        (x: unknown) => x,
      );
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_FILTER_UNAVAILABLE');
    expect((e as H5Error).message).toContain('32123');
  });
});
