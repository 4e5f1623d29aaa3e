// Zero-copy views (docs/architecture.md, invariant 4): identity, contents,
// alignment of everything h5vault writes, and the reason for every kind of
// dataset that cannot be viewed.
import { describe, expect, it } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error, type NumericDType } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { bytesEqual, gaussian, python, requirePeers, rng, tempDir } from '../helpers.js';

const dir = tempDir();

const SAMPLES: Record<NumericDType, () => ArrayBufferView> = {
  int8: () => Int8Array.from([-128, -1, 0, 1, 127]),
  int16: () => Int16Array.from([-32768, -1, 0, 1, 32767]),
  int32: () => Int32Array.from([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]),
  int64: () => BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n]),
  uint8: () => Uint8Array.from([0, 1, 2, 254, 255]),
  uint16: () => Uint16Array.from([0, 1, 2, 65534, 65535]),
  uint32: () => Uint32Array.from([0, 1, 2, 2 ** 32 - 2, 2 ** 32 - 1]),
  uint64: () => BigUint64Array.from([0n, 1n, 2n, 2n ** 64n - 2n, 2n ** 64n - 1n]),
  float16: () => Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7e00]),
  bfloat16: () => Uint16Array.from([0x3f80, 0xc000, 0x7f7f, 0x0001, 0x7fc1]),
  float32: () => Float32Array.from([0, -0, 1.5, -3.25e38, NaN]),
  float64: () => Float64Array.from([0, -0, Math.PI, -1e308, Infinity]),
  bool: () => Uint8Array.from([0, 1, 1, 0, 1]),
};

function make(name: string, fill: (f: File) => void): string {
  const p = join(dir, name);
  const f = File.create(p, { overwrite: true });
  fill(f);
  f.close();
  return p;
}

describe('dataset.view()', () => {
  it('views every numeric dtype with the same bytes as read()', async () => {
    const p = make('dtypes.h5', (f) => {
      for (const [dt, gen] of Object.entries(SAMPLES)) {
        f.createDataset(dt, { dtype: dt as NumericDType, shape: [5], data: gen() as never });
      }
    });
    const f = File.open(p);
    for (const [dt, gen] of Object.entries(SAMPLES)) {
      const ds = f.dataset(dt);
      expect(ds.viewable).toBe(true);
      const v = ds.view();
      expect(v.constructor).toBe(gen().constructor);
      expect(bytesEqual(v, gen())).toBe(true);
      expect(bytesEqual(v, (await ds.read()) as ArrayBufferView)).toBe(true);
    }
    f.close();
  });

  it('two views of one dataset share memory (no copy)', () => {
    const data = gaussian(4096, 3);
    const p = make('shared.h5', (f) => f.createDataset('w', { dtype: 'float32', shape: [64, 64], data }));
    const f = File.open(p);
    const a = f.dataset('w').view() as Float32Array;
    const b = f.dataset('w').view() as Float32Array;
    expect(bytesEqual(a, data)).toBe(true);
    const before = b[7];
    a[7] = 12345; // a private (copy-on-write) page of this process
    expect(b[7]).toBe(12345);
    a[7] = before!;
    f.close();
  });

  it('a write into a view never reaches the file', () => {
    const data = Float32Array.from({ length: 1024 }, (_, i) => i);
    const p = make('cow.h5', (f) => f.createDataset('w', { dtype: 'float32', shape: [1024], data }));
    const bytesBefore = readFileSync(p);
    const f = File.open(p);
    const v = f.dataset('w').view() as Float32Array;
    v.fill(-1);
    f.close();
    expect(Buffer.compare(readFileSync(p), bytesBefore)).toBe(0);
    const g = File.open(p);
    expect(bytesEqual(g.dataset('w').view(), data)).toBe(true);
    g.close();
  });

  it('aligns the data of all 500 tensors of a mixed model to 64 bytes', () => {
    const r = rng(7);
    const dtypes: NumericDType[] = ['float32', 'float16', 'bfloat16', 'int8', 'int64', 'float64', 'uint8', 'bool'];
    const specs: { name: string; dtype: NumericDType; n: number }[] = [];
    for (let i = 0; i < 500; i++) {
      const dtype = dtypes[i % dtypes.length]!;
      specs.push({ name: `layer${Math.floor(i / 10)}/t${i}`, dtype, n: 1 + Math.floor(r() * 3000) });
    }
    const p = make('aligned.h5', (f) => {
      for (const s of specs) f.createDataset(s.name, { dtype: s.dtype, shape: [s.n] });
    });
    const f = File.open(p);
    for (const s of specs) {
      const ds = f.dataset(s.name);
      expect(ds.viewable).toBe(true);
      expect(ds.offset! % 64).toBe(0);
      expect(ds.view().length).toBe(s.n);
    }
    f.close();
  });

  it('views of empty datasets are empty arrays', () => {
    const p = make('empty.h5', (f) => f.createDataset('e', { dtype: 'float32', shape: [0, 8] }));
    const f = File.open(p);
    const v = f.dataset('e').view();
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(0);
    f.close();
  });

  it('a scalar dataset is viewable', () => {
    const p = make('scalar.h5', (f) =>
      f.createDataset('s', { dtype: 'float64', shape: [], data: Float64Array.of(2.5) }),
    );
    const f = File.open(p);
    expect(Array.from(f.dataset('s').view() as Float64Array)).toEqual([2.5]);
    f.close();
  });
});

