// Lazy remote reads of a 1 GiB model on a real radosgw: requests, bytes fetched
// and time for `ls` (every dataset's metadata and attributes) and for reading
// one 4 MiB tensor, through
//   - libhdf5's ROS3 driver alone, talking to radosgw (one GET per read libhdf5 makes);
//   - h5vault's block cache in front of ROS3 (lib/remote/lazy-file.ts) at several block sizes;
//   - and, for scale, one GetObject of the whole file (what a download costs).
//
//   npm run build:ts && node bench/s3-lazy.mjs [RUNS=5] [--mib 1024]
//
// Starts its own Ceph cluster (scripts/dev/s3-cluster.sh) unless S3_ENDPOINT and the
// AWS_* keys are set. Times are medians of RUNS fresh opens (a fresh open has an
// empty cache). ROS3's request count is the number of HTTP requests libhdf5 sends:
// the block cache counts them as they arrive (driverRequests), and ROS3 alone
// sends the same ones straight to the server.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { File, Group, Dataset, saveModel } from '../dist/index.js';
import { native } from '../dist/addon/binding.js';
import { benchArgs, machineLine, median } from './common.mjs';

const repo = fileURLToPath(new URL('../', import.meta.url));
const args = benchArgs({ mib: '1024' }, 'node bench/s3-lazy.mjs [RUNS=5] [--mib 1024]', { positionals: 1 });
const MIB = Number(args.mib);
const RUNS = Number(args._[0] ?? 5);
const TENSOR = 4 << 20;

const dir = mkdtempSync(join(tmpdir(), 'h5vault-bench-s3lazy-'));
let cluster;
if (!process.env.S3_ENDPOINT) {
  cluster = join(dir, 'ceph');
  const out = execFileSync('bash', [join(repo, 'scripts/dev/s3-cluster.sh'), 'start', cluster], { encoding: 'utf8' });
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]] = m[2];
}
const endpoint = process.env.S3_ENDPOINT;
const region = process.env.AWS_REGION ?? 'us-east-1';
const opts = { endpoint, region };
const client = new S3Client({ endpoint, region, forcePathStyle: true });
const ms = (t) => Number(t.toFixed(1));

