/**
 * What durability and verification cost: saveModel with and without fsync
 * against h5py writing the same bytes, loadModel with and without
 * verification, and how to hash 100 MB off the event loop (WebCrypto on the
 * libuv pool vs a worker thread vs the main thread). Medians of --runs runs;
 * writes docs/bench/save.md.
 *
 *   npx vite-node bench/save.ts -- [--mb 256] [--runs 5] [--dir DIR] [--out docs/bench/save.md]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { libraryInfo, loadModel, saveModel, type Tensor } from '../lib/index.js';
import { setFsyncForBenchmark } from '../lib/util/publish.js';
import { rangeSha256, tensorSha256 } from '../lib/model/digest.js';
import { parse, parseInteger, str } from '../lib/cli/args.js';
import { formatBytes, median } from '../lib/cli/output.js';
import { machineInfo } from '../lib/bench/benchmark.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';

// The bench scripts' one argument parser (the CLI's): unknown options and bad numbers are usage errors.
const { values } = parse(
  process.argv.slice(2).filter((a) => a !== '--'),
  { mb: { type: 'string' }, runs: { type: 'string' }, dir: { type: 'string' }, out: { type: 'string' } },
  { min: 0, max: 0, names: 'options only (--mb N --runs N --dir DIR --out FILE)' },
);
const opts = {
  mb: parseInteger(str(values.mb) ?? '256', '--mb', 1, 1 << 20),
  runs: parseInteger(str(values.runs) ?? '5', '--runs', 1, 1000),
  dir: str(values.dir),
  out: resolve(str(values.out) ?? join(ROOT, 'docs/bench/save.md')),
};

/** Eight float32 tensors of weight-like values (N(0, 0.02)-ish, deterministic). */
function makeModel(mb: number): Record<string, Tensor> {
  const per = Math.floor((mb * 1024 * 1024) / 8 / 4);
  const out: Record<string, Tensor> = {};
  let x = 0x12345678;
  for (let t = 0; t < 8; t++) {
    const a = new Float32Array(per);
    for (let i = 0; i < per; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      // Sum of two uniforms: a cheap bell shape with a realistic spread of exponents.
      a[i] = ((x >>> 0) / 2 ** 32 + (Math.imul(x, 0x9e3779b1) >>> 0) / 2 ** 32 - 1) * 0.03;
    }
    out[`layers/${t}/weight`] = { dtype: 'float32', shape: [per / 256, 256], data: a };
  }
  return out;
}

