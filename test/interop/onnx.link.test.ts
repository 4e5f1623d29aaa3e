/**
 * linkOnnx / `h5vault onnx-link` against the independent peers: models built
 * by Python's onnx, weights written by h5py, results read back by onnx and
 * run by onnxruntime-node.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { linkOnnx, H5Error } from '../../lib/index.js';
import { python, tempDir } from '../helpers.js';
import { NO_PREPACK, ort, requireOnnxPeers } from './onnx.helpers.js';
import { h5vault as cli, ensureBuilt } from '../cli/run.js';

const dir = tempDir('h5vault-onnx-link-');
beforeAll(() => {
  requireOnnxPeers();
  ensureBuilt();
});

/**
 * A two-layer MLP (MatMul+Add, Relu, MatMul+Add) whose second layer sits
 * inside an If subgraph, with a doc string, metadata and producer fields that
 * must survive; its weights also written to an .h5 by h5py in the layout
 * `layout` ('contiguous' | 'gzip' | 'chunked' | 'big-endian'; '*': 'unaligned' writes
 * without h5py's alignment options).
 */
function makeModel(name: string, layout: Record<string, string> = {}): { onnx: string; h5: string } {
  const onnxPath = join(dir, `${name}.onnx`);
  const h5 = join(dir, `${name}.h5`);
  python(
    `
import sys, json, numpy as np, onnx, h5py
from onnx import helper, TensorProto, numpy_helper
onnx_path, h5_path, layout = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rng = np.random.default_rng(7)
w = {'l1.weight': rng.standard_normal((6, 5)).astype(np.float32), 'l1.bias': rng.standard_normal(5).astype(np.float32),
     'l2.weight': rng.standard_normal((5, 3)).astype(np.float32), 'l2.bias': rng.standard_normal(3).astype(np.float32),
     'steps': np.array([3, 1, 4], dtype=np.int64)}
def vi(n, shape): return helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
then_g = helper.make_graph([helper.make_node('MatMul', ['R', 'l2.weight'], ['M2']), helper.make_node('Add', ['M2', 'l2.bias'], ['Y1'])],
    'then', [], [vi('Y1', [1, 3])], [numpy_helper.from_array(w['l2.weight'], 'l2.weight'), numpy_helper.from_array(w['l2.bias'], 'l2.bias')])
else_g = helper.make_graph([helper.make_node('Identity', ['R3'], ['Y2'])], 'else', [], [vi('Y2', [1, 3])])
nodes = [helper.make_node('MatMul', ['X', 'l1.weight'], ['M1']), helper.make_node('Add', ['M1', 'l1.bias'], ['A1']),
         helper.make_node('Relu', ['A1'], ['R'], name='relu'),
         helper.make_node('Slice', ['R', 'zero', 'three', 'one'], ['R3']),
         helper.make_node('Constant', [], ['cond'], value=helper.make_tensor('c', TensorProto.BOOL, [], [True])),
         helper.make_node('If', ['cond'], ['Y'], name='branch', then_branch=then_g, else_branch=else_g)]
inits = [numpy_helper.from_array(w['l1.weight'], 'l1.weight'), numpy_helper.from_array(w['l1.bias'], 'l1.bias'),
         numpy_helper.from_array(np.array([0], np.int64), 'zero'), numpy_helper.from_array(np.array([3], np.int64), 'three'),
         numpy_helper.from_array(np.array([1], np.int64), 'one'), numpy_helper.from_array(w['steps'], 'steps')]
g = helper.make_graph(nodes, 'mlp', [vi('X', [1, 6])], [vi('Y', [1, 3])], inits, doc_string='graph doc')
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)], producer_name='h5vault-test', doc_string='model doc')
m.ir_version = 8
helper.set_model_props(m, {'owner': 'tests'})
onnx.checker.check_model(m)
onnx.save(m, onnx_path)
# h5py aligns nothing by default (an int64 may start at an odd address); 64 is what saveModel uses.
kw = {} if layout.get('*') == 'unaligned' else {'alignment_threshold': 1, 'alignment_interval': 64}
with h5py.File(h5_path, 'w', **kw) as f:
    for k, v in w.items():
        how = layout.get(k, 'contiguous')
        p = k.replace('.', '/')
        if how == 'gzip': f.create_dataset(p, data=v, compression='gzip')
        elif how == 'chunked': f.create_dataset(p, data=v, chunks=True)
        elif how == 'big-endian': f.create_dataset(p, data=v.astype(v.dtype.newbyteorder('>')))
        else: f.create_dataset(p, data=v)
`,
    [onnxPath, h5, JSON.stringify(layout)],
  );
  return { onnx: onnxPath, h5 };
}

const X = Float32Array.from({ length: 6 }, (_, i) => (i - 2.5) / 3);

