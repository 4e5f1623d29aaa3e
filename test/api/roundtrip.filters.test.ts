/**
 * Every filter and the usual combinations, on every dtype a filter accepts,
 * with edge chunks; read back byte-exact through the parallel engine (the
 * default) after reopening, and the filter pipeline is reported as written.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, type CreateDatasetOptions, type DType, type NumericDType } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { NUMERIC, bytesOf, hyperslab, product, sample } from './fixtures.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `f${n++}.h5`);

type FilterCase = { name: string; opts: Partial<CreateDatasetOptions>; pipeline: string[]; szip?: boolean };

const FILTERS: FilterCase[] = [
  { name: 'none (chunked)', opts: {}, pipeline: [] },
  { name: 'gzip 1', opts: { compression: { name: 'gzip', level: 1 } }, pipeline: ['gzip'] },
  { name: 'gzip 9', opts: { compression: { name: 'gzip', level: 9 } }, pipeline: ['gzip'] },
  { name: 'shuffle', opts: { shuffle: true }, pipeline: ['shuffle'] },
  { name: 'fletcher32', opts: { fletcher32: true }, pipeline: ['fletcher32'] },
  { name: 'lzf', opts: { compression: 'lzf' }, pipeline: ['lzf'] },
  { name: 'lz4', opts: { compression: 'lz4' }, pipeline: ['lz4'] },
  { name: 'lz4 small blocks', opts: { compression: { name: 'lz4', blockSize: 16 } }, pipeline: ['lz4'] },
  { name: 'zstd', opts: { compression: 'zstd' }, pipeline: ['zstd'] },
  { name: 'zstd 19', opts: { compression: { name: 'zstd', level: 19 } }, pipeline: ['zstd'] },
  { name: 'blosc (lz4, byte shuffle)', opts: { compression: 'blosc' }, pipeline: ['blosc'] },
  {
    name: 'blosc zstd bitshuffle',
    opts: { compression: { name: 'blosc', compressor: 'zstd', shuffle: 'bit', level: 9 } },
    pipeline: ['blosc'],
  },
  {
    name: 'blosc blosclz + fletcher32',
    opts: { compression: { name: 'blosc', compressor: 'blosclz', shuffle: 'none' }, fletcher32: true },
    pipeline: ['blosc', 'fletcher32'],
  },
  { name: 'bitshuffle (lz4)', opts: { compression: 'bitshuffle' }, pipeline: ['bitshuffle'] },
  {
    name: 'bitshuffle zstd 9, 16-element blocks',
    opts: { compression: { name: 'bitshuffle', compressor: 'zstd', level: 9, blockSize: 16 } },
    pipeline: ['bitshuffle'],
  },
  {
    name: 'bitshuffle uncompressed + fletcher32',
    opts: { compression: { name: 'bitshuffle', compressor: 'none' }, fletcher32: true },
    pipeline: ['bitshuffle', 'fletcher32'],
  },
  {
    name: 'shuffle+zstd+fletcher32',
    opts: { shuffle: true, compression: { name: 'zstd', level: 1 }, fletcher32: true },
    pipeline: ['shuffle', 'zstd', 'fletcher32'],
  },
  {
    name: 'szip nn',
    opts: { compression: { name: 'szip', coding: 'nn', pixelsPerBlock: 8 } },
    pipeline: ['szip'],
    szip: true,
  },
  {
    name: 'szip ec',
    opts: { compression: { name: 'szip', coding: 'ec', pixelsPerBlock: 16 } },
    pipeline: ['szip'],
    szip: true,
  },
  {
    name: 'shuffle+gzip+fletcher32',
    opts: { shuffle: true, compression: 'gzip', fletcher32: true },
    pipeline: ['shuffle', 'gzip', 'fletcher32'],
  },
  { name: 'shuffle+lz4', opts: { shuffle: true, compression: 'lz4' }, pipeline: ['shuffle', 'lz4'] },
  {
    name: 'shuffle+lzf+fletcher32',
    opts: { shuffle: true, compression: 'lzf', fletcher32: true },
    pipeline: ['shuffle', 'lzf', 'fletcher32'],
  },
];

// szip (libaec) takes integer and float pixels; h5vault refuses bool (an enum).
const szipOk = (d: DType) => d !== 'bool' && d !== 'string';

const cases = NUMERIC.flatMap((dtype) => FILTERS.filter((f) => !f.szip || szipOk(dtype)).map((f) => ({ dtype, ...f })));

describe('filters x dtypes', () => {
  it.each(cases)('$dtype with $name', async ({ dtype, opts, pipeline }) => {
    const p = fresh();
    const shape = [13, 21];
    // Half random, half a smooth ramp so compressors have something to find.
    const data = sample(dtype, product(shape), 5);
    const bytes = bytesOf(data) as Uint8Array;
    bytes.fill(0, bytes.length >> 1);
    {
      using f = File.create(p);
      const d = f.createDataset('x', { dtype, shape, chunks: [5, 8], data, ...opts });
      expect(d.filters.map((x) => x.name)).toEqual(pipeline);
    }
    using r = File.open(p);
    const d = r.dataset('x');
    expect(d.layout).toBe('chunked');
    expect(d.chunks).toEqual([5, 8]);
    expect(d.filters.map((x) => x.name)).toEqual(pipeline);
    expect(d.filters.every((x) => x.available)).toBe(true);
    expect(bytesOf(d.readSync())).toEqual(bytes);
    expect(bytesOf(await d.read())).toEqual(bytes);
    // A hyperslab across chunk borders through the filter pipeline.
    const part = d.readSync({ start: [4, 7], count: [3, 3] });
    expect(bytesOf(part)).toEqual(bytesOf(hyperslab(data, shape, [4, 7], [3, 3])));
  });

  it('compression shrinks a compressible dataset and storageSize reports it', () => {
    const p = fresh();
    using f = File.create(p);
    const data = new Float32Array(4096).fill(1.5);
    for (const c of ['gzip', 'lzf', 'lz4', 'zstd', 'blosc', 'bitshuffle', 'szip'] as const) {
      const d = f.createDataset(c, { dtype: 'float32', shape: [4096], chunks: [1024], compression: c, data });
      expect(d.storageSize).toBeGreaterThan(0);
      expect(d.storageSize).toBeLessThan(data.byteLength / 4);
    }
  });

  it('filters without explicit chunks choose chunks automatically', () => {
    const p = fresh();
    using f = File.create(p);
    const d = f.createDataset('auto', {
      dtype: 'int16',
      shape: [100, 3],
      compression: 'gzip',
      data: new Int16Array(300),
    });
    expect(d.layout).toBe('chunked');
    expect(d.chunks).toHaveLength(2);
    d.chunks!.forEach((c, i) => {
      expect(c).toBeLessThanOrEqual(d.shape[i]!);
    });
  });

  it.each(['float32', 'uint64'] as NumericDType[])('r+ partial write into a compressed %s dataset', async (dtype) => {
    const p = fresh();
    const shape = [10, 10];
    const base = sample(dtype, 100, 1);
    {
      using f = File.create(p);
      f.createDataset('x', {
        dtype,
        shape,
        chunks: [4, 4],
        shuffle: true,
        compression: 'lz4',
        fletcher32: true,
        data: base,
      });
    }
    const patch = sample(dtype, 9, 2);
    {
      using f = File.open(p, { mode: 'r+' });
      await f.dataset('x').write(patch, { start: [3, 3], count: [3, 3] });
    }
    using r = File.open(p);
    expect(bytesOf(r.dataset('x').readSync({ start: [3, 3], count: [3, 3] }))).toEqual(bytesOf(patch));
    // Outside the patch the original bytes are intact.
    expect(bytesOf(r.dataset('x').readSync({ start: [0, 0], count: [3, 10] }))).toEqual(
      bytesOf(hyperslab(base, shape, [0, 0], [3, 10])),
    );
  });
});
