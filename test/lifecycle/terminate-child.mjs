// Child process of worker.terminate.test.ts: `rounds` worker_threads, each
// terminated at a random point while it opens/closes, reads (sync and async,
// never awaited), holds views, appends to its own file and flushes; the main
// thread keeps a writable file open and reads a shared one throughout. Prints
// one JSON summary line; any crash of the process is the parent's to see.
//   node terminate-child.mjs <dist index URL> <dir> <rounds> <seed>
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

const [distUrl, dir, roundsArg, seedArg] = process.argv.slice(2);
const H5 = await import(distUrl);
const { native } = await import(new URL('./addon/binding.js', distUrl).href);
const rounds = Number(roundsArg);

// mulberry32: reproducible "random" points from the seed the test prints.
let s = Number(seedArg) >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const N = 65536;
const pattern = (i) => (i * 7) % 251;
const shared = join(dir, 'shared.h5');
{
  const f = H5.File.create(shared, { overwrite: true });
  const x = new Float32Array(N).map((_, i) => pattern(i));
  f.createDataset('x', { dtype: 'float32', shape: [N], chunks: [1024], compression: 'gzip', shuffle: true, data: x });
  f.createDataset('c', { dtype: 'float64', shape: [N], data: Float64Array.from(x) }); // contiguous: viewable
  f.close();
}
const mainPath = join(dir, 'main.h5');
const main = H5.File.create(mainPath, { overwrite: true });
const mainRows = main.createDataset('rows', {
  dtype: 'int32',
  shape: [0],
  maxshape: [null],
  chunks: [64],
  compression: 'gzip',
});

async function settle(done) {
  for (let i = 0; i < 50 && !done(); i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}
// What this thread holds itself (the main file, its dataset; the setup's
// handles may still be collected later, so the count can only go down).
await settle(() => false);
const baseline = native.mappingStats();

const workerSrc = `
const { parentPort, workerData: w } = require('node:worker_threads');
import(w.distUrl).then(async (H5) => {
  const f = H5.File.open(w.shared);
  const x = f.dataset('x');
  const c = f.dataset('c');
  const out = H5.File.create(w.out, { overwrite: true });
  const rows = out.createDataset('rows', { dtype: 'int32', shape: [0], maxshape: [null], chunks: [16], compression: 'gzip' });
  const views = [];
  const pending = [];
  let n = 0;
  parentPort.postMessage({ ready: true });
  for (let k = 0; ; k++) {
    switch (k % 8) {
      case 0: H5.File.open(w.shared).close(); break;
      case 1: x.readSync({ start: [(k * 512) % 60000], count: [4096] }); break;
      case 2: pending.push(x.read()); pending.push(c.read()); break;       // async, in flight
      case 3: views.push(c.view()); if (views.length > 64) views.shift(); break;
      case 4: rows.appendSync(Int32Array.of(n)); n++; parentPort.postMessage({ acked: n }); break;
      case 5: pending.push(rows.append(Int32Array.of(-1))); break;        // an async append in flight (its row may be lost)
      case 6: out.flush(); break;
      case 7: {
        const g = await H5.File.openAsync(w.shared);
        pending.push(g.dataset('x').read().then(() => g.closeAsync()));
        if (pending.length > 32) await Promise.all(pending.splice(0));
        break;
      }
    }
    if (k % 64 === 63) await new Promise((r) => setImmediate(r));
  }
});`;

const summary = {
  rounds: 0,
  exitCodes: {},
  errors: [],
  acked: 0,
  checkedFiles: 0,
  phase: { beforeReady: 0, afterReady: 0 },
};
let mainN = 0;
for (let round = 0; round < rounds; round++) {
  const out = join(dir, `w${round}.h5`);
  const w = new Worker(workerSrc, { eval: true, workerData: { distUrl, shared, out } });
  let acked = 0;
  let ready = false;
  w.on('message', (m) => {
    if (m.ready) ready = true;
    if (m.acked) acked = m.acked;
  });
  w.on('error', (e) => summary.errors.push(`round ${round}: worker error ${e?.stack || e}`));
  // Half the rounds stop the worker at any point of its life (even while the
  // addon loads), the other half once it is busy with all of the above.
  if (rand() < 0.5) {
    await new Promise((r) => setTimeout(r, rand() * 80));
  } else {
    await new Promise((r) => w.once('message', r));
    await new Promise((r) => setTimeout(r, rand() * 60));
  }
  summary.phase[ready ? 'afterReady' : 'beforeReady']++;
  const t0 = performance.now();
  const code = await w.terminate();
  summary.terminateMs = Math.max(summary.terminateMs ?? 0, Math.round(performance.now() - t0));
  const key = `${ready ? 'afterReady' : 'beforeReady'}:${code}`;
  summary.exitCodes[key] = (summary.exitCodes[key] ?? 0) + 1;
  summary.acked += acked;

  // The main thread's own writes go on between (and during) workers' lives.
  mainRows.appendSync(Int32Array.of(mainN++));
  main.flush();

  // The terminated worker's file: closed by its environment's cleanup, so
  // this process can open it read-write, and every acknowledged row is there.
  if (acked > 0) {
    const g = H5.File.open(out, { mode: 'r+' });
    const v = g.dataset('rows').readSync();
    if (v.length < acked) summary.errors.push(`round ${round}: ${v.length} rows, ${acked} acknowledged`);
    let appended = 0;
    for (let i = 0; i < v.length; i++) {
      // appendSync rows hold their index; an async append in flight leaves
      // -1 or the fill value 0 in its slot, which only a later sync row
      // would skip — the sync rows are counted in order.
      if (v[i] === appended) appended++;
      else if (v[i] !== -1 && v[i] !== 0) summary.errors.push(`round ${round}: row ${i} = ${v[i]}`);
    }
    if (appended < acked) summary.errors.push(`round ${round}: ${appended} in-order rows, ${acked} acknowledged`);
    g.close();
    summary.checkedFiles++;
  } else if (existsSync(out)) {
    // Created (maybe half-way) before the worker was stopped: not ours to
    // judge, but it must not hold a lock that keeps it from being reopened.
    try {
      H5.File.open(out, { mode: 'r+' }).close();
    } catch (e) {
      if (e.code !== 'H5_NOT_HDF5' && e.code !== 'H5_CORRUPT' && e.code !== 'H5_TRUNCATED')
        summary.errors.push(`round ${round}: reopen ${e.code} ${e.message}`);
    }
  }
  summary.rounds++;
}

// Nothing a worker wrote or held touched the shared file or the main file.
{
  const f = H5.File.open(shared);
  const x = f.dataset('x').readSync();
  for (let i = 0; i < N; i++)
    if (x[i] !== pattern(i)) {
      summary.errors.push(`shared x[${i}] = ${x[i]}`);
      break;
    }
  f.close();
}
const rowsBack = mainRows.readSync();
summary.mainRowsOk = rowsBack.length === mainN && rowsBack.every((v, i) => v === i);

// Every handle and mapping the workers held was released with their
// environments: the counts (process-wide) are back to this thread's own.
await settle(() => native.mappingStats().handles <= baseline.handles && native.mappingStats().mappings === 0);
const st = native.mappingStats();
summary.leakedHandles = Math.max(0, st.handles - baseline.handles);
summary.leakedMappings = st.mappings;
main.close();
console.log(JSON.stringify(summary));