async function run(model: string): Promise<Float32Array> {
  const o = ort();
  const s = await o.InferenceSession.create(model, NO_PREPACK);
  try {
    return (await s.run({ X: new o.Tensor('float32', X, [1, 6]) })).Y!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** What Python's onnx sees in a linked model: external data per initializer, and the model with initializers removed. */
function inspect(linked: string, original: string): { ext: Record<string, Record<string, string>>; restSame: boolean } {
  return JSON.parse(
    python(
      `
import sys, json, onnx
a = onnx.load(sys.argv[1], load_external_data=False); b = onnx.load(sys.argv[2], load_external_data=False)
ext = {}
def inits(g, out):
    out.extend(g.initializer)
    for n in g.node:
        for at in n.attribute:
            if at.HasField('g'): inits(at.g, out)
            for sg in at.graphs: inits(sg, out)
    return out
for t in inits(a.graph, []):
    if t.data_location == onnx.TensorProto.EXTERNAL: ext[t.name] = {e.key: e.value for e in t.external_data}
def strip(m):
    for t in inits(m.graph, []):
        t.ClearField('raw_data'); t.ClearField('external_data'); t.ClearField('data_location')
        t.ClearField('float_data'); t.ClearField('int64_data')
    return m.SerializeToString()
print(json.dumps({'ext': ext, 'restSame': strip(a) == strip(b)}))
`,
      [linked, original],
    ),
  );
}

describe('linkOnnx', () => {
  it('points every matching initializer (subgraphs included) into the .h5 and the model runs with identical outputs', async () => {
    const { onnx, h5 } = makeModel('mlp');
    const out = join(dir, 'mlp.linked.onnx');
    const r = await linkOnnx(onnx, h5, out);
    expect(r.linked.map((l) => l.initializer).sort()).toEqual([
      'l1.bias',
      'l1.weight',
      'l2.bias',
      'l2.weight',
      'steps',
    ]);
    expect(r.linked.find((l) => l.initializer === 'l2.weight')!.graph).toBe('graph/branch/then_branch');
    expect(r.inline.map((i) => i.initializer).sort()).toEqual(['one', 'three', 'zero']);
    expect(r.bytesLinked).toBe((30 + 5 + 15 + 3) * 4 + 3 * 8);
    const seen = inspect(out, onnx);
    expect(seen.restSame).toBe(true);
    for (const l of r.linked) {
      expect(seen.ext[l.initializer]).toEqual({
        location: 'mlp.h5',
        offset: String(l.offset),
        length: String(l.length),
      });
      // The bytes at that offset are the dataset's (h5py reads the same values).
      const bytes = readFileSync(h5).subarray(l.offset, l.offset + l.length);
      const fromPy = python(
        `import sys,h5py,numpy as np; print(h5py.File(sys.argv[1],'r')[sys.argv[2]][()].tobytes().hex())`,
        [h5, l.dataset],
      ).trim();
      expect(bytes.toString('hex')).toBe(fromPy);
    }
    // Same kernels (no pre-packing either side), same weights: bit-identical outputs.
    expect(await run(out)).toEqual(await run(onnx));
  });

  it('refuses chunked, compressed and big-endian datasets, listing all of them, and leaves no output', async () => {
    const { onnx, h5 } = makeModel('bad', { 'l1.weight': 'gzip', 'l2.weight': 'chunked', 'l1.bias': 'big-endian' });
    const out = join(dir, 'bad.linked.onnx');
    const e = await linkOnnx(onnx, h5, out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_NOT_LINKABLE');
    const tensors = (e as H5Error & { tensors: { initializer: string; reason: string }[] }).tensors;
    expect(Object.fromEntries(tensors.map((t) => [t.initializer, t.reason]))).toEqual({
      'l1.weight': 'filtered',
      'l2.weight': 'chunked',
      'l1.bias': 'big-endian',
    });
    expect(() => readFileSync(out)).toThrow();
  });

  it("refuses h5py's default, unaligned layout (an int64 at an odd address)", async () => {
    const { onnx, h5 } = makeModel('unaligned', { '*': 'unaligned' });
    const e = (await linkOnnx(onnx, h5, join(dir, 'unaligned.linked.onnx')).catch((x: unknown) => x)) as H5Error & {
      tensors: { initializer: string; reason: string }[];
    };
    expect(e.code).toBe('H5_NOT_LINKABLE');
    expect(e.tensors.map((t) => t.reason)).toContain('unaligned');
    expect(e.tensors.every((t) => t.reason === 'unaligned')).toBe(true);
  });

  it("repacks what cannot be served as stored into a contiguous .h5 next to the model (onUnlinkable: 'repack')", async () => {
    const { onnx, h5 } = makeModel('repack', { 'l1.weight': 'gzip', 'l1.bias': 'big-endian' });
    const out = join(dir, 'repack.linked.onnx');
    const r = await linkOnnx(onnx, h5, out, { onUnlinkable: 'repack' });
    expect(r.repacked.sort()).toEqual(['/l1/bias', '/l1/weight']);
    expect(r.repackPath).toBe(join(dir, 'repack.linked.weights.h5'));
    const seen = inspect(out, onnx);
    expect(seen.ext['l1.weight']!.location).toBe('repack.linked.weights.h5');
    expect(seen.ext['l2.weight']!.location).toBe('repack.h5');
    expect(await run(out)).toEqual(await run(onnx));
  });

  it('refuses a dataset whose dtype, shape or values differ from the initializer', async () => {
    const { onnx } = makeModel('mismatch');
    const h5 = join(dir, 'mismatch-other.h5');
    python(
      `
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'w') as f:
    f['l1/weight'] = np.zeros((6, 5), np.float64)
    f['l1/bias'] = np.zeros((1, 5), np.float32)
    f['l2/weight'] = np.zeros((5, 3), np.float32)
`,
      [h5],
    );
    const e = (await linkOnnx(onnx, h5, join(dir, 'mismatch.linked.onnx')).catch((x: unknown) => x)) as H5Error & {
      tensors: { initializer: string; reason: string }[];
    };
    expect(e.code).toBe('H5_NOT_LINKABLE');
    const why = Object.fromEntries(e.tensors.map((t) => [t.initializer, t.reason.split(':')[0]]));
    expect(why).toEqual({ 'l1.weight': 'dtype', 'l1.bias': 'shape', 'l2.weight': 'data-differs' });
  });

  it('maps names explicitly (map option); a mapping to a missing dataset is H5_NOT_FOUND', async () => {
    const { onnx } = makeModel('mapped');
    const h5 = join(dir, 'mapped-renamed.h5');
    python(
      `
import sys, h5py, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
with h5py.File(sys.argv[2], 'w') as f:
    f['first/kernel'] = numpy_helper.to_array(m.graph.initializer[0])
`,
      [onnx, h5],
    );
    const r = await linkOnnx(onnx, h5, join(dir, 'mapped.linked.onnx'), { map: { 'l1.weight': 'first/kernel' } });
    expect(r.linked.map((l) => [l.initializer, l.dataset])).toEqual([['l1.weight', '/first/kernel']]);
    const e = await linkOnnx(onnx, h5, join(dir, 'mapped2.linked.onnx'), { map: { 'l1.weight': 'nope' } }).catch(
      (x: unknown) => x,
    );
    expect((e as H5Error).code).toBe('H5_NOT_FOUND');
    const f = await linkOnnx(onnx, h5, join(dir, 'mapped3.linked.onnx'), {
      requireAll: true,
      map: (n) => (n === 'l1.weight' ? 'first/kernel' : undefined),
    }).catch((x: unknown) => x);
    expect((f as H5Error).code).toBe('H5_NOT_LINKABLE');
    expect((f as H5Error & { tensors: { initializer: string }[] }).tensors.map((t) => t.initializer)).toContain(
      'l1.bias',
    );
  });

  it('refuses a data file outside the output model directory (onnxruntime reads external data only below it)', async () => {
    const { onnx, h5 } = makeModel('outside');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const e = await linkOnnx(onnx, h5, join(dir, 'sub', 'outside.onnx')).catch((x: unknown) => x);
    expect((e as H5Error).code).toBe('H5_NOT_LINKABLE');
    expect((e as H5Error).reason).toBe('outside-model-directory');
  });

  it('a file that is not an ONNX model is H5_ONNX_INVALID', async () => {
    const { onnx, h5 } = makeModel('trunc');
    const bad = join(dir, 'trunc-bad.onnx');
    const bytes = readFileSync(onnx);
    writeFileSync(bad, bytes.subarray(0, bytes.length - 7));
    const e1 = await linkOnnx(bad, h5, join(dir, 'x.onnx')).catch((x: unknown) => x);
    expect((e1 as H5Error).code).toBe('H5_ONNX_INVALID');
    writeFileSync(bad, 'hello, I am text\n');
    const e2 = await linkOnnx(bad, h5, join(dir, 'x.onnx')).catch((x: unknown) => x);
    expect((e2 as H5Error).code).toBe('H5_ONNX_INVALID');
  });
});

describe('h5vault onnx-link', () => {
  it('links from the command line (--json), refuses with exit 1 listing the datasets, and rejects a bad --map (exit 2)', async () => {
    const { onnx, h5 } = makeModel('cli');
    const out = join(dir, 'cli.linked.onnx');
    const ok = cli(['onnx-link', onnx, h5, out, '--json']);
    expect(ok.status).toBe(0);
    const j = JSON.parse(ok.stdout) as { ok: boolean; linked: unknown[] };
    expect(j.ok).toBe(true);
    expect(j.linked).toHaveLength(5);
    expect(await run(out)).toEqual(await run(onnx));
    expect(cli(['onnx-link', onnx, h5, out]).status).toBe(3); // exists without --force: H5_EXISTS
    const bad = makeModel('cli-bad', { 'l2.bias': 'gzip' });
    const r = cli(['onnx-link', bad.onnx, bad.h5, join(dir, 'cli-bad.linked.onnx')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'l2.bias' → /l2/bias: filtered");
    expect(r.stderr).toContain('[H5_NOT_LINKABLE]');
    const rp = cli(['onnx-link', bad.onnx, bad.h5, join(dir, 'cli-bad.linked.onnx'), '--repack']);
    expect(rp.status).toBe(0);
    expect(rp.stdout).toContain('(repacked) /l2/bias');
    expect(cli(['onnx-link', onnx, h5, join(dir, 'c2.onnx'), '--map', 'oops']).status).toBe(2);
  });
});
