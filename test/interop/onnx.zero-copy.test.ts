/**
 * Weights served from the .h5 are not copied into ONNX Runtime: a 256 MiB
 * MatMul weight saved by saveModel, linked with linkOnnx, run by
 * onnxruntime-node in a fresh child process with disable_prepacking.
 * Measured from /proc: anonymous memory (RssAnon) stays flat while
 * file-backed memory (RssFile) grows by the weight, and the .h5's own
 * mapping is resident with 0 anonymous (copied-on-write) bytes. The same
 * model with pre-packing on is the control: there the copy shows.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { linkOnnx, saveModel } from '../../lib/index.js';
import { python, tempDir } from '../helpers.js';
import { requireOnnxPeers } from './onnx.helpers.js';

const dir = tempDir('h5vault-onnx-rss-');
const CHILD = fileURLToPath(new URL('./onnx.rss.child.mjs', import.meta.url));
const N = 8192; // W is N x N float32: 256 MiB
const MiB = 1 << 20;
const w = (i: number, j: number): number => ((i * 31 + j * 17) % 1001) / 1001 - 0.5;

interface Mem {
  anon: number;
  file: number;
}
interface Report {
  before: Mem;
  afterCreate: Mem;
  after: Mem;
  mapped: { rss: number; anon: number };
  sample: number[];
}

let model = '';
let h5 = '';
beforeAll(async () => {
  requireOnnxPeers();
  h5 = join(dir, 'big.h5');
  const data = new Float32Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) data[i * N + j] = w(i, j);
  await saveModel(h5, { W: { dtype: 'float32', shape: [N, N], data } });
  // The model as exported without its weights: W has a type and dims but no data; linkOnnx supplies it.
  const bare = join(dir, 'bare.onnx');
  python(
    `
import sys, onnx
from onnx import helper, TensorProto as T
W = T(); W.name = 'W'; W.data_type = T.FLOAT; W.dims.extend([${N}, ${N}])
g = helper.make_graph([helper.make_node('MatMul', ['x', 'W'], ['y'])], 'mm', [helper.make_tensor_value_info('x', T.FLOAT, [1, ${N}])],
                      [helper.make_tensor_value_info('y', T.FLOAT, [1, ${N}])], [W])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8
onnx.save(m, sys.argv[1])
`,
    [bare],
  );
  const r = await linkOnnx(bare, h5, join(dir, 'big.onnx'), { checkData: false });
  expect(r.bytesLinked).toBe(N * N * 4);
  model = r.path;
}, 300_000);

function measure(prepack: boolean): Report {
  const row = 1234;
  const out = execFileSync(process.execPath, [CHILD, model, h5, String(N), prepack ? '1' : '0', '1', String(row)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const rep = JSON.parse(out) as Report;
  // y is row `row` of W: the weights ORT used are the ones in the .h5.
  expect(rep.sample[0]).toBeCloseTo(w(row, 0), 6);
  expect(rep.sample[1]).toBeCloseTo(w(row, 1), 6);
  expect(rep.sample[2]).toBeCloseTo(w(row, N - 1), 6);
  return rep;
}

describe('external data served from the .h5 (256 MiB MatMul weight)', () => {
  it('disable_prepacking: anonymous memory stays flat, the .h5 mapping is resident and holds 0 copied bytes', () => {
    const r = measure(false);
    const anonGrowth = r.after.anon - r.before.anon;
    const fileGrowth = r.after.file - r.before.file;
    console.log(
      `no pre-packing: RssAnon +${(anonGrowth / MiB).toFixed(1)} MiB, RssFile+RssShmem +${(fileGrowth / MiB).toFixed(1)} MiB, ` +
        `.h5 mapping resident ${(r.mapped.rss / MiB).toFixed(1)} MiB with ${r.mapped.anon} anonymous bytes`,
    );
    expect(anonGrowth).toBeLessThan(32 * MiB);
    expect(fileGrowth).toBeGreaterThan(250 * MiB);
    expect(r.mapped.rss).toBeGreaterThanOrEqual(256 * MiB);
    expect(r.mapped.anon).toBe(0);
  });

  it('control: with pre-packing (the default) the copy is visible to the same measurement', () => {
    const r = measure(true);
    const anonGrowth = r.after.anon - r.before.anon;
    console.log(`pre-packing: RssAnon +${(anonGrowth / MiB).toFixed(1)} MiB`);
    expect(anonGrowth).toBeGreaterThan(200 * MiB);
  });
});
