/**
 * Elements a file never stored read as 0: datasets whose storage was never
 * allocated, or chunks never written, with fill time "never" (netCDF-4 writes
 * such variables; found by the conformance run on netcdf-c's
 * f03tst_open_mem.nc). libhdf5 and the chunk engine leave those elements of
 * the output untouched, so the result must start zeroed — never holding
 * whatever the process's heap held (earlier reads' data, or anything else).
 * Each case first reads a dataset of the same size full of 0x7f bytes and
 * lets it be collected, so a reused heap block would show.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'never-written.h5');
const N = 4096;

beforeAll(() => {
  python(
    `import h5py, numpy as np, sys
N = int(sys.argv[2])
with h5py.File(sys.argv[1], 'w') as f:
    f['full'] = np.full(N, 0x7f7f7f7f, dtype='<i4')
    for name, chunks in (('contiguous', None), ('chunked', (512,))):
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_LATE)
        if chunks: dcpl.set_chunk(chunks)
        h5py.h5d.create(f.id, name.encode(), h5py.h5t.STD_I32LE, h5py.h5s.create_simple((N,)), dcpl=dcpl)
    # partly written: one chunk stored, the others never
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    dcpl.set_chunk((512,))
    h5py.h5d.create(f.id, b'partial', h5py.h5t.STD_I32LE, h5py.h5s.create_simple((N,)), dcpl=dcpl)
    f['partial'][512:1024] = np.arange(512, dtype='<i4') + 1
`,
    [p, String(N)],
  );
});

const gc = (globalThis as { gc?: () => void }).gc;

describe('never-written elements read as 0, not as leftover memory', () => {
  for (const name of ['contiguous', 'chunked', 'partial']) {
    it(`${name}: read() and readSync()`, async () => {
      const f = File.open(p);
      try {
        const expected = new Int32Array(N);
        if (name === 'partial') for (let i = 0; i < 512; i++) expected[512 + i] = i + 1;
        for (let round = 0; round < 10; round++) {
          let full: unknown = await f.dataset('full').read();
          expect((full as Int32Array)[0]).toBe(0x7f7f7f7f);
          full = undefined;
          gc?.();
          expect(Array.from((await f.dataset(name).read()) as Int32Array)).toEqual(Array.from(expected));
          f.dataset('full').readSync();
          gc?.();
          expect(Array.from(f.dataset(name).readSync() as Int32Array)).toEqual(Array.from(expected));
        }
      } finally {
        f.close();
      }
    });
  }
});
