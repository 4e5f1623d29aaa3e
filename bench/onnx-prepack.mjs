// What ONNX Runtime's MatMul pre-packing costs and buys when the weights are
// served from an h5vault file (linkOnnx). For each weight size, one fresh
// process per setting: session create time, median time of a [1, N] x [N, N]
// MatMul over RUNS runs, and anonymous memory growth (the copy pre-packing makes).
// Usage: npm run build && node bench/onnx-prepack.mjs [RUNS=20] [N...=2048 4096 8192]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkOnnx, saveModel } from '../dist/index.js';
import { benchArgs, machineLine, median } from './common.mjs';

const CHILD = fileURLToPath(new URL('../test/interop/onnx.rss.child.mjs', import.meta.url));
const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
const [runsArg, ...sizes] = benchArgs({}, 'node bench/onnx-prepack.mjs [RUNS=20] [N...=2048 4096 8192]', {
  positionals: Number.POSITIVE_INFINITY,
})._;
const RUNS = Number(runsArg ?? 20);
const NS = sizes.length ? sizes.map(Number) : [2048, 4096, 8192];
const dir = mkdtempSync(join(tmpdir(), 'h5vault-ort-bench-'));
const MiB = 1 << 20;

try {
  const rows = [];
  for (const N of NS) {
    const h5 = join(dir, `w${N}.h5`);
    const data = new Float32Array(N * N);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
    await saveModel(h5, { W: { dtype: 'float32', shape: [N, N], data } });
    const bare = join(dir, `bare${N}.onnx`);
    execFileSync(PYTHON, [
      '-c',
      `
import sys, onnx
from onnx import helper, TensorProto as T
W = T(); W.name = 'W'; W.data_type = T.FLOAT; W.dims.extend([${N}, ${N}])
g = helper.make_graph([helper.make_node('MatMul', ['x', 'W'], ['y'])], 'mm', [helper.make_tensor_value_info('x', T.FLOAT, [1, ${N}])],
                      [helper.make_tensor_value_info('y', T.FLOAT, [1, ${N}])], [W])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8
onnx.save(m, sys.argv[1])`,
      bare,
    ]);
    const { path: model } = await linkOnnx(bare, h5, join(dir, `m${N}.onnx`), { checkData: false });
    for (const prepack of [false, true]) {
      const r = JSON.parse(
        execFileSync(process.execPath, [CHILD, model, h5, String(N), prepack ? '1' : '0', String(RUNS), '0'], {
          encoding: 'utf8',
        }),
      );
      rows.push({
        weight: `${((N * N * 4) / MiB).toFixed(0)} MiB`,
        prepacking: prepack ? 'on (default)' : 'off',
        createMs: r.createMs.toFixed(0),
        firstRunMs: r.runMs[0].toFixed(1),
        medianRunMs: median(r.runMs.slice(1)).toFixed(2),
        anonMiB: ((r.after.anon - r.before.anon) / MiB).toFixed(1),
        fileMiB: ((r.after.file - r.before.file) / MiB).toFixed(1),
      });
    }
  }
  console.table(rows);
  console.log(JSON.stringify({ runs: RUNS, machine: machineLine(), rows }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
