// Resizable datasets: maxshape at creation (chunks chosen when not given),
// resize(), append(); the parallel chunk engine reads a resized dataset
// exactly like H5Dread and h5py, including h5py-made files whose chunk
// indexes are extensible arrays and v2 B-trees (libver='latest').
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir('h5vault-resize-');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof H5Error) return e.code;
    return (e as Error).name;
  }
  return 'no error';
}

describe('creation with maxshape', () => {
  it('an unlimited dimension gets chunks of at least 1024 entries; h5py sees the same maxshape and chunks', () => {
    const p = join(dir, 'create.h5');
    const f = File.create(p);
    const d = f.createDataset('loss', { dtype: 'float32', shape: [0], maxshape: [null] });
    const m = f.createDataset('w', { dtype: 'float64', shape: [2, 3], maxshape: [null, 10], chunks: [4, 10] });
    expect(d.maxshape).toEqual([null]);
    expect(d.chunks).toEqual([1024]);
    expect(m.maxshape).toEqual([null, 10]);
    expect(m.chunks).toEqual([4, 10]);
    f.close();
    const out = python(
      `import h5py, sys
f = h5py.File(sys.argv[1], 'r')
print(f['loss'].maxshape, f['loss'].chunks, f['w'].maxshape, f['w'].chunks, f['w'].shape)`,
      [p],
    );
    expect(out.trim()).toBe('(None,) (1024,) (None, 10) (4, 10) (2, 3)');
  });

  it('refuses maxshape of the wrong rank, smaller than shape, or on a scalar', () => {
    const f = File.create(join(dir, 'bad.h5'));
    expect(code(() => f.createDataset('a', { dtype: 'int8', shape: [2], maxshape: [null, 2] }))).toBe('RangeError');
    expect(code(() => f.createDataset('b', { dtype: 'int8', shape: [4], maxshape: [3] }))).toBe('RangeError');
    expect(code(() => f.createDataset('c', { dtype: 'int8', shape: [4], maxshape: [-1] as never }))).toBe('TypeError');
    expect(code(() => f.createDataset('d', { dtype: 'int8', shape: [4], maxshape: 'x' as never }))).toBe('TypeError');
    // Chunks may exceed the current shape along a dimension that can grow.
    expect(f.createDataset('e', { dtype: 'int8', shape: [1], maxshape: [null], chunks: [64] }).chunks).toEqual([64]);
    expect(code(() => f.createDataset('g', { dtype: 'int8', shape: [1], maxshape: [8], chunks: [64] }))).toBe(
      'RangeError',
    );
    f.close();
  });
});

describe('resize and append', () => {
  it('append grows along an axis; h5py reads exactly what was appended', async () => {
    const p = join(dir, 'append.h5');
    const f = File.create(p);
    const loss = f.createDataset('loss', { dtype: 'float32', shape: [0], maxshape: [null] });
    for (let step = 0; step < 5; step++) await loss.append(new Float32Array([step / 2]));
    const w = f.createDataset('w', { dtype: 'int32', shape: [2, 0], maxshape: [2, null], compression: 'gzip' });
    w.appendSync(new Int32Array([1, 2, 3, 4, 5, 6]), { axis: 1 }); // three columns: [[1,2,3],[4,5,6]] row-major
    expect(loss.shape).toEqual([5]);
    expect(w.shape).toEqual([2, 3]);
    expect(code(() => w.appendSync(new Int32Array([1, 2, 3]), { axis: 1 }))).toBe('RangeError');
    expect(code(() => w.appendSync(new Int32Array([1, 2]), { axis: 2 }))).toBe('RangeError');
    expect(code(() => w.appendSync(new Float32Array([1, 2]), { axis: 1 }))).toBe('TypeError');
    f.close();
    const out = python(
      `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r')
print(json.dumps([f['loss'][()].tolist(), f['w'][()].tolist()]))`,
      [p],
    );
    // Appending 6 values along axis 1 of a [2, 0] dataset writes a [2, 3] block in row-major order.
    expect(JSON.parse(out)).toEqual([
      [0, 0.5, 1, 1.5, 2],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ]);
  });

  it('resize grows (new elements read as 0) and shrinks; other handles see the new shape', () => {
    const p = join(dir, 'resize.h5');
    const f = File.create(p);
    const d = f.createDataset('d', {
      dtype: 'int16',
      shape: [2, 2],
      maxshape: [null, 4],
      data: new Int16Array([1, 2, 3, 4]),
    });
    const other = f.dataset('d');
    expect(other.shape).toEqual([2, 2]);
    d.resize([3, 3]);
    expect(other.shape).toEqual([3, 3]);
    expect(Array.from(other.readSync() as Int16Array)).toEqual([1, 2, 0, 3, 4, 0, 0, 0, 0]);
    d.resize([1, 2]);
    expect(Array.from(d.readSync() as Int16Array)).toEqual([1, 2]);
    expect(code(() => d.resize([1, 5]))).toBe('H5_NOT_RESIZABLE');
    expect(code(() => d.resize([1]))).toBe('RangeError');
    expect(code(() => d.resize([1, -2]))).toBe('TypeError');
    const fixed = f.createDataset('fixed', { dtype: 'int16', shape: [2] });
    expect(code(() => fixed.resize([3]))).toBe('H5_NOT_RESIZABLE');
    f.close();
    const r = File.open(p);
    expect(code(() => r.dataset('d').resize([2, 2]))).toBe('H5_READ_ONLY');
    r.close();
  });
});