try {
  // The model: MIB/4 weight tensors of 4 MiB, each with a 4 KiB bias, saved by saveModel (h5vault's layout).
  const n = Math.max(1, Math.floor((MIB << 20) / TENSOR));
  const tensors = {};
  for (let i = 0; i < n; i++) {
    const w = new Float32Array(TENSOR / 4);
    for (let k = 0; k < w.length; k += 1024) w[k] = i + k;
    tensors[`layers/${String(i).padStart(3, '0')}/weight`] = {
      dtype: 'float32',
      shape: [1024, TENSOR / 4096],
      data: w,
    };
    tensors[`layers/${String(i).padStart(3, '0')}/bias`] = {
      dtype: 'float32',
      shape: [1024],
      data: new Float32Array(1024).fill(i),
    };
  }
  const path = join(dir, 'model.h5');
  await saveModel(path, tensors, { metadata: { name: 'bench-1g' } });
  for (const k of Object.keys(tensors)) delete tensors[k];
  const size = statSync(path).size;
  const bucket = 'bench-lazy';
  const key = 'models/model.h5';
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => {});
  await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: createReadStream(path) },
    partSize: 64 << 20,
    queueSize: 4,
  }).done();
  const url = `s3://${bucket}/${key}`;
  const local = File.open(path);
  const names = [];
  const walk = (g) => {
    for (const k of g.keys()) {
      const o = g.get(k);
      if (o instanceof Dataset) names.push(o.path);
      else walk(o);
    }
  };
  walk(local);
  const one =
    names.find((p) => p.endsWith('/weight') && p.includes(`/${String(Math.floor(n / 2)).padStart(3, '0')}/`)) ??
    names[0];
  const want = Buffer.from((await local.dataset(one).read()).buffer);
  local.close();

  // What `h5vault ls` touches: every object's links, attributes and dataset description.
  const ls = (root) => {
    let count = 0;
    const go = (g) => {
      g.attrs.keys();
      for (const k of g.keys()) {
        const o = g.get(k);
        o.attrs.keys();
        if (o instanceof Dataset) {
          void [o.dtype, o.shape, o.layout, o.filters, o.storageSize, o.viewable];
          count++;
        } else go(o);
      }
    };
    go(root);
    return count;
  };
  const readOne = async (root) => {
    const v = await root.dataset(one).read();
    if (!Buffer.from(v.buffer).equals(want)) throw new Error(`wrong bytes for ${one}`);
  };

  const rows = [];
  const measure = async (name, open, op, statsOf) => {
    const times = [];
    let stats;
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      const { root, close, file } = open();
      await op(root);
      times.push(performance.now() - t0);
      stats = statsOf?.(file);
      close();
    }
    rows.push({ name, ms: ms(median(times)), ...stats });
  };
  const viaCache = (blockSize) => () => {
    const f = File.open(url, { ...opts, blockSize });
    return { root: f, file: f, close: () => f.close() };
  };
  const direct = () => {
    const fh = native.fileOpenRemote(url, `${endpoint}/${bucket}/${key}`, {
      authenticate: true,
      region,
      keyId: process.env.AWS_ACCESS_KEY_ID,
      secret: process.env.AWS_SECRET_ACCESS_KEY,
    });
    return { root: new Group(native.fileRoot(fh), '/'), close: () => native.fileClose(fh) };
  };
  const cacheStats = (f) => {
    const s = f.remote;
    return {
      s3Requests: s.s3Requests,
      bytesFetched: s.bytesFetched,
      ros3Requests: s.driverRequests,
      ros3Bytes: s.bytesRead,
    };
  };
  for (const [opName, op] of [
    ['ls', ls],
    ['read one 4 MiB tensor', readOne],
  ]) {
    await measure(`${opName}: ROS3 alone`, direct, op);
    for (const bs of [64 << 10, 256 << 10, 1 << 20, 4 << 20])
      await measure(`${opName}: block cache ${bs >> 10} KiB`, viaCache(bs), op, cacheStats);
  }
  // ROS3 alone sends exactly the requests the cache received.
  for (const r of rows) {
    if (!r.name.endsWith('ROS3 alone')) continue;
    const twin = rows.find((x) => x.name.startsWith(r.name.split(':')[0]) && x.ros3Requests !== undefined);
    Object.assign(r, { s3Requests: twin.ros3Requests, bytesFetched: twin.ros3Bytes });
  }
  // The whole file, for scale.
  {
    const times = [];
    for (let r = 0; r < Math.min(RUNS, 3); r++) {
      const t0 = performance.now();
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      let got = 0;
      for await (const c of res.Body) got += c.length;
      if (got !== size) throw new Error('short download');
      times.push(performance.now() - t0);
    }
    rows.push({ name: 'whole file: one GetObject', ms: ms(median(times)), s3Requests: 1, bytesFetched: size });
  }
  // The CLI, as a user runs it (a fresh process: includes Node and worker start-up).
  const cli = (argv) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(repo, 'dist/cli/main.js'), ...argv, '--json'], {
      encoding: 'utf8',
      env: process.env,
    });
    const t = performance.now() - t0;
    if (r.status !== 0) throw new Error(r.stderr);
    const j = JSON.parse(r.stdout);
    return {
      ms: ms(t),
      s3Requests: j.remote.s3Requests,
      bytesFetched: j.remote.bytesFetched,
      ros3Requests: j.remote.driverRequests,
    };
  };
  rows.push({ name: `CLI: h5vault ls ${url}`, ...cli(['ls', url]) });
  rows.push({ name: `CLI: h5vault info ${url}`, ...cli(['info', url]) });

  console.log(
    `file: ${(size / 2 ** 20).toFixed(1)} MiB, ${names.length} datasets; tensor read: ${one}; runs: ${RUNS} (median); ${machineLine()}`,
  );
  console.log('| what | time (ms) | requests to S3 | bytes fetched | % of file | libhdf5 reads |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.ms} | ${r.s3Requests ?? '-'} | ${r.bytesFetched ?? '-'} | ${r.bytesFetched === undefined ? '-' : ((100 * r.bytesFetched) / size).toFixed(3)} | ${r.ros3Requests ?? '-'} |`,
    );
} finally {
  client.destroy();
  if (cluster) spawnSync('bash', [join(repo, 'scripts/dev/s3-cluster.sh'), 'stop', cluster]);
  rmSync(dir, { recursive: true, force: true });
}
