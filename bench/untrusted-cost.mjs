#!/usr/bin/env node
// What `untrusted` costs (docs/security.md): writes a 300-tensor model (250
// contiguous float32 tensors + 50 chunked lz4 ones, 24 groups, attributes),
// then times, median of N runs each:
//   open     File.open(path) (trusted, no checks)
//   digest   File.openAsync(path, { expectDigest }) (streamed SHA-256, no walk)
//   walk     the metadata walk inside the child (libhdf5 work only)
//   spawn    walkUntrusted(): child start-up + addon load + walk + report
//   untrusted File.openAsync(path, { untrusted: true }) end to end
// Needs the addon and dist/ (npm run build:native && npm run build:ts).
//   node bench/untrusted-cost.mjs [N=21] [tensors=300]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { File, fileDigest, walkUntrusted } from '../dist/index.js';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs({}, 'node bench/untrusted-cost.mjs [N=21] [tensors=300]', { positionals: 2 });
const N = Number(args._[0] ?? 21);
const TENSORS = Number(args._[1] ?? 300);
const dir = mkdtempSync(join(tmpdir(), 'h5vault-untrusted-cost-'));
const path = join(dir, 'model.h5');

function writeModel() {
  const f = File.create(path, { overwrite: true });
  f.attrs.set('format', 'untrusted-cost');
  for (let i = 0; i < TENSORS; i++) {
    const g = `layers/${i % 24}`;
    const chunked = i % 6 === 5;
    const n = 64 * 256;
    const data = new Float32Array(n).map((_, k) => Math.sin(i + k));
    const d = f.createDataset(`${g}/t${i}`, {
      dtype: 'float32',
      shape: [64, 256],
      data,
      ...(chunked ? { chunks: [16, 256], compression: 'lz4' } : {}),
    });
    d.attrs.set('role', chunked ? 'compressed' : 'plain');
  }
  f.close();
}

async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

try {
  writeModel();
  const digest = await fileDigest(path);
  const rows = { open: [], digest: [], walk: [], spawn: [], untrusted: [] };
  for (let i = 0; i < N; i++) {
    rows.open.push(await time(() => File.open(path).close()));
    rows.digest.push(await time(async () => (await File.openAsync(path, { expectDigest: digest })).close()));
    const r = await walkUntrusted(path);
    rows.walk.push(r.walkMs);
    rows.spawn.push(r.totalMs);
    rows.untrusted.push(await time(async () => (await File.openAsync(path, { untrusted: true })).close()));
  }
  const r = await walkUntrusted(path);
  console.log(
    `model: ${TENSORS} tensors, ${r.stats.groups} groups, ${r.stats.attributes} attributes, ` +
      `${r.stats.chunks} chunks, ${(r.stats.fileSize / 2 ** 20).toFixed(1)} MiB; median of ${N} runs; ${machineLine()}`,
  );
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(10)} ${median(v).toFixed(2).padStart(8)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
