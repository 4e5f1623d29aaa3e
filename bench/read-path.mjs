#!/usr/bin/env node
// The flat numeric read path, before/after a change, in one run: runs the same
// reads against two builds (dist/ directories) in alternating child
// processes and prints medians and the ratio. Used to show that routing other
// datatype classes through the generic path (docs/types.md) costs the numeric
// path nothing.
//   node bench/read-path.mjs --base /work/main/dist --head dist [--rounds 7]
// Each child measures: one readSync() of a 64 MiB float32 dataset, 20000
// readSync() of a 16-element dataset (per-call overhead) and 20000 view() calls.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: 'dist' },
    rounds: { type: 'string', default: '7' },
    dir: { type: 'string', default: '/tmp/h5vault-bench-read-path' },
    child: { type: 'string' },
  },
});

if (args.child) {
  const { File } = await import(resolve(args.child, 'index.js'));
  const p = `${args.dir}/f.h5`;
  const f = File.open(p);
  const big = f.dataset('big');
  const small = f.dataset('small');
  const t = (fn) => {
    const s = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - s) / 1e6;
  };
  big.readSync(); // warm the page cache and the handle's cached metadata
  const out = {
    big: t(() => big.readSync()),
    small: t(() => { for (let i = 0; i < 20000; i++) small.readSync(); }),
    view: t(() => { for (let i = 0; i < 20000; i++) small.view(); }),
  };
  f.close();
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

if (!args.base) throw new Error('--base DIST is required (the build to compare against)');
mkdirSync(args.dir, { recursive: true });
{
  const { File } = await import(resolve(args.head, 'index.js'));
  const f = File.create(`${args.dir}/f.h5`, { overwrite: true });
  const n = 16 << 20;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = i % 1000;
  f.createDataset('big', { dtype: 'float32', shape: [n], data: a });
  f.createDataset('small', { dtype: 'float32', shape: [16], data: new Float32Array(16) });
  f.close();
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const runs = { base: [], head: [] };
for (let r = 0; r < Number(args.rounds); r++) {
  for (const which of r % 2 ? ['head', 'base'] : ['base', 'head']) {
    const dist = resolve(which === 'base' ? args.base : args.head);
    const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', dist, '--dir', args.dir], { encoding: 'utf8' });
    runs[which].push(JSON.parse(out));
  }
}
console.log('| measure | base median (ms) | head median (ms) | head / base |');
console.log('|---|---|---|---|');
for (const k of ['big', 'small', 'view']) {
  const b = median(runs.base.map((x) => x[k]));
  const h = median(runs.head.map((x) => x[k]));
  const label = { big: 'readSync() 64 MiB float32', small: '20000 x readSync() of 16 float32', view: '20000 x view()' }[k];
  console.log(`| ${label} | ${b.toFixed(1)} | ${h.toFixed(1)} | ${(h / b).toFixed(3)} |`);
}
