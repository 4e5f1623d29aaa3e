// S3 model store benchmarks against a real Ceph radosgw on 127.0.0.1 (scripts/dev/s3-cluster.sh).
//
//   npm run build:ts && node bench/s3.mjs [--mib 1024] [--runs 3] [--swap-mib 64] [--swaps 3]
//
// 1. Pull throughput of one version of --mib MiB into an empty cache, three ways, interleaved
//    --runs times (medians):
//      h5vault   S3ModelStore.pull: parallel ranged GETs (16 MiB x 8) into the cache file,
//                SHA-256 of the file checked, fsync, rename (what load() does before mapping)
//      single    one GetObject stream piped to a file (what a user writes by hand; no hash)
//      curl      curl --aws-sigv4 of the object to a file: the loopback limit of this server
// 2. Publish -> serving on another process: a child serves the model (ModelStore.serve,
//    100 ms watch interval, its own cache); we publish a --swap-mib MiB version and time from
//    save() resolving until the child serves it (watch + pull + verify + swap), --swaps times.
// 3. 8 puller processes (--pullers) of a --pullers-mib MiB version into one shared cache: wall
//    time until all have loaded and verified it, and how many downloaded (must be 1).
// Uses S3_ENDPOINT/AWS_* from the env if set, else starts (and stops) a cluster of its own.
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createWriteStream, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { S3Client, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { S3ModelStore } from '../dist/index.js';
import { benchArgs, median } from './common.mjs';
import { s3BenchEnv } from './s3-env.mjs';

const repo = fileURLToPath(new URL('../', import.meta.url));
const args = benchArgs(
  { mib: '1024', runs: '3', 'swap-mib': '64', swaps: '3', pullers: '8', 'pullers-mib': '512' },
  'node bench/s3.mjs [--mib 1024] [--runs 3] [--swap-mib 64] [--swaps 3] [--pullers 8] [--pullers-mib 512]',
);
const MIB = Number(args.mib);
const RUNS = Number(args.runs);
const SWAP_MIB = Number(args['swap-mib']);
const SWAPS = Number(args.swaps);
const PULLERS = Number(args.pullers);
const PULLERS_MIB = Number(args['pullers-mib']);

const work = s3BenchEnv('s3');
const endpoint = process.env.S3_ENDPOINT;

// curl signs with SigV4 itself; the keys go through a config file, never on a command line (ps, error messages).
const curlCfg = join(work, 'curl.cfg');
writeFileSync(curlCfg, `user = "${process.env.AWS_ACCESS_KEY_ID}:${process.env.AWS_SECRET_ACCESS_KEY}"\n`, {
  mode: 0o600,
});
function curl(out, objectUrl) {
  const r = spawnSync('curl', [
    '-sf',
    '-K',
    curlCfg,
    '--aws-sigv4',
    `aws:amz:${process.env.AWS_REGION ?? 'us-east-1'}:s3`,
    // radosgw checks the payload hash header, which curl 7.88 does not send on its own
    '-H',
    'x-amz-content-sha256: UNSIGNED-PAYLOAD',
    '-o',
    out,
    objectUrl,
  ]);
  if (r.status !== 0) throw new Error(`curl exited ${r.status}`);
}
const client = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
const bucket = `bench-${Date.now()}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const url = `s3://${bucket}/bench`;

function model(mib, seed) {
  const data = new Uint8Array(mib * 1024 * 1024);
  randomFillSync(data); // incompressible, like trained weights
  data[0] = seed;
  return { weights: { dtype: 'uint8', shape: [data.length], data } };
}

// --- 1. pull throughput ---
const pub = await S3ModelStore.open(url, { endpoint, cacheDir: join(work, 'pub'), create: true });
let t = performance.now();
await pub.save('big', model(MIB, 1));
const publishMs = performance.now() - t;
const rec = await pub.record('big', 1);
const key = `bench/${rec.object}`;
rmSync(join(work, 'pub'), { recursive: true, force: true }); // the publisher's copy is not needed

const res = { h5vault: [], single: [], curl: [] };
for (let r = 0; r < RUNS; r++) {
  const cacheDir = join(work, `pull-${r}`);
  const store = await S3ModelStore.open(url, { endpoint, cacheDir });
  t = performance.now();
  const p = await store.pull('big', 1);
  res.h5vault.push(performance.now() - t);
  if (!p.downloaded) throw new Error('expected a download');
  store.destroy();
  rmSync(cacheDir, { recursive: true, force: true });

  const file = join(work, `single-${r}`);
  t = performance.now();
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(got.Body, createWriteStream(file));
  res.single.push(performance.now() - t);
  if (statSync(file).size !== rec.bytes) throw new Error('short single-stream download');
  rmSync(file);

  const cfile = join(work, `curl-${r}`);
  t = performance.now();
  curl(cfile, `${endpoint}/${bucket}/${key}`);
  res.curl.push(performance.now() - t);
  if (statSync(cfile).size !== rec.bytes) throw new Error('short curl download');
  rmSync(cfile);
}
const mibs = (ms) => rec.bytes / 1048576 / (ms / 1000);
const m = { h5vault: median(res.h5vault), single: median(res.single), curl: median(res.curl) };
console.log(
  `\npull of a ${MIB} MiB version (file ${rec.bytes} bytes), median of ${RUNS} interleaved runs; publish took ${(publishMs / 1000).toFixed(1)} s (${mibs(publishMs).toFixed(0)} MiB/s)\n`,
);
console.log('| method | median s | MiB/s | vs single stream | vs curl |');
console.log('|---|---|---|---|---|');
for (const [k, label] of [
  ['h5vault', 'h5vault pull (8 ranged GETs + SHA-256 + rename)'],
  ['single', 'single GetObject stream to a file'],
  ['curl', 'curl --aws-sigv4 to a file (loopback limit)'],
]) {
  console.log(
    `| ${label} | ${(m[k] / 1000).toFixed(2)} | ${mibs(m[k]).toFixed(0)} | ${(m.single / m[k]).toFixed(2)}x | ${((m.curl / m[k]) * 100).toFixed(0)}% |`,
  );
}
console.log(
  `runs (ms): ${JSON.stringify(Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.map(Math.round)])))}`,
);

// --- 2. publish -> serving on another process ---
const swapStore = await S3ModelStore.open(url, { endpoint, cacheDir: join(work, 'swap-pub') });
await swapStore.save('swap', model(SWAP_MIB, 0));
const childSrc = `
import { S3ModelStore } from ${JSON.stringify(join(repo, 'dist/index.js'))};
const store = await S3ModelStore.open(${JSON.stringify(url)}, { endpoint: ${JSON.stringify(endpoint)}, cacheDir: ${JSON.stringify(join(work, 'swap-serve'))} });
const server = await store.serve('swap', { intervalMs: 100, onSwap: (e) => console.log(JSON.stringify({ to: e.to, at: Date.now(), loadMs: e.loadMs })) });
process.stdin.on('end', async () => { await server.close(); store.destroy(); });
process.stdin.resume();
`;
const child = spawn(process.execPath, ['--input-type=module', '-e', childSrc], { stdio: ['pipe', 'pipe', 'inherit'] });
const swaps = [];
let buf = '';
const waiters = new Map();
child.stdout.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const e = JSON.parse(line);
    waiters.get(e.to)?.(e);
  }
});
const swapped = (v) => new Promise((r) => waiters.set(v, r));
await swapped(1);
for (let s = 0; s < SWAPS; s++) {
  const tSave = Date.now();
  const next = swapped(s + 2);
  await swapStore.save('swap', model(SWAP_MIB, s + 1));
  const tCommit = Date.now();
  const e = await next;
  swaps.push({ saveMs: tCommit - tSave, serveMs: e.at - tCommit, loadMs: e.loadMs });
}
child.stdin.end();
await new Promise((r) => child.on('exit', r));
const sm = (k) => median(swaps.map((x) => x[k]));
console.log(
  `\npublish -> serving on another process, ${SWAP_MIB} MiB version, ${SWAPS} swaps (median): save ${sm('saveMs')} ms (write + upload + commit); ` +
    `commit -> serving ${sm('serveMs')} ms (of which the server's pull + verify + load ${Math.round(sm('loadMs'))} ms; the rest is the 100 ms watch interval)`,
);
console.log(`swaps: ${JSON.stringify(swaps.map((x) => ({ ...x, loadMs: Math.round(x.loadMs) })))}`);

