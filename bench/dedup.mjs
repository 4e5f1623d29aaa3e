// How much a fine-tune-like new version must upload under each way of addressing a model's bytes:
// whole tensors (what the S3 store's 'tensors' layout does), fixed-size chunks of each tensor, and
// content-defined chunks (FastCDC-style gear hash) of each tensor. No S3: the figure is the bytes
// and objects a delta publish would PUT, which depend only on the addressing, plus the manifest it
// must PUT with them (187 bytes of JSON per object: its SHA-256 and key).
//
//   node bench/dedup.mjs [--fixed 64,256,1024,4096] [--cdc 64,256,1024] [--change 0.02] [--seed 1]
//
// The model (254 MiB float32, transformer-like): an embedding [16000, 1024] and 6 layers of q, k,
// v, o [1024, 1024], mlp up/down [1024, 2048] / [2048, 1024] and two norms [1024]. Chunk sizes are
// KiB; a CDC size is its average (minimum 1/4, maximum 4x). Each pattern starts from the same v1
// and changes about --change of the weight bytes:
//   whole-tensors     a few whole tensors retrained (frozen layers, merged adapters)
//   rows-block        one contiguous block of embedding rows (new or retrained tokens)
//   vocab-growth      the embedding gains rows at its end (added tokens), one layer's MLP retrained
//   rows-scattered    random rows of the embedding and of every matrix (sparse updates)
//   elements-scattered random elements of every tensor (what no byte-level scheme dedups)
// Prints, per pattern and scheme: bytes uploaded (new objects + manifest) as % of the model,
// objects PUT, and the objects a version's manifest names; then the chunkers' speed (MB/s).
import { createHash } from 'node:crypto';
import { benchArgs, machineLine, numbers } from './common.mjs';

const args = benchArgs(
  { fixed: '64,256,1024,4096', cdc: '64,256,1024', change: '0.02', seed: '1' },
  'node bench/dedup.mjs [--fixed 64,256,1024,4096] [--cdc 64,256,1024] [--change 0.02] [--seed 1]',
);
const FIXED = numbers(args.fixed).map((k) => k * 1024);
const CDC = numbers(args.cdc).map((k) => k * 1024);
const CHANGE = Number(args.change);
let seed = Number(args.seed) >>> 0 || 1;

// Deterministic xorshift32.
function rand() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
function fill(a) {
  for (let i = 0; i < a.length; i++) a[i] = (rand() - 0.5) * 0.1;
}

const D = 1024;
function model() {
  const m = new Map();
  const add = (name, shape) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    fill(a);
    m.set(name, { shape, data: a });
  };
  add('embed', [16000, D]);
  for (let l = 0; l < 6; l++) {
    for (const p of ['q', 'k', 'v', 'o']) add(`layers/${l}/attn/${p}`, [D, D]);
    add(`layers/${l}/mlp/up`, [D, 2 * D]);
    add(`layers/${l}/mlp/down`, [2 * D, D]);
    add(`layers/${l}/norm1`, [D]);
    add(`layers/${l}/norm2`, [D]);
  }
  return m;
}
const bytesOf = (m) => [...m.values()].reduce((a, t) => a + t.data.byteLength, 0);
const clone = (m) => new Map([...m].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));
const nudge = (a, i) => {
  a[i] += 1e-3; // a fine-tune step: a small change of the value, every byte of it may differ
};

const v1 = model();
const TOTAL = bytesOf(v1);
const budget = CHANGE * TOTAL;
const matrices = [...v1.keys()].filter((k) => v1.get(k).shape.length === 2);

const patterns = {
  'whole-tensors'(m) {
    // The last layers' tensors, from the top, until the budget is spent.
    let spent = 0;
    for (const k of [...m.keys()].reverse()) {
      if (spent >= budget) break;
      const t = m.get(k);
      for (let i = 0; i < t.data.length; i++) nudge(t.data, i);
      spent += t.data.byteLength;
    }
  },
  'rows-block'(m) {
    const e = m.get('embed');
    const rows = Math.round(budget / (D * 4));
    const start = Math.floor(rand() * (e.shape[0] - rows));
    for (let i = start * D; i < (start + rows) * D; i++) nudge(e.data, i);
  },
  'vocab-growth'(m) {
    const e = m.get('embed');
    const extra = Math.round(budget / 2 / (D * 4));
    const grown = new Float32Array(e.data.length + extra * D);
    grown.set(e.data);
    fill(grown.subarray(e.data.length));
    m.set('embed', { shape: [e.shape[0] + extra, D], data: grown });
    let spent = 0;
    for (const k of ['layers/5/mlp/down', 'layers/5/mlp/up']) {
      if (spent >= budget / 2) break;
      const t = m.get(k);
      for (let i = 0; i < t.data.length; i++) nudge(t.data, i);
      spent += t.data.byteLength;
    }
  },
  'rows-scattered'(m) {
    for (const k of matrices) {
      const t = m.get(k);
      const [rows, cols] = t.shape;
      for (let r = 0; r < rows; r++) if (rand() < CHANGE) for (let c = 0; c < cols; c++) nudge(t.data, r * cols + c);
    }
  },
  'elements-scattered'(m) {
    for (const t of m.values()) for (let i = 0; i < t.data.length; i++) if (rand() < CHANGE) nudge(t.data, i);
  },
};

