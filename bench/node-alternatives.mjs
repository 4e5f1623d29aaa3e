#!/usr/bin/env node
// What a Node user would do instead of h5vault, for the same 1 GiB of float32
// weights (16 tensors of 4096x4096): time until every weight is usable (its
// first and last element read) and the anonymous RSS it costs (RssAnon: the
// process's own memory, not the page cache), each in a fresh process.
//   node bench/node-alternatives.mjs [--dir DIR] [--runs 3]
// Needs `npm run build` (dist/), python3-onnx + numpy (to write the ONNX model)
// and onnxruntime-node. Prints a markdown table.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs(
  {
    dir: '/tmp/h5vault-bench-alternatives',
    runs: '3',
    python: '/usr/bin/python3',
    child: undefined,
  },
  'node bench/node-alternatives.mjs [--dir DIR] [--runs 3]',
);
const N = 16;
const DIM = 4096;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rssAnon = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const name = (i) => `w${String(i).padStart(2, '0')}`;

if (args.child) {
  // One measurement in this (fresh) process; prints JSON.
  const { loadModel, ModelStore } = await import(join(ROOT, 'dist/index.js'));
  const touch = (arrs) => {
    let s = 0;
    for (const a of arrs) s += a[0] + a[a.length - 1];
    if (Number.isNaN(s)) throw new Error('nan');
    return arrs.length;
  };
  const before = rssAnon();
  const t0 = performance.now();
  let n = 0;
  let keep;
  if (args.child === 'readFile') {
    const { readFile } = await import('node:fs/promises');
    const buf = await readFile(join(args.dir, 'model.safetensors'));
    const hlen = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    const base = 8 + hlen;
    const arrs = Object.entries(header)
      .filter(([k]) => k !== '__metadata__')
      .map(([, t]) => {
        const [b, e] = t.data_offsets;
        const off = buf.byteOffset + base + b;
        // A Float32Array over the Buffer needs 4-byte alignment; otherwise the slice is copied.
        return off % 4 === 0
          ? new Float32Array(buf.buffer, off, (e - b) / 4)
          : new Float32Array(buf.buffer.slice(off, off + e - b));
      });
    n = touch(arrs);
    keep = buf;
  } else if (args.child === 'ort') {
    const ort = await import('onnxruntime-node');
    const s = await ort.InferenceSession.create(join(args.dir, 'model.onnx'));
    n = N; // the weights are inside the session; it is ready to run
    keep = s;
  } else if (args.child === 'h5vault-store') {
    const store = await ModelStore.open(join(args.dir, 'store'));
    const m = await store.load('m');
    if (m.hashed.file || m.hashed.tensors) throw new Error('verified-once path not taken');
    n = touch([...m.tensors.values()].map((t) => t.data));
    keep = m;
  } else if (args.child === 'h5vault-verify-false') {
    const m = await loadModel(join(args.dir, 'model.h5'), { verify: false });
    n = touch([...m.tensors.values()].map((t) => t.data));
    keep = m;
  } else if (args.child === 'h5vault-verified') {
    const m = await loadModel(join(args.dir, 'model.h5'));
    n = touch([...m.tensors.values()].map((t) => t.data));
    keep = m;
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, n, anon: rssAnon() - before, keep: keep !== undefined }));
  process.exit(0);
}

mkdirSync(args.dir, { recursive: true });
const { saveModel, saveSafetensors, ModelStore } = await import(join(ROOT, 'dist/index.js'));
const tensors = {};
const weights = () => {
  for (let i = 0; i < N; i++) {
    const a = new Float32Array(DIM * DIM);
    for (let j = 0; j < a.length; j += 1021) a[j] = ((i * 7 + j) % 1000) / 1e5;
    tensors[name(i)] = { dtype: 'float32', shape: [DIM, DIM], data: a };
  }
};
if (!existsSync(join(args.dir, 'model.h5'))) {
  weights();
  await saveSafetensors(join(args.dir, 'model.safetensors'), tensors);
  await saveModel(join(args.dir, 'model.h5'), tensors);
  const store = await ModelStore.open(join(args.dir, 'store'), { create: true });
  await store.save('m', tensors);
  (await store.load('m')).close(); // the first load verifies in full and records it
}
if (!existsSync(join(args.dir, 'model.onnx'))) {
  // Y = X @ w00 @ w01 ... @ w15, every weight an initializer embedded in the protobuf (raw_data).
  execFileSync(
    args.python,
    [
      '-c',
      `
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
N, D = ${N}, ${DIM}
inits, nodes, prev = [], [], 'X'
for i in range(N):
    a = np.zeros((D, D), dtype='<f4'); a.reshape(-1)[::1021] = ((i * 7 + np.arange(0, D * D, 1021)) % 1000) / 1e5
    inits.append(numpy_helper.from_array(a, 'w%02d' % i))
    out = 'Y' if i == N - 1 else 'h%d' % i
    nodes.append(helper.make_node('MatMul', [prev, 'w%02d' % i], [out])); prev = out
g = helper.make_graph(nodes, 'chain', [helper.make_tensor_value_info('X', TensorProto.FLOAT, [1, D])],
                      [helper.make_tensor_value_info('Y', TensorProto.FLOAT, [1, D])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)]); m.ir_version = 8
with open(sys.argv[1], 'wb') as f: f.write(m.SerializeToString())
`,
      join(args.dir, 'model.onnx'),
    ],
    { stdio: 'inherit' },
  );
}
for (const f of ['model.safetensors', 'model.h5', 'model.onnx']) readFileSync(join(args.dir, f)).length; // page cache warm for all

const kinds = [
  ['fs.readFile + Float32Array slices (safetensors file)', 'readFile'],
  ['onnxruntime-node InferenceSession.create (weights embedded in the .onnx)', 'ort'],
  ['h5vault loadModel, verify: false (views)', 'h5vault-verify-false'],
  ['h5vault loadModel, verified (views + every tensor hashed)', 'h5vault-verified'],
  ['h5vault ModelStore.load, verified once (views, nothing hashed)', 'h5vault-store'],
];
const rows = [];
for (const [label, kind] of kinds) {
  const rs = [];
  for (let i = 0; i < Number(args.runs); i++) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, '--dir', args.dir], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    rs.push(JSON.parse(out.trim().split('\n').pop()));
  }
  rows.push({ label, ms: median(rs.map((r) => r.ms)), anon: median(rs.map((r) => r.anon)) });
}
console.log(
  `\n1 GiB of float32 weights (16 × 4096×4096), page cache warm, fresh process per run, median of ${args.runs}; ${machineLine()}\n`,
);
console.log('| how | time until every weight is usable | anonymous RSS added |');
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.label} | ${r.ms.toFixed(1)} ms | ${(r.anon / 2 ** 20).toFixed(1)} MiB |`);
