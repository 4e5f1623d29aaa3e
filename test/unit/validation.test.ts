/**
 * The pure argument-to-spec functions: createSpec (dataset options -> the
 * addon's plain spec) and selectionOf (selection -> native selection). Error
 * classes for bad input are covered end to end in test/api/arguments.test.ts;
 * here: what valid input turns into, and the boundaries.
 */
import { describe, expect, it } from 'vitest';
import { createSpec } from '../../lib/h5/group.js';
import { selectionOf } from '../../lib/h5/dataset.js';

describe('createSpec', () => {
  it('defaults: no compression, no shuffle/fletcher32, scalar from shape []', () => {
    expect(createSpec({ dtype: 'float32', shape: [3, 4] })).toEqual({
      dtype: 'float32',
      shape: [3, 4],
      scalar: false,
      shuffle: false,
      fletcher32: false,
    });
    expect(createSpec({ dtype: 'int8', shape: [] })).toMatchObject({ scalar: true, shape: [] });
  });

  it('compression names and objects', () => {
    expect(createSpec({ dtype: 'int8', shape: [8], compression: 'gzip' })).toMatchObject({
      compression: 'gzip',
      level: 4,
    });
    expect(createSpec({ dtype: 'int8', shape: [8], compression: { name: 'gzip', level: 9 } })).toMatchObject({
      compression: 'gzip',
      level: 9,
    });
    expect(createSpec({ dtype: 'int8', shape: [8], compression: 'none' })).not.toHaveProperty('compression');
    expect(createSpec({ dtype: 'int8', shape: [8], compression: 'lzf' })).toMatchObject({ compression: 'lzf' });
    expect(createSpec({ dtype: 'int8', shape: [8], compression: { name: 'lz4', blockSize: 1024 } })).toMatchObject({
      compression: 'lz4',
      lz4BlockSize: 1024,
    });
    expect(createSpec({ dtype: 'int8', shape: [8], compression: 'zstd' })).toMatchObject({
      compression: 'zstd',
      zstdLevel: 3,
    });
    expect(createSpec({ dtype: 'int8', shape: [8], compression: 'bitshuffle' })).toMatchObject({
      compression: 'bitshuffle',
      bitshuffleCompression: 2,
      bitshuffleBlockSize: 0,
    });
    expect(
      createSpec({
        dtype: 'int8',
        shape: [8],
        compression: { name: 'bitshuffle', compressor: 'zstd', level: 12, blockSize: 256 },
      }),
    ).toMatchObject({ compression: 'bitshuffle', bitshuffleCompression: 3, bitshuffleBlockSize: 256, zstdLevel: 12 });
    expect(createSpec({ dtype: 'int8', shape: [8], compression: { name: 'zstd', level: 22 } })).toMatchObject({
      compression: 'zstd',
      zstdLevel: 22,
    });
    expect(createSpec({ dtype: 'int32', shape: [64], compression: 'szip' })).toMatchObject({
      compression: 'szip',
      szipCoding: 'nn',
      szipPixelsPerBlock: 32,
    });
    expect(
      createSpec({ dtype: 'int32', shape: [64], compression: { name: 'szip', coding: 'ec', pixelsPerBlock: 2 } }),
    ).toMatchObject({ szipCoding: 'ec', szipPixelsPerBlock: 2 });
  });

  it('gzip levels 1..9 and szip pixelsPerBlock 2..32 even are the accepted ranges', () => {
    for (let l = 1; l <= 9; l++)
      expect(createSpec({ dtype: 'int8', shape: [4], compression: { name: 'gzip', level: l } }).level).toBe(l);
    for (const l of [0, 10, 1.5])
      expect(() => createSpec({ dtype: 'int8', shape: [4], compression: { name: 'gzip', level: l } })).toThrow(
        RangeError,
      );
    for (let p = 2; p <= 32; p += 2)
      expect(
        createSpec({ dtype: 'int8', shape: [64], compression: { name: 'szip', pixelsPerBlock: p } }).szipPixelsPerBlock,
      ).toBe(p);
    for (const p of [0, 1, 3, 34])
      expect(() =>
        createSpec({ dtype: 'int8', shape: [64], compression: { name: 'szip', pixelsPerBlock: p } }),
      ).toThrow(RangeError);
  });

  it('chunks: rank, positivity, not above a non-zero dimension; 0-length dims accept any chunk', () => {
    expect(createSpec({ dtype: 'int8', shape: [10, 10], chunks: [10, 1] }).chunks).toEqual([10, 1]);
    expect(createSpec({ dtype: 'int8', shape: [0, 10], chunks: [4, 5] }).chunks).toEqual([4, 5]);
    expect(() => createSpec({ dtype: 'int8', shape: [10, 10], chunks: [11, 1] })).toThrow(/dimension 0/);
    expect(() => createSpec({ dtype: 'int8', shape: [10], chunks: [0] })).toThrow(TypeError);
  });

  it('data: length must equal the product of shape (a scalar holds one)', () => {
    expect(() => createSpec({ dtype: 'int8', shape: [], data: new Int8Array(1) })).not.toThrow();
    expect(() => createSpec({ dtype: 'int8', shape: [], data: new Int8Array(0) })).toThrow(RangeError);
    expect(() => createSpec({ dtype: 'int8', shape: [0, 3], data: new Int8Array(0) })).not.toThrow();
    expect(() => createSpec({ dtype: 'bfloat16', shape: [2], data: new Uint16Array(2) })).not.toThrow();
    expect(() => createSpec({ dtype: 'bool', shape: [2], data: new Int8Array(2) })).toThrow(TypeError);
  });
});

describe('selectionOf', () => {
  const shape = [4, 5];
  it('no selection is null (the whole dataset)', () => {
    expect(selectionOf({}, shape)).toBeNull();
  });
  it('start alone runs to the end; count alone starts at 0; step is passed through', () => {
    expect(selectionOf({ start: [1, 2] }, shape)).toEqual({ start: [1, 2], count: [3, 3] });
    expect(selectionOf({ count: [2, 2] }, shape)).toEqual({ start: [0, 0], count: [2, 2] });
    expect(selectionOf({ start: [0, 0], count: [2, 2], step: [2, 2] }, shape)).toEqual({
      start: [0, 0],
      count: [2, 2],
      step: [2, 2],
    });
    // A start past the end gives count 0 here; bounds are the addon's to check.
    expect(selectionOf({ start: [9, 0] }, shape)).toEqual({ start: [9, 0], count: [0, 5] });
  });
  it('types and ranks are checked', () => {
    expect(() => selectionOf({ start: [0] }, shape)).toThrow(RangeError);
    expect(() => selectionOf({ start: [0, 0], count: [1, 1], step: [1] }, shape)).toThrow(RangeError);
    expect(() => selectionOf({ start: [0, -1] }, shape)).toThrow(TypeError);
    expect(() => selectionOf({ count: [0, NaN] }, shape)).toThrow(TypeError);
    expect(() => selectionOf({ step: [0, 1] }, shape)).toThrow(TypeError);
    expect(() => selectionOf({ start: 'a' as never }, shape)).toThrow(TypeError);
  });
  it('scalar datasets take rank-0 selections', () => {
    expect(selectionOf({ start: [], count: [] }, [])).toEqual({ start: [], count: [] });
  });
});