async function time(runs: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // warm-up: page cache, addon, worker start
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** Longest event-loop stall (ms) while fn runs. */
async function stall(fn: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await new Promise((r) => setTimeout(r, 5)); // let the sampling timer start first
  await fn();
  // Let the sampling timer run once more, so a synchronous block is recorded too.
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return h.max / 1e6;
}

const dir = opts.dir ? resolve(opts.dir) : mkdtempSync(join(tmpdir(), 'h5vault-bench-save-'));
mkdirSync(dir, { recursive: true });
const model = makeModel(opts.mb);
const bytes = Object.values(model).reduce((a, t) => a + t.data.byteLength, 0);
const MB = bytes / 2 ** 20;
const rows: string[] = [];
const row = (what: string, ms: number, extra = ''): void => {
  const line = `| ${what} | ${(ms / 1000).toFixed(3)} | ${(MB / (ms / 1000)).toFixed(0)} | ${extra} |`;
  rows.push(line);
  console.log(line);
};

// --- saves ----------------------------------------------------------------
const target = join(dir, 'model.h5');
for (const compression of ['none', 'gzip'] as const) {
  setFsyncForBenchmark(true);
  row(
    `h5vault saveModel, ${compression}, durable (fsync file + dir)`,
    await time(opts.runs, async () => {
      await saveModel(target, model, { compression });
    }),
  );
  setFsyncForBenchmark(false);
  row(
    `h5vault saveModel, ${compression}, no fsync`,
    await time(opts.runs, async () => {
      await saveModel(target, model, { compression });
    }),
  );
  setFsyncForBenchmark(true);
}

// h5py writes the very same bytes (read from a raw dump), timed inside Python.
const raw = join(dir, 'tensors.raw');
writeFileSync(
  raw,
  Buffer.concat(Object.values(model).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))),
);
const shapes = Object.values(model).map((t) => t.shape);
const py = `
import sys, os, json, time, h5py, numpy as np
raw, out, runs, shapes = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
flat = np.fromfile(raw, dtype='<f4')
arrs, o = [], 0
for s in shapes:
    n = int(np.prod(s)); arrs.append(flat[o:o + n].reshape(s)); o += n
def save(compression, durable):
    tmp = out + '.tmp'
    with h5py.File(tmp, 'w') as f:
        for i, a in enumerate(arrs):
            f.create_dataset(f'layers/{i}/weight', data=a, compression=compression)
    if durable:
        fd = os.open(tmp, os.O_RDONLY); os.fsync(fd); os.close(fd)
    os.replace(tmp, out)
    if durable:
        fd = os.open(os.path.dirname(out), os.O_RDONLY); os.fsync(fd); os.close(fd)
res = {}
for compression in [None, 'gzip']:
    for durable in [True, False]:
        save(compression, durable)
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter(); save(compression, durable); ts.append(time.perf_counter() - t0)
        res[f"{compression or 'none'}-{'durable' if durable else 'nofsync'}"] = sorted(ts)[len(ts) // 2] if runs % 2 else sum(sorted(ts)[runs // 2 - 1:runs // 2 + 1]) / 2
print(json.dumps(res))
`;
const pyRes = JSON.parse(
  execFileSync(PYTHON, ['-c', py, raw, join(dir, 'h5py.h5'), String(opts.runs), JSON.stringify(shapes)], {
    encoding: 'utf8',
  }),
) as Record<string, number>;
const h5pyVersion = execFileSync(
  PYTHON,
  ['-c', 'import h5py; print(h5py.version.version, h5py.version.hdf5_version)'],
  { encoding: 'utf8' },
).trim();
for (const [k, s] of Object.entries(pyRes)) {
  const [c, d] = k.split('-');
  row(
    `h5py ${h5pyVersion.split(' ')[0]}, ${c}, ${d === 'durable' ? 'durable (fsync file + dir, same protocol)' : 'no fsync'}`,
    s * 1000,
    'write + close only: no checksums',
  );
}
rmSync(raw);

// --- loads -----------------------------------------------------------------
await saveModel(target, model);
const loads: string[] = [];
for (const [what, o] of [
  ['loadModel verify: false (zero-copy views)', { verify: false }],
  ['loadModel verify: true (views, every tensor hashed)', { verify: true }],
  ['loadModel verify: true, copy: true', { verify: true, copy: true }],
] as const) {
  const ms = await time(opts.runs, async () => {
    (await loadModel(target, o)).close();
  });
  const line = `| ${what} | ${ms.toFixed(1)} | ${(MB / (ms / 1000)).toFixed(0)} |`;
  loads.push(line);
  console.log(line);
}

