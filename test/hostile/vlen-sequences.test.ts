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
import { describe, expect, it } from 'vitest';
import { File, H5Error, type UnsafeFileError } from '../../lib/index.js';
import { hostileFiles } from './helpers.js';

const { p } = hostileFiles('h5vault-vlenseq-', {
  python: `
import h5py, numpy as np, struct, sys
d = sys.argv[1]
def seqs(n):
    return [np.zeros(2**20, 'u1')] + [np.zeros(1, 'u1')] * (n - 1)

def patch(path, off, n, ref=None):
    with open(path, 'r+b') as fh:
        fh.seek(off); first = fh.read(16)
        fh.seek(off); fh.write((ref or first) * n)

# 600 sequences -> 600 MiB decoded from a ~1 MiB file.
with h5py.File(p := d + '/seq.h5', 'w') as f:
    ds = f.create_dataset('s', shape=(600,), dtype=h5py.vlen_dtype('u1'))
    for i, x in enumerate(seqs(600)): ds[i] = x
    off = ds.id.get_offset()
patch(p, off, 600)

# The same inside a compound field.
ct = np.dtype([('id', '<i8'), ('v', h5py.vlen_dtype('u1'))])
with h5py.File(p := d + '/cpd.h5', 'w') as f:
    ds = f.create_dataset('c', shape=(600,), dtype=ct)
    for i, x in enumerate(seqs(600)): ds[i] = (i, x)
    off = ds.id.get_offset()
with open(p, 'r+b') as fh:
    fh.seek(off + 8); ref = fh.read(16)
    for i in range(600):
        fh.seek(off + i * 24 + 8); fh.write(ref)

# An attribute: 64 sequences -> 64 MiB decoded from 1 KiB declared.
with h5py.File(p := d + '/attr.h5', 'w') as f:
    f.attrs.create('a', seqs(64), dtype=h5py.vlen_dtype('u1'))
raw = bytearray(open(p, 'rb').read())
head = struct.pack('<I', 2**20)
at = next(i for i in range(len(raw) - 48) if raw[i:i+4] == head and raw[i+16:i+20] == b'\\x01\\0\\0\\0' and raw[i+32:i+36] == b'\\x01\\0\\0\\0')
raw[at:at + 16 * 64] = bytes(raw[at:at + 16]) * 64
open(p, 'wb').write(raw)

# Heap references into nothing.
with h5py.File(p := d + '/garbage.h5', 'w') as f:
    ds = f.create_dataset('s', shape=(4,), dtype=h5py.vlen_dtype('u1'))
    for i in range(4): ds[i] = np.arange(3, dtype='u1')
    off = ds.id.get_offset()
patch(p, off, 4, struct.pack('<IQI', 3, 0x7fffffff0000, 1))
`,
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

  it('untrusted: the walk measures sequences (datasets and compounds) and reads such attributes first', async () => {
    for (const [file, reason, object] of [
      ['seq.h5', 'dataset-too-large', '/s'],
      ['cpd.h5', 'dataset-too-large', '/c'],
      ['attr.h5', 'attribute-too-large', '/@a'],
    ] as const) {
      let e: unknown;
      try {
        (await File.openAsync(p(file), { untrusted: true, limits: { timeoutMs: 120_000 } })).close();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(H5Error);
      expect((e as UnsafeFileError).code).toBe('H5_UNSAFE_FILE');
      expect((e as UnsafeFileError).reason).toBe(reason);
      expect((e as UnsafeFileError).object).toBe(object);
    }
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
