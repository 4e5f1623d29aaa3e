#!/usr/bin/env node
// Reads into memory the caller already has (issue 23 target 2), against the
// physical limit and h5py, in one run, interleaved by rounds:
//   node bench/read-into.mjs [--size 128] [--rounds 7] [--dir /tmp/h5vault-bench-into]
// Datasets (float32 ~ N(0, 0.02), written by h5py, `--size` MiB each):
// contiguous, chunked (1 MiB chunks, no filter), lz4+shuffle, gzip(4)+shuffle.
// Per round, each measured once, page cache warm:
//   node-readSync   fs.readSync of the contiguous dataset's bytes (its file
//                   offset) into a reused Buffer: what a copy from the page
//                   cache costs, the floor for any reader
//   h5vault-into    dataset.readSync({ into }) into a reused Float32Array
//   h5vault-fresh   dataset.readSync() into a new array (page faults included)
//   h5py-direct     d.read_direct(arr) into a reused numpy array (timed in Python)
//   h5py-fresh      d[()] (a new array)
// Prints medians (MB/s) and the ratios the targets name; --json for the raw runs.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchArgs, machineLine, ms, pythonRounds, samples } from './common.mjs';

const args = benchArgs(
  { size: '128', rounds: '7', dir: '/tmp/h5vault-bench-into', dist: 'dist', json: false },
  'node bench/read-into.mjs [--size MiB] [--rounds N] [--dir DIR] [--dist DIR] [--json]',
);
const MiB = 1 << 20;
const size = Number(args.size) * MiB;
const rounds = Number(args.rounds);
const n = size / 4;
const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
const env = { ...process.env, HDF5_PLUGIN_PATH: '/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins' };
const { File } = await import(resolve(args.dist, 'index.js'));
const CASES = ['contiguous', 'chunked', 'lz4_shuffle', 'gzip_shuffle'];

mkdirSync(args.dir, { recursive: true });
const path = join(args.dir, `into-${args.size}.h5`);
if (!existsSync(path)) {
  execFileSync(
    PYTHON,
    [
      '-c',
      `import h5py, hdf5plugin, numpy as np, sys
n = int(sys.argv[2]); rows = n // 4096
x = np.random.default_rng(42).normal(0, 0.02, size=(rows, 4096)).astype('<f4')
ch = (max(1, (1 << 20) // (4096 * 4)), 4096)
with h5py.File(sys.argv[1], 'w') as f:
    f['contiguous'] = x
    f.create_dataset('chunked', data=x, chunks=ch)
    f.create_dataset('lz4_shuffle', data=x, chunks=ch, shuffle=True, **hdf5plugin.LZ4())
    f.create_dataset('gzip_shuffle', data=x, chunks=ch, shuffle=True, compression='gzip', compression_opts=4)
`,
      path,
      String(n),
    ],
    { env, stdio: 'inherit' },
  );
}

// h5py runs in one persistent child started before any buffer exists: a
// fork per round would leave this process's reused buffers copy-on-write
// (one page fault per 4 KiB on the next write into them), which is what the
// reused-buffer columns exist to avoid.
const PY = `import h5py, hdf5plugin, numpy as np, sys, time, json
f = h5py.File(sys.argv[1], 'r'); names = sys.argv[2].split(',')
arrs = {n: np.empty(f[n].shape, f[n].dtype) for n in names}
for n in names: f[n].read_direct(arrs[n])
for line in sys.stdin:
    out = {}
    for name in names:
        d = f[name]; arr = arrs[name]
        t = time.perf_counter(); d.read_direct(arr); direct = time.perf_counter() - t
        t = time.perf_counter(); a = d[()]; fresh = time.perf_counter() - t
        del a
        out[name] = {'h5py-direct': direct * 1e3, 'h5py-fresh': fresh * 1e3}
    print(json.dumps(out), flush=True)`;
const py = pythonRounds(PYTHON, PY, [path, CASES.join(',')], env);
const f = File.open(path);
const offset = f.dataset('contiguous').info().offset;
const fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(size);
const into = new Float32Array(n);
readSync(fd, buf, 0, size, offset);
for (const c of CASES) f.dataset(c).readSync({ into });
const runs = samples(); // case -> peer -> ms[]
const push = runs.push;
for (let r = 0; r < rounds; r++) {
  push(
    'contiguous',
    'node-readSync',
    ms(() => readSync(fd, buf, 0, size, offset)),
  );
  for (const c of CASES) {
    const d = f.dataset(c);
    push(
      c,
      'h5vault-into',
      ms(() => d.readSync({ into })),
    );
    push(
      c,
      'h5vault-fresh',
      ms(() => d.readSync()),
    );
  }
  const res = await py.round();
  for (const c of CASES) for (const [peer, v] of Object.entries(res[c])) push(c, peer, v);
}
py.end();
closeSync(fd);
f.close();

const mbps = (t) => size / 1e6 / (t / 1e3);
const med = runs.medians();
const floor = med.contiguous['node-readSync'];
const rows = CASES.map((c) => {
  const m = med[c];
  return {
    case: c,
    'h5vault-into MB/s': Math.round(mbps(m['h5vault-into'])),
    'h5vault-fresh MB/s': Math.round(mbps(m['h5vault-fresh'])),
    'h5py-direct MB/s': Math.round(mbps(m['h5py-direct'])),
    'h5py-fresh MB/s': Math.round(mbps(m['h5py-fresh'])),
    'into / node readSync': +(floor / m['h5vault-into']).toFixed(2),
    'into / h5py-direct': +(m['h5py-direct'] / m['h5vault-into']).toFixed(2),
    'fresh / h5py-fresh': +(m['h5py-fresh'] / m['h5vault-fresh']).toFixed(2),
  };
});
const machine = machineLine();
if (args.json)
  console.log(JSON.stringify({ size, rounds, machine, floorMBps: mbps(floor), rows, runs: runs.runs }, null, 1));
else {
  console.log(`read into a reused buffer: ${args.size} MiB float32 per dataset, ${rounds} rounds, medians; ${machine}`);
  console.log(`node fs.readSync into a reused Buffer (the floor): ${Math.round(mbps(floor))} MB/s`);
  console.table(rows);
}
