// What every bench/*.mjs script shares: one way to read its --options, one
// line that says what machine the figures come from, and the small statistics
// every benchmark here prints. Node built-ins only (no dist/ import): the A/B
// scripts load two different builds (--base, --head, --dist) themselves.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

/**
 * Parses the script's --options. `spec` maps each option to its default: a
 * string (an option with a value), `false` (a flag) or `undefined` (a value
 * option with no default). Unknown options and positionals are refused with
 * the usage line (the script's header says what each option means), exit 2:
 * a typo must not silently run the default benchmark for minutes. Scripts
 * documented with positional arguments pass `positionals` (how many at most);
 * they come back as `args._`.
 */
export function benchArgs(spec, usage, { positionals = 0, argv = process.argv.slice(2) } = {}) {
  const options = {};
  for (const [name, def] of Object.entries(spec)) {
    options[name] = def === false ? { type: 'boolean', default: false } : { type: 'string' };
    if (typeof def === 'string') options[name].default = def;
  }
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: positionals > 0 });
    if (r.positionals.length > positionals) throw new Error(`unexpected argument '${r.positionals[positionals]}'`);
    return { ...r.values, _: r.positionals };
  } catch (e) {
    console.error(`${basename(process.argv[1] ?? 'bench')}: ${e.message}\nusage: ${usage}`);
    process.exit(2);
  }
}

/**
 * `count` float32 tensors of weight-like values making about `mib` MiB, named
 * `layers/NNN/weight`, shape [rows, 1024] (deterministic xorshift from
 * `seed`, uniform in ±scale/2: never all zero, so nothing can be sparse). What
 * the whole-model benchmarks save and load.
 */
export function weightTensors(mib, count, { seed = 0x12345678, scale = 1 } = {}) {
  const per = Math.floor((mib * 2 ** 20) / count / 4 / 1024) * 1024;
  const out = {};
  let x = seed;
  for (let t = 0; t < count; t++) {
    const a = new Float32Array(per);
    for (let i = 0; i < per; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      a[i] = ((x >>> 0) / 2 ** 32 - 0.5) * scale;
    }
    out[`layers/${String(t).padStart(3, '0')}/weight`] = { dtype: 'float32', shape: [per / 1024, 1024], data: a };
  }
  return out;
}

/** The 1-minute load average, as /proc/loadavg prints it. */
export const load1 = () => loadavg()[0].toFixed(2);

/** A comma-separated list of numbers ("10,300,1000"). */
export const numbers = (s) => s.split(',').map(Number);

/** The machine the figures come from, in one line (printed with every result). */
export function machineLine() {
  const c = cpus();
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  return (
    `${c[0]?.model.trim() ?? 'unknown CPU'}, ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
    `load ${load} (1/5/15 min; above ${c.length} means other work competed); node ${process.version}`
  );
}

/** The committed conformance corpus: public files from other projects (test/fixtures/conformance/SOURCES.md). */
export const CORPUS = fileURLToPath(new URL('../test/fixtures/conformance', import.meta.url));

/** The HDF5 files under `paths` (default: CORPUS), in a stable order (what the conformance harness reads). */
export function corpusFiles(paths = []) {
  const HDF5_NAME = /\.(h5|hdf5|he5|hdf|nc|nc4|nxs|mat|h5ad|keras|nwb|cdf)$/i;
  const out = [];
  const visit = (p) => {
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) visit(join(p, n));
    else if (HDF5_NAME.test(p)) out.push(p);
  };
  for (const p of paths.length ? paths : [CORPUS]) visit(resolve(p));
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds one synchronous call takes. */
export function ms(fn) {
  const s = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - s) / 1e6;
}

/** Timings by case and peer, collected round by round; `medians()` per case and peer. */
export function samples() {
  const runs = {};
  return {
    runs,
    push(c, peer, v) {
      runs[c] ??= {};
      runs[c][peer] ??= [];
      runs[c][peer].push(v);
    },
    medians() {
      const m = {};
      for (const [c, peers] of Object.entries(runs))
        for (const [peer, a] of Object.entries(peers)) {
          m[c] ??= {};
          m[c][peer] = median(a);
        }
      return m;
    },
  };
}

/**
 * A Python peer that runs in ONE persistent child: `script` reads a line from
 * stdin per round and prints that round's timings as one JSON line. A process
 * per round would time Python's start-up (and a fork per round would leave the
 * parent's reused buffers copy-on-write).
 */
export function pythonRounds(python, script, args, env = process.env) {
  const py = spawn(python, ['-c', script, ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: py.stdout });
  return {
    round: () =>
      new Promise((ok, fail) => {
        lines.once('line', (l) => ok(JSON.parse(l)));
        py.once('exit', (code) => fail(new Error(`python peer exited with ${code}`)));
        py.stdin.write('round\n');
      }),
    end: () => py.stdin.end(),
  };
}
