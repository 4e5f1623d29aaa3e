#!/usr/bin/env node
// szip read: h5vault (the engine decodes szip chunks in parallel with
// libhdf5's own libsz) vs h5py (libhdf5's serial szip filter), same file,
// interleaved runs. h5py writes the file: float32 ~ N(0, 0.02), seeded,
// shape [ROWS, 4096], chunks [64, 4096] (1 MiB), szip with the given coding.
//   node bench/szip-read.mjs [--mib 64] [--runs 5] [--coding nn|ec] [--ppb 8] [--dir D]
// Needs `npm run build` (dist/) and Debian python3-h5py. Prints min/median/max
// ms per reader and the ratio of medians; every read is checked by SHA-256
// against h5py's.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { File } from '../dist/index.js';
import { benchArgs, machineLine } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-szip',
    mib: '64',
    runs: '5',
    coding: 'nn',
    ppb: '8',
    python: '/usr/bin/python3',
  },
  'node bench/szip-read.mjs [--mib 64] [--runs 5] [--coding nn|ec] [--ppb 8] [--dir D]',
);
mkdirSync(args.dir, { recursive: true });
const rows = (Number(args.mib) * 1024 * 1024) / (4096 * 4);
const path = join(args.dir, `szip-${args.coding}-${args.ppb}-${args.mib}.h5`);

const WRITE = `
import h5py, numpy as np, sys
rows, coding, ppb, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
x = (np.random.default_rng(7).standard_normal((rows, 4096)) * 0.02).astype('<f4')
with h5py.File(path, 'w') as f:
    f.create_dataset('w', data=x, chunks=(64, 4096), compression='szip', compression_opts=(coding, ppb))
`;
execFileSync(args.python, ['-c', WRITE, String(rows), args.coding, args.ppb, path]);

const READ = `
import h5py, hashlib, sys, time
with h5py.File(sys.argv[1], 'r') as f:
    d = f['w']
    t = time.perf_counter()
    x = d[...]
    ms = (time.perf_counter() - t) * 1000
print(ms, hashlib.sha256(x.tobytes()).hexdigest())
`;
const h5py = () => {
  const [ms, sha] = execFileSync(args.python, ['-c', READ, path], { encoding: 'utf8' }).trim().split(' ');
  return { ms: Number(ms), sha };
};
const ours = async () => {
  const f = File.open(path);
  const t = performance.now();
  const x = await f.dataset('w').read();
  const ms = performance.now() - t;
  f.close();
  return { ms, sha: createHash('sha256').update(x).digest('hex') };
};

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { min: s[0], med: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, max: s[s.length - 1] };
};
await ours(); // warm the page cache and the pool
h5py();
const a = [],
  b = [];
for (let r = 0; r < Number(args.runs); r++) {
  const x = await ours(),
    y = h5py();
  if (x.sha !== y.sha) throw new Error(`run ${r}: h5vault read ${x.sha}, h5py ${y.sha}`);
  a.push(x.ms);
  b.push(y.ms);
}
const A = stats(a),
  B = stats(b);
const mbs = (ms) => ((Number(args.mib) * 1048576) / 1e6 / (ms / 1000)).toFixed(0);
const row = (n, s) => `| ${n} | ${s.min.toFixed(1)} | ${s.med.toFixed(1)} | ${s.max.toFixed(1)} | ${mbs(s.med)} |`;
console.log(
  `szip ${args.coding} ppb ${args.ppb}, ${args.mib} MiB float32, 1 MiB chunks, ${args.runs} interleaved runs; ${machineLine()}`,
);
console.log('| reader | min ms | median ms | max ms | MB/s (median) |');
console.log('|---|---:|---:|---:|---:|');
console.log(row('h5vault `read()`', A));
console.log(row('h5py `d[...]`', B));
console.log(`ratio of medians (h5py ÷ h5vault): ${(B.med / A.med).toFixed(2)}×; same bytes in every run (SHA-256)`);
