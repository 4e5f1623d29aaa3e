#!/usr/bin/env node
// Model open vs tensor count: time until every tensor of a saved model is a
// usable typed array, h5vault vs h5py + numpy.memmap and vs what a Node user
// would do instead (readFileSync of the same tensors as safetensors, JSON.parse
// of its header, a Float32Array per tensor over the copy, every tensor touched),
// same files, same run. Total bytes are fixed, so a flat row means O(1) in
// tensor count.
//   node bench/model-open.mjs [--dir DIR] [--counts 10,300,1000,10000] [--mib 40] [--runs 15]
// Needs `npm run build` (dist/) and python3-h5py + numpy. Prints a markdown table.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { loadModel, ModelStore, openSafetensors, saveSafetensors } from '../dist/index.js';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-model-open',
    counts: '10,300,1000,10000',
    mib: '40',
    runs: '15',
    python: '/usr/bin/python3',
  },
  'node bench/model-open.mjs [--dir DIR] [--counts 10,300,1000,10000] [--mib 40] [--runs 15]',
);
const RUNS = Number(args.runs);
const COUNTS = args.counts.split(',').map(Number);
const TOTAL = Number(args.mib) * 1024 * 1024;
mkdirSync(args.dir, { recursive: true });

async function timeIt(fn) {
  await fn(); // warm: page cache, JIT, the store's verified-once record
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

// N float32 tensors of TOTAL/N bytes each, in blocks of 6 like a transformer layer.
function model(n) {
  const per = Math.max(1, Math.floor(TOTAL / n / 4));
  const tensors = {};
  for (let i = 0; i < n; i++) {
    const a = new Float32Array(per);
    for (let j = 0; j < per; j += 97) a[j] = ((i * 31 + j) % 1000) / 1000;
    tensors[`block${String(Math.floor(i / 6)).padStart(5, '0')}/w${i % 6}`] = {
      dtype: 'float32',
      shape: [per],
      data: a,
    };
  }
  return tensors;
}

const rows = [];
for (const n of COUNTS) {
  const root = join(args.dir, `store-${n}`);
  if (!existsSync(join(root, 'm', 'index.json'))) {
    rmSync(root, { recursive: true, force: true });
    const s = await ModelStore.open(root, { create: true });
    await s.save('m', model(n));
  }
  const store = await ModelStore.open(root);
  const file = store.path('m', 1);
  const touch = (m) => {
    if (m.tensors.size !== n) throw new Error(`expected ${n} tensors, got ${m.tensors.size}`);
    for (const t of m.tensors.values()) if (Number.isNaN(t.data[0])) throw new Error('nan');
    m.close();
  };
  const once = await timeIt(async () => touch(await store.load('m')));
  const check = await store.load('m');
  if (check.hashed.file || check.hashed.tensors) throw new Error('verified-once path not taken');
  check.close();
  const walk = await timeIt(async () => touch(await loadModel(file, { verify: false })));
  const st = join(args.dir, `model-${n}.safetensors`);
  if (!existsSync(st)) await saveSafetensors(st, model(n));
  const copy = await timeIt(async () => {
    const b = readFileSync(st);
    const len = Number(b.readBigUInt64LE(0));
    const header = JSON.parse(b.toString('utf8', 8, 8 + len));
    let k = 0;
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const [from, to] = t.data_offsets;
      const a = new Float32Array(b.buffer, b.byteOffset + 8 + len + from, (to - from) / 4);
      if (Number.isNaN(a[0] + a[a.length - 1])) throw new Error('nan');
      k++;
    }
    if (k !== n) throw new Error(`expected ${n} tensors, got ${k}`);
  });
  const safetensors = await timeIt(async () => {
    const f = await openSafetensors(st);
    if (f.tensors.size !== n) throw new Error(`expected ${n} tensors`);
    for (const t of f.tensors.values()) if (Number.isNaN(t.data[0])) throw new Error('nan');
    f.close();
  });
  const py = JSON.parse(
    execFileSync(
      args.python,
      [
        '-c',
        `
import sys, time, json, h5py, numpy as np
p, runs = sys.argv[1], int(sys.argv[2])
def once():
    out = []
    with h5py.File(p, 'r') as f:
        def visit(name, o):
            if isinstance(o, h5py.Dataset):
                out.append(np.memmap(p, dtype=o.dtype, mode='r', offset=o.id.get_offset(), shape=o.shape))
        f.visititems(visit)
    for a in out: a[0]
    return len(out)
once()
t = []
for _ in range(runs):
    t0 = time.perf_counter(); k = once(); t.append((time.perf_counter() - t0) * 1e3)
t.sort()
print(json.dumps({'ms': t[len(t) // 2], 'n': k}))
`,
        file,
        String(RUNS),
      ],
      { encoding: 'utf8' },
    ),
  );
  if (py.n !== n) throw new Error(`h5py saw ${py.n} tensors`);
  rows.push({ n, once, walk, py: py.ms, copy, safetensors });
}

console.log(`\nmodel open, ${args.mib} MiB of float32 in N tensors; median of ${RUNS}; ${machineLine()}\n`);
console.log(
  '| tensors | h5vault store.load, verified once (index, no hash) | h5vault loadModel verify: false (index checked against the layout) | h5vault openSafetensors | readFileSync + JSON.parse + typed arrays (the copy) | h5py + numpy.memmap | copy / verified-once | copy / loadModel | copy / openSafetensors |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.n} | ${r.once.toFixed(2)} ms | ${r.walk.toFixed(2)} ms | ${r.safetensors.toFixed(2)} ms | ${r.copy.toFixed(2)} ms | ${r.py.toFixed(2)} ms | ${(r.copy / r.once).toFixed(2)}× | ${(r.copy / r.walk).toFixed(2)}× | ${(r.copy / r.safetensors).toFixed(2)}× |`,
  );
}
