#!/usr/bin/env node
// Zero-copy view benchmark: h5vault vs h5py (dset[...] and the
// get_offset + numpy.memmap trick) vs h5wasm, same files, same run.
//   node bench/views.mjs [--dir DIR] [--runs N] [--sizes 16,256,1024] [--out docs/bench/views.md]
// Needs `npm run build` (dist/) and Debian python3-h5py. Prints a markdown table
// and writes it (plus JSON next to it) so docs/bench/views.md is reproducible.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { File, libraryInfo } from '../dist/index.js';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-views',
    runs: '15',
    sizes: '16,256,1024',
    out: 'docs/bench/views.md',
    python: '/usr/bin/python3',
  },
  'node bench/views.mjs [--dir DIR] [--runs N] [--sizes 16,256,1024] [--out docs/bench/views.md]',
);
const RUNS = Number(args.runs);
const SIZES = args.sizes.split(',').map(Number); // MiB
mkdirSync(args.dir, { recursive: true });

const rssAnonMiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;

// Deterministic weights ~ N(0, 0.02), generated block-wise (no 1 GiB temporaries).
function fillGaussian(a, seed) {
  let s = seed >>> 0;
  const r = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < a.length; i += 2) {
    const m = Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * 0.02,
      v = 2 * Math.PI * r();
    a[i] = m * Math.cos(v);
    if (i + 1 < a.length) a[i + 1] = m * Math.sin(v);
  }
}

function ensureSingle(mib) {
  const p = join(args.dir, `single-${mib}MiB.h5`);
  if (existsSync(p)) return p;
  const n = (mib * 1024 * 1024) / 4;
  const f = File.create(p, { overwrite: true });
  const ds = f.createDataset('w', { dtype: 'float32', shape: [n / 1024, 1024] });
  const rows = 16384; // 64 MiB blocks
  const block = new Float32Array(rows * 1024);
  for (let r0 = 0; r0 < n / 1024; r0 += rows) {
    const cnt = Math.min(rows, n / 1024 - r0);
    const b = cnt === rows ? block : block.subarray(0, cnt * 1024);
    fillGaussian(b, r0 + 1);
    ds.writeSync(b, { start: [r0, 0], count: [cnt, 1024] });
  }
  f.close();
  return p;
}

// A 300-tensor model shaped like a small transformer: 50 blocks of
// (q,k,v,o 512x512, ff1 512x2048, ff2 2048x512) minus biases = 300 tensors.
function ensureModel() {
  const p = join(args.dir, 'model-300.h5');
  if (existsSync(p)) return p;
  const f = File.create(p, { overwrite: true });
  let k = 0;
  for (let b = 0; b < 50; b++) {
    for (const [name, shape] of [
      ['q', [512, 512]],
      ['k', [512, 512]],
      ['v', [512, 512]],
      ['o', [512, 512]],
      ['ff1', [512, 2048]],
      ['ff2', [2048, 512]],
    ]) {
      const a = new Float32Array(shape[0] * shape[1]);
      fillGaussian(a, ++k);
      f.createDataset(`block${b}/${name}`, { dtype: 'float32', shape, data: a });
    }
  }
  f.close();
  return p;
}

function h5vaultTimeToView(p) {
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const f = File.open(p);
    const v = f.dataset('w').view();
    if (Number.isNaN(v[0])) throw new Error('nan');
    t.push(performance.now() - t0);
    f.close();
  }
  return median(t);
}

function h5vaultModel(p) {
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const f = File.open(p);
    const views = [];
    for (const [, o] of f.walk()) if (o.kind === 'dataset') views.push(o.view());
    if (views.length !== 300) throw new Error(`expected 300 tensors, got ${views.length}`);
    t.push(performance.now() - t0);
    f.close();
  }
  return median(t);
}

function sumLoop(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

function bandwidth(p) {
  const f = File.open(p);
  const v = f.dataset('w').view();
  const mem = new Float32Array(v); // the in-memory baseline: same values, own memory
  const gbps = (a) => {
    sumLoop(a); // warm (page cache + JIT)
    const t = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      sumLoop(a);
      t.push(performance.now() - t0);
    }
    return a.byteLength / 1e9 / (median(t) / 1e3);
  };
  const r = { view: gbps(v), memory: gbps(mem) };
  f.close();
  return r;
}

