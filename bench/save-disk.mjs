#!/usr/bin/env node
// Save at disk speed (issue 23, target 5): saveModel of an uncompressed model
// (1 GiB by default), fsync included, against `dd conv=fsync` writing the very
// same bytes (the saved file itself) to the same filesystem, interleaved round
// by round. Medians, the ratio dd/saveModel (1.00 = disk speed; the target is
// >= 0.80), and the load average with every figure.
//   node bench/save-disk.mjs [--dir DIR] [--mib 1024] [--tensors 16] [--rounds 3] [--bs 64M]
// Needs `npm run build` (dist/). DIR must be on the filesystem you care about
// (default: a directory under /tmp; both writers use it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { saveModel } from '../dist/index.js';
import { benchArgs, load1, machineLine, median, weightTensors } from './common.mjs';

const args = benchArgs(
  { dir: '/tmp/h5vault-bench-save-disk', mib: '1024', tensors: '16', rounds: '3', bs: '64M' },
  'node bench/save-disk.mjs [--dir DIR] [--mib 1024] [--tensors 16] [--rounds 3] [--bs 64M]',
);
const MIB = Number(args.mib);
const N = Number(args.tensors);
const ROUNDS = Number(args.rounds);
if (!(MIB > 0 && N > 0 && ROUNDS > 0)) throw new RangeError('--mib, --tensors and --rounds must be positive');
mkdirSync(args.dir, { recursive: true });

const model = weightTensors(MIB, N);
const saved = join(args.dir, 'model.h5');
const ddOut = join(args.dir, 'dd.out');

async function timeSave() {
  const t0 = performance.now();
  await saveModel(saved, model);
  return performance.now() - t0;
}

function timeDd() {
  rmSync(ddOut, { force: true }); // a new file each round, as saveModel writes a new temp
  const t0 = performance.now();
  execFileSync('dd', [`if=${saved}`, `of=${ddOut}`, `bs=${args.bs}`, 'conv=fsync'], { stdio: 'ignore' });
  // dd fsyncs the file; saveModel also fsyncs the directory after its rename: so does this.
  execFileSync('sync', ['--file-system', args.dir], { stdio: 'ignore' });
  return performance.now() - t0;
}

console.log(machineLine());
await timeSave(); // warm-up: addon, workers, and the file dd copies
const bytes = statSync(saved).size;
console.log(`model: ${N} float32 tensors, ${(bytes / 2 ** 30).toFixed(3)} GiB file; dd bs=${args.bs}; dir ${args.dir}`);
const s = [];
const d = [];
const loads = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate who goes first, so neither always writes behind the other's dirty pages.
  const pair =
    r % 2
      ? [() => d.push(timeDd()), async () => s.push(await timeSave())]
      : [async () => s.push(await timeSave()), () => d.push(timeDd())];
  for (const f of pair) await f();
  loads.push(load1());
  console.log(
    `round ${r + 1}: saveModel ${(s[r] / 1e3).toFixed(2)} s, dd ${(d[r] / 1e3).toFixed(2)} s, load ${loads[r]}`,
  );
}
const ms = median(s);
const md = median(d);
const gbps = (t) => ((bytes / 2 ** 20 / t) * 1e3).toFixed(0);
console.log(
  `median saveModel ${(ms / 1e3).toFixed(2)} s (${gbps(ms)} MiB/s), dd conv=fsync ${(md / 1e3).toFixed(2)} s (${gbps(md)} MiB/s); ` +
    `saveModel at ${((md / ms) * 100).toFixed(0)}% of dd (target >= 80%); load ${loads.join(', ')}`,
);
console.log(machineLine());
rmSync(ddOut, { force: true });
