/**
 * One entry point from each area rejects a bad option with the one message
 * format of lib/util/validate.ts, `<name> must be <expected> (got <value>)`,
 * and the class its kind of mistake calls for (TypeError: wrong kind of
 * value; RangeError: a number out of range; the CLI: exit 2, usage error).
 * Before validate.ts each area wrote its own text ('copy must be a boolean',
 * 'options.create must be a boolean', "mode must be 'r' or 'r+'", ...).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  File,
  ModelStore,
  linkOnnx,
  openSafetensors,
  saveModel,
  saveSafetensors,
  toOrtTensor,
} from '../../lib/index.js';
import { rejection, tempDir, thrown } from '../helpers.js';
import { ensureBuilt, h5vault } from '../cli/run.js';

const dir = tempDir();
const tensors = { w: { dtype: 'float32' as const, shape: [2], data: new Float32Array([1, 2]) } };

describe('every area speaks one message format', () => {
  it('h5: File.create and File.open', () => {
    expect(thrown(() => File.create(join(dir, 'a.h5'), { overwrite: 'yes' as never }))).toEqual(
      new TypeError("options.overwrite must be a boolean (got 'yes')"),
    );
    expect(thrown(() => File.open(join(dir, 'a.h5'), { mode: 'w' as never }))).toEqual(
      new TypeError("options.mode must be 'r' or 'r+' (got 'w')"),
    );
    expect(thrown(() => File.open(''))).toEqual(new TypeError("path must be a non-empty string (got '')"));
  });

  it('model: saveModel', async () => {
    expect(await rejection(saveModel(join(dir, 'm.h5'), tensors, { shuffle: 1 as never }))).toEqual(
      new TypeError('options.shuffle must be a boolean (got 1)'),
    );
    expect(await rejection(saveModel(join(dir, 'm.h5'), tensors, { signal: {} as never }))).toEqual(
      new TypeError('options.signal must be an AbortSignal (got an object)'),
    );
  });

  it('formats: openSafetensors and saveSafetensors', async () => {
    const p = join(dir, 'a.safetensors');
    await saveSafetensors(p, tensors);
    expect(await rejection(openSafetensors(p, { copy: 'no' as never }))).toEqual(
      new TypeError("options.copy must be a boolean (got 'no')"),
    );
    expect(await rejection(openSafetensors(p, { maxHeaderBytes: 1 }))).toEqual(
      new RangeError('options.maxHeaderBytes must be an integer from 2 to 100000000 (got 1)'),
    );
    expect(await rejection(saveSafetensors(p, tensors, undefined, { onProgress: 5 as never }))).toEqual(
      new TypeError('options.onProgress must be a function (got 5)'),
    );
  });

  it('onnx: linkOnnx and toOrtTensor', async () => {
    const e = await rejection(linkOnnx('m.onnx', 'w.h5', 'out.onnx', { onUnlinkable: 'drop' as never }));
    expect(e).toEqual(new TypeError("options.onUnlinkable must be 'refuse' or 'repack' (got 'drop')"));
    expect(await rejection(linkOnnx('m.onnx', '', 'out.onnx'))).toEqual(
      new TypeError("h5Path must be a non-empty string (got '')"),
    );
    const t = { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) };
    expect(thrown(() => toOrtTensor(t, { bfloat16: 'int8' as never }))).toEqual(
      new TypeError("options.bfloat16 must be 'float32' or 'float16' (got 'int8')"),
    );
    expect(thrown(() => toOrtTensor({ ...t, shape: [-1] }))).toEqual(
      new TypeError('tensor.shape must be an array of non-negative integers (got [-1])'),
    );
  });

  it('store: ModelStore.open, load, prune and watch', async () => {
    expect(await rejection(ModelStore.open(join(dir, 'store'), { create: 'y' as never }))).toEqual(
      new TypeError("options.create must be a boolean (got 'y')"),
    );
    const store = await ModelStore.open(join(dir, 'store'), { create: true });
    expect(await rejection(store.load('m', 0))).toEqual(new TypeError('version must be a positive integer (got 0)'));
    expect(await rejection(store.prune('m', { keep: 0 }))).toEqual(
      new RangeError('options.keep must be a positive integer (the latest version is never pruned) (got 0)'),
    );
    expect(thrown(() => store.watch('m', () => {}, { intervalMs: 1 }))).toEqual(
      new RangeError('options.intervalMs must be a number >= 10 (got 1)'),
    );
  });
});

describe('cli option parsing', () => {
  beforeAll(() => ensureBuilt(), 240_000);

  it('a bad option value is a usage error (exit 2) in the same format', () => {
    const r = h5vault(['convert', join(dir, 'a.safetensors'), join(dir, 'b.h5'), '--to', 'onnx']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--to must be 'safetensors' or 'h5vault' (got 'onnx')");
    const s = h5vault(['repack', join(dir, 'a.h5'), join(dir, 'b.h5'), '--compression', 'gzip', '--level', '12']);
    expect(s.status).toBe(2);
    expect(s.stderr).toContain('--level must be an integer from 1 to 9 (got 12)');
  });
});
