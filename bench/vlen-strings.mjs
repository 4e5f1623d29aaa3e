#!/usr/bin/env node
// Variable-length UTF-8 strings (issue 23 target 4) against h5py, in one run,
// interleaved by rounds:
//   node bench/vlen-strings.mjs [--rounds 9] [--dir /tmp/h5vault-bench-vlen]
// h5py writes one file: datasets `s2293` (2,293 strings) and `s100k`
// (100,000 strings) of vlen UTF-8 text (mixed ASCII and non-ASCII, 5-60
// bytes), and `s2293` carries `labels`, a 100-string vlen attribute.
// Per round, each measured once, page cache warm, file open in both:
//   h5vault-readSync   dataset.readSync()
//   h5vault-read       await dataset.read()
//   h5vault-attr       dataset.attrs.get('labels')
//   h5py-bytes         d[()] (an array of bytes objects)
//   h5py-str           d.asstr()[()] (decoded to str, the like of what Node gets)
//   h5py-attr          d.attrs['labels']
// h5py runs in ONE persistent child started before the rounds (a process per
// round would time Python's start-up). Prints medians (ms) and ratios
// (h5vault / h5py-str: <= 1 meets the target).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchArgs, machineLine, pythonRounds, samples } from './common.mjs';

const args = benchArgs(
  { rounds: '9', dir: '/tmp/h5vault-bench-vlen', dist: 'dist', json: false },
  'node bench/vlen-strings.mjs [--rounds N] [--dir DIR] [--dist DIR] [--json]',
);
const rounds = Number(args.rounds);
const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
const { File } = await import(resolve(args.dist, 'index.js'));
const CASES = ['s2293', 's100k'];

mkdirSync(args.dir, { recursive: true });
const path = join(args.dir, 'vlen-strings.h5');
if (!existsSync(path)) {
  execFileSync(
    PYTHON,
    [
      '-c',
      `import h5py, numpy as np, sys
rng = np.random.default_rng(7)
words = ['weight', 'bias', 'layer', 'attention', 'Gewicht', 'poids', 'µm', 'ключ', '重み', 'norm', 'proj']
def strings(n):
    return [' '.join(words[j] for j in rng.integers(0, len(words), size=rng.integers(1, 8))) + f'.{i}' for i in range(n)]
t = h5py.string_dtype('utf-8')
with h5py.File(sys.argv[1], 'w') as f:
    d = f.create_dataset('s2293', data=np.array(strings(2293), dtype=object), dtype=t)
    f.create_dataset('s100k', data=np.array(strings(100000), dtype=object), dtype=t)
    d.attrs.create('labels', np.array(strings(100), dtype=object), dtype=t)
`,
      path,
    ],
    { stdio: 'inherit' },
  );
}

const PY = `import h5py, sys, time, json
f = h5py.File(sys.argv[1], 'r'); names = sys.argv[2].split(',')
def ms(fn):
    t = time.perf_counter(); fn(); return (time.perf_counter() - t) * 1e3
for n in names: f[n][()]; f[n].asstr()[()]
for line in sys.stdin:
    out = {}
    for n in names:
        d = f[n]
        out[n] = {'h5py-bytes': ms(lambda: d[()]), 'h5py-str': ms(lambda: d.asstr()[()])}
    d = f[names[0]]
    out['attr'] = {'h5py-attr': ms(lambda: d.attrs['labels'])}
    print(json.dumps(out), flush=True)`;
const py = pythonRounds(PYTHON, PY, [path, CASES.join(',')]);

const now = () => process.hrtime.bigint();
const since = (s) => Number(now() - s) / 1e6;
const f = File.open(path);
for (const c of CASES) {
  const d = f.dataset(c);
  d.readSync();
  await d.read();
}
f.dataset(CASES[0]).attrs.get('labels');
const runs = samples(); // case -> peer -> ms[]
const push = runs.push;
for (let r = 0; r < rounds; r++) {
  for (const c of CASES) {
    const d = f.dataset(c);
    let s = now();
    d.readSync();
    push(c, 'h5vault-readSync', since(s));
    s = now();
    await d.read();
    push(c, 'h5vault-read', since(s));
  }
  const d = f.dataset(CASES[0]);
  const s = now();
  d.attrs.get('labels');
  push('attr', 'h5vault-attr', since(s));
  const res = await py.round();
  for (const [c, peers] of Object.entries(res)) for (const [peer, v] of Object.entries(peers)) push(c, peer, v);
}
py.end();
f.close();

const m = runs.medians();
const r2 = (x) => +x.toFixed(2);
const rows = CASES.map((c) => ({
  case: c,
  'h5vault readSync ms': r2(m[c]['h5vault-readSync']),
  'h5vault read ms': r2(m[c]['h5vault-read']),
  'h5py d[()] ms': r2(m[c]['h5py-bytes']),
  'h5py asstr ms': r2(m[c]['h5py-str']),
  'readSync / asstr': r2(m[c]['h5vault-readSync'] / m[c]['h5py-str']),
  'read / asstr': r2(m[c]['h5vault-read'] / m[c]['h5py-str']),
  'readSync / d[()]': r2(m[c]['h5vault-readSync'] / m[c]['h5py-bytes']),
}));
rows.push({
  case: 'attr (100)',
  'h5vault readSync ms': r2(m.attr['h5vault-attr']),
  'h5py d[()] ms': r2(m.attr['h5py-attr']),
  'readSync / d[()]': r2(m.attr['h5vault-attr'] / m.attr['h5py-attr']),
});
const machine = machineLine();
if (args.json) console.log(JSON.stringify({ rounds, machine, rows, runs: runs.runs }, null, 1));
else {
  console.log(`vlen UTF-8 strings: ${rounds} rounds, medians (ratio <= 1 meets the target); ${machine}`);
  console.table(rows);
}
