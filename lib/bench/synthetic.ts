/**
 * Deterministic synthetic weights for benchmarks and the demo: float32
 * ~ N(0, sigma) from a seeded generator, arranged like a small transformer so
 * codec results resemble real checkpoints (mostly large matrices, a few
 * small bias/norm vectors).
 */
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { checkInteger } from '../util/validate.js';

export interface BenchTensor {
  /** Path-like name, e.g. 'layers/3/mlp/up/kernel'. */
  name: string;
  dtype: NumericDType;
  shape: number[];
  data: TypedArray;
}

/** mulberry32: tiny, fast and the same on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n float32 values ~ N(mean, sigma) (Box-Muller), fully determined by `seed`. */
export function gaussianFloat32(n: number, seed: number, sigma = 0.02, mean = 0): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * sigma;
    out[i] = mean + m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = mean + m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * A transformer-shaped set of float32 tensors totalling about `totalBytes`
 * (within one row of the hidden size): an embedding, N layers of attention and
 * MLP kernels with biases and norm scales, and a head that takes the rest.
 */
export function syntheticModel(totalBytes: number, seed = 1): BenchTensor[] {
  checkInteger(totalBytes, 'synthetic model size', 256, undefined, 'at least 256 bytes');
  const n = Math.floor(totalBytes / 4);
  const d = n < 1 << 21 ? 64 : n < 1 << 24 ? 256 : 512;
  const out: BenchTensor[] = [];
  let seedN = seed;
  let used = 0;
  const add = (name: string, shape: number[], sigma: number, mean = 0) => {
    const count = shape.reduce((a, b) => a * b, 1);
    out.push({ name, dtype: 'float32', shape, data: gaussianFloat32(count, seedN++, sigma, mean) });
    used += count;
  };
  const embRows = Math.max(1, Math.min(32000, Math.floor(n / 4 / d)));
  add('embed/weight', [embRows, d], 0.02);
  const perLayer = 12 * d * d + 13 * d;
  const layers = Math.floor((n - used) / perLayer);
  for (let l = 0; l < layers; l++) {
    const p = `layers/${l}`;
    add(`${p}/attn/norm/scale`, [d], 0.02, 1);
    add(`${p}/attn/qkv/kernel`, [d, 3 * d], 0.02);
    add(`${p}/attn/qkv/bias`, [3 * d], 0.002);
    add(`${p}/attn/out/kernel`, [d, d], 0.02);
    add(`${p}/attn/out/bias`, [d], 0.002);
    add(`${p}/mlp/norm/scale`, [d], 0.02, 1);
    add(`${p}/mlp/up/kernel`, [d, 4 * d], 0.02);
    add(`${p}/mlp/up/bias`, [4 * d], 0.002);
    add(`${p}/mlp/down/kernel`, [4 * d, d], 0.02);
    add(`${p}/mlp/down/bias`, [d], 0.002);
  }
  const restRows = Math.floor((n - used) / d);
  if (restRows > 0) add('head/kernel', [restRows, d], 0.02);
  return out;
}

export function tensorBytes(ts: readonly BenchTensor[]): number {
  return ts.reduce((a, t) => a + t.data.byteLength, 0);
}
