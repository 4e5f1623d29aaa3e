#!/usr/bin/env node
// loadModel({ verify: false }) of one model file, before/after a change, in
// one run: alternating child processes load it with two builds (dist/
// directories) and print each one's median time until every tensor is usable.
//   node bench/load-ab.mjs --base /path/to/old/dist --head dist --file model.h5 [--rounds 3] [--loads 25]
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { benchArgs } from './common.mjs';

const args = benchArgs(
  {
    base: undefined,
    head: 'dist',
    file: undefined,
    rounds: '3',
    loads: '25',
    child: undefined,
  },
  'node bench/load-ab.mjs --base /path/to/old/dist --head dist --file model.h5 [--rounds 3] [--loads 25]',
);

if (args.child) {
  const { loadModel } = await import(resolve(args.child, 'index.js'));
  const t = [];
  for (let i = 0; i < Number(args.loads); i++) {
    const s = performance.now();
    const m = await loadModel(args.file, { verify: false });
    for (const v of m.tensors.values()) if (Number.isNaN(v.data[0])) throw new Error('nan');
    m.close();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  console.log(t[t.length >> 1]);
} else {
  if (!args.base || !args.file) throw new Error('--base and --file are required');
  const run = (dist) =>
    Number(
      execFileSync(
        process.execPath,
        [
          import.meta.filename ?? new URL(import.meta.url).pathname,
          '--child',
          dist,
          '--file',
          args.file,
          '--loads',
          args.loads,
        ],
        { encoding: 'utf8' },
      ),
    );
  for (let r = 0; r < Number(args.rounds); r++) {
    const b = run(args.base);
    const h = run(args.head);
    console.log(`round ${r + 1}: base ${b.toFixed(1)} ms, head ${h.toFixed(1)} ms, base/head ${(b / h).toFixed(2)}x`);
  }
}
