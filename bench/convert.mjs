#!/usr/bin/env node
// Peak anonymous memory of a 1 GiB model conversion, both directions:
// safetensors -> h5vault -> safetensors. Each conversion runs in a fresh child
// process that samples RssAnon (/proc/self/status) every 2 ms and at every
// progress callback; file-backed pages of the mappings (RssFile) are not
// anonymous memory and are reported apart.
//   node bench/convert.mjs [--dir DIR] [--mib 1024]
// Needs `npm run build` (dist/). Not a test: the figure goes in docs/runtime.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-convert',
    mib: '1024',
    child: undefined,
    input: undefined,
    output: undefined,
  },
  'node bench/convert.mjs [--dir DIR] [--mib 1024]',
);

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

if (args.child) {
  const { convertModel } = await import('../dist/index.js');
  const base = status();
  let peakAnon = base.anon;
  let peakFile = base.file;
  const sample = () => {
    const s = status();
    if (s.anon > peakAnon) peakAnon = s.anon;
    if (s.file > peakFile) peakFile = s.file;
  };
  const timer = setInterval(sample, 2);
  const t0 = performance.now();
  const r = await convertModel(args.input, args.output, { onProgress: sample });
  sample();
  clearInterval(timer);
  process.stdout.write(
    JSON.stringify({
      direction: `${r.from} -> ${r.to}`,
      bytes: r.bytes,
      tensors: r.tensors,
      ms: performance.now() - t0,
      baseAnon: base.anon,
      peakAnon,
      peakAnonGrowth: peakAnon - base.anon,
      peakFile,
      hwm: status().hwm,
      copied: r.copied.length,
    }),
  );
  process.exit(0);
}

// A safetensors file of MIB MiB written piecewise (never held in memory):
// float32 tensors of 64 MiB with deterministic, incompressible-ish bytes.
mkdirSync(args.dir, { recursive: true });
const mib = Number(args.mib);
const st = join(args.dir, 'model.safetensors');
const tensorBytes = 64 << 20;
const count = Math.max(1, Math.round(mib / 64));
const parts = [];
for (let i = 0; i < count; i++) {
  const name = `layers.${String(i).padStart(3, '0')}.weight`;
  parts.push(
    `"${name}":{"dtype":"F32","shape":[4096,4096],"data_offsets":[${i * tensorBytes},${(i + 1) * tensorBytes}]}`,
  );
}
let header = Buffer.from(`{"__metadata__":{"format":"pt"},${parts.join(',')}}`);
header = Buffer.concat([header, Buffer.alloc((8 - (header.length % 8)) % 8, 0x20)]);
const fd = openSync(st, 'w');
const n = Buffer.alloc(8);
n.writeBigUInt64LE(BigInt(header.length));
writeSync(fd, n);
writeSync(fd, header);
const chunk = Buffer.alloc(4 << 20);
let x = 0x12345678;
for (let i = 0; i < count * (tensorBytes / chunk.length); i++) {
  for (let j = 0; j < chunk.length; j += 4) {
    x = (x * 1664525 + 1013904223) >>> 0;
    chunk.writeUInt32LE(((x & 0x807fffff) | 0x3c000000) >>> 0, j); // finite floats
  }
  writeSync(fd, chunk);
}
closeSync(fd);

const h5 = join(args.dir, 'model.h5');
const back = join(args.dir, 'back.safetensors');
const run = (input, output) =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [new URL(import.meta.url).pathname, '--child', '1', '--input', input, '--output', output],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    ),
  );
const results = [run(st, h5), run(h5, back)];
const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
console.log(`model: ${count} float32 tensors, ${mb(statSync(st).size)} (${st})`);
for (const r of results) {
  console.log(
    `${r.direction}: ${mb(r.bytes)} in ${(r.ms / 1000).toFixed(2)} s; RssAnon baseline ${mb(r.baseAnon)}, peak ${mb(r.peakAnon)} (+${mb(r.peakAnonGrowth)}); peak RssFile ${mb(r.peakFile)}; copied ${r.copied}`,
  );
}
console.log(JSON.stringify(results));
rmSync(args.dir, { recursive: true, force: true });
