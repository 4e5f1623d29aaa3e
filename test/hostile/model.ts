/** A small but real h5vault-written model for the truncation and bit-flip tests. */
import { File } from '../../lib/index.js';
import { gaussian } from '../helpers.js';

/**
 * Writes a model with what h5vault files hold: nested groups, contiguous
 * float32 tensors, float16 and int tensors, chunked tensors under every
 * built-in compression (gzip+shuffle+fletcher32, lzf, lz4), string and
 * numeric attributes. Returns the data ranges of its contiguous tensors
 * (offset, length), so callers can tell raw data from metadata.
 */
export function writeModel(path: string): { dataRanges: [number, number][] } {
  const f = File.create(path, { overwrite: true });
  try {
    f.attrs.set('format', 'h5vault-test-model');
    f.attrs.set('version', 1);
    for (let l = 0; l < 4; l++) {
      const g = f.createGroup(`layers/${l}`);
      g.attrs.set('name', `block.${l}`);
      g.createDataset('weight', { dtype: 'float32', shape: [32, 32], data: gaussian(32 * 32, l + 1) });
      g.createDataset('bias', { dtype: 'float32', shape: [32], data: gaussian(32, l + 100) });
      g.createDataset('norm', { dtype: 'float16', shape: [32], data: new Uint16Array(32).fill(0x3c00) });
    }
    const comp = f.createGroup('compressed');
    comp.createDataset('gzip', {
      dtype: 'float32',
      shape: [64, 64],
      data: gaussian(64 * 64, 7),
      chunks: [32, 32],
      compression: 'gzip',
      shuffle: true,
      fletcher32: true,
    });
    comp.createDataset('lzf', {
      dtype: 'float32',
      shape: [4096],
      data: gaussian(4096, 8),
      chunks: [1024],
      compression: 'lzf',
    });
    comp.createDataset('lz4', {
      dtype: 'int32',
      shape: [4096],
      data: new Int32Array(4096).map((_, i) => i % 97),
      chunks: [2048],
      compression: 'lz4',
    });
    f.createDataset('vocab_ids', {
      dtype: 'int64',
      shape: [128],
      data: new BigInt64Array(128).map((_, i) => BigInt(i)),
    });
    const dataRanges: [number, number][] = [];
    for (const [, o] of f.walk()) {
      if ('layout' in o && o.layout === 'contiguous' && o.offset !== null) dataRanges.push([o.offset, o.byteLength]);
    }
    return { dataRanges };
  } finally {
    f.close();
  }
}
