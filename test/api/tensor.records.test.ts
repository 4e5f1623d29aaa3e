/**
 * Typed tensor records: viewTensor / readTensor / loadModel hand out records
 * whose `dtype` narrows `data`, so user code needs no casts. The type-level
 * assertions are checked by `npm run typecheck`; the runtime ones here.
 */
import { describe, it, expect, expectTypeOf } from 'vitest';
import { join } from 'node:path';
import { File, loadModel, saveModel, type TypedTensor, type StringTensor } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-records-');

/** What a user writes: a switch on dtype, no `as`. */
function sum(t: TypedTensor): number {
  switch (t.dtype) {
    case 'int64':
    case 'uint64': {
      expectTypeOf(t.data).toEqualTypeOf<BigInt64Array | BigUint64Array>();
      let s = 0n;
      for (const v of t.data) s += v;
      return Number(s);
    }
    case 'float32':
      expectTypeOf(t.data).toEqualTypeOf<Float32Array>();
      return t.data.reduce((a, b) => a + b, 0);
    case 'bfloat16':
    case 'float16':
      expectTypeOf(t.data).toEqualTypeOf<Uint16Array>();
      return t.data.length;
    default:
      expectTypeOf(t.data).not.toEqualTypeOf<BigInt64Array>();
      return (t.data as ArrayLike<number> & Iterable<number>).length;
  }
}

describe('typed tensor records', () => {
  it('loadModel tensors narrow by dtype and carry the right typed array', async () => {
    const p = join(dir, 'm.h5');
    await saveModel(p, {
      w: { dtype: 'float32', shape: [2], data: Float32Array.of(1.5, 2) },
      step: { dtype: 'int64', shape: [], data: BigInt64Array.of(7n) },
      h: { dtype: 'bfloat16', shape: [3], data: new Uint16Array(3) },
    });
    const m = await loadModel(p);
    try {
      expectTypeOf(m.tensors.get('w')!).toEqualTypeOf<TypedTensor>();
      expect(sum(m.tensors.get('w')!)).toBe(3.5);
      expect(sum(m.tensors.get('step')!)).toBe(7);
      expect(sum(m.tensors.get('h')!)).toBe(3);
      const t = m.tensors.get('step')!;
      if (t.dtype === 'int64') expect(t.data[0]).toBe(7n);
      else throw new Error(`dtype ${t.dtype}`);
    } finally {
      m.close();
    }
  });

  it('viewTensor is the zero-copy view as a record; readTensor reads (shape of a selection, strings too)', async () => {
    const p = join(dir, 'd.h5');
    const f = File.create(p);
    f.createDataset('x', { dtype: 'uint16', shape: [2, 3] }).writeSync(Uint16Array.of(1, 2, 3, 4, 5, 6));
    f.createDataset('s', { dtype: 'string', shape: [2] }).writeSync(['a', 'b']);
    f.close();
    const g = File.open(p);
    try {
      const v = g.dataset('x').viewTensor();
      expect(v).toMatchObject({ dtype: 'uint16', shape: [2, 3] });
      expect(v.data.buffer).toBe(g.dataset('x').view().buffer);
      const r = await g.dataset('x').readTensor({ start: [1, 0], count: [1, 2] });
      expect(r.shape).toEqual([1, 2]);
      expect([...(r.dtype === 'uint16' ? r.data : [])]).toEqual([4, 5]);
      const s = await g.dataset('s').readTensor();
      expectTypeOf(s).toEqualTypeOf<TypedTensor | StringTensor>();
      if (s.dtype !== 'string') throw new Error('expected strings');
      expectTypeOf(s.data).toEqualTypeOf<string[]>();
      expect(s.data).toEqual(['a', 'b']);
    } finally {
      g.close();
    }
  });
});
