#!/usr/bin/env node
// The S3 store's pulls of a chunked model (layout 'tensors') before/after a change, in one run:
// alternating child processes, one per build (dist/ directories), each pulls v1 cold and then v2
// (one block of rows of one tensor changed: 6 pieces of 1 MiB) with v1 cached, into a fresh cache,
// straight to radosgw (no capped link: this measures the puller, not the network). Prints each
// build's median wall time and process CPU time (user + system, all threads) per pull.
//
//   npm run build:ts && node bench/pull-ab.mjs --base /path/to/old/dist [--head dist] [--rounds 3]
//
// A build's own addon is found as usual (H5VAULT_BINDING for a dist/ copied elsewhere).
// Uses S3_ENDPOINT/AWS_* from the env if set, else starts (and stops) a cluster of its own.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs(
  { base: undefined, head: 'dist', rounds: '3', child: undefined, url: undefined, cache: undefined },
  'node bench/pull-ab.mjs --base /path/to/old/dist [--head dist] [--rounds 3]',
);

const options = (cacheDir) => ({
  endpoint: process.env.S3_ENDPOINT,
  region: process.env.AWS_REGION ?? 'us-east-1',
  layout: 'tensors',
  create: true,
  cacheDir,
});

if (args.child) {
  const { S3ModelStore } = await import(resolve(args.child, 'index.js'));
  const s = await S3ModelStore.open(args.url, options(args.cache));
  const pull = async (v) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await s.pull('m', v);
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  };
  const cold = await pull(1);
  const delta = await pull(2);
  const st = s.stats();
  console.log(JSON.stringify({ cold, delta, downloaded: st.bytesDownloaded, copied: st.bytesCopied }));
  s.destroy();
  process.exit(0);
}

if (!args.base) {
  console.error('pull-ab.mjs: --base is required (the dist/ directory of the build to compare against)');
  process.exit(2);
}
const { s3BenchEnv } = await import('./s3-env.mjs');
const work = s3BenchEnv('pull-ab');
const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
const { S3ModelStore } = await import(resolve(args.head, 'index.js'));
const bucket = `bench-pull-ab-${Date.now()}`;
const client = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1' });
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const url = `s3://${bucket}/m`;
// 16 tensors of 16 MiB (256 MiB), published once with the head build.
const pub = await S3ModelStore.open(url, options(join(work, 'pub')));
const model = {};
let x = 0x2545f491;
for (let i = 0; i < 16; i++) {
  const a = new Float32Array(4 << 20);
  for (let j = 0; j < a.length; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[j] = ((x >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
  model[`w${String(i).padStart(2, '0')}`] = { dtype: 'float32', shape: [4096, 1024], data: a };
}
await pub.save('m', model);
const d = Float32Array.from(model.w07.data);
for (let j = 100_000; j < 100_000 + (5 << 18); j++) d[j] += 1e-3; // 5 MiB of rows: 6 pieces
await pub.save('m', { ...model, w07: { ...model.w07, data: d } });
pub.destroy();

const builds = { base: resolve(args.base), head: resolve(args.head) };
const got = { base: [], head: [] };
for (let r = 0; r < Number(args.rounds); r++)
  for (const [k, dist] of Object.entries(builds)) {
    const cache = join(work, `${k}-${r}`);
    const out = execFileSync(
      process.execPath,
      [new URL(import.meta.url).pathname, '--child', dist, '--url', url, '--cache', cache],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    got[k].push(JSON.parse(out.trim().split('\n').pop()));
    rmSync(cache, { recursive: true, force: true });
  }

const f = (xs) => Math.round(median(xs));
console.log(`256 MiB in 16 chunked tensors; v2 changes 6 pieces of one; ${args.rounds} rounds, alternating`);
for (const [k, runs] of Object.entries(got)) {
  const [r] = runs;
  console.log(
    `${k}: cold pull ${f(runs.map((x) => x.cold.ms))} ms (CPU ${f(runs.map((x) => x.cold.cpu))} ms), ` +
      `delta pull ${f(runs.map((x) => x.delta.ms))} ms (CPU ${f(runs.map((x) => x.delta.cpu))} ms); ` +
      `downloaded ${r.downloaded} B, kernel-copied ${r.copied} B  (${builds[k]})`,
  );
}
console.log(machineLine());
