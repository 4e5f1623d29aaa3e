// Content-addressed layout vs whole-file layout of the S3 model store, on a real Ceph radosgw
// on 127.0.0.1 (scripts/dev/s3-cluster.sh), pulls through a capped link (bench/capped-link.mjs).
//
//   npm run build:ts && node bench/cas.mjs [--mib 256] [--tensor-mib 1] [--versions 10] [--change 0.02]
//                                          [--runs 3] [--mbps 40] [--rtt 30] [--spread]
//
// A model of --mib MiB in float32 tensors of --tensor-mib MiB. --versions successive fine-tune-like
// versions, each retraining --change of the weights as whole tensors (a few layers: what
// whole-tensor addressing dedups). Published (straight to radosgw: bytes do not depend on the
// link) to one store with layout 'file' and one with layout 'tensors': bytes uploaded per version
// and bytes stored in the bucket, from the stores' own counters and a listing.
// Then, through a TCP proxy that caps every connection at --mbps MB/s each way and adds --rtt ms
// of round-trip time (--mbps 0: straight to radosgw), interleaved --runs times (medians), each
// into a fresh cache:
//   file parallel     S3ModelStore.pull of v2, layout 'file': ranged GETs, concurrency 8
//   file single       one GetObject stream of the same object to a file (no hash)
//   tensors c8 / c1   cold pull of v2, layout 'tensors', concurrency 8 / 1 (whole tensors)
//   tensors delta     a server with v1 cached (pulled beforehand, straight) pulls v2
// (For layout 'file' a cached v1 saves nothing: its delta pull is "file parallel".)
// --spread instead changes --change of the elements of EVERY tensor (small changes inside big
// tensors): no addressing dedups that; the figure says by how much it loses. --block changes one
// contiguous block of --change of the weights inside one tensor (with --tensor-mib above the
// store's 1 MiB pieces: what chunked tensors dedup, docs/object-storage.md#chunks-of-big-tensors).
// Uses S3_ENDPOINT/AWS_* from the env if set, else starts (and stops) a cluster of its own.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { S3Client, CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3ModelStore } from '../dist/index.js';
import { startCappedLink } from './capped-link.mjs';
import { benchArgs, machineLine, median } from './common.mjs';
import { rgwCpuMs, s3BenchEnv } from './s3-env.mjs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Every pull starts from a collected heap: the cold pulls before it leave ~256 MiB of tensors
// each as garbage, whose collection would otherwise land in whichever case runs next.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');

const args = benchArgs(
  {
    mib: '256',
    'tensor-mib': '1',
    versions: '10',
    change: '0.02',
    runs: '3',
    mbps: '40',
    rtt: '30',
    spread: false,
    block: false,
  },
  'node bench/cas.mjs [--mib 256] [--tensor-mib 1] [--versions 10] [--change 0.02] [--runs 3] [--mbps 40] [--rtt 30] [--spread | --block]',
);
const MIB = Number(args.mib);
const TENSOR_MIB = Number(args['tensor-mib']);
const VERSIONS = Number(args.versions);
const CHANGE = Number(args.change);
const RUNS = Number(args.runs);
const MBPS = Number(args.mbps);
const RTT = Number(args.rtt);
const SPREAD = args.spread;
const BLOCK = args.block;
if (SPREAD && BLOCK) {
  console.error('cas.mjs: --spread and --block are two different changes; pick one');
  process.exit(2);
}

const work = s3BenchEnv('cas');
const endpoint = process.env.S3_ENDPOINT;
const client = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
const bucket = `bench-cas-${Date.now()}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const conn = { endpoint, region: process.env.AWS_REGION ?? 'us-east-1' };
const open = (prefix, layout, cache, extra = {}) =>
  S3ModelStore.open(`s3://${bucket}/${prefix}`, {
    ...conn,
    layout,
    create: true,
    cacheDir: join(work, cache),
    ...extra,
  });

