// Views of datasets in a file over 4 GiB: Node 20 cannot make one ArrayBuffer
// over the whole file (it aborted the process), so each view maps a window of
// the file; a dataset over 4 GiB itself is refused with a typed reason. The
// file is sparse: 5 GiB of extent, a few pages on disk (tmpfs and ext4 alike).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir();

describe('views in a file larger than 4 GiB', () => {
  requirePeers();
  const path = join(dir, 'big.h5');
  python(
    `
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('before', data=np.arange(1000, dtype='<f4'))
    big = f.create_dataset('big', shape=(5 * 2**30,), dtype='u1')
    big[-10:] = np.arange(10, dtype='u1')
    f.create_dataset('after', data=np.linspace(0, 1, 777, dtype='<f8'))
    f.create_dataset('after_i2', data=np.arange(-300, 300, dtype='<i2'))
`,
    [path],
  );
  const expected = JSON.parse(
    python(
      `
import sys, json, h5py
with h5py.File(sys.argv[1], 'r') as f:
    print(json.dumps({k: f[k][()].tolist() for k in ('before', 'after', 'after_i2')} | {'offset': f['after'].id.get_offset()}))
`,
      [path],
    ),
  );

  it("views the datasets before and after the 4 GiB mark with h5py's values", async () => {
    expect(expected.offset).toBeGreaterThan(2 ** 32);
    const f = await File.open(path);
    try {
      const before = f.dataset('before').view() as Float32Array;
      const after = f.dataset('after').view() as Float64Array;
      const afterI2 = f.dataset('after_i2').view() as Int16Array;
      expect(Array.from(before)).toEqual(expected.before);
      expect(Array.from(after)).toEqual(expected.after);
      expect(Array.from(afterI2)).toEqual(expected.after_i2);
      // A window, not the whole file: the buffer is small.
      expect(after.buffer.byteLength).toBeLessThan(2 ** 20);
    } finally {
      f.close();
    }
  });

  it('refuses a dataset over 4 GiB with reason too-large, and reads a hyperslab of it', async () => {
    const f = await File.open(path);
    try {
      const big = f.dataset('big');
      expect(big.viewable).toBe('too-large');
      let err: unknown;
      try {
        big.view();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(H5Error);
      expect((err as H5Error).code).toBe('H5_NOT_VIEWABLE');
      expect((err as H5Error & { reason: string }).reason).toBe('too-large');
      const tail = await big.read({ start: [5 * 2 ** 30 - 10], count: [10] });
      expect(Array.from(tail as Uint8Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      f.close();
    }
  });
});
