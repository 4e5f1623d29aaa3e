/**
 * Misuse through the public API is a TypeError or RangeError with a clear
 * message, never a crash and never an opaque libhdf5 failure.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, setThreadPoolSize, libraryInfo, type CreateDatasetOptions } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `arg${n++}.h5`);

describe('File.create / File.open', () => {
  it('path and options are checked', () => {
    expect(() => File.create('')).toThrow(TypeError);
    expect(() => File.create(42 as never)).toThrow(TypeError);
    expect(() => File.create(fresh(), { overwrite: 'yes' as never })).toThrow(TypeError);
    expect(() => File.open('')).toThrow(TypeError);
    expect(() => File.open(fresh(), { mode: 'w' as never })).toThrow(/mode must be 'r' or 'r\+'/);
  });
});

describe('createDataset options', () => {
  const bad: [string, Partial<CreateDatasetOptions> | null, typeof TypeError | typeof RangeError][] = [
    ['no options', null, TypeError],
    ['unknown dtype', { dtype: 'float128' as never, shape: [1] }, TypeError],
    ['shape not an array', { dtype: 'int8', shape: 3 as never }, TypeError],
    ['negative dim', { dtype: 'int8', shape: [-1] }, TypeError],
    ['fractional dim', { dtype: 'int8', shape: [1.5] }, TypeError],
    ['data of the wrong class', { dtype: 'float32', shape: [2], data: new Float64Array(2) }, TypeError],
    ['float16 data as Float32Array', { dtype: 'float16', shape: [2], data: new Float32Array(2) }, TypeError],
    ['int64 data as number array', { dtype: 'int64', shape: [2], data: [1, 2] as never }, TypeError],
    ['data length mismatch', { dtype: 'int32', shape: [2, 3], data: new Int32Array(5) }, RangeError],
    ['string data not all strings', { dtype: 'string', shape: [2], data: ['a', 1] as never }, TypeError],
    ['unknown compression', { dtype: 'int8', shape: [4], compression: 'brotli' as never }, TypeError],
    ['compression not a name or object', { dtype: 'int8', shape: [4], compression: 5 as never }, TypeError],
    ['gzip level 0', { dtype: 'int8', shape: [4], compression: { name: 'gzip', level: 0 } }, RangeError],
    ['gzip level 10', { dtype: 'int8', shape: [4], compression: { name: 'gzip', level: 10 } }, RangeError],
    ['szip coding', { dtype: 'int32', shape: [64], compression: { name: 'szip', coding: 'xx' as never } }, TypeError],
    [
      'szip odd pixelsPerBlock',
      { dtype: 'int32', shape: [64], compression: { name: 'szip', pixelsPerBlock: 7 } },
      RangeError,
    ],
    [
      'szip pixelsPerBlock 64',
      { dtype: 'int32', shape: [64], compression: { name: 'szip', pixelsPerBlock: 64 } },
      RangeError,
    ],
    [
      'szip pixelsPerBlock > chunk',
      { dtype: 'int32', shape: [64], chunks: [8], compression: { name: 'szip', pixelsPerBlock: 16 } },
      RangeError,
    ],
    ['szip on bool', { dtype: 'bool', shape: [64], compression: 'szip' }, TypeError],
    ['zstd level 0', { dtype: 'int8', shape: [4], compression: { name: 'zstd', level: 0 } }, RangeError],
    ['zstd level 23', { dtype: 'int8', shape: [4], compression: { name: 'zstd', level: 23 } }, RangeError],
    ['zstd level 2.5', { dtype: 'int8', shape: [4], compression: { name: 'zstd', level: 2.5 } }, RangeError],
    ['lz4 negative blockSize', { dtype: 'int8', shape: [4], compression: { name: 'lz4', blockSize: -1 } }, RangeError],
    ['shuffle not boolean', { dtype: 'int8', shape: [4], shuffle: 1 as never }, TypeError],
    ['fletcher32 not boolean', { dtype: 'int8', shape: [4], fletcher32: 'y' as never }, TypeError],
    ['filters on strings', { dtype: 'string', shape: [4], compression: 'gzip' }, TypeError],
    ['chunks of the wrong rank', { dtype: 'int8', shape: [4, 4], chunks: [2] }, RangeError],
    ['zero chunk', { dtype: 'int8', shape: [4], chunks: [0] }, TypeError],
    ['chunk larger than the shape', { dtype: 'int8', shape: [4], chunks: [8] }, RangeError],
    ['chunk of 4 GiB', { dtype: 'float64', shape: [2 ** 29], chunks: [2 ** 29] }, RangeError],
    ['scalar chunked', { dtype: 'int8', shape: [], chunks: [] }, RangeError],
    ['scalar compressed', { dtype: 'int8', shape: [], compression: 'gzip' }, RangeError],
  ];
  it.each(bad)('%s', (_name, opts, cls) => {
    using f = File.create(fresh());
    expect(() => f.createDataset('x', opts as CreateDatasetOptions)).toThrow(cls);
    // Nothing was created by the failed call.
    expect(f.has('x')).toBe(false);
  });

  it('names are checked', () => {
    using f = File.create(fresh());
    expect(() => f.createDataset('', { dtype: 'int8', shape: [1] })).toThrow(TypeError);
    expect(() => f.createDataset('a//b', { dtype: 'int8', shape: [1] })).toThrow(TypeError);
    expect(() => f.createGroup('..')).toThrow(TypeError);
    f.createDataset('d', { dtype: 'int8', shape: [1] });
    expect(() => f.createDataset('d/x', { dtype: 'int8', shape: [1] })).toThrow("'/d' is a dataset, not a group");
    expect(() => f.createGroup('d/x/y')).toThrow(TypeError);
  });
});

describe('read / write arguments', () => {
  it('write data must match the dtype class and the selection size', async () => {
    using f = File.create(fresh());
    const d = f.createDataset('x', { dtype: 'float32', shape: [4, 4] });
    expect(() => d.writeSync(new Float32Array(15))).toThrow(RangeError);
    expect(() => d.writeSync(new Int32Array(16))).toThrow(TypeError);
    expect(() => d.writeSync(['a'] as never)).toThrow(TypeError);
    expect(() => d.writeSync(new Float32Array(4), { start: [0, 0], count: [2, 3] })).toThrow(RangeError);
    await expect(d.write(new Float32Array(3))).rejects.toThrow(RangeError);
    await expect(d.write(new Float32Array(16), { start: [1, 1] })).rejects.toThrow(RangeError);
    const s = f.createDataset('s', { dtype: 'string', shape: [2] });
    expect(() => s.writeSync(new Uint8Array(2) as never)).toThrow(TypeError);
    expect(() => s.writeSync(['only one'])).toThrow(RangeError);
  });

  it('threads must be an integer from 1 to 1024', async () => {
    using f = File.create(fresh());
    const d = f.createDataset('x', { dtype: 'int8', shape: [4], data: new Int8Array(4) });
    expect(() => d.readSync({ threads: 0 })).toThrow(RangeError);
    expect(() => d.readSync({ threads: 2.5 })).toThrow(RangeError);
    await expect(d.read({ threads: 5000 })).rejects.toThrow(RangeError);
    expect(d.readSync({ threads: 1 })).toEqual(new Int8Array(4));
  });

  it('setThreadPoolSize checks its argument and libraryInfo reports it', () => {
    expect(() => setThreadPoolSize(-1)).toThrow(RangeError);
    expect(() => setThreadPoolSize(1.5)).toThrow(RangeError);
    const before = libraryInfo().threads;
    expect(setThreadPoolSize(2)).toBe(2);
    expect(libraryInfo().threads).toBe(2);
    setThreadPoolSize(before);
    expect(libraryInfo().hdf5).toMatch(/^1\.10\.\d+$/);
  });
});

describe('native handles are type-tagged', () => {
  it('a wrong or foreign handle is a TypeError, not a crash', () => {
    using f = File.create(fresh());
    const d = f.createDataset('x', { dtype: 'int8', shape: [1] });
    expect(() => native.datasetRead(f.handle, null, 0)).toThrow(/expected a dataset handle/);
    expect(() => native.fileClose(d.handle as never)).toThrow(/expected a file handle/);
    expect(() => native.datasetInfo({} as never)).toThrow(TypeError);
    expect(() => native.datasetInfo(undefined as never)).toThrow(TypeError);
    expect(() => native.groupList(d.handle)).toThrow(/expected a group handle/);
    expect(() => native.cancelTrigger(d.handle as never)).toThrow(/expected a cancel token/);
    expect(() => native.datasetWrite(d.handle, 'nope' as never, null, 0)).toThrow(TypeError);
    expect(() => native.datasetRead(d.handle, { start: [-1], count: [1] }, 0)).toThrow(RangeError);
  });
});

describe('the addon refuses a compression it does not know', () => {
  it('a compression name the addon lacks (a JavaScript layer newer than the addon) is H5_FILTER_UNAVAILABLE, not an uncompressed dataset', () => {
    using f = File.create(fresh());
    // The JavaScript layer validates names before they reach the addon; a
    // newer layer over an older addon (e.g. a codec added since) must not
    // write the data quietly uncompressed.
    expect(() =>
      native.datasetCreate(f.handle, 'x', {
        dtype: 'float32',
        shape: [64],
        chunks: [16],
        scalar: false,
        compression: 'not-a-codec',
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'H5_FILTER_UNAVAILABLE',
        message: expect.stringMatching(/'not-a-codec' is not built into this addon/),
      }),
    );
    expect(f.keys()).toEqual([]);
  });
});
