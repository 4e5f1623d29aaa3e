/** toOrtTensor / ortFeeds with the real onnxruntime-node: same memory as the view, dtype mapping, bfloat16, lazy loading. */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  H5Error,
  loadModel,
  ortFeeds,
  saveModel,
  toOrtTensor,
  float32ToBfloat16,
  halfToNumber,
  type TypedTensor,
} from '../../lib/index.js';
import { python, tempDir } from '../helpers.js';
import { NO_PREPACK, ort, requireOnnxPeers } from './onnx.helpers.js';
import { ROOT, ensureBuilt } from '../cli/run.js';

const dir = tempDir('h5vault-ort-tensors-');
beforeAll(() => {
  requireOnnxPeers();
  ensureBuilt();
});

const all: Record<string, TypedTensor> = {
  i8: { dtype: 'int8', shape: [2], data: Int8Array.of(-1, 2) },
  i16: { dtype: 'int16', shape: [2], data: Int16Array.of(-1, 2) },
  i32: { dtype: 'int32', shape: [2], data: Int32Array.of(-1, 2) },
  i64: { dtype: 'int64', shape: [2], data: BigInt64Array.of(-1n, 2n) },
  u8: { dtype: 'uint8', shape: [2], data: Uint8Array.of(1, 2) },
  u16: { dtype: 'uint16', shape: [2], data: Uint16Array.of(1, 2) },
  u32: { dtype: 'uint32', shape: [2], data: Uint32Array.of(1, 2) },
  u64: { dtype: 'uint64', shape: [2], data: BigUint64Array.of(1n, 2n) },
  f16: { dtype: 'float16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) },
  f32: { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
  f64: { dtype: 'float64', shape: [2], data: Float64Array.of(1.5, -2) },
  b: { dtype: 'bool', shape: [2], data: Uint8Array.of(1, 0) },
  bf: { dtype: 'bfloat16', shape: [3], data: float32ToBfloat16([1.5, -3.25, 65536 * 2]) },
};

describe('toOrtTensor', () => {
  it('wraps a view of the file mapping without copying: same typed array, same ArrayBuffer', async () => {
    const p = join(dir, 'views.h5');
    await saveModel(p, all);
    const m = await loadModel(p);
    try {
      for (const [name, t] of m.tensors) {
        if (t.dtype === 'bfloat16') continue;
        expect(m.views.has(name)).toBe(true);
        const o = toOrtTensor(t);
        expect(o.data).toBe(t.data);
        expect((o.data as ArrayBufferView).buffer).toBe(t.data.buffer);
        expect(o.dims).toEqual(t.shape);
        expect(o.type).toBe(t.dtype);
      }
    } finally {
      m.close();
    }
  });

  it('feeds views to a session that takes its weights as inputs (the ortFeeds path)', async () => {
    // y = x @ W + b with W and b graph inputs, built by Python's onnx.
    const model = join(dir, 'affine.onnx');
    python(
      `
import sys, onnx
from onnx import helper, TensorProto as T
g = helper.make_graph([helper.make_node('MatMul', ['x', 'fc.weight'], ['h']), helper.make_node('Add', ['h', 'fc.bias'], ['y'])], 'affine',
    [helper.make_tensor_value_info('x', T.FLOAT, [1, 2]), helper.make_tensor_value_info('fc.weight', T.FLOAT, [2, 2]),
     helper.make_tensor_value_info('fc.bias', T.FLOAT, [2])], [helper.make_tensor_value_info('y', T.FLOAT, [1, 2])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8
onnx.save(m, sys.argv[1])
`,
      [model],
    );
    const h5 = join(dir, 'affine.h5');
    await saveModel(h5, {
      'fc/weight': { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
      'fc/bias': { dtype: 'float32', shape: [2], data: Float32Array.of(10, 20) },
    });
    const m = await loadModel(h5);
    const o = ort();
    const s = await o.InferenceSession.create(model, NO_PREPACK);
    try {
      const feeds = ortFeeds(m, { 'fc.weight': 'fc/weight', 'fc.bias': 'fc/bias' });
      expect(feeds['fc.weight']!.data).toBe(m.tensors.get('fc/weight')!.data);
      const y = await s.run({ ...feeds, x: new o.Tensor('float32', Float32Array.of(1, 1), [1, 2]) });
      expect([...(y.y!.data as Float32Array)]).toEqual([14, 26]);
    } finally {
      await s.release();
      m.close();
    }
  });

  it('refuses bfloat16 unless a conversion is chosen; float32 is exact, float16 rounds (both copies)', () => {
    const bf = all.bf!;
    const e = (() => {
      try {
        toOrtTensor(bf);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_UNSUPPORTED_TYPE');
    const f32 = toOrtTensor(bf, { bfloat16: 'float32' });
    expect(f32.type).toBe('float32');
    expect([...(f32.data as Float32Array)]).toEqual([1.5, -3.25, 131072]);
    expect((f32.data as Float32Array).buffer).not.toBe(bf.data.buffer);
    const f16 = toOrtTensor(bf, { bfloat16: 'float16' });
    expect(f16.type).toBe('float16');
    expect(Array.from(f16.data as Uint16Array, halfToNumber)).toEqual([1.5, -3.25, Infinity]);
    expect(() => toOrtTensor(bf, { bfloat16: 'int8' as never })).toThrow(TypeError);
  });

  it('checks the record: a shape that does not match the data is a RangeError', () => {
    expect(() => toOrtTensor({ dtype: 'float32', shape: [3], data: new Float32Array(2) })).toThrow(RangeError);
    expect(() => toOrtTensor({ dtype: 'string' as never, shape: [1], data: new Float32Array(1) })).toThrow(TypeError);
  });
});

describe('ortFeeds', () => {
  it('takes every tensor by default, a list of names, or { input: tensor }; unknown names are H5_NOT_FOUND', () => {
    const src = new Map<string, TypedTensor>([
      ['a', all.f32!],
      ['b', all.i64!],
    ]);
    expect(Object.keys(ortFeeds(src))).toEqual(['a', 'b']);
    expect(Object.keys(ortFeeds({ a: all.f32!, b: all.i64! }, ['b']))).toEqual(['b']);
    expect(ortFeeds(src, { x: 'b' }).x!.data).toBe(all.i64!.data);
    const e = (() => {
      try {
        ortFeeds(src, ['a', 'zz']);
      } catch (x) {
        return x;
      }
    })() as H5Error & { missing: string[] };
    expect(e.code).toBe('H5_NOT_FOUND');
    expect(e.missing).toEqual(['zz']);
  });
});

describe('onnxruntime-node is optional', () => {
  it('importing h5vault does not load onnxruntime-node', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      import { createRequire } from 'node:module';
      await import(${JSON.stringify(join(ROOT, 'dist/index.js'))});
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('onnxruntime'));
      console.log(JSON.stringify(loaded));`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('without it installed, toOrtTensor is H5Error H5_MISSING_PEER (h5vault installed where onnxruntime-node is not)', () => {
    // A copy of the package (dist, addon, package.json) in a directory tree with no node_modules above it.
    const pkg = join(dir, 'isolated', 'h5vault');
    mkdirSync(pkg, { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    const addon = join(ROOT, 'build/Release/h5vault.node');
    mkdirSync(join(pkg, 'build/Release'), { recursive: true });
    cpSync(addon, join(pkg, 'build/Release/h5vault.node'));
    writeFileSync(
      join(pkg, 'probe.mjs'),
      `
      import { toOrtTensor } from './dist/index.js';
      try { toOrtTensor({ dtype: 'float32', shape: [1], data: new Float32Array(1) }); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, peer: e.peer, message: e.message })); }`,
    );
    const r = spawnSync(process.execPath, [join(pkg, 'probe.mjs')], {
      encoding: 'utf8',
      cwd: pkg,
      env: { ...process.env, NODE_PATH: '' },
    });
    const out = JSON.parse(r.stdout) as { name: string; code: string; peer: string; message: string };
    expect(out).toMatchObject({ name: 'H5Error', code: 'H5_MISSING_PEER', peer: 'onnxruntime-node' });
    expect(out.message).toContain('npm install onnxruntime-node');
  });
});
