/**
 * view('float32') and friends: the element type follows the dtype asked for
 * (checked by `npm run typecheck`, which compiles this file), and a dataset of
 * another dtype is a TypeError at run time. Before, `const w: Float32Array =
 * ds.view()` did not compile (TypedArray) and needed a cast.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-viewdtype-');

describe('view(dtype)', () => {
  it('types the view by dtype and checks it at run time', () => {
    const p = join(dir, 'k.h5');
    const f = File.create(p, { overwrite: true });
    f.createDataset('k', { dtype: 'float32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) });
    f.createDataset('i', { dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, 2n]) });
    f.createDataset('z', { dtype: 'float32', shape: [8], chunks: [4], compression: 'gzip', data: new Float32Array(8) });
    f.close();
    const r = File.open(p);
    const w: Float32Array = r.dataset('k').view('float32');
    const i: BigInt64Array = r.dataset('i').view('int64');
    const z: Float32Array = r.dataset('z').view('float32', { copy: true });
    // @ts-expect-error: without a dtype the element type is not known
    const untyped: Float32Array = r.dataset('k').view();
    expect(Array.from(w)).toEqual([1, 2, 3, 4]);
    expect(Array.from(i)).toEqual([1n, 2n]);
    expect(z).toBeInstanceOf(Float32Array);
    expect(untyped).toBeInstanceOf(Float32Array);
    expect(() => r.dataset('k').view('int32')).toThrow(new TypeError("dataset '/k' is float32, not int32"));
    expect(() => r.dataset('z').view('float64', { copy: true })).toThrow(TypeError);
    r.close();
  });
});
