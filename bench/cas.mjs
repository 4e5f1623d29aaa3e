// Content-addressed layout vs whole-file layout of the S3 model store, on a real Ceph radosgw
// on 127.0.0.1 (scripts/dev/s3-cluster.sh).
//
//   npm run build:ts && node bench/cas.mjs [--mib 256] [--tensor-mib 1] [--versions 10] [--change 0.02]
//
// A model of --mib MiB in float32 tensors of --tensor-mib MiB. --versions successive fine-tune-like
// versions, each retraining --change of the weights as whole tensors (a few layers: what
// whole-tensor addressing dedups). Published to one store with layout 'file' and one with
// layout 'tensors': bytes uploaded per version and bytes stored in the bucket, from the stores'
// own counters and a listing. Then a server with v1 cached pulls v2 from each: bytes downloaded
// and wall time (median of --runs, fresh caches each run).
// --spread instead changes --change of the elements of EVERY tensor (small changes inside big
// tensors): whole-tensor addressing cannot dedup that; the figure says by how much it loses.
// On loopback: no bandwidth cap and no added latency (that part of issue 25 is not built).
// Uses S3_ENDPOINT/AWS_* from the env if set, else starts (and stops) a cluster of its own.
import { join } from 'node:path';
import { S3Client, CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3ModelStore } from '../dist/index.js';
import { s3BenchEnv } from './s3-env.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const MIB = opt('--mib', 256);
const TENSOR_MIB = opt('--tensor-mib', 1);
const VERSIONS = opt('--versions', 10);
const CHANGE = opt('--change', 0.02);
const RUNS = opt('--runs', 3);
const SPREAD = args.includes('--spread');

const work = s3BenchEnv('cas');
const endpoint = process.env.S3_ENDPOINT;
const client = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
const bucket = `bench-cas-${Date.now()}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const conn = { endpoint, region: process.env.AWS_REGION ?? 'us-east-1' };
const open = (prefix, layout, cache) =>
  S3ModelStore.open(`s3://${bucket}/${prefix}`, { ...conn, layout, create: true, cacheDir: join(work, cache) });

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
  if (SPREAD) {
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
  `model: ${nTensors} float32 tensors of ${TENSOR_MIB} MiB (${MIB} MiB); ${VERSIONS} versions, ${SPREAD ? `${CHANGE * 100}% of the elements of every tensor` : `${Math.max(1, Math.round(CHANGE * nTensors))} whole tensors (${(100 * Math.max(1, Math.round(CHANGE * nTensors))) / nTensors}%)`} changed per version`,
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

// A server with v1 cached pulls v2.
const pulls = { file: [], tensors: [] };
for (let r = 0; r < RUNS; r++) {
  for (const layout of ['file', 'tensors']) {
    const s = await open(layout, layout, `server-${layout}-${r}`);
    await s.pull('m', 1);
    const before = s.stats().bytesDownloaded;
    const t0 = performance.now();
    await s.pull('m', 2);
    pulls[layout].push({ ms: performance.now() - t0, bytes: s.stats().bytesDownloaded - before });
    s.destroy();
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const pf = { ms: med(pulls.file.map((p) => p.ms)), bytes: pulls.file[0].bytes };
const pt = { ms: med(pulls.tensors.map((p) => p.ms)), bytes: pulls.tensors[0].bytes };
console.log(
  `v1 cached, pull v2 (median of ${RUNS}): file ${mib(pf.bytes)} MiB in ${pf.ms.toFixed(0)} ms; tensors ${mib(pt.bytes)} MiB in ${pt.ms.toFixed(0)} ms = ${((100 * pt.bytes) / pf.bytes).toFixed(2)}% of the bytes, ${(pf.ms / pt.ms).toFixed(2)}x faster`,
);
for (const s of Object.values(pubs)) s.destroy();
client.destroy();