const sha = (b) => createHash('sha256').update(b).digest('hex');
const bytes = (t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

// Fixed-size chunks of one tensor: [start, end) pairs.
function fixedCuts(n, size) {
  const cuts = [];
  for (let s = 0; s < n; s += size) cuts.push([s, Math.min(n, s + size)]);
  return cuts;
}

// Content-defined chunks (FastCDC's gear hash, one mask: a cut where the rolling hash's top bits
// are zero, between min and max). The gear table is fixed (seeded), so publishers agree.
const GEAR = (() => {
  const g = new Uint32Array(256);
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    g[i] = x >>> 0;
  }
  return g;
})();
function cdcCuts(b, avg) {
  const min = avg >> 2;
  const max = avg * 4;
  const bits = Math.round(Math.log2(avg - min)); // expected distance past min
  const mask = ((2 ** bits - 1) << (32 - bits)) >>> 0;
  const cuts = [];
  let s = 0;
  while (s < b.length) {
    const end = Math.min(b.length, s + max);
    let i = Math.min(end, s + min);
    let h = 0;
    for (; i < end; i++) {
      h = ((h << 1) + GEAR[b[i]]) >>> 0;
      if ((h & mask) === 0) {
        i++;
        break;
      }
    }
    cuts.push([s, i]);
    s = i;
  }
  return cuts;
}

// The objects (sha -> size) a version is made of under a scheme.
function objects(m, scheme, memo, wholes) {
  const out = new Map();
  for (const [name, t] of m) {
    const b = bytes(t);
    const whole = wholes.get(name);
    // A tensor whose bytes are unchanged cuts the same: its chunks come from the memo.
    const key = `${scheme.name}:${whole}`;
    let parts = memo.get(key);
    if (!parts) {
      const cuts = scheme.cuts(b);
      parts = cuts.length === 1 ? [[whole, b.length]] : cuts.map(([s, e]) => [sha(b.subarray(s, e)), e - s]);
      memo.set(key, parts);
    }
    for (const [h, n] of parts) out.set(h, n);
  }
  return out;
}

const schemes = [
  { name: 'whole tensor', cuts: (b) => [[0, b.length]] },
  ...FIXED.map((size) => ({ name: `fixed ${size / 1024} KiB`, cuts: (b) => fixedCuts(b.length, size) })),
  ...CDC.map((avg) => ({ name: `CDC ~${avg / 1024} KiB`, cuts: (b) => cdcCuts(b, avg) })),
];

console.log(machineLine());
console.log(`model ${(TOTAL / 2 ** 20).toFixed(1)} MiB in ${v1.size} tensors, change ${CHANGE * 100}%\n`);
const memo = new Map();
const wholesOf = (m) => new Map([...m].map(([k, t]) => [k, sha(bytes(t))]));
const w1 = wholesOf(v1);
const base = new Map(schemes.map((s) => [s.name, objects(v1, s, memo, w1)]));
// What one piece adds to the manifest: {"sha256":"<64>","object":"blobs/sha256/<ab>/<64>/<nonce>"}, and a comma.
const MANIFEST_PER_OBJECT = 187;
const rows = [];
for (const [pattern, apply] of Object.entries(patterns)) {
  const v2 = clone(v1);
  apply(v2);
  const changed = [...v2].reduce((a, [k, t]) => {
    // Bytes that differ from v1's at the same offset, plus bytes past v1's end (appended rows).
    const x = v1.has(k) ? bytes(v1.get(k)) : new Uint8Array(0);
    const y = bytes(t);
    let n = Math.max(0, y.length - x.length);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) n++;
    return a + n;
  }, 0);
  const w2 = wholesOf(v2);
  for (const s of schemes) {
    const have = base.get(s.name);
    const mine = objects(v2, s, memo, w2);
    let newBytes = 0;
    let puts = 0;
    for (const [h, n] of mine)
      if (!have.has(h)) {
        newBytes += n;
        puts++;
      }
    const manifest = mine.size * MANIFEST_PER_OBJECT;
    rows.push({
      pattern,
      scheme: s.name,
      changedPct: (100 * changed) / TOTAL,
      uploadPct: (100 * (newBytes + manifest)) / TOTAL,
      manifestKiB: manifest / 1024,
      puts,
      objects: mine.size,
    });
  }
}

let last = '';
console.log(
  '| pattern (bytes changed) | addressing | uploaded, % of model | manifest | objects PUT | objects per version |',
);
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  const p = r.pattern === last ? '' : `${r.pattern} (${r.changedPct.toFixed(2)}%)`;
  last = r.pattern;
  console.log(
    `| ${p} | ${r.scheme} | ${r.uploadPct.toFixed(2)}% | ${r.manifestKiB.toFixed(0)} KiB | ${r.puts} | ${r.objects} |`,
  );
}

// What each chunker costs at publish time (on top of the tensors' own SHA-256), one 64 MiB tensor.
const probe = bytes(v1.get('embed'));
console.log('\n| chunker | MB/s (cut + SHA-256 of each chunk) |');
console.log('|---|---:|');
for (const s of schemes) {
  const t0 = performance.now();
  for (const [a, b] of s.cuts(probe)) sha(probe.subarray(a, b));
  console.log(`| ${s.name} | ${(probe.length / 1e6 / ((performance.now() - t0) / 1000)).toFixed(0)} |`);
}
