// h5vault's side of bench/bitshuffle-peers (see run.sh). Prints seconds.
import { File } from '../../dist/index.js';
import { readFileSync } from 'node:fs';
const [mode, file] = process.argv.slice(2);
const t = performance.now();
if (mode.startsWith('write')) {
  const b = readFileSync('w.bin');
  const a = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const zstd = mode === 'write-zstd';
  const f = File.create(zstd ? 'ours-zstd.h5' : 'ours-lz4.h5', { overwrite: true });
  f.createDataset('w', {
    dtype: 'float32',
    shape: [a.length],
    chunks: [1 << 18],
    compression: zstd ? { name: 'bitshuffle', compressor: 'zstd', level: 3 } : { name: 'bitshuffle' },
    data: a,
  });
  f.close();
} else {
  const f = File.open(file);
  await f.dataset('w').read();
  f.close();
}
console.log((performance.now() - t) / 1000);
