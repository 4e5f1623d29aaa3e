#!/usr/bin/env node
// Write cost against chunk count: n one-byte chunks (the worst case for
// per-chunk overhead: every chunk's stored size is below the 64-byte data
// alignment) written by h5vault (`dataset.write`, the parallel engine) and by
// h5py in the same run (`write_direct_chunk` per chunk, the fastest h5py
// path, in two layouts: h5py's default file, and h5vault's 64-byte alignment
// with libhdf5's default free-space manager, which is what h5vault created
// before it switched to aggregator-only file space).
//   node bench/write-chunks.mjs [--counts 1024,4096,...] [--runs 3] [--peer-max 262144] [--dir D]
// Needs `npm run build` (dist/) and Debian python3-h5py. Prints a markdown
// table: median (min-max) ms over the runs, and microseconds per chunk.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { File } from '../dist/index.js';
import { benchArgs, machineLine } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-write-chunks',
    runs: '3',
    counts: '1024,4096,16384,65536,262144,1048576',
    // h5py's aligned layout is quadratic: above this count it is not run.
    'peer-max': '32768',
    python: '/usr/bin/python3',
  },
  'node bench/write-chunks.mjs [--counts 1024,4096,...] [--runs 3] [--peer-max 262144] [--dir D]',
);
const RUNS = Number(args.runs);
const COUNTS = args.counts.split(',').map(Number);
mkdirSync(args.dir, { recursive: true });

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { min: s[0], med: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, max: s[s.length - 1] };
};

async function h5vault(n) {
  const p = join(args.dir, `h5vault-${n}.h5`);
  const f = File.create(p, { overwrite: true });
  const d = f.createDataset('x', { dtype: 'uint8', shape: [n], chunks: [1] });
  const data = new Uint8Array(n).fill(7);
  const t0 = performance.now();
  await d.write(data);
  const ms = performance.now() - t0;
  f.close();
  rmSync(p);
  return ms;
}

const PY = `
import h5py, sys, time, os
n, layout, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kw = {'alignment_threshold': 1, 'alignment_interval': 64} if layout == 'aligned' else {}
with h5py.File(path, 'w', **kw) as f:
    d = f.create_dataset('x', shape=(n,), dtype='u1', chunks=(1,))
    b = b'\\x07'
    t = time.perf_counter()
    for i in range(n):
        d.id.write_direct_chunk((i,), b)
    ms = (time.perf_counter() - t) * 1000
os.unlink(path)
print(ms)
`;
const h5py = (n, layout) =>
  Number(
    execFileSync(args.python, ['-c', PY, String(n), layout, join(args.dir, `h5py-${layout}-${n}.h5`)], {
      encoding: 'utf8',
    }),
  );

const fmt = (s, n) =>
  `${s.med.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)}) ms, ${((s.med * 1000) / n).toFixed(1)} us/chunk`;
console.log(`runs: ${RUNS}; ${machineLine()}`);
console.log('| chunks | h5vault | h5py default file | h5py, 64-byte aligned | h5vault ÷ h5py default |');
console.log('|---:|---|---|---|---:|');
for (const n of COUNTS) {
  const ours = [],
    py = [],
    pyAligned = [];
  // Interleaved: each run measures every writer once, so load spikes hit all.
  for (let r = 0; r < RUNS; r++) {
    ours.push(await h5vault(n));
    py.push(h5py(n, 'default'));
    if (n <= Number(args['peer-max'])) pyAligned.push(h5py(n, 'aligned'));
  }
  const o = stats(ours),
    p = stats(py);
  const a = pyAligned.length ? fmt(stats(pyAligned), n) : 'not run (quadratic)';
  console.log(`| ${n} | ${fmt(o, n)} | ${fmt(p, n)} | ${a} | ${(p.med / o.med).toFixed(2)}× |`);
}
