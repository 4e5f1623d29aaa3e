/**
 * Hyperslab reads and writes with steps on 1-D, 2-D and 3-D datasets, on
 * contiguous and chunked (filtered, edge-chunk) layouts, sync and async,
 * checked against a reference selection computed in JS.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error, type DatasetData } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { bytesOf, hyperslab, product, sample } from './fixtures.js';

const dir = tempDir();
const p = join(dir, 'slabs.h5');

const SHAPES: Record<string, number[]> = { '1d': [50], '2d': [9, 13], '3d': [5, 6, 7] };
const CHUNKS: Record<string, number[]> = { '1d': [8], '2d': [4, 5], '3d': [2, 4, 3] };
const data: Record<string, DatasetData> = {};

const SELECTIONS: { rank: string; start: number[]; count: number[]; step?: number[] }[] = [
  { rank: '1d', start: [0], count: [50] },
  { rank: '1d', start: [3], count: [10], step: [4] },
  { rank: '1d', start: [49], count: [1] },
  { rank: '1d', start: [7], count: [0] },
  { rank: '2d', start: [1, 2], count: [4, 5] },
  { rank: '2d', start: [0, 1], count: [5, 4], step: [2, 3] },
  { rank: '2d', start: [8, 0], count: [1, 13] },
  { rank: '2d', start: [0, 12], count: [9, 1], step: [1, 1] },
  { rank: '3d', start: [1, 0, 2], count: [2, 3, 2], step: [2, 2, 3] },
  { rank: '3d', start: [0, 5, 0], count: [5, 1, 7] },
  { rank: '3d', start: [4, 0, 6], count: [1, 6, 1] },
];

{
  using f = File.create(p);
  for (const [rank, shape] of Object.entries(SHAPES)) {
    const d = sample('float64', product(shape), rank.length);
    data[rank] = d;
    f.createDataset(`${rank}/contiguous`, { dtype: 'float64', shape, data: d });
    f.createDataset(`${rank}/chunked`, {
      dtype: 'float64',
      shape,
      chunks: CHUNKS[rank],
      shuffle: true,
      compression: 'gzip',
      data: d,
    });
    f.createDataset(`${rank}/strings`, { dtype: 'string', shape, data: sample('string', product(shape)) });
  }
}

describe.each(['contiguous', 'chunked'])('%s reads', (layout) => {
  it.each(SELECTIONS)('$rank start $start count $count step $step', async ({ rank, start, count, step }) => {
    using f = File.open(p);
    const d = f.dataset(`${rank}/${layout}`);
    const want = bytesOf(hyperslab(data[rank]!, SHAPES[rank]!, start, count, step));
    expect(bytesOf(d.readSync({ start, count, step }))).toEqual(want);
    expect(bytesOf(await d.read({ start, count, step }))).toEqual(want);
  });
});

describe('string hyperslabs', () => {
  it.each(SELECTIONS)('$rank start $start count $count step $step', async ({ rank, start, count, step }) => {
    using f = File.open(p);
    const all = f.dataset(`${rank}/strings`).readSync() as string[];
    const want = hyperslab(all, SHAPES[rank]!, start, count, step);
    expect(f.dataset(`${rank}/strings`).readSync({ start, count, step })).toEqual(want);
    expect(await f.dataset(`${rank}/strings`).read({ start, count, step })).toEqual(want);
  });
});

describe('partial selections', () => {
  it('start alone reads to the end; count alone starts at 0', () => {
    using f = File.open(p);
    const d = f.dataset('2d/chunked');
    expect(bytesOf(d.readSync({ start: [6, 10] }))).toEqual(bytesOf(hyperslab(data['2d']!, [9, 13], [6, 10], [3, 3])));
    expect(bytesOf(d.readSync({ count: [2, 2] }))).toEqual(bytesOf(hyperslab(data['2d']!, [9, 13], [0, 0], [2, 2])));
  });

  it('out-of-bounds selections are RangeErrors (last stepped element past the end too)', async () => {
    using f = File.open(p);
    const d = f.dataset('2d/chunked');
    expect(() => d.readSync({ start: [0, 0], count: [10, 1] })).toThrow(RangeError);
    expect(() => d.readSync({ start: [9, 0], count: [1, 1] })).toThrow(RangeError);
    expect(() => d.readSync({ start: [1, 0], count: [5, 1], step: [2, 1] })).toThrow(RangeError);
    expect(bytesOf(d.readSync({ start: [0, 0], count: [5, 1], step: [2, 1] }))).toEqual(
      bytesOf(hyperslab(data['2d']!, [9, 13], [0, 0], [5, 1], [2, 1])),
    );
    await expect(d.read({ start: [0, 20], count: [1, 1] })).rejects.toThrow(RangeError);
  });
});

describe('stepped writes', () => {
  it.each(['contiguous', 'chunked'])(
    '%s: writes through a stepped 3-D selection land where a read finds them',
    async (layout) => {
      const q = join(dir, `w-${layout}.h5`);
      const shape = [5, 6, 7];
      const chunks = layout === 'chunked' ? [2, 4, 3] : undefined;
      const start = [0, 1, 2],
        count = [3, 2, 2],
        step = [2, 3, 4];
      const patch = sample('int32', product(count), 17);
      {
        using f = File.create(q);
        f.createDataset('x', { dtype: 'int32', shape, chunks, data: new Int32Array(product(shape)) });
      }
      {
        using f = File.open(q, { mode: 'r+' });
        await f.dataset('x').write(patch, { start, count, step });
      }
      using f = File.open(q);
      const all = f.dataset('x').readSync() as Int32Array;
      expect(bytesOf(hyperslab(all, shape, start, count, step))).toEqual(bytesOf(patch));
      // Every element outside the selection is still zero.
      const touched = all.reduce((k, v) => k + (v !== 0 ? 1 : 0), 0);
      expect(touched).toBe((patch as Int32Array).filter((v) => v !== 0).length);
    },
  );
});

describe('selection type errors', () => {
  it('bad selections are TypeError/RangeError before any I/O', () => {
    using f = File.open(p);
    const d = f.dataset('2d/contiguous');
    expect(() => d.readSync({ start: [0], count: [1] })).toThrow(RangeError);
    expect(() => d.readSync({ start: [-1, 0], count: [1, 1] })).toThrow(TypeError);
    expect(() => d.readSync({ start: [0.5, 0], count: [1, 1] })).toThrow(TypeError);
    expect(() => d.readSync({ start: [0, 0], count: [1, 1], step: [0, 1] })).toThrow(TypeError);
    expect(() => d.readSync({ start: '0,0' as unknown as number[] })).toThrow(TypeError);
    expect(() => d.readSync({ start: [0, 0], count: [1, 1] })).not.toThrow(H5Error);
  });
});
