#!/usr/bin/env node
// Crash test for saveModel's atomicity (docs/architecture.md, invariant 5): a child saves
// generation after generation of a model to one path; we SIGKILL it at a random
// moment, then check the path holds either the last generation the child
// finished or the one it was saving, and that it verifies (every tensor
// re-hashed). Uses the compiled dist/ (npm run build:ts).
//
//   npm run test:crash -- --kills 1000 [--mb 256] [--seed 1] [--dir /path] [--json]
//
// What SIGKILL tests: the process dying at any instruction. It does not lose
// the page cache, so it cannot test power loss; see docs/model-storage.md.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, saveModel } from '../../dist/index.js';
import { crashModel } from '../../test/lifecycle/crash-child.mjs';
import { rng } from '../../dist/bench/synthetic.js';

const CHILD = fileURLToPath(new URL('../../test/lifecycle/crash-child.mjs', import.meta.url));

function parseArgs(argv) {
  const o = { kills: 200, mb: 16, seed: 1, dir: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} needs a positive number`);
      return v;
    };
    if (a === '--kills') o.kills = Math.floor(num('--kills'));
    else if (a === '--mb') o.mb = num('--mb');
    else if (a === '--seed') o.seed = Math.floor(num('--seed'));
    else if (a === '--dir') o.dir = argv[++i];
    else if (a === '--json') o.json = true;
    else throw new TypeError(`unknown argument ${a} (use --kills N --mb M --seed S --dir D --json)`);
  }
  return o;
}

/** Runs one child until killed after `delayMs` past its first "begin"; returns the generations it reported. */
function runAndKill(path, mb, last, delayFor) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, path, String(mb), String(last)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    let lastBegun = last;
    let lastDone = last;
    let timer;
    let firstBegin;
    const durations = [];
    let beganAt;
    c.stdout.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const [ev, g] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (ev === 'begin') {
          lastBegun = Number(g);
          beganAt = performance.now();
          if (firstBegin === undefined) {
            firstBegin = beganAt;
            timer = setTimeout(() => c.kill('SIGKILL'), delayFor());
          }
        } else if (ev === 'done') {
          lastDone = Number(g);
          durations.push(performance.now() - beganAt);
        }
      }
    });
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL')
        return reject(new Error(`crash child exited ${code ?? signal} without being killed: ${err}`));
      resolve({ lastBegun, lastDone, durations, inFlight: lastBegun > lastDone });
    });
  });
}

export async function crashTest({ kills = 200, mb = 16, seed = 1, dir, log = () => {} } = {}) {
  const work = dir ?? mkdtempSync(join(tmpdir(), 'h5vault-crash-'));
  const path = join(work, 'model.h5');
  const r = rng(seed);
  const started = performance.now();
  // Generation 0 is saved here, so there is always an "old" model to keep;
  // its duration seeds the estimate of one save's duration (refined from the children's).
  const model0 = crashModel(mb, 0);
  const t0 = performance.now();
  await saveModel(path, model0, { metadata: { generation: 0 } });
  let saveMs = performance.now() - t0;
  let last = 0;
  const stats = {
    kills: 0,
    survivedOld: 0,
    survivedNew: 0,
    lost: 0,
    killedMidSave: 0,
    completedSaves: 0,
    maxTempsLeft: 0,
    failures: [],
  };
  for (let k = 0; k < kills; k++) {
    // Half the kills uniform over ~1.3 saves (every phase: hash, write, close, fsync,
    // rename, and between saves), half near a save's end, where fsync, rename
    // and the directory fsync happen within milliseconds of each other.
    const res = await runAndKill(path, mb, last, () => (r() < 0.5 ? r() * 1.3 : 0.85 + 0.3 * r()) * saveMs);
    for (const d of res.durations) saveMs = 0.8 * saveMs + 0.2 * d;
    stats.kills++;
    stats.completedSaves += res.lastDone - last;
    if (res.inFlight) stats.killedMidSave++;
    const temps = readdirSync(work).filter((n) => n.includes('.h5vault-tmp-')).length;
    stats.maxTempsLeft = Math.max(stats.maxTempsLeft, temps);
    let gen;
    try {
      const m = await loadModel(path); // verifies every tensor's SHA-256 and the model digest
      gen = m.metadata.generation;
      const inTensor = Number(m.tensors.get('generation').data[0]);
      m.close();
      if (inTensor !== gen) throw new Error(`metadata says generation ${gen}, tensor says ${inTensor}`);
    } catch (e) {
      stats.lost++;
      stats.failures.push(`kill ${k + 1}: ${e.message}`);
      log(`kill ${k + 1}: LOST (${e.message})`);
      break; // the model is gone: later kills would test nothing
    }
    if (gen === res.lastDone) stats.survivedOld++;
    else if (gen === res.lastBegun) stats.survivedNew++;
    else {
      stats.lost++;
      stats.failures.push(`kill ${k + 1}: path holds generation ${gen}, expected ${res.lastDone} or ${res.lastBegun}`);
      break;
    }
    last = gen;
    if ((k + 1) % 50 === 0) log(`${k + 1} kills, ${stats.lost} lost, save ~${saveMs.toFixed(0)} ms`);
  }
  // One more save without a kill must clean up the temp files the killed children left.
  await saveModel(path, crashModel(mb, last + 1), { metadata: { generation: last + 1 } });
  stats.tempsAfterCleanSave = readdirSync(work).filter((n) => n.includes('.h5vault-tmp-')).length;
  stats.megabytes = mb;
  stats.meanSaveMs = Math.round(saveMs);
  stats.seconds = Math.round((performance.now() - started) / 100) / 10;
  if (!dir) rmSync(work, { recursive: true, force: true });
  return stats;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const o = parseArgs(process.argv.slice(2));
  const stats = await crashTest({ ...o, log: o.json ? () => {} : (s) => console.error(s) });
  if (o.json) process.stdout.write(`${JSON.stringify(stats)}\n`);
  else {
    console.log(
      `crash test: ${stats.kills} SIGKILLs of a ${stats.megabytes} MB save loop (${stats.killedMidSave} mid-save), ${stats.seconds} s`,
    );
    console.log(
      `  survived: ${stats.survivedOld + stats.survivedNew} (old model ${stats.survivedOld}, new model ${stats.survivedNew}); lost: ${stats.lost}`,
    );
    console.log(`  saves completed between kills: ${stats.completedSaves}; mean save ${stats.meanSaveMs} ms`);
    console.log(
      `  temp files left by a kill: at most ${stats.maxTempsLeft}; after the next clean save: ${stats.tempsAfterCleanSave}`,
    );
    for (const f of stats.failures) console.log(`  FAILURE ${f}`);
  }
  process.exit(stats.lost === 0 && stats.tempsAfterCleanSave === 0 ? 0 : 1);
}
