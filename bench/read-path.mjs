#!/usr/bin/env node
// The flat numeric read path, before/after a change, in one run: runs the same
// reads against two builds (dist/ directories) in alternating child
// processes and prints medians and the ratio. Used to show that routing other
// datatype classes through the generic path (docs/types.md) costs the numeric
// path nothing.
//   node bench/read-path.mjs --base /work/main/dist --head dist [--rounds 7]
// Each child measures: one readSync() of a 64 MiB float32 dataset, 20000
// readSync() of a 16-element dataset (per-call overhead) and 20000 view() calls;
// and the variable-length reads that the global heap-ID checks
// (native/h5/heap_check.h) sit on: one readSync() of 200,000 strings, 1000
// attrs.get() of a 100-string attribute, and (builds that have readValueSync)
// one read of 100,000 int32 sequences.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchArgs, median } from './common.mjs';

const args = benchArgs(
  {
    base: undefined,
    head: 'dist',
    rounds: '7',
    dir: '/tmp/h5vault-bench-read-path',
    child: undefined,
  },
  'node bench/read-path.mjs --base /work/main/dist --head dist [--rounds 7]',
);

if (args.child) {
  const { File } = await import(resolve(args.child, 'index.js'));
  const p = `${args.dir}/f.h5`;
  const f = File.open(p);
  const big = f.dataset('big');
  const small = f.dataset('small');
  const strings = f.dataset('strings');
  const seqs = f.dataset('seqs');
  const t = (fn) => {
    const s = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - s) / 1e6;
  };
  big.readSync(); // warm the page cache and the handle's cached metadata
  const out = {
    big: t(() => big.readSync()),
    small: t(() => {
      for (let i = 0; i < 20000; i++) small.readSync();
    }),
    view: t(() => {
      for (let i = 0; i < 20000; i++) small.view();
    }),
    strings: t(() => strings.readSync()),
    attr: t(() => {
      for (let i = 0; i < 1000; i++) f.attrs.get('names');
    }),
    seqs: typeof seqs.readValueSync === 'function' ? t(() => seqs.readValueSync()) : NaN,
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
  const words = Array.from({ length: 200_000 }, (_, i) => `token-${i}`);
  f.createDataset('strings', { dtype: 'string', shape: [words.length], data: words });
  f.attrs.set('names', words.slice(0, 100));
  const { types } = await import(resolve(args.head, 'index.js'));
  f.createTypedDataset('seqs', {
    type: types.vlen('int32'),
    data: Array.from({ length: 100_000 }, (_, i) => [i, i + 1, i + 2].slice(0, 1 + (i % 3))),
  });
  f.close();
}
const runs = { base: [], head: [] };
for (let r = 0; r < Number(args.rounds); r++) {
  for (const which of r % 2 ? ['head', 'base'] : ['base', 'head']) {
    const dist = resolve(which === 'base' ? args.base : args.head);
    const out = execFileSync(
      process.execPath,
      [new URL(import.meta.url).pathname, '--child', dist, '--dir', args.dir],
      { encoding: 'utf8' },
    );
    runs[which].push(JSON.parse(out));
  }
}
console.log('| measure | base median (ms) | head median (ms) | head / base |');
console.log('|---|---|---|---|');
for (const k of ['big', 'small', 'view', 'strings', 'attr', 'seqs']) {
  const b = median(runs.base.map((x) => x[k] ?? NaN));
  const h = median(runs.head.map((x) => x[k] ?? NaN));
  const label = {
    big: 'readSync() 64 MiB float32',
    small: '20000 x readSync() of 16 float32',
    view: '20000 x view()',
    strings: 'readSync() of 200,000 vlen strings',
    attr: '1000 x attrs.get() of 100 vlen strings',
    seqs: 'readValueSync() of 100,000 vlen int32 sequences',
  }[k];
  const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a'); // n/a: that build cannot read it
  console.log(
    `| ${label} | ${ms(b)} | ${ms(h)} | ${Number.isFinite(b) && Number.isFinite(h) ? (h / b).toFixed(3) : 'n/a'} |`,
  );
}
