/**
 * Variable-length sequences (and compounds holding them) in hostile files:
 * many elements referencing ONE 1 MiB global-heap object must be refused
 * before anything is decoded (H5_LIMIT_EXCEEDED), and heap references that
 * point nowhere must be a typed error, never a crash.
 *
 * h5py writes each sequence to its own heap object, so the files are
 * patched: every element's 16-byte reference (length, heap collection,
 * index) is overwritten with the first element's, or with garbage.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File, H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-vlenseq-');
const p = (name: string) => join(dir, name);

beforeAll(() => {
  requirePeers();
  python(
    `
import h5py, numpy as np, struct, sys
d = sys.argv[1]
def seqs(n):
    return [np.zeros(2**20, 'u1')] + [np.zeros(1, 'u1')] * (n - 1)

def patch(path, off, n, ref=None):
    with open(path, 'r+b') as fh:
        fh.seek(off); first = fh.read(16)
        fh.seek(off); fh.write((ref or first) * n)

# 1024 sequences -> 1 GiB decoded from a ~1 MiB file.
with h5py.File(p := d + '/seq.h5', 'w') as f:
    ds = f.create_dataset('s', shape=(1024,), dtype=h5py.vlen_dtype('u1'))
    for i, x in enumerate(seqs(1024)): ds[i] = x
    off = ds.id.get_offset()
patch(p, off, 1024)

# The same inside a compound field.
ct = np.dtype([('id', '<i8'), ('v', h5py.vlen_dtype('u1'))])
with h5py.File(p := d + '/cpd.h5', 'w') as f:
    ds = f.create_dataset('c', shape=(1024,), dtype=ct)
    for i, x in enumerate(seqs(1024)): ds[i] = (i, x)
    off = ds.id.get_offset()
with open(p, 'r+b') as fh:
    fh.seek(off + 8); ref = fh.read(16)
    for i in range(1024):
        fh.seek(off + i * 24 + 8); fh.write(ref)

# Heap references into nothing.
with h5py.File(p := d + '/garbage.h5', 'w') as f:
    ds = f.create_dataset('s', shape=(4,), dtype=h5py.vlen_dtype('u1'))
    for i in range(4): ds[i] = np.arange(3, dtype='u1')
    off = ds.id.get_offset()
patch(p, off, 4, struct.pack('<IQI', 3, 0x7fffffff0000, 1))
`,
    [dir],
  );
});

describe('vlen sequences in hostile files', () => {
  it('amplified sequences are refused before decoding, sync and async', async () => {
    const f = File.open(p('seq.h5'));
    const d = f.dataset('s');
    expect(() => d.readSync()).toThrow(expect.objectContaining({ code: 'H5_LIMIT_EXCEEDED' }));
    await expect(d.read()).rejects.toMatchObject({ code: 'H5_LIMIT_EXCEEDED' });
    // A slice that decodes less than the limit reads.
    const part = d.readSync<Uint8Array[]>({ start: [0], count: [3] });
    expect(part.map((x) => x.length)).toEqual([2 ** 20, 2 ** 20, 2 ** 20]);
    f.close();
  });

  it('amplified sequences inside a compound are refused too', () => {
    const f = File.open(p('cpd.h5'));
    expect(() => f.dataset('c').readSync()).toThrow(expect.objectContaining({ code: 'H5_LIMIT_EXCEEDED' }));
    f.close();
  });

  it('heap references that point nowhere are a typed error', () => {
    const f = File.open(p('garbage.h5'));
    let e: unknown;
    try {
      f.dataset('s').readSync();
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(H5Error);
    f.close();
  });
});