// Deterministic pseudo-random floats (xorshift), cheap enough for 256 MiB.
function fill(a, seed) {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = ((x >>> 0) / 4294967296 - 0.5) * 0.1;
  }
}
const perTensor = (TENSOR_MIB * 1024 * 1024) / 4;
const nTensors = Math.max(1, Math.round(MIB / TENSOR_MIB));
const model = {};
for (let i = 0; i < nTensors; i++) {
  const data = new Float32Array(perTensor);
  fill(data, i + 1);
  model[`layers/${String(i).padStart(4, '0')}/w`] = { dtype: 'float32', shape: [perTensor], data };
}
const names = Object.keys(model);
/** The next fine-tune: a new model object sharing the unchanged tensors' memory. */
function fineTune(prev, v) {
  const next = { ...prev };
  if (BLOCK) {
    // One contiguous run of --change of the model's weights inside one tensor (a block of
    // embedding rows retrained), at a different tensor and offset each version.
    const n = names[(v * 37) % nTensors];
    const data = Float32Array.from(prev[n].data);
    const k = Math.min(data.length, Math.max(1, Math.round((CHANGE * MIB * 2 ** 20) / 4)));
    const at = ((v * 104729 * 1024) % (data.length - k + 1)) | 0;
    for (let e = at; e < at + k; e++) data[e] += 1e-3;
    next[n] = { ...prev[n], data };
  } else if (SPREAD) {
    for (const n of names) {
      const data = Float32Array.from(prev[n].data);
      const k = Math.max(1, Math.round(CHANGE * data.length));
      for (let j = 0; j < k; j++) data[(j * 7919 + v * 104729) % data.length] += 1e-3;
      next[n] = { ...prev[n], data };
    }
  } else {
    const k = Math.max(1, Math.round(CHANGE * nTensors));
    for (let j = 0; j < k; j++) {
      const n = names[(v * 37 + j * 11) % nTensors];
      const data = Float32Array.from(prev[n].data);
      for (let e = 0; e < data.length; e++) data[e] += 1e-3;
      next[n] = { ...prev[n], data };
    }
  }
  return next;
}
async function storedBytes(prefix) {
  let bytes = 0;
  let token;
  do {
    const r = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    for (const o of r.Contents ?? []) bytes += o.Size;
    token = r.NextContinuationToken;
  } while (token);
  return bytes;
}

const mib = (b) => (b / 2 ** 20).toFixed(2);
console.log(
  `model: ${nTensors} float32 tensors of ${TENSOR_MIB} MiB (${MIB} MiB); ${VERSIONS} versions, ${BLOCK ? `a block of ${CHANGE * 100}% of the weights inside one tensor` : SPREAD ? `${CHANGE * 100}% of the elements of every tensor` : `${Math.max(1, Math.round(CHANGE * nTensors))} whole tensors (${(100 * Math.max(1, Math.round(CHANGE * nTensors))) / nTensors}%)`} changed per version`,
);
const pubs = { file: await open('file', 'file', 'pub-file'), tensors: await open('tensors', 'tensors', 'pub-tensors') };
let m = model;
const rows = [];
for (let v = 1; v <= VERSIONS; v++) {
  if (v > 1) m = fineTune(m, v);
  const row = { v };
  for (const layout of ['file', 'tensors']) {
    const before = pubs[layout].stats().bytesUploaded;
    const t0 = performance.now();
    await pubs[layout].save('m', m, { metadata: { step: v } });
    row[`${layout}Ms`] = performance.now() - t0;
    row[layout] = pubs[layout].stats().bytesUploaded - before;
  }
  rows.push(row);
  console.log(
    `v${v}: uploaded file ${mib(row.file)} MiB (${row.fileMs.toFixed(0)} ms), tensors ${mib(row.tensors)} MiB (${row.tensorsMs.toFixed(0)} ms) = ${((100 * row.tensors) / row.file).toFixed(2)}%`,
  );
}
const stored = { file: await storedBytes('file'), tensors: await storedBytes('tensors') };
const later = rows.slice(1);
const upFile = later.reduce((a, r) => a + r.file, 0);
const upTensors = later.reduce((a, r) => a + r.tensors, 0);
console.log(
  `versions 2-${VERSIONS}: uploaded ${mib(upTensors)} MiB vs ${mib(upFile)} MiB whole-file = ${((100 * upTensors) / upFile).toFixed(2)}% per version`,
);
console.log(
  `stored after ${VERSIONS} versions: tensors ${mib(stored.tensors)} MiB vs file ${mib(stored.file)} MiB = ${((100 * stored.tensors) / stored.file).toFixed(2)}%`,
);