// --- 3. concurrent pullers on one cache ---
await swapStore.save('shared', model(PULLERS_MIB, 9));
const shared = join(work, 'shared-cache');
const pullSrc = `
import { S3ModelStore } from ${JSON.stringify(join(repo, 'dist/index.js'))};
const store = await S3ModelStore.open(${JSON.stringify(url)}, { endpoint: ${JSON.stringify(endpoint)}, cacheDir: ${JSON.stringify(shared)} });
const m = await store.load('shared');
console.log(JSON.stringify({ downloaded: m.pull.downloaded, digest: m.digest }));
m.close(); store.destroy();
`;
t = performance.now();
const outs = await Promise.all(
  Array.from(
    { length: PULLERS },
    () =>
      new Promise((resolve, reject) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', pullSrc], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let o = '';
        c.stdout.on('data', (d) => (o += d));
        c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(o)) : reject(new Error(`puller exited ${code}`))));
      }),
  ),
);
const wall = performance.now() - t;
console.log(
  `\n${PULLERS} puller processes, one cache, ${PULLERS_MIB} MiB version: all loaded and verified in ${(wall / 1000).toFixed(1)} s; ` +
    `downloads: ${outs.filter((x) => x.downloaded).length}; identical digests: ${new Set(outs.map((x) => x.digest)).size === 1}`,
);
pub.destroy();
swapStore.destroy();
client.destroy();
