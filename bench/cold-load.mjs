#!/usr/bin/env node
// A cold load against reading the file with `cat` (issue 23 target 3): the
// page cache is dropped before every timed run, so both read every byte from
// the disk. Root only (it writes /proc/sys/vm/drop_caches); on a virtual
// machine the host may still cache the disk, the same for both sides.
//   node bench/cold-load.mjs [--mib 1024] [--tensors 16] [--rounds 3] [--dir DIR]
// Per round, alternating who goes first:
//   cat        `cat model.h5 > /dev/null` (the bytes off the disk, nothing else)
//   verified   `await loadModel(path)`: every tensor's SHA-256 and the model
//              digest checked (reads every byte), tensors as zero-copy views
//   expect     `await loadModel(path, { expectDigest })`: the file's SHA-256
//              checked before libhdf5 parses it (reads every byte), then mapped
//   views      `await loadModel(path, { verify: false })`, then one float read
//              from every 4 KiB page of every tensor view (every page faulted
//              in from the disk, no hashing): what serving trusted weights costs
// Prints medians and cat time ÷ load time (>= 1: the load is at least as fast
// as cat, the target), with the load average of each round.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchArgs, load1, machineLine, median, weightTensors } from './common.mjs';

const args = benchArgs(
  { mib: '1024', tensors: '16', rounds: '3', dir: '/tmp/h5vault-bench-cold', dist: 'dist' },
  'node bench/cold-load.mjs [--mib 1024] [--tensors 16] [--rounds 3] [--dir DIR] [--dist DIR]',
);
const MIB = Number(args.mib);
const N = Number(args.tensors);
const ROUNDS = Number(args.rounds);
if (!(MIB > 0 && N > 0 && ROUNDS > 0)) throw new RangeError('--mib, --tensors and --rounds must be positive');
const { loadModel, saveModel } = await import(resolve(args.dist, 'index.js'));

mkdirSync(args.dir, { recursive: true });
const path = join(args.dir, `model-${MIB}.h5`);
let digest;
if (!existsSync(path)) {
  const tensors = weightTensors(MIB, N, { seed: 0x9e3779b9, scale: 0.04 });
  digest = (await saveModel(path, tensors)).digest;
  writeFileSync(`${path}.sha256`, digest);
} else {
  digest = readFileSync(`${path}.sha256`, 'utf8').trim();
}
const bytes = statSync(path).size;

function dropCaches() {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch (e) {
    console.error(`cold-load: cannot drop the page cache (${e.code ?? e.message}); run as root`);
    process.exit(2);
  }
}
const CASES = {
  cat: async () => execFileSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', path]),
  verified: async () => {
    const m = await loadModel(path);
    if (m.tensors.size !== N) throw new Error(`loaded ${m.tensors.size} tensors, expected ${N}`);
  },
  views: async () => {
    const m = await loadModel(path, { verify: false });
    let sum = 0;
    for (const { data } of m.tensors.values()) for (let i = 0; i < data.length; i += 1024) sum += data[i];
    if (!Number.isFinite(sum)) throw new Error('non-finite weights');
  },
  expect: async () => {
    const m = await loadModel(path, { expectDigest: digest, verify: false });
    if (m.tensors.size !== N) throw new Error(`loaded ${m.tensors.size} tensors, expected ${N}`);
  },
};
await CASES.verified(); // warm-up: addon, hash workers
console.log(machineLine());
console.log(`model: ${N} float32 tensors, ${(bytes / 2 ** 30).toFixed(3)} GiB file at ${path}`);
const t = { cat: [], verified: [], expect: [], views: [] };
const loads = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(CASES);
  if (r % 2) order.reverse();
  for (const c of order) {
    dropCaches();
    const t0 = performance.now();
    await CASES[c]();
    t[c].push(performance.now() - t0);
  }
  loads.push(load1());
  console.log(
    `round ${r + 1}: ${order.map((c) => `${c} ${(t[c][r] / 1e3).toFixed(2)} s`).join(', ')}; load ${loads[r]}`,
  );
}
const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
const rate = (ms) => `${(bytes / 2 ** 20 / (ms / 1e3)).toFixed(0)} MiB/s`;
console.log(
  `medians: cat ${(m.cat / 1e3).toFixed(2)} s (${rate(m.cat)}); loadModel verified ${(m.verified / 1e3).toFixed(2)} s (${rate(m.verified)}) = ` +
    `${(m.cat / m.verified).toFixed(2)}× cat; loadModel expectDigest ${(m.expect / 1e3).toFixed(2)} s (${rate(m.expect)}) = ` +
    `${(m.cat / m.expect).toFixed(2)}× cat; views, every page touched ${(m.views / 1e3).toFixed(2)} s (${rate(m.views)}) = ` +
    `${(m.cat / m.views).toFixed(2)}× cat (target >= 1); load ${loads.join(', ')}`,
);
console.log(machineLine());