describe('viewable reasons', () => {
  function reasonOf(p: string, name: string, mode: 'r' | 'r+' = 'r'): { viewable: unknown; thrown: H5Error } {
    const f = File.open(p, { mode });
    try {
      const ds = f.dataset(name);
      const viewable = ds.viewable;
      let thrown: unknown;
      try {
        ds.view();
      } catch (e) {
        thrown = e;
      }
      return { viewable, thrown: thrown as H5Error };
    } finally {
      f.close();
    }
  }

  it("'chunked', 'filtered' and 'read-write-file' from h5vault files", () => {
    const data = gaussian(1000, 5);
    const p = make('reasons.h5', (f) => {
      f.createDataset('chunked', { dtype: 'float32', shape: [1000], chunks: [100], data });
      f.createDataset('filtered', { dtype: 'float32', shape: [1000], compression: 'lz4', data });
      f.createDataset('plain', { dtype: 'float32', shape: [1000], data });
      f.createDataset('names', { dtype: 'string', shape: [1], data: ['x'] });
    });
    for (const [name, reason] of [
      ['chunked', 'chunked'],
      ['filtered', 'filtered'],
      ['names', 'unsupported-type'],
    ] as const) {
      const r = reasonOf(p, name);
      expect(r.viewable).toBe(reason);
      expect(r.thrown).toBeInstanceOf(H5Error);
      expect(r.thrown.code).toBe('H5_NOT_VIEWABLE');
      expect(r.thrown.reason).toBe(reason);
      expect(r.thrown.message).toContain(reason);
    }
    const rw = reasonOf(p, 'plain', 'r+');
    expect(rw.viewable).toBe('read-write-file');
    expect(rw.thrown.reason).toBe('read-write-file');
  });

  it('view({ copy: true }) and viewOrCopy() return an owned copy and say so', () => {
    const data = gaussian(1000, 6);
    const p = make('copy.h5', (f) => {
      f.createDataset('filtered', { dtype: 'float32', shape: [1000], compression: 'gzip', shuffle: true, data });
      f.createDataset('plain', { dtype: 'float32', shape: [1000], data });
    });
    const f = File.open(p);
    expect(bytesEqual(f.dataset('filtered').view({ copy: true }), data)).toBe(true);
    const c = f.dataset('filtered').viewOrCopy();
    expect(c.viewed).toBe(false);
    expect(c.reason).toBe('filtered');
    expect(bytesEqual(c.data, data)).toBe(true);
    const v = f.dataset('plain').viewOrCopy();
    expect(v.viewed).toBe(true);
    expect(v.reason).toBeUndefined();
    f.close();
  });

  it("'big-endian', 'compact', 'external', 'not-allocated', 'unaligned' from h5py files", () => {
    requirePeers();
    const p = join(dir, 'h5py-reasons.h5');
    writeFileSync(join(dir, 'ext.bin'), Buffer.alloc(400));
    python(
      `
import h5py, numpy as np, sys
p = sys.argv[1]
with h5py.File(p, 'w') as f:
    f.create_dataset('be', data=np.arange(100, dtype='>f4'))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE); dcpl.set_layout(h5py.h5d.COMPACT)
    sp = h5py.h5s.create_simple((10,))
    h5py.h5d.create(f.id, b'compact', h5py.h5t.IEEE_F32LE, sp, dcpl=dcpl)
    f.create_dataset('external', shape=(100,), dtype='<f4', external=[(sys.argv[2], 0, 400)])
    f.create_dataset('lazy', shape=(100,), dtype='<f4')   # h5py allocates late: never written
    # An odd-sized attribute-free byte dataset first, then a float64 at an odd offset:
    f.create_dataset('pad', data=np.zeros(3, dtype='u1'))
    f.create_dataset('unaligned', data=np.arange(5, dtype='<f8'))
    print(f['unaligned'].id.get_offset())
`,
      [p, join(dir, 'ext.bin')],
    );
    expect(reasonOf(p, 'be').viewable).toBe('big-endian');
    expect(reasonOf(p, 'compact').viewable).toBe('compact');
    expect(reasonOf(p, 'external').viewable).toBe('external');
    expect(reasonOf(p, 'lazy').viewable).toBe('not-allocated');
    const f = File.open(p);
    const off = f.dataset('unaligned').offset!;
    f.close();
    // h5py packs data after metadata with no alignment: whether this float64
    // lands on a multiple of 8 depends on metadata sizes, so check the rule.
    expect(reasonOf(p, 'unaligned').viewable).toBe(off % 8 === 0 ? true : 'unaligned');
    for (const name of ['be', 'compact', 'external', 'lazy']) {
      const r = reasonOf(p, name);
      expect(r.thrown.code).toBe('H5_NOT_VIEWABLE');
      expect(r.thrown.reason).toBe(r.viewable);
    }
  });

  it("'unaligned' for a float32 dataset at an odd offset (crafted with h5py's low-level API)", () => {
    requirePeers();
    const p = join(dir, 'odd.h5');
    // Alignment 1 and a 1-byte dataset first: the next contiguous allocation
    // starts at an odd address.
    const out = python(
      `
import h5py, numpy as np, sys
fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
fapl.set_alignment(1, 1)
fid = h5py.h5f.create(sys.argv[1].encode(), h5py.h5f.ACC_TRUNC, fapl=fapl)
with h5py.File(fid) as f:
    for i in range(8):
        f.create_dataset('b%d' % i, data=np.zeros(1 + i, dtype='u1'))
        f.create_dataset('f%d' % i, data=np.arange(4, dtype='<f4'))
    print(','.join(str(f['f%d' % i].id.get_offset()) for i in range(8)))
`,
      [p],
    );
    const offsets = out.trim().split(',').map(Number);
    const odd = offsets.findIndex((o) => o % 4 !== 0);
    expect(odd).toBeGreaterThanOrEqual(0);
    const r = reasonOf(p, `f${odd}`);
    expect(r.viewable).toBe('unaligned');
    expect(r.thrown.reason).toBe('unaligned');
    // read() still works, and view({copy:true}) says it copied
    const f = File.open(p);
    expect(Array.from(f.dataset(`f${odd}`).view({ copy: true }) as Float32Array)).toEqual([0, 1, 2, 3]);
    f.close();
  });

  it('h5py-written contiguous little-endian data is viewable', () => {
    requirePeers();
    const p = join(dir, 'h5py-plain.h5');
    python(
      `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('w', data=np.arange(1000, dtype='<f4'))
`,
      [p],
    );
    const f = File.open(p);
    const ds = f.dataset('w');
    expect(ds.viewable).toBe(true);
    expect(Array.from(ds.view().subarray(0, 3) as Float32Array)).toEqual([0, 1, 2]);
    f.close();
  });
});

