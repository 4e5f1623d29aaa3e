// Swap latency of examples/server.mjs: publish → first answer from the new version.
//
//   npm run build:ts && node bench/swap.mjs [SWAPS=50] [--clients N]
//
// Starts the example server (onnxruntime-node + ModelStore.serve) as a child
// process on 127.0.0.1, publishes SWAPS versions one after another with
// ModelStore.save and, for each, measures from the moment save() resolved
// (the index names the new version) until GET /version first answers with
// it, polling as fast as one keep-alive connection allows. Also prints the
// server's own load time per swap (file hash + tensor verification + load
// hook) and its RssAnon after a full GC at each swap. With --clients N, N
// connections send POST /infer meanwhile (the latency under load).
import { spawn, spawnSync } from 'node:child_process';
import { request, Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelStore } from '../dist/index.js';
import { linearWeights } from '../examples/linear-weights.mjs';
import { benchArgs } from './common.mjs';

const repo = fileURLToPath(new URL('../', import.meta.url));
const args = benchArgs({ clients: '0' }, 'node bench/swap.mjs [SWAPS=50] [--clients N]', { positionals: 1 });
const clients = Number(args.clients);
const SWAPS = Number(args._[0] ?? 50);
const python = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';

const dir = mkdtempSync(join(tmpdir(), 'h5vault-bench-swap-'));
const onnx = join(dir, 'linear.onnx');
const py = spawnSync(python, [join(repo, 'examples/linear_onnx.py'), onnx], { stdio: 'inherit' });
if (py.status !== 0) throw new Error(`${python} examples/linear_onnx.py failed (python3-onnx installed?)`);
const store = await ModelStore.open(join(dir, 'store'), { create: true });
await store.save('linear', linearWeights(1));

const events = [];
const child = spawn(
  process.execPath,
  ['--expose-gc', join(repo, 'examples/server.mjs'), store.root, 'linear', onnx, '0'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let buf = '';
child.stdout.on('data', (d) => {
  buf += d;
  for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
    events.push(JSON.parse(buf.slice(0, nl)));
    buf = buf.slice(nl + 1);
  }
});
while (!events.some((e) => e.event === 'listening')) await new Promise((r) => setTimeout(r, 10));
const port = events.find((e) => e.event === 'listening').port;

const agent = new Agent({ keepAlive: true, maxSockets: clients + 1 });
const call = (method, path, body) =>
  new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : undefined;
    const req = request(
      { host: '127.0.0.1', port, path, method, agent, headers: data ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve(JSON.parse(t)));
      },
    );
    req.on('error', reject);
    req.end(data);
  });

let stop = false;
let served = 0;
const load = Promise.all(
  Array.from({ length: clients }, async () => {
    while (!stop) {
      await call('POST', '/infer', { x: [[1, 2, 3, 4]] });
      served++;
    }
  }),
);

const latency = [];
for (let v = 2; v <= SWAPS + 1; v++) {
  await store.save('linear', linearWeights(v));
  const t0 = performance.now();
  while ((await call('GET', '/version')).version !== v) {
    /* poll */
  }
  latency.push(performance.now() - t0);
}
stop = true;
await load;
agent.destroy();
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
rmSync(dir, { recursive: true, force: true });

const swaps = events.filter((e) => e.event === 'swap' && e.from !== null);
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const l = stats(latency);
const lm = stats(swaps.map((e) => e.loadMs));
const rss = (i) => swaps[Math.min(i, swaps.length) - 1]?.rssAnonKiB;
if (process.env.SWAP_RSS_SERIES) console.log(swaps.map((e) => e.rssAnonKiB).join(' '));
console.log(
  `| ${SWAPS} | ${clients} | ${l.median.toFixed(1)} ms | ${l.max.toFixed(1)} ms | ${lm.median.toFixed(1)} ms | ${lm.max.toFixed(1)} ms | ${rss(10)} → ${rss(SWAPS)} KiB | ${served} |`,
);
console.log(
  '| swaps | client connections | publish → served, median | max | server load+verify, median | max | RssAnon swap 10 → last | /infer answered |',
);