describe('the chunk engine on resized data', () => {
  // Every chunk index libhdf5 1.10 writes for an extendible dataset:
  // earliest -> v1 B-tree; latest + one unlimited dim -> extensible array;
  // latest + two unlimited dims -> v2 B-tree.
  const cases = [
    { libver: 'earliest', maxshape: '(None, 7)', index: 'v1 B-tree' },
    { libver: 'latest', maxshape: '(None, 7)', index: 'extensible array' },
    { libver: 'latest', maxshape: '(None, None)', index: 'v2 B-tree' },
  ];
  for (const c of cases) {
    it(`h5py-made resizable file (${c.index}), grown by h5vault, reads the same in h5vault (1 and N engine threads, hyperslab) and in h5py (H5Dread)`, async () => {
      const p = join(dir, `h5py-${c.index.replace(/ /g, '-')}.h5`);
      python(
        `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w', libver='${c.libver}')
d = f.create_dataset('x', shape=(5, 7), maxshape=${c.maxshape}, chunks=(2, 3), dtype='f4', compression='gzip', shuffle=True)
d[...] = np.arange(35, dtype='f4').reshape(5, 7)
d.resize((9, 7)); d[5:9] = -np.arange(28, dtype='f4').reshape(4, 7)
f.close()`,
        [p],
      );
      const f = File.open(p, { mode: 'r+' });
      const d = f.dataset('x');
      expect(d.shape).toEqual([9, 7]);
      await d.append(new Float32Array(14).map((_, i) => 100 + i));
      f.close();
      const r = File.open(p);
      const x = r.dataset('x');
      const engine = (await x.read()) as Float32Array;
      const serial = (await x.read({ threads: 1 })) as Float32Array;
      const hyperslab = (await x.read({ start: [3, 1], count: [7, 5], step: [1, 1] })) as Float32Array;
      r.close();
      const out = python(
        `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r')
x = f['x']
print(json.dumps([list(x.shape), x[()].ravel().tolist(), x[3:10, 1:6].ravel().tolist()]))`,
        [p],
      );
      const [shape, all, part] = JSON.parse(out) as [number[], number[], number[]];
      expect(shape).toEqual([11, 7]);
      expect(Array.from(engine)).toEqual(all);
      expect(Array.from(serial)).toEqual(all);
      expect(Array.from(hyperslab)).toEqual(part);
    });
  }

  it('h5vault-made, appended over many chunks with lz4, reads identically in h5py', async () => {
    const p = join(dir, 'lz4-append.h5');
    const f = File.create(p);
    const d = f.createDataset('m', {
      dtype: 'float64',
      shape: [0, 3],
      maxshape: [null, 3],
      chunks: [8, 3],
      compression: 'lz4',
    });
    const expected: number[] = [];
    for (let i = 0; i < 40; i++) {
      const row = new Float64Array([i, i * 0.5, -i]);
      expected.push(...row);
      await d.append(row);
    }
    f.close();
    const r = File.open(p);
    expect(Array.from((await r.dataset('m').read()) as Float64Array)).toEqual(expected);
    r.close();
    const out = python(
      `import h5py, hdf5plugin, sys, json
f = h5py.File(sys.argv[1], 'r')
print(json.dumps(f['m'][()].ravel().tolist()))`,
      [p],
    );
    expect(JSON.parse(out)).toEqual(expected);
  });
});
