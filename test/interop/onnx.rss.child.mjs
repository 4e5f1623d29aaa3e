// Child process of onnx.zero-copy.test.ts and bench/onnx-prepack.mjs: opens one
// ONNX Runtime session on MODEL and reports memory before/after, so no
// earlier allocation of the test process blurs the numbers.
// argv: MODEL DATAFILE N PREPACK(0|1) RUNS ROW
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [model, dataFile, n, prepack, runs, row] = process.argv.slice(2);
const ort = createRequire(import.meta.url)('onnxruntime-node');

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))[1]) * 1024;
  // A file on tmpfs (as /tmp is on CI machines) is resident as shared memory,
  // not as file pages: both are the file's pages, neither is a copy.
  return { anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

/** Resident and anonymous (copied-on-write) bytes of the mappings of `path`. */
function mapped(path) {
  let rss = 0,
    anon = 0,
    inside = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (head) inside = head[1] === path;
    else if (inside && line.startsWith('Rss:')) rss += Number(line.split(/\s+/)[1]) * 1024;
    else if (inside && line.startsWith('Anonymous:')) anon += Number(line.split(/\s+/)[1]) * 1024;
  }
  return { rss, anon };
}

const N = Number(n);
const before = status();
const t0 = performance.now();
const session = await ort.InferenceSession.create(
  model,
  prepack === '1' ? {} : { extra: { session: { disable_prepacking: '1' } } },
);
const createMs = performance.now() - t0;
const afterCreate = status();
const x = new Float32Array(N);
x[Number(row)] = 1;
const feeds = { x: new ort.Tensor('float32', x, [1, N]) };
let y;
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const t = performance.now();
  y = (await session.run(feeds)).y.data;
  times.push(performance.now() - t);
}
const after = status();
const m = mapped(dataFile);
console.log(
  JSON.stringify({
    before,
    afterCreate,
    after,
    mapped: m,
    createMs,
    runMs: times,
    // y = x @ W with x one-hot at `row`: row `row` of W. A few values for the caller to check.
    sample: [y[0], y[1], y[N - 1]],
  }),
);
await session.release();
