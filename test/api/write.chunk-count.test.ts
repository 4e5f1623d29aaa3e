// Writes of many small chunks (bench/write-chunks.mjs measures the cost from
// 1k to 1M chunks). The quadratic step was libhdf5's free-space manager: with
// 64-byte alignment every allocation after one that did not end on a 64-byte
// boundary leaves a gap, and each aligned request scanned every gap. Files
// h5vault creates now use aggregator-only file space; these tests check that
// layout, that alignment still holds for every chunk and for data allocated
// after thousands of tiny chunks (4,096: h5py lists chunks one index walk per chunk in libhdf5 1.10, quadratic), and that h5py reads every chunk back.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir();
requirePeers();

describe('writing many small chunks', () => {
  it('creates files whose file space is aggregator-only (no free-space manager to scan)', () => {
    const p = join(dir, 'strategy.h5');
    const f = File.create(p);
    f.createDataset('x', { dtype: 'float32', shape: [4], data: new Float32Array(4) });
    f.close();
    // (strategy, persist, threshold); H5F_FSPACE_STRATEGY_AGGR = 2.
    const out = python(
      'import h5py, sys\nf = h5py.File(sys.argv[1], "r")\nprint(list(f.id.get_create_plist().get_file_space_strategy()))',
      [p],
    );
    expect(JSON.parse(out)).toEqual([2, 0, 1]);
  });

  it('writes 4,096 one-byte chunks that h5py reads back, every chunk 64-byte aligned', async () => {
    const n = 4096;
    const p = join(dir, 'bytes.h5');
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 255);
    const f = File.create(p);
    await f.createDataset('x', { dtype: 'uint8', shape: [n], chunks: [1] }).write(data);
    // Allocated after the tiny chunks: still aligned, still viewable.
    const after = Float64Array.from({ length: 3 }, (_, i) => i + 0.5);
    f.createDataset('after', { dtype: 'float64', shape: [3], data: after });
    f.close();
    const out = python(
      `import h5py, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
x = f['x']
n = x.id.get_num_chunks()
mis = sum(1 for i in range(n) if x.id.get_chunk_info(i).byte_offset % 64)
print(n, mis, ','.join(map(str, x[:].tolist())))`,
      [p],
    );
    const [count, misaligned, values] = out.trim().split(' ');
    expect(Number(count)).toBe(n);
    expect(Number(misaligned)).toBe(0);
    expect(values).toBe(Array.from(data).join(','));
    const g = File.open(p);
    const a = g.dataset('after');
    expect(a.viewable).toBe(true);
    expect(a.offset! % 64).toBe(0);
    expect(Array.from(a.view() as Float64Array)).toEqual(Array.from(after));
    g.close();
  });

  it('writes 4,096 tiny shuffle+lz4 chunks (stored below 64 bytes) that h5py decodes', async () => {
    const rows = 4096;
    const p = join(dir, 'lz4.h5');
    // Mostly-constant rows compress to a few bytes per chunk.
    const data = new Float32Array(rows * 8);
    for (let r = 0; r < rows; r++) data.fill(r % 5, r * 8, r * 8 + 8);
    const f = File.create(p);
    await f
      .createDataset('x', { dtype: 'float32', shape: [rows, 8], chunks: [1, 8], shuffle: true, compression: 'lz4' })
      .write(data);
    f.close();
    const out = python(
      `import h5py, hdf5plugin, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
x = f['x']
sizes = [x.id.get_chunk_info(i).size for i in range(x.id.get_num_chunks())]
r = np.arange(${rows}, dtype=np.float32) % 5
print(x.id.get_num_chunks(), max(sizes) < 64, bool((x[:] == r[:, None]).all()))`,
      [p],
    );
    expect(out.trim()).toBe(`${rows} True True`);
  });
});
