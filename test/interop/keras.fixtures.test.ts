/**
 * Real Keras files from public repositories (test/fixtures/keras/README.md):
 * Keras 1.2, 2.0, tf.keras 2.2 `.h5` files and Keras 3.9 `.keras` archives.
 * Every weight loadKeras hands out equals h5py's reading of the same
 * dataset, layers come in the order the file records, and nothing is left
 * out: every numeric dataset of the file is a layer weight or optimizer state.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadKeras, type KerasLayout } from '../../lib/index.js';
import { requirePeers } from '../helpers.js';
import { bytesOf, readWithH5py } from '../api/keras.helpers.js';

requirePeers();
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/keras/${name}`, import.meta.url));

interface Case {
  file: string;
  layout: KerasLayout;
  container: 'hdf5' | 'zip';
  kerasVersion: string;
  layers: string[];
  first: string;
}

const CASES: Case[] = [
  {
    file: 'simple_lstm_tf_keras_2_model.h5',
    layout: 'keras2-model',
    container: 'hdf5',
    kerasVersion: '2.0.6',
    layers: ['lstm_1', 'dense_1'],
    first: 'lstm_1/kernel',
  },
  {
    file: 'simple_lstm_tf_keras_2_weights.h5',
    layout: 'keras2-weights',
    container: 'hdf5',
    kerasVersion: '2.0.6',
    layers: ['lstm_1', 'dense_1'],
    first: 'lstm_1/kernel',
  },
  {
    file: 'simple_lstm_th_keras_1_model.h5',
    layout: 'keras2-model',
    container: 'hdf5',
    kerasVersion: '1.2.2',
    layers: ['lstm_1', 'dense_1'],
    first: 'lstm_1/lstm_1_W_i',
  },
  {
    file: 'lstm_functional_tf_keras_2.h5',
    layout: 'keras2-model',
    container: 'hdf5',
    kerasVersion: '2.0.8',
    layers: ['inputLayer_1', 'lstm', 'outputLayer_a'],
    first: 'lstm/kernel',
  },
  {
    file: 'adam.h5',
    layout: 'keras2-model',
    container: 'hdf5',
    kerasVersion: '2.0.9',
    layers: ['dense_1', 'dense_2'],
    first: 'dense_1/kernel',
  },
  {
    file: 'batchNormError.h5',
    layout: 'keras2-model',
    container: 'hdf5',
    kerasVersion: '2.2.4-tf',
    layers: ['input_1', 'conv1d', 'batch_normalization'],
    first: 'conv1d/kernel',
  },
  {
    file: 'flownet_final_model.keras',
    layout: 'keras3-weights',
    container: 'zip',
    kerasVersion: '3.9.2',
    layers: ['dense', 'dropout', 'dense_1', 'leaky_re_lu', 'dense_2', 'leaky_re_lu_1', 'dense_3'],
    first: 'dense/kernel',
  },
  {
    file: 'flownet_25-06_model.keras',
    layout: 'keras3-weights',
    container: 'zip',
    kerasVersion: '3.9.2',
    layers: ['dense', 'dense_1', 'dense_2', 'dense_3'],
    first: 'dense/kernel',
  },
];

describe('real Keras files from public repositories', () => {
  for (const c of CASES) {
    it(`${c.file}: ${c.layout}, layers in saved order, every weight equal to h5py's reading`, async () => {
      const path = fixture(c.file);
      const ref = readWithH5py(path);
      using m = await loadKeras(path, { untrusted: true });
      expect(m.layout).toBe(c.layout);
      expect(m.container).toBe(c.container);
      expect(m.metadata.kerasVersion).toBe(c.kerasVersion);
      expect(m.layers.map((l) => l.name)).toEqual(c.layers);
      if (c.layout !== 'keras3-weights') expect(m.layers.map((l) => l.name)).toEqual(ref.layer_names);
      expect([...m.tensors.keys()][0]).toBe(c.first);
      expect(m.config === null).toBe(c.layout === 'keras2-weights');

      const all = [...m.layers.flatMap((l) => l.weights), ...m.optimizer];
      // Nothing in the file is skipped, nothing read twice.
      expect(all.map((w) => w.key).sort()).toEqual(Object.keys(ref.datasets).sort());
      for (const w of all) {
        const r = ref.datasets[w.key]!;
        expect(w.dtype, w.key).toBe(r.dtype);
        expect(w.shape, w.key).toEqual(r.shape);
        expect(bytesOf(w.data).equals(Buffer.from(r.b64, 'base64')), w.key).toBe(true);
        expect(w.viewed, w.key).toBe(true);
      }
    });
  }

  it('the Keras 3 archives name weights from their layer classes and keep the optimizer apart', async () => {
    using m = await loadKeras(fixture('flownet_final_model.keras'));
    expect(m.source.kind).toBe('zip-extracted');
    expect([...m.tensors.keys()]).toEqual([
      'dense/kernel',
      'dense/bias',
      'dense_1/kernel',
      'dense_1/bias',
      'dense_2/kernel',
      'dense_2/bias',
      'dense_3/kernel',
      'dense_3/bias',
    ]);
    expect(m.layers.map((l) => l.className)).toEqual([
      'Dense',
      'Dropout',
      'Dense',
      'LeakyReLU',
      'Dense',
      'LeakyReLU',
      'Dense',
    ]);
    expect(m.optimizer).toHaveLength(18);
    expect(m.optimizer[0]!.dtype).toBe('int64');
    expect(m.config).toMatchObject({ class_name: 'Sequential' });
  });
});
