#!/usr/bin/env node
// Real small files, whole (issue 23 target 4): for every HDF5 file under the
// given paths (default: the committed conformance corpus, public files from
// other projects, provenance in test/fixtures/conformance/SOURCES.md), one
// "full read" = open + walk every object + read every dataset whole + close,
// timed in two warm processes, interleaved round by round:
//   h5vault   File.open, f.walk(), dataset.readSync() of each dataset, close
//   h5py      h5py.File, visititems, d[()] of each dataset, close
// in ONE persistent Python child (a process per file would time Python's
// start-up). Only files that BOTH read fully count (a file one side refuses
// measures nothing); the others are listed with the reason.
//   node bench/small-files.mjs [--rounds 15] [--json] [PATH ...]
// Prints the median over files of each side's per-file median, the median of
// the per-file ratios (h5vault / h5py: <= 1 meets the target), how many files
// h5vault reads faster, and the same split by file size.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchArgs, CORPUS, corpusFiles, machineLine, median, pythonRounds } from './common.mjs';

const args = benchArgs(
  { rounds: '15', json: false, dist: 'dist' },
  'node bench/small-files.mjs [--rounds N] [--json] [--dist DIR] [PATH ...]',
  { positionals: Number.POSITIVE_INFINITY },
);
const rounds = Number(args.rounds);
const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
const { File, Dataset } = await import(resolve(args.dist, 'index.js'));
const files = corpusFiles(args._);

// One full read in h5vault; throws if any object or dataset cannot be read.
function fullRead(path) {
  const f = File.open(path);
  try {
    for (const [, o] of f.walk()) if (o instanceof Dataset) o.readSync();
  } finally {
    f.close();
  }
}

const PY = `import h5py, sys, time, json
files = sys.argv[1:]
def full(p):
    with h5py.File(p, 'r') as f:
        ds = []
        f.visititems(lambda n, o: ds.append(o) if isinstance(o, h5py.Dataset) else None)
        for d in ds: d[()]
ok = {}
for p in files:
    try:
        full(p); ok[p] = None
    except Exception as e:
        ok[p] = type(e).__name__ + ': ' + str(e)[:120]
print(json.dumps(ok), flush=True)
good = [p for p in files if ok[p] is None]
for line in sys.stdin:
    out = {}
    for p in good:
        t = time.perf_counter(); full(p); out[p] = (time.perf_counter() - t) * 1e3
    print(json.dumps(out), flush=True)`;

const py = pythonRounds(PYTHON, PY, files);
const pyOk = await py.round(); // the first line: which files h5py reads fully
const refused = [];
const both = [];
for (const p of files) {
  let ours = null;
  try {
    fullRead(p); // also the warm-up
  } catch (e) {
    ours = `${e.code ?? e.name}: ${String(e.message).slice(0, 120)}`;
  }
  if (ours || pyOk[p]) refused.push({ file: p, h5vault: ours, h5py: pyOk[p] });
  else both.push(p);
}

const now = () => process.hrtime.bigint();
const t = { h5vault: new Map(), h5py: new Map() };
for (const p of files) {
  t.h5vault.set(p, []);
  t.h5py.set(p, []);
}
for (let r = 0; r < rounds; r++) {
  for (const p of both) {
    const s = now();
    fullRead(p);
    t.h5vault.get(p).push(Number(now() - s) / 1e6);
  }
  const res = await py.round();
  for (const [p, v] of Object.entries(res)) if (both.includes(p)) t.h5py.get(p).push(v);
}
py.end();

const per = both.map((p) => {
  const ours = median(t.h5vault.get(p));
  const theirs = median(t.h5py.get(p));
  return { file: p, bytes: statSync(p).size, h5vault: ours, h5py: theirs, ratio: ours / theirs };
});
const summary = (rows) =>
  rows.length === 0
    ? null
    : {
        files: rows.length,
        'h5vault median ms': +median(rows.map((x) => x.h5vault)).toFixed(3),
        'h5py median ms': +median(rows.map((x) => x.h5py)).toFixed(3),
        'median ratio': +median(rows.map((x) => x.ratio)).toFixed(3),
        'h5vault faster': rows.filter((x) => x.ratio < 1).length,
      };
const groups = {
  all: summary(per),
  'under 10 kB': summary(per.filter((x) => x.bytes < 10_000)),
  '10 kB - 1 MB': summary(per.filter((x) => x.bytes >= 10_000 && x.bytes < 1_000_000)),
  '1 MB and over': summary(per.filter((x) => x.bytes >= 1_000_000)),
};
const machine = machineLine();
if (args.json) console.log(JSON.stringify({ rounds, machine, groups, per, refused }, null, 1));
else {
  console.log(
    `small real files, full read (open + walk + read every dataset + close): ${files.length} files, ` +
      `${both.length} read fully by both, ${rounds} rounds, per-file medians; ratio = h5vault / h5py (<= 1 meets the target); ${machine}`,
  );
  console.table(Object.entries(groups).map(([group, s]) => ({ group, ...s })));
  const worst = [...per].sort((a, b) => b.ratio - a.ratio).slice(0, 8);
  console.log('slowest relative to h5py:');
  console.table(
    worst.map((x) => ({
      file: x.file.replace(`${CORPUS}/`, ''),
      bytes: x.bytes,
      'h5vault ms': +x.h5vault.toFixed(3),
      'h5py ms': +x.h5py.toFixed(3),
      ratio: +x.ratio.toFixed(2),
    })),
  );
  if (refused.length) console.log(`not counted (one side does not read them fully): ${refused.length}`);
  for (const x of refused)
    console.log(
      `  ${x.file.replace(`${CORPUS}/`, '')}: ${x.h5vault ? `h5vault ${x.h5vault}` : ''}${x.h5vault && x.h5py ? '; ' : ''}${x.h5py ? `h5py ${x.h5py}` : ''}`,
    );
}