// --- hashing 100 MB ---------------------------------------------------------
const HMB = 100;
const buf = new Uint8Array(HMB * 2 ** 20);
for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 255;
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (u8) => parentPort.postMessage(createHash('sha256').update(u8).digest('hex')));
`;
const workers = [new Worker(WORKER, { eval: true }), new Worker(WORKER, { eval: true })];
const viaWorker = (w: Worker, u8: Uint8Array): Promise<string> =>
  new Promise((res) => {
    w.once('message', res);
    w.postMessage(u8); // structured clone: a copy on this thread, like WebCrypto's
  });
const quarters = [0, 1, 2, 3].map((i) => buf.subarray((i * buf.length) / 4, ((i + 1) * buf.length) / 4));
const hashes: string[] = [];
const hrow = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
  const ms = await time(opts.runs, async () => void (await fn()));
  const st = await stall(fn);
  const line = `| ${what} | ${ms.toFixed(1)} | ${(HMB / (ms / 1000)).toFixed(0)} | ${st.toFixed(1)} |`;
  hashes.push(line);
  console.log(line);
};
const hfile = join(dir, 'hash.raw');
writeFileSync(hfile, buf);
const hfd = openSync(hfile, 'r');
await hrow('h5vault worker pool reading the file (`rangeSha256`), 1 x 100 MB', () => rangeSha256(hfd, 0, buf.length));
await hrow('h5vault worker pool reading the file, 4 x 25 MB', () =>
  Promise.all([0, 1, 2, 3].map((i) => rangeSha256(hfd, (i * buf.length) / 4, buf.length / 4))),
);
await hrow('WebCrypto `subtle.digest` (libuv pool), 1 x 100 MB', () => tensorSha256(buf));
await hrow('worker thread (`postMessage` copy + `createHash`), 1 x 100 MB', () => viaWorker(workers[0]!, buf));
await hrow('main thread `createHash` (blocks the loop), 1 x 100 MB', async () =>
  createHash('sha256').update(buf).digest('hex'),
);
await hrow('WebCrypto, 4 x 25 MB in parallel', () => Promise.all(quarters.map((q) => tensorSha256(q))));
await hrow('2 worker threads, 4 x 25 MB', () =>
  Promise.all([
    viaWorker(workers[0]!, quarters[0]!).then(() => viaWorker(workers[0]!, quarters[2]!)),
    viaWorker(workers[1]!, quarters[1]!).then(() => viaWorker(workers[1]!, quarters[3]!)),
  ]),
);
await Promise.all(workers.map((w) => w.terminate()));
closeSync(hfd);
rmSync(hfile);

// --- report ------------------------------------------------------------------
const df = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split(/\s+/);
const cmd = `npx vite-node bench/save.ts -- --mb ${opts.mb} --runs ${opts.runs}${opts.dir ? ` --dir ${opts.dir}` : ''}`;
const machine = machineInfo();
const md = `# Save / load / hashing benchmark

Generated by \`${cmd}\` (bench/save.ts); medians of ${opts.runs} runs after one warm-up run.
Model: 8 float32 tensors, ${MB.toFixed(0)} MiB in total, weight-like values.
Machine: ${machine.cores} x ${machine.cpu}, ${formatBytes(machine.memoryBytes)} RAM (load average ${machine.loadavg.join(' ')} when the report was written; above ${machine.cores} means other work competed), Node ${machine.node},
libhdf5 ${libraryInfo().hdf5}, h5py/HDF5 ${h5pyVersion}; files on ${df[1]} (${df[0]}) at ${dir}.
The page cache is warm (not dropped between runs), so "no fsync" rows measure writes into memory.

## Saves

h5vault's rows include everything saveModel does: the write, SHA-256 of every
tensor (uncompressed ones read back from the file by worker threads, compressed
ones from memory during the writes), close, SHA-256 of the whole file (for
\`res.digest\`), rename, and, in durable rows, fsync of the file and its directory.
h5py's rows are only create + write + close (+ the same fsync/rename/fsync protocol
in its durable rows): no checksums.

| case | seconds | MiB/s | note |
|---|---:|---:|---|
${rows.join('\n')}

## Loads (uncompressed model above)

| case | ms | MiB/s |
|---|---:|---:|
${loads.join('\n')}

## Hashing ${HMB} MB off the event loop

"stall" is the longest event-loop delay observed during one run: the work the
calling thread still does (WebCrypto and postMessage both copy the input there;
the worker pool reads the file itself, so only the page cache is shared). The
100 MB are in the page cache for the file rows.

| method | ms | MB/s | stall ms |
|---|---:|---:|---:|
${hashes.join('\n')}
`;
mkdirSync(resolve(opts.out, '..'), { recursive: true });
writeFileSync(opts.out, md);
console.log(`wrote ${opts.out}`);
if (!opts.dir) rmSync(dir, { recursive: true, force: true });
