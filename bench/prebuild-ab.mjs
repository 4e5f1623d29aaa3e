#!/usr/bin/env node
// Two prebuilt addons (prebuilds/<target>/ directories, each with its bundled
// libhdf5) on the paths where h5vault's time is libhdf5's, A and B in
// alternating child processes (one libhdf5 per process), so that load on a
// shared machine falls on both sides alike. Made for a change to how the
// bundled libhdf5 is built (scripts/build/libhdf5.sh: -Os vs -O2, docs/install.md).
//   node bench/prebuild-ab.mjs --a DIR --b DIR [--pairs 5] [--rounds 5]
// Cases, each timed per round in a warm process (median of the rounds):
//   small-files  every conformance-corpus file h5vault reads: File.open, walk,
//                readSync of every dataset, close (bench/small-files.mjs's full read)
//   save-2000    saveModel of 2000 tensors of 64 float32 (metadata, not bytes)
//   walk-2000    File.open of that model, walk with every dataset's shape, close
//   load-2000    loadModel of it, verify: false (h5vault's own header parser)
// Prints per case the median of A's and B's process medians and B/A per pair,
// for wall-clock time and for the process's CPU time (user + system, all
// threads), which other work on a shared machine disturbs less.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchArgs, corpusFiles, machineLine, median, samples } from './common.mjs';

const args = benchArgs(
  { a: undefined, b: undefined, pairs: '5', rounds: '5', child: false },
  'node bench/prebuild-ab.mjs --a DIR --b DIR [--pairs 5] [--rounds 5]',
);

if (args.child) {
  const { File, Dataset, saveModel, loadModel, libraryInfo } = await import('../dist/index.js');
  const fullRead = (p) => {
    const f = File.open(p);
    try {
      for (const [, o] of f.walk()) if (o instanceof Dataset) o.readSync();
    } finally {
      f.close();
    }
  };
  const files = corpusFiles().filter((p) => {
    try {
      fullRead(p); // also the warm-up
      return true;
    } catch {
      return false; // a file h5vault refuses measures nothing
    }
  });
  const dir = mkdtempSync(join(tmpdir(), 'h5vault-prebuild-ab-'));
  const model = join(dir, 'm.h5');
  const tensors = {};
  for (let i = 0; i < 2000; i++)
    tensors[`layer${i >> 4}/w${i & 15}`] = { dtype: 'float32', shape: [64], data: new Float32Array(64).fill(i) };
  await saveModel(model, tensors);
  const t = samples();
  const time = async (c, fn) => {
    const s = process.hrtime.bigint();
    const u = process.cpuUsage();
    await fn();
    const d = process.cpuUsage(u);
    t.push(c, 'wall', Number(process.hrtime.bigint() - s) / 1e6);
    t.push(c, 'cpu', (d.user + d.system) / 1e3);
  };
  for (let r = 0; r < Number(args.rounds); r++) {
    await time('small-files', () => files.forEach(fullRead));
    await time('save-2000', () => saveModel(model, tensors));
    await time('walk-2000', () => {
      const f = File.open(model);
      for (const [, o] of f.walk()) if (o instanceof Dataset) o.shape;
      f.close();
    });
    await time('load-2000', async () => (await loadModel(model, { verify: false })).close());
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ lib: libraryInfo().hdf5Library, files: files.length, medians: t.medians() }));
} else {
  if (!args.a || !args.b) {
    console.error('prebuild-ab: --a and --b name two prebuilds/<target> directories');
    process.exit(2);
  }
  const side = (dir) =>
    JSON.parse(
      execFileSync(process.execPath, [process.argv[1], '--child', '--rounds', args.rounds], {
        encoding: 'utf8',
        env: { ...process.env, H5VAULT_BINDING: join(resolve(dir), 'h5vault.node') },
      }),
    );
  const runs = { a: [], b: [] };
  for (let p = 0; p < Number(args.pairs); p++) {
    runs.a.push(side(args.a));
    runs.b.push(side(args.b));
  }
  console.log(`A ${runs.a[0].lib}\nB ${runs.b[0].lib}\n${runs.a[0].files} corpus files; ${machineLine()}`);
  console.log('| case | clock | A median ms | B median ms | B/A | B/A per pair |\n|---|---|---:|---:|---:|---|');
  for (const c of Object.keys(runs.a[0].medians))
    for (const clock of ['wall', 'cpu']) {
      const at = (r) => r.medians[c][clock];
      const a = median(runs.a.map(at));
      const b = median(runs.b.map(at));
      const pairs = runs.a.map((r, i) => (at(runs.b[i]) / at(r)).toFixed(2)).join(' ');
      console.log(`| ${c} | ${clock} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} | ${pairs} |`);
    }
}
