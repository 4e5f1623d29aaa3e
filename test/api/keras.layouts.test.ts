/**
 * loadKeras on every Keras HDF5 layout, written with h5py the way Keras
 * writes it (test/api/keras.helpers.ts): layer and weight order, names,
 * config and metadata, bytes equal to h5py's reading, zero-copy views,
 * untrusted mode, dispose, and the typed errors of files that are not Keras.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File, H5Error, loadKeras, fileDigestSync, type LoadedKeras } from '../../lib/index.js';
import { requirePeers, tempDir } from '../helpers.js';
import { bytesOf, readWithH5py, writeKeras } from './keras.helpers.js';

requirePeers();
const dir = tempDir('h5vault-keras-');

/** Every weight (layers and optimizer) has h5py's dtype, shape and bytes for the same dataset. */
function expectSameAsH5py(m: LoadedKeras, path: string): number {
  const ref = readWithH5py(path).datasets;
  const all = [...m.layers.flatMap((l) => l.weights), ...m.optimizer];
  for (const w of all) {
    const r = ref[w.key];
    expect(r, w.key).toBeDefined();
    expect(w.dtype, w.key).toBe(r!.dtype);
    expect(w.shape, w.key).toEqual(r!.shape);
    expect(bytesOf(w.data).equals(Buffer.from(r!.b64, 'base64')), w.key).toBe(true);
  }
  return all.length;
}