function coldView(p) {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '1');
  } catch (e) {
    return { error: `cannot drop the page cache here (${e.code ?? e.message})` };
  }
  const f = File.open(p);
  const v = f.dataset('w').view();
  const t0 = performance.now();
  sumLoop(v);
  const ms = performance.now() - t0;
  f.close();
  return { gbps: v.byteLength / 1e9 / (ms / 1e3) };
}

function anonGrowth(p) {
  globalThis.gc?.();
  const before = rssAnonMiB();
  const f = File.open(p);
  const v = f.dataset('w').view();
  sumLoop(v);
  const after = rssAnonMiB();
  f.close();
  return after - before;
}

const PY = `
import sys, time, json, statistics, resource
import numpy as np, h5py
runs = int(sys.argv[1]); files = json.loads(sys.argv[2]); model = sys.argv[3]
def med(f):
    t = []
    for _ in range(runs):
        t0 = time.perf_counter(); f(); t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)
def read_all(p):
    with h5py.File(p, 'r') as f:
        a = f['w'][...]; a[0]
def memmap(p):
    with h5py.File(p, 'r') as f:
        d = f['w']; off = d.id.get_offset()
        a = np.memmap(p, dtype=d.dtype, mode='r', offset=off, shape=d.shape); a[0, 0]
def model_memmap():
    with h5py.File(model, 'r') as f:
        out = []
        def visit(name, o):
            if isinstance(o, h5py.Dataset):
                out.append(np.memmap(model, dtype=o.dtype, mode='r', offset=o.id.get_offset(), shape=o.shape))
        f.visititems(visit)
        assert len(out) == 300
def model_read():
    with h5py.File(model, 'r') as f:
        out = []
        f.visititems(lambda n, o: out.append(o[...]) if isinstance(o, h5py.Dataset) else None)
res = {'read': {}, 'memmap': {}}
for mib, p in files.items():
    res['memmap'][mib] = med(lambda: memmap(p))
    res['read'][mib] = med(lambda: read_all(p)) if int(mib) <= 256 else None
res['model_memmap'] = med(model_memmap)
res['model_read'] = statistics.median([(lambda t0: (model_read(), (time.perf_counter() - t0) * 1e3)[1])(time.perf_counter()) for _ in range(3)])
p = files[max(files, key=int)]
with h5py.File(p, 'r') as f:
    d = f['w']; a = np.memmap(p, dtype=d.dtype, mode='r', offset=d.id.get_offset(), shape=d.shape)
    a.sum(dtype=np.float64)
    t = []
    for _ in range(5):
        t0 = time.perf_counter(); a.sum(dtype=np.float64); t.append(time.perf_counter() - t0)
    res['numpy_sum_gbps'] = a.nbytes / 1e9 / statistics.median(t)
res['h5py'] = h5py.version.version
print(json.dumps(res))
`;

async function h5wasmCases(files, model) {
  let h5wasm;
  try {
    h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
  } catch (e) {
    return { error: `h5wasm unavailable: ${e.message}` };
  }
  const res = { read: {} };
  for (const [mib, p] of Object.entries(files)) {
    const t = [];
    try {
      for (let i = 0; i < Math.min(RUNS, 5); i++) {
        const t0 = performance.now();
        const f = new h5wasm.File(p, 'r');
        const v = f.get('w').value;
        if (Number.isNaN(v[0])) throw new Error('nan');
        t.push(performance.now() - t0);
        f.close();
      }
      res.read[mib] = median(t);
    } catch (e) {
      res.read[mib] = `failed: ${String(e.message ?? e)
        .split('\n')[0]
        .slice(0, 60)}`;
    }
  }
  const t = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const f = new h5wasm.File(model, 'r');
    let n = 0;
    for (const b of f.keys())
      for (const k of f.get(b).keys()) {
        f.get(`${b}/${k}`).value;
        n++;
      }
    if (n !== 300) throw new Error(`h5wasm saw ${n}`);
    t.push(performance.now() - t0);
    f.close();
  }
  res.model_read = median(t);
  return res;
}

const files = Object.fromEntries(SIZES.map((m) => [String(m), ensureSingle(m)]));
const model = ensureModel();
const big = files[String(Math.max(...SIZES))];

