import { File } from '../../dist/index.js';
import { readFileSync } from 'node:fs';
const mode = process.argv[2];
if (mode === 'write') {
  const b = readFileSync('w.bin');
  const a = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const t = performance.now();
  const f = File.create('ours-zstd.h5', { overwrite: true });
  f.createDataset('w', {
    dtype: 'float32',
    shape: [a.length],
    chunks: [1 << 18],
    compression: { name: 'zstd', level: 3 },
    data: a,
  });
  f.close();
  console.log((performance.now() - t) / 1000);
} else {
  const t = performance.now();
  const f = File.open(mode === 'zstd' ? 'py-zstd.h5' : 'py-blosc.h5');
  await f.dataset('w').read();
  f.close();
  console.log((performance.now() - t) / 1000);
}