describe('Keras 2 full model (model_weights/, layer_names, model_config)', () => {
  const p = join(dir, 'k2-model.h5');
  writeKeras('keras2-model', p);

  it('lists layers in layer_names order and weights in weight_names order, named layer/weight without the :0 suffix', async () => {
    using m = await loadKeras(p);
    expect(m.layout).toBe('keras2-model');
    expect(m.container).toBe('hdf5');
    expect(m.source).toEqual({ kind: 'hdf5' });
    expect(m.layers.map((l) => l.name)).toEqual(['input_1', 'dense_1', 'batch_normalization', 'conv']);
    expect(m.layers.map((l) => l.className)).toEqual(['InputLayer', 'Dense', 'BatchNormalization', 'Conv1D']);
    expect(m.layers[2]!.weights.map((w) => w.weight)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
    expect([...m.tensors.keys()]).toEqual([
      'dense_1/kernel',
      'dense_1/bias',
      'batch_normalization/gamma',
      'batch_normalization/beta',
      'batch_normalization/moving_mean',
      'batch_normalization/moving_variance',
      'conv/kernel',
      'conv/bias',
    ]);
    expect(m.tensors.get('dense_1/kernel')!.key).toBe('/model_weights/dense_1/dense_1/kernel:0');
    expect(m.optimizer.map((w) => w.name)).toEqual(['optimizer/Adam/iter', 'optimizer/Adam/dense_1/kernel/m']);
  });

  it('parses model_config and training_config and reads keras_version and backend', async () => {
    using m = await loadKeras(p);
    expect(m.config).toMatchObject({ class_name: 'Functional', config: { name: 'model' } });
    expect(m.trainingConfig).toEqual({ loss: 'mse', optimizer_config: { class_name: 'Adam' } });
    expect(m.metadata).toEqual({ kerasVersion: '2.15.0', backend: 'tensorflow' });
  });

  it('hands out every weight as a zero-copy view equal to h5py’s reading', async () => {
    using m = await loadKeras(p);
    expect(expectSameAsH5py(m, p)).toBe(10);
    for (const w of m.tensors.values()) {
      expect(w.viewed).toBe(true);
      expect(m.views.has(w.name)).toBe(true);
    }
    // A view is a window on the file mapping, not a buffer of its own size.
    const k = m.tensors.get('conv/kernel')!;
    expect(k.data.buffer.byteLength).toBeGreaterThan(k.data.byteLength);
  });

  it('copies when asked, and says so', async () => {
    using m = await loadKeras(p, { copy: true });
    for (const w of m.tensors.values()) {
      expect(w.viewed).toBe(false);
      expect(w.copyReason).toBe('copy-requested');
      expect(w.data.buffer.byteLength).toBe(w.data.byteLength);
    }
    expect(m.views.size).toBe(0);
    expectSameAsH5py(m, p);
  });
});

describe('Keras 2 save_weights file (layer groups at the root)', () => {
  it('reads layer_names split over layer_names0, layer_names1 in order', async () => {
    const p = join(dir, 'k2-weights-chunked.h5');
    writeKeras('keras2-weights', p, { chunk: true });
    using m = await loadKeras(p);
    expect(m.layout).toBe('keras2-weights');
    expect(m.layers.map((l) => l.name)).toEqual(readWithH5py(p).layer_names);
    expect(m.layers.map((l) => l.name)).toEqual(['input_1', 'dense_1', 'batch_normalization', 'conv']);
    expect(m.config).toBeNull();
    expect(m.metadata).toEqual({ kerasVersion: '2.15.0', backend: 'tensorflow' });
    expect(expectSameAsH5py(m, p)).toBe(8);
  });
});

describe('Keras 3 .weights.h5 (layers/<name>/vars/<i>)', () => {
  const p = join(dir, 'k3.weights.h5');
  writeKeras('keras3-weights', p);

  it('names layers from the vars name attribute and weights from the layer class, nested cells included', async () => {
    using m = await loadKeras(p);
    expect(m.layout).toBe('keras3-weights');
    expect(m.layers.map((l) => [l.name, l.group])).toEqual([
      ['norm', '/layers/batch_normalization'],
      ['encoder', '/layers/dense'],
      ['head', '/layers/dense_1'],
      ['dropout', '/layers/dropout'],
      ['lstm', '/layers/lstm'],
    ]);
    expect([...m.tensors.keys()]).toEqual([
      'norm/gamma',
      'norm/beta',
      'norm/moving_mean',
      'norm/moving_variance',
      'encoder/kernel',
      'encoder/bias',
      'head/kernel',
      'head/bias',
      'lstm/cell/kernel',
      'lstm/cell/recurrent_kernel',
      'lstm/cell/bias',
    ]);
    expect(m.tensors.get('lstm/cell/recurrent_kernel')!.key).toBe('/layers/lstm/cell/vars/1');
  });

  it('orders variables by index, not by HDF5 name order (2 before 10)', async () => {
    using m = await loadKeras(p);
    expect(m.optimizer.map((w) => w.key)).toEqual(Array.from({ length: 12 }, (_, i) => `/optimizer/vars/${i}`));
    expect(m.optimizer[0]!.dtype).toBe('int64');
    expect(m.optimizer[0]!.data).toEqual(BigInt64Array.of(7n));
    expect(expectSameAsH5py(m, p)).toBe(23);
    expect(m.views.size).toBe(23);
  });

  it('reads the Keras 2.13 layout (_layer_checkpoint_dependencies) the same way', async () => {
    const q = join(dir, 'k213.weights.h5');
    writeKeras('keras3-weights', q, { container: '_layer_checkpoint_dependencies' });
    using m = await loadKeras(q);
    expect(m.layers.map((l) => l.group)).toEqual([
      '/_layer_checkpoint_dependencies/batch_normalization',
      '/_layer_checkpoint_dependencies/dense',
      '/_layer_checkpoint_dependencies/dense_1',
      '/_layer_checkpoint_dependencies/dropout',
      '/_layer_checkpoint_dependencies/lstm',
    ]);
    expect(m.tensors.has('encoder/kernel')).toBe(true);
    expectSameAsH5py(m, q);
  });

  it('falls back to variable indices when the count does not fit the class, and copies a chunked weight with the reason', async () => {
    const q = join(dir, 'k3-extra.weights.h5');
    writeKeras('keras3-weights', q, { extra: true });
    using m = await loadKeras(q);
    const head = m.layers.find((l) => l.name === 'head')!;
    expect(head.weights.map((w) => w.name)).toEqual(['head/0', 'head/1', 'head/2']);
    const chunked = head.weights[2]!;
    expect(chunked.viewed).toBe(false);
    expect(['chunked', 'filtered']).toContain(chunked.copyReason);
    expect(m.views.has('head/2')).toBe(false);
    expectSameAsH5py(m, q);
  });
});

describe('untrusted, expectDigest and dispose work as in loadModel', () => {
  const p = join(dir, 'k2-model-untrusted.h5');
  writeKeras('keras2-model', p);

  it('walks the file in a child first: a clean file loads, a limit it breaks refuses it (H5_UNSAFE_FILE)', async () => {
    {
      using m = await loadKeras(p, { untrusted: true });
      expectSameAsH5py(m, p);
    }
    const err = await loadKeras(p, { untrusted: true, limits: { maxObjects: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(H5Error);
    expect((err as H5Error).code).toBe('H5_UNSAFE_FILE');
    expect((err as H5Error).reason).toBe('too-many-objects');
  });

  it('checks expectDigest before parsing: a match is reported, a mismatch is H5_CHECKSUM_MISMATCH', async () => {
    const digest = fileDigestSync(p);
    {
      using m = await loadKeras(p, { expectDigest: digest });
      expect(m.digest).toBe(digest);
    }
    const err = await loadKeras(p, { expectDigest: '0'.repeat(64) }).catch((e: unknown) => e);
    expect((err as H5Error).code).toBe('H5_CHECKSUM_MISMATCH');
  });

  it('closes the file on dispose', async () => {
    // libhdf5 refuses a read-write open of a file this process still has open
    // (a fresh file and copies, so that no view keeps a mapping and its lock alive).
    const q = join(dir, 'k2-model-dispose.h5');
    writeKeras('keras2-model', q);
    const openRw = (): File => File.open(q, { mode: 'r+' });
    {
      using m = await loadKeras(q, { copy: true });
      expect(m.tensors.size).toBe(8);
      expect(openRw).toThrow(H5Error);
    }
    openRw().close();
  });

  it('keeps views readable after dispose (the mapping outlives the handle)', async () => {
    let kernel: Float32Array;
    {
      using m = await loadKeras(p);
      kernel = m.tensors.get('dense_1/kernel')!.data as Float32Array;
    }
    expect(kernel.length).toBe(30);
    expect(
      bytesOf(kernel).equals(
        Buffer.from(readWithH5py(p).datasets['/model_weights/dense_1/dense_1/kernel:0']!.b64, 'base64'),
      ),
    ).toBe(true);
  });
});

describe('files that are not Keras', () => {
  it('an HDF5 file without a Keras layout is H5_NOT_KERAS, naming the layouts it expected', async () => {
    const p = join(dir, 'plain.h5');
    writeKeras('not-keras', p);
    const err = await loadKeras(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(H5Error);
    expect((err as H5Error).code).toBe('H5_NOT_KERAS');
    expect((err as H5Error).message).toMatch(
      /is HDF5 but has no Keras weight layout; expected a Keras 2 model .*layer_names.*Keras 3 weights/,
    );
  });

  it('a missing file is H5_FILE_NOT_FOUND, bad options are TypeErrors', async () => {
    expect(((await loadKeras(join(dir, 'nope.h5')).catch((e: unknown) => e)) as H5Error).code).toBe(
      'H5_FILE_NOT_FOUND',
    );
    await expect(loadKeras('')).rejects.toThrow(TypeError);
    await expect(loadKeras(join(dir, 'x'), { copy: 'yes' } as never)).rejects.toThrow(TypeError);
    await expect(loadKeras(join(dir, 'x'), { verify: true } as never)).rejects.toThrow(/unknown option 'verify'/);
  });
});