const ours = { view: {}, anon: null };
for (const [m, p] of Object.entries(files)) ours.view[m] = h5vaultTimeToView(p);
ours.model = h5vaultModel(model);
ours.anon = anonGrowth(big); // before bandwidth(): its in-memory copy would skew RSS
ours.bandwidth = bandwidth(big);
ours.cold = coldView(big);
const py = JSON.parse(
  execFileSync(args.python, ['-c', PY, String(RUNS), JSON.stringify(files), model], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  }),
);
const wasm = await h5wasmCases(files, model);

const fmt = (x) => (typeof x === 'number' ? (x < 10 ? x.toFixed(3) : x.toFixed(1)) : (x ?? 'n/a'));
const ratio = (peer, ourT) => (typeof peer === 'number' ? `${(peer / ourT).toFixed(0)}×` : 'n/a');
const rows = [];
rows.push('| case | h5vault | h5py memmap | h5py `dset[...]` | h5wasm `.value` | target |');
rows.push('|---|---|---|---|---|---|');
for (const m of Object.keys(files)) {
  rows.push(
    `| time to usable view, ${m} MiB float32 (ms) | **${fmt(ours.view[m])}** | ${fmt(py.memmap[m])} (${ratio(py.memmap[m], ours.view[m])}) | ${fmt(py.read[m])} (${ratio(py.read[m], ours.view[m])}) | ${fmt(wasm.read?.[m])} (${ratio(wasm.read?.[m], ours.view[m])}) | ≤ 1 ms, flat |`,
  );
}
rows.push(
  `| open 300-tensor model + view all (ms) | **${fmt(ours.model)}** | ${fmt(py.model_memmap)} (${ratio(py.model_memmap, ours.model)}) | ${fmt(py.model_read)} (${ratio(py.model_read, ours.model)}) | ${fmt(wasm.model_read)} (${ratio(wasm.model_read, ours.model)}) | ≤ 5 ms |`,
);
const bwRatio = ours.bandwidth.view / ours.bandwidth.memory;
rows.push(
  `| sum of viewed ${Math.max(...SIZES)} MiB, warm (GB/s) | **${fmt(ours.bandwidth.view)}** = ${bwRatio.toFixed(2)}× in-memory Float32Array (${fmt(ours.bandwidth.memory)}) | numpy memmap .sum(): ${fmt(py.numpy_sum_gbps)} | | | ≥ 0.8× in-memory |`,
);
rows.push(
  `| sum of viewed ${Math.max(...SIZES)} MiB, cold cache (GB/s) | ${ours.cold.error ? `not measured: ${ours.cold.error}` : `**${fmt(ours.cold.gbps)}**`} | | | | |`,
);
rows.push(
  `| anonymous RSS growth: open + view + sum ${Math.max(...SIZES)} MiB (MiB) | **${ours.anon.toFixed(1)}** | | | | no growth with size |`,
);

const info = libraryInfo();
const header = [
  '# Zero-copy view benchmark',
  '',
  `Command: \`node --expose-gc bench/views.mjs --runs ${RUNS} --sizes ${args.sizes}\` (after \`npm run build\`).`,
  `Machine: ${machineLine()}.`,
  `Versions: node ${process.version}, libhdf5 ${info.hdf5}, h5py ${py.h5py}; ${new Date().toISOString().slice(0, 10)}.`,
  `Times are medians of ${RUNS} runs (h5wasm: up to 5; h5py \`dset[...]\` skipped above 256 MiB), warm page cache. Ratios are peer time / h5vault time.`,
  'h5vault "time to usable view" = `File.open` + `dataset.view()` + reading the first element; h5py memmap = `h5py.File` + `get_offset()` + `numpy.memmap` + first element.',
  'Cold cache = after `sync; echo 1 > /proc/sys/vm/drop_caches` (root); on a virtual machine the host may still cache the disk, so this is an upper bound.',
  'RSS growth = `RssAnon` (anonymous memory) after opening, viewing and summing the largest file, minus before: file pages are `RssFile`, reclaimable, and not counted.',
  '',
];
const md = [...header, ...rows, ''].join('\n');
console.log(md);
mkdirSync(join(args.out, '..'), { recursive: true });
writeFileSync(args.out, md);
writeFileSync(
  args.out.replace(/\.md$/, '.json'),
  JSON.stringify({ ours, h5py: py, h5wasm: wasm, runs: RUNS, date: new Date().toISOString() }, null, 2),
);
