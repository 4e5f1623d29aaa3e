// lib/h5/superblock.ts recomputes libhdf5's superblock checksum (lookup3) in file
// images: libhdf5 1.10 leaves a stale one for version 2/3 superblocks. The
// oracle is the checksum libhdf5 itself wrote into files h5py made.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookup3, repairSuperblockChecksum } from '../../lib/h5/superblock.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir();

describe('superblock checksum of file images', () => {
  requirePeers();
  it('lookup3 equals the checksum libhdf5 wrote, with and without a user block', () => {
    for (const [name, ub] of [
      ['plain.h5', 0],
      ['ub.h5', 1024],
    ] as const) {
      const p = join(dir, name);
      python(
        `
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w', libver='latest', userblock_size=int(sys.argv[2])) as f:
    f['a'] = np.arange(5)
`,
        [p, String(ub)],
      );
      const b = readFileSync(p);
      expect(b[ub + 8]).toBe(3); // superblock version 3
      const end = ub + 12 + 4 * b[ub + 9]!;
      expect(lookup3(b.subarray(ub, end))).toBe(b.readUInt32LE(end));
      const broken = Buffer.from(b);
      broken.writeUInt32LE(0, end);
      repairSuperblockChecksum(broken);
      expect(broken.equals(b)).toBe(true);
    }
  });

  it('leaves version 0 superblocks and non-HDF5 bytes unchanged', () => {
    const p = join(dir, 'v0.h5');
    python(
      `
import sys, h5py
with h5py.File(sys.argv[1], 'w') as f:
    f['a'] = 1
`,
      [p],
    );
    const b = readFileSync(p);
    const copy = Buffer.from(b);
    repairSuperblockChecksum(copy);
    expect(copy.equals(b)).toBe(true);
    const junk = Buffer.from('not an hdf5 file at all, just text');
    repairSuperblockChecksum(junk);
    expect(junk.toString()).toBe('not an hdf5 file at all, just text');
  });
});
