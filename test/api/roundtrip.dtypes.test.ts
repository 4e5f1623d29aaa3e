/**
 * Every dtype through every creatable layout (contiguous, chunked with edge
 * chunks), plus scalar and empty datasets, sync and async; compared byte for
 * byte (NaN payloads, -0, subnormals included) after reopening the file.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, Dataset, DTYPES, type DType, type DatasetData } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { bytesOf, product, sample } from './fixtures.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `rt${n++}.h5`);

function expectSame(got: DatasetData, want: DatasetData): void {
  expect(got.constructor).toBe(want.constructor);
  expect(bytesOf(got)).toEqual(bytesOf(want));
}

const LAYOUTS: { name: string; shape: number[]; chunks?: number[] }[] = [
  { name: 'contiguous 1-D', shape: [37] },
  { name: 'contiguous 3-D', shape: [3, 4, 5] },
  { name: 'chunked 1-D edge chunk', shape: [37], chunks: [8] },
  { name: 'chunked 2-D edge chunks', shape: [7, 11], chunks: [3, 4] },
  { name: 'chunked 3-D, one chunk covers a dim', shape: [2, 3, 5], chunks: [2, 2, 4] },
];

describe.each(DTYPES)('dtype %s', (dtype: DType) => {
  it.each(LAYOUTS)('$name: writeSync/readSync round trip after reopen', ({ shape, chunks }) => {
    const p = fresh();
    const data = sample(dtype, product(shape));
    {
      using f = File.create(p);
      const d = f.createDataset('x', { dtype, shape, chunks, data });
      expect(d.dtype).toBe(dtype);
      expectSame(d.readSync(), data);
    }
    using r = File.open(p);
    const d = r.dataset('x');
    expect(d.dtype).toBe(dtype);
    expect(d.shape).toEqual(shape);
    expect(d.size).toBe(product(shape));
    expect(d.layout).toBe(chunks ? 'chunked' : 'contiguous');
    expect(d.chunks).toEqual(chunks ?? null);
    expect(d.filters).toEqual([]);
    expect(d.bigEndian).toBe(false);
    expect(d.byteLength).toBe(dtype === 'string' ? 0 : (data as { byteLength: number }).byteLength);
    expectSame(d.readSync(), data);
  });

  it('async write then async read (chunked)', async () => {
    const p = fresh();
    const shape = [9, 5];
    const data = sample(dtype, product(shape), 11);
    {
      using f = File.create(p);
      const d = f.createDataset('x', { dtype, shape, chunks: [4, 2] });
      await d.write(data);
      expectSame(await d.read(), data);
    }
    using r = File.open(p);
    expectSame(await r.dataset('x').read(), data);
  });

  it('scalar dataset', async () => {
    const p = fresh();
    const data = sample(dtype, 1, 3);
    {
      using f = File.create(p);
      f.createDataset('s', { dtype, shape: [], data });
    }
    using r = File.open(p);
    const d = r.dataset('s');
    expect(d.shape).toEqual([]);
    expect(d.size).toBe(1);
    expect(d.layout).toBe('contiguous');
    expectSame(d.readSync(), data);
    expectSame(await d.read(), data);
  });

  it.each([[[0]], [[0, 4]], [[3, 0, 2]]])('empty dataset of shape %j (contiguous and chunked)', async (shape) => {
    const p = fresh();
    const empty = sample(dtype, 0);
    {
      using f = File.create(p);
      f.createDataset('c', { dtype, shape, data: empty });
      f.createDataset('k', { dtype, shape, chunks: shape.map(() => 2) });
    }
    using r = File.open(p);
    for (const name of ['c', 'k']) {
      const d = r.dataset(name);
      expect(d.shape).toEqual(shape);
      expect(d.size).toBe(0);
      expectSame(d.readSync(), empty);
      expectSame(await d.read(), empty);
    }
  });
});

describe('r+ partial writes', () => {
  it.each(['float32', 'int64', 'bfloat16', 'bool', 'string'] as DType[])(
    '%s: overwrite a block in r+ and reopen',
    async (dtype) => {
      const p = fresh();
      const shape = [6, 7];
      const base = sample(dtype, product(shape), 1);
      {
        using f = File.create(p);
        f.createDataset('c', { dtype, shape, data: base });
        if (dtype !== 'string') f.createDataset('k', { dtype, shape, chunks: [4, 3], data: base });
      }
      const patch = sample(dtype, 2 * 3, 99);
      const names = dtype === 'string' ? ['c'] : ['c', 'k'];
      {
        using f = File.open(p, { mode: 'r+' });
        for (const name of names) {
          f.dataset(name).writeSync(patch, { start: [1, 2], count: [2, 3] });
          await f.dataset(name).write(patch, { start: [4, 4], count: [2, 3] });
        }
      }
      // Expected: base with both 2x3 blocks replaced.
      const want = Array.isArray(base) ? [...base] : (base.slice() as typeof base);
      const wantBytes = bytesOf(want);
      const pb = bytesOf(patch);
      const bpe = Array.isArray(base) ? 1 : base.BYTES_PER_ELEMENT;
      for (const [r0, c0] of [
        [1, 2],
        [4, 4],
      ] as const) {
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++) {
            const dst = (r0 + i) * 7 + c0 + j,
              src = i * 3 + j;
            if (Array.isArray(wantBytes)) wantBytes[dst] = (pb as string[])[src]!;
            else (wantBytes as Uint8Array).set((pb as Uint8Array).subarray(src * bpe, (src + 1) * bpe), dst * bpe);
          }
      }
      using r = File.open(p);
      for (const name of names) {
        const d = r.get(name);
        expect(d).toBeInstanceOf(Dataset);
        expectSame((d as Dataset).readSync(), want);
      }
    },
  );
});
