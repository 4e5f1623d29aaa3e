// Child process for the model tests (uses the compiled dist/, run `npm run build:ts` first).
//   save <path> <seed> <compression>       -> saves a deterministic model, prints the SaveResult as JSON
//   store-save <root> <name> <count> <seed> -> saves <count> versions to a ModelStore, prints the version numbers
import { saveModel, ModelStore, setThreadPoolSize } from '../../dist/index.js';
import { rng } from '../../dist/bench/synthetic.js';

// Lets a test vary the engine's encoder pool size (default: CPU cores).
if (process.env.H5VAULT_TEST_THREADS) setThreadPoolSize(Number(process.env.H5VAULT_TEST_THREADS));

export function deterministicModel(seed) {
  const r = rng(seed);
  const f32 = (n) => Float32Array.from({ length: n }, () => (r() - 0.5) * 0.04);
  return {
    'encoder/layer0/attn/qkv': { dtype: 'float32', shape: [256, 768], data: f32(256 * 768) },
    'encoder/layer0/attn/out': { dtype: 'float32', shape: [256, 256], data: f32(256 * 256) },
    'encoder/layer0/norm/scale': { dtype: 'float32', shape: [256], data: f32(256) },
    'encoder/layer1/mlp/w1': {
      dtype: 'bfloat16',
      shape: [256, 1024],
      data: Uint16Array.from({ length: 256 * 1024 }, () => (r() * 65536) | 0),
    },
    'embed/tokens': {
      dtype: 'float16',
      shape: [1000, 64],
      data: Uint16Array.from({ length: 64000 }, () => (r() * 65536) | 0),
    },
    'head/bias': { dtype: 'float64', shape: [10], data: Float64Array.from({ length: 10 }, r) },
    'meta/vocab_ids': {
      dtype: 'int64',
      shape: [100],
      data: BigInt64Array.from({ length: 100 }, (_, i) => BigInt(i) * 1000003n),
    },
    'meta/mask': { dtype: 'bool', shape: [16], data: Uint8Array.from({ length: 16 }, () => (r() < 0.5 ? 1 : 0)) },
    step: { dtype: 'int32', shape: [], data: Int32Array.of(seed) },
  };
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'save') {
  const [path, seed, compression] = args;
  const res = await saveModel(path, deterministicModel(Number(seed)), {
    compression,
    shuffle: compression !== 'none',
    metadata: { seed: Number(seed), note: 'reproducibility' },
  });
  process.stdout.write(JSON.stringify(res));
} else if (cmd === 'store-save') {
  const [root, name, count, seed] = args;
  const store = await ModelStore.open(root);
  const out = [];
  for (let i = 0; i < Number(count); i++)
    out.push(await store.save(name, deterministicModel(Number(seed) + i), { metadata: { pid: process.pid, i } }));
  process.stdout.write(JSON.stringify(out));
} else {
  process.stderr.write(`unknown command ${cmd}\n`);
  process.exit(2);
}