describe('mapping lifetime', () => {
  it('a view outlives close() and keeps its values', () => {
    const data = gaussian(10000, 9);
    const p = make('outlive.h5', (f) => f.createDataset('w', { dtype: 'float32', shape: [10000], data }));
    const f = File.open(p);
    const v = f.dataset('w').view();
    f.close();
    expect(f.closed).toBe(true);
    expect(bytesEqual(v, data)).toBe(true);
    expect(native.mappingStats().mappings).toBeGreaterThanOrEqual(1);
  });

  it('one mapping per open file, made on the first view', () => {
    const p = make('onemap.h5', (f) => {
      for (let i = 0; i < 5; i++) f.createDataset(`t${i}`, { dtype: 'float32', shape: [100] });
    });
    const before = native.mappingStats().mappings;
    const f = File.open(p);
    expect(native.mappingStats().mappings).toBe(before);
    const views = [0, 1, 2, 3, 4].map((i) => f.dataset(`t${i}`).view());
    expect(native.mappingStats().mappings).toBe(before + 1);
    expect(views.length).toBe(5);
    f.close();
  });

  it('prefetch() faults pages in and leaves values unchanged', async () => {
    const data = gaussian(1 << 16, 11);
    const p = make('prefetch.h5', (f) => f.createDataset('w', { dtype: 'float32', shape: [1 << 16], data }));
    const f = File.open(p);
    const ds = f.dataset('w');
    await ds.prefetch();
    await f.prefetch();
    expect(bytesEqual(ds.view(), data)).toBe(true);
    f.close();
  });
});
