// Crash-test child (uses the compiled dist/): saves generation after generation
// of a model to one path, printing "begin <g>" and "done <g>" around each save,
// until the parent SIGKILLs it.   node crash-child.mjs <path> <megabytes> <lastGeneration>
import { pathToFileURL } from 'node:url';
import { saveModel } from '../../dist/index.js';

/**
 * Generation g of the crash-test model: two big float32 tensors (A/B swapped
 * between odd and even generations, so consecutive files differ in their
 * bulk data) and a scalar holding g. Deterministic, cheap to build.
 */
export function crashModel(megabytes, g, cache = {}) {
  const n = Math.max(1, Math.floor((megabytes * 1024 * 1024) / 8));
  if (!cache.a) {
    cache.a = new Float32Array(n);
    cache.b = new Float32Array(n);
    const ua = new Uint32Array(cache.a.buffer);
    const ub = new Uint32Array(cache.b.buffer);
    let x = 0x9e3779b9;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      ua[i] = (x >>> 0) & 0x3fffffff; // finite floats only
      ub[i] = ua[i] ^ 0x5555;
    }
  }
  const [w0, w1] = g % 2 ? [cache.b, cache.a] : [cache.a, cache.b];
  return {
    'layers/0/w': { dtype: 'float32', shape: [n], data: w0 },
    'layers/1/w': { dtype: 'float32', shape: [n], data: w1 },
    generation: { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(g)) },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, mb, last] = process.argv.slice(2);
  const cache = {};
  for (let g = Number(last) + 1; ; g++) {
    const model = crashModel(Number(mb), g, cache);
    process.stdout.write(`begin ${g}\n`);
    await saveModel(path, model, { metadata: { generation: g } });
    process.stdout.write(`done ${g}\n`);
  }
}