// Pulls of v2 through the capped link.
const link = MBPS > 0 ? await startCappedLink({ target: endpoint, mbps: MBPS, rttMs: RTT }) : null;
const viaLink = { endpoint: link ? link.endpoint : endpoint };
const linkClient = new S3Client({ ...conn, ...viaLink, forcePathStyle: true });
const fileRec = await pubs.file.record('m', 2);
const fileKey = `${pubs.file.prefix}/${fileRec.object}`;
const cases = {
  'file parallel': async (r) => {
    const s = await open('file', 'file', `c-fp-${r}`, viaLink);
    await s.pull('m', 2);
    return { s, bytes: s.stats().bytesDownloaded };
  },
  'file single': async (r) => {
    const res = await linkClient.send(new GetObjectCommand({ Bucket: bucket, Key: fileKey }));
    await pipeline(res.Body, createWriteStream(join(work, `single-${r}.h5`)));
    return { bytes: fileRec.bytes };
  },
  'tensors c8': async (r) => {
    const s = await open('tensors', 'tensors', `c-t8-${r}`, viaLink);
    await s.pull('m', 2);
    return { s, bytes: s.stats().bytesDownloaded };
  },
  'tensors c1': async (r) => {
    const s = await open('tensors', 'tensors', `c-t1-${r}`, { ...viaLink, concurrency: 1 });
    await s.pull('m', 2);
    return { s, bytes: s.stats().bytesDownloaded };
  },
  'tensors delta': async (r) => {
    const s = await open('tensors', 'tensors', `c-td-${r}`, viaLink);
    await s.pull('m', 2);
    return { s, bytes: s.stats().bytesDownloaded };
  },
};
const results = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < RUNS; r++) {
  // The delta server's v1, pulled straight (not timed).
  const pre = await open('tensors', 'tensors', `c-td-${r}`);
  await pre.pull('m', 1);
  pre.destroy();
  for (const [name, run] of Object.entries(cases)) {
    collect();
    const l0 = link ? await link.stats() : null;
    const rgw0 = rgwCpuMs(work);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { s, bytes } = await run(r);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const rgw1 = rgwCpuMs(work);
    const l1 = link ? await link.stats() : null;
    s?.destroy();
    results[name].push({
      ms,
      bytes,
      connections: l1 ? l1.connections - l0.connections : 0,
      proxyCpuMs: l1 ? l1.cpuMs - l0.cpuMs : 0,
      pullerCpuMs: (cpu.user + cpu.system) / 1e3,
      rgwCpuMs: rgw0 === null || rgw1 === null ? Number.NaN : rgw1 - rgw0,
    });
  }
}
console.log(
  link
    ? `pulls of v2 through a link capped at ${MBPS} MB/s per connection each way, RTT ${RTT} ms (median of ${RUNS}, interleaved):`
    : `pulls of v2 straight to radosgw (median of ${RUNS}, interleaved):`,
);
const med = {};
for (const [name, rs] of Object.entries(results)) {
  med[name] = { ms: median(rs.map((x) => x.ms)), bytes: rs[0].bytes };
  const conns = median(rs.map((x) => x.connections));
  const cpu = median(rs.map((x) => x.proxyCpuMs));
  const own = median(rs.map((x) => x.pullerCpuMs));
  const rgw = median(rs.map((x) => x.rgwCpuMs));
  console.log(
    `  ${name.padEnd(14)} ${mib(med[name].bytes).padStart(8)} MiB in ${med[name].ms.toFixed(0).padStart(6)} ms = ${((med[name].bytes / 1e6 / med[name].ms) * 1e3).toFixed(1).padStart(6)} MB/s  (runs ${rs.map((x) => x.ms.toFixed(0)).join(', ')} ms; ${conns} new connections; CPU ms: puller ${own.toFixed(0)}, radosgw ${rgw.toFixed(0)}, proxy ${cpu.toFixed(0)})`,
  );
}
const ratio = (a, b) => (med[a].ms > 0 ? (med[b].ms / med[a].ms).toFixed(2) : '-');
console.log(`  parallel vs single stream, whole file: ${ratio('file parallel', 'file single')}x (goal >= 3x)`);
console.log(`  parallel vs single stream, tensors cold: ${ratio('tensors c8', 'tensors c1')}x (goal >= 3x)`);
console.log(
  `  v1 cached, pull v2: tensors ${mib(med['tensors delta'].bytes)} MiB vs whole-file ${mib(med['file parallel'].bytes)} MiB = ${((100 * med['tensors delta'].bytes) / med['file parallel'].bytes).toFixed(2)}% of the bytes (goal <= 5%), ${ratio('tensors delta', 'file parallel')}x faster (goal >= 10x)`,
);
console.log(machineLine());
for (const s of Object.values(pubs)) s.destroy();
client.destroy();
linkClient.destroy();
await link?.close();
