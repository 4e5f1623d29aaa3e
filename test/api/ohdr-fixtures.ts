// The models and helpers of test/api/model.header-parser*.test.ts: models
// written by h5vault (and one edited by h5py), and the layout rows of each
// engine of native.modelLayout ('libhdf5', 'parser', 'parser-strict').
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, saveModel, type NumericDType, type Tensor } from '../../lib/index.js';
import { native, type ModelLayoutRow } from '../../lib/addon/binding.js';
import { python } from '../helpers.js';
import { NUMERIC, sample } from './fixtures.js';

export type Engine = 'libhdf5' | 'parser' | 'parser-strict';
export function layout(p: string, engine: Engine): ModelLayoutRow[] | null {
  const f = File.open(p);
  try {
    const rows = native.modelLayout(f.fileHandle, '', engine);
    return rows && [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  } finally {
    f.close();
  }
}

/** Header address of every dataset (h5py: H5Oget_info). */
export function headerAddresses(p: string): Record<string, number> {
  return JSON.parse(
    python(
      `import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
out = {}
f.visititems(lambda n, o: out.__setitem__(n, h5py.h5o.get_info(o.id).addr) if isinstance(o, h5py.Dataset) else None)
print(json.dumps(out))`,
      [p],
    ),
  );
}

/** `n` elements of `dtype` (test/api/fixtures.ts: edge values first). */
export function filled(dtype: NumericDType, n: number): Tensor['data'] {
  return sample(dtype, n) as Tensor['data'];
}

export function many(count: number, prefix: string): Record<string, Tensor> {
  const t: Record<string, Tensor> = {};
  for (let i = 0; i < count; i++) t[`${prefix}${i}`] = { dtype: 'float32', shape: [3], data: filled('float32', 3) };
  return t;
}

export const DTYPES = NUMERIC.filter((d) => d !== 'bool');

export const models: Record<string, { tensors: Record<string, Tensor>; opts?: object; allParsed: boolean }> = {
  dtypes: {
    tensors: Object.fromEntries(
      DTYPES.map((d, i) => [`t/${d}`, { dtype: d, shape: [2, i + 1], data: filled(d, 2 * (i + 1)) }]),
    ),
    allParsed: true,
  },
  shapes: {
    tensors: {
      scalar: { dtype: 'float32', shape: [], data: filled('float32', 1) },
      empty: { dtype: 'float64', shape: [0], data: filled('float64', 0) },
      empty2: { dtype: 'int32', shape: [0, 3], data: filled('int32', 0) },
      cube: { dtype: 'uint8', shape: [2, 3, 4], data: filled('uint8', 24) },
      'deep/a/b/c/d/e': { dtype: 'int16', shape: [5], data: filled('int16', 5) },
    },
    allParsed: true,
  },
  compact: { tensors: many(5, 'g/w'), allParsed: true },
  dense: { tensors: { ...many(40, 'g/w'), ...many(20, 'x') }, allParsed: true },
  bool: {
    tensors: {
      mask: { dtype: 'bool', shape: [4], data: filled('bool', 4) },
      w: { dtype: 'float32', shape: [2], data: filled('float32', 2) },
    },
    allParsed: false,
  },
  compressed: {
    tensors: { ...many(3, 'c'), big: { dtype: 'float32', shape: [4096], data: filled('float32', 4096) } },
    opts: { compression: 'gzip' },
    allParsed: false,
  },
};

/** Writes every model of `models` into `dir`, and attrs.h5: shapes.h5 edited by h5py (libhdf5's own writer) to hold attributes on datasets, a header continued in a second chunk, and a big-endian dataset. */
export async function makeModels(dir: string): Promise<void> {
  for (const [name, m] of Object.entries(models)) await saveModel(join(dir, `${name}.h5`), m.tensors, m.opts ?? {});
  copyFileSync(join(dir, 'shapes.h5'), join(dir, 'attrs.h5'));
  python(
    `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'r+')
for i in range(30):
    f['cube'].attrs['a%d' % i] = np.arange(20, dtype='f8')
f['scalar'].attrs['note'] = 'x'
f.create_dataset('be', data=np.arange(6, dtype='>i4'))
f.close()`,
    [join(dir, 'attrs.h5')],
  );
}
