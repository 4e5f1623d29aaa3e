#!/usr/bin/env node
// Verification at hash speed: SHA-256 throughput (one core, in memory and
// from a file through the hash workers, and over both cores), and what a
// ModelStore hot swap costs with and without the verified-once record.
//   node bench/verify.mjs [--dir DIR] [--gib 3.875] [--runs 3]
// (3.875 GiB = 62 tensors of 64 MiB: the largest model under 4 GiB, because
// zero-copy views of files over 4 GiB abort the process in this version, see docs/benchmarks.md)
// Needs `npm run build` (dist/). The peer for the hash rate is `openssl speed
// -evp sha256`, run by this script at the same moment (the CPU's SHA
// extensions: grep sha_ni /proc/cpuinfo).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ModelStore } from '../dist/index.js';
import { rangeSha256 } from '../dist/model/digest.js';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-verify',
    gib: '3.875',
    runs: '3',
  },
  'node bench/verify.mjs [--dir DIR] [--gib 3.875] [--runs 3]',
);
const RUNS = Number(args.runs);
mkdirSync(args.dir, { recursive: true });
async function timeIt(fn, runs = RUNS) {
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return { med: median(t), min: Math.min(...t), max: Math.max(...t) };
}
const fmt = (r) => `${(r.med / 1e3).toFixed(2)} s (min ${(r.min / 1e3).toFixed(2)}, max ${(r.max / 1e3).toFixed(2)})`;

// 1. One core, in memory.
const buf = Buffer.alloc(256 << 20, 7);
const mem = await timeIt(() => createHash('sha256').update(buf).digest(), 5);
const memGBs = buf.length / 1e9 / (mem.med / 1e3);
// The peer: OpenSSL's own SHA-256 (EVP, 16 KiB blocks), one core, same moment.
const openssl = () => {
  const out = execFileSync('openssl', ['speed', '-evp', 'sha256', '-bytes', '16384', '-seconds', '2'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return (Number(/sha256\s+([\d.]+)k/.exec(out)[1]) * 1e3) / 1e9;
};
const opensslGBs = openssl();

// 2. A 4 GiB model in a store: 64 tensors of 64 MiB.
const bytes = Number(args.gib) * 2 ** 30;
const root = join(args.dir, `store-${args.gib}g`);
if (!existsSync(join(root, 'm', 'index.json'))) {
  rmSync(root, { recursive: true, force: true });
  const store = await ModelStore.open(root, { create: true });
  const n = Math.max(1, Math.floor(bytes / (64 << 20)));
  const tensors = {};
  for (let i = 0; i < n; i++)
    tensors[`layer${String(i).padStart(3, '0')}/w`] = {
      dtype: 'float32',
      shape: [4096, 4096],
      data: new Float32Array(4096 * 4096).fill(i / n),
    };
  await store.save('m', tensors);
}
const store = await ModelStore.open(root);
const file = store.path('m', 1);
const size = statSync(file).size;
{
  const w = openSync(file, 'r');
  await rangeSha256(w, 0, size);
  closeSync(w);
} // warm the page cache (hashing, not I/O, is measured)

// File hash through one worker, and two halves on the two workers at once.
const fd = openSync(file, 'r');
const one = await timeIt(() => rangeSha256(fd, 0, size));
const half = Math.floor(size / 2);
const two = await timeIt(() => Promise.all([rangeSha256(fd, 0, half), rangeSha256(fd, half, size - half)]));
closeSync(fd);

// 3. Hot swap: time until the new version's tensors are usable, verified.
const load = async (o) => {
  const m = await store.load('m', 1, o);
  const h = m.hashed;
  m.close();
  return h;
};
const full = await timeIt(async () => {
  const h = await load({ reverify: true });
  if (!h.file || !h.tensors) throw new Error('expected a full check');
});
const metaChange = await timeIt(async () => {
  chmodSync(file, 0o644 ^ 0o004);
  chmodSync(file, 0o644); // ctime changes, bytes do not
  const h = await load();
  if (!h.file || h.tensors) throw new Error('expected the file hash only');
});
const fast = await timeIt(
  async () => {
    const h = await load();
    if (h.file || h.tensors) throw new Error('expected no hash');
  },
  Math.max(RUNS, 7),
);

const gbs = (r) => (size / 1e9 / (r.med / 1e3)).toFixed(2);
console.log(
  `\nverification, ${(size / 2 ** 30).toFixed(2)} GiB model (64 MiB tensors, page cache warm); ${machineLine()}; sha_ni: ${/\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'))}\n`,
);
console.log('| what | time (median, min, max) | rate |');
console.log('|---|---:|---:|');
console.log(`| peer: \`openssl speed -evp sha256 -bytes 16384\`, one core | — | ${opensslGBs.toFixed(2)} GB/s |`);
console.log(
  `| SHA-256, one core, 256 MiB in memory (createHash) | ${(mem.med).toFixed(0)} ms | ${memGBs.toFixed(2)} GB/s |`,
);
console.log(`| SHA-256 of the file, one hash worker (pread 4 MiB + hash) | ${fmt(one)} | ${gbs(one)} GB/s |`);
console.log(`| SHA-256 of the two halves, two workers at once | ${fmt(two)} | ${gbs(two)} GB/s |`);
console.log(
  `| hot swap, full check (store.load { reverify: true }: file digest, then every tensor) | ${fmt(full)} | ${gbs(full)} GB/s |`,
);
console.log(
  `| hot swap, file changed in metadata only (chmod: one file hash stands for the tensors) | ${fmt(metaChange)} | ${gbs(metaChange)} GB/s |`,
);
console.log(
  `| hot swap, verified once (store.load: record matches, nothing hashed) | ${(fast.med).toFixed(1)} ms (min ${fast.min.toFixed(1)}, max ${fast.max.toFixed(1)}) | — |`,
);
