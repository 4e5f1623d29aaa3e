/**
 * linkOnnx / `h5vault onnx-link` through the one door out and the one name
 * rule (issue 21, items 5, 6 and 14): a --repack side file is never replaced
 * without --force, an initializer already stored as external data keeps
 * pointing at the same file when the model moves to another directory (run
 * by the real onnxruntime-node), and an initializer named '../W' is refused
 * by name instead of aborting the link with a path TypeError.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkOnnx, H5Error } from '../../lib/index.js';
import { python, tempDir } from '../helpers.js';
import { NO_PREPACK, ort, requireOnnxPeers } from './onnx.helpers.js';
import { h5vault as cli, ensureBuilt } from '../cli/run.js';

const dir = tempDir('h5vault-onnx-doors-');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
beforeAll(() => {
  requireOnnxPeers();
  ensureBuilt();
});

const X = Float32Array.from({ length: 4 }, (_, i) => (i - 1.5) / 2);

async function run(model: string): Promise<number[]> {
  const o = ort();
  const s = await o.InferenceSession.create(model, NO_PREPACK);
  try {
    return Array.from((await s.run({ X: new o.Tensor('float32', X, [1, 4]) })).Y!.data as Float32Array);
  } finally {
    await s.release();
  }
}

/**
 * Y = X @ W + B (W [4, 3], B [3]), built by Python's onnx. `external`: every
 * initializer saved as external data in `w.bin` next to the model. `names`
 * renames the initializers; `h5` also gets the weights from h5py
 * (`gzip`: W compressed, so only --repack can link it).
 */
function makeModel(
  onnxPath: string,
  opts: { external?: boolean; names?: [string, string]; h5?: string; gzip?: boolean } = {},
): void {
  python(
    `
import sys, json, numpy as np, onnx, h5py
from onnx import helper, TensorProto, numpy_helper
onnx_path, opts = sys.argv[1], json.loads(sys.argv[2])
wn, bn = opts.get('names') or ['W', 'B']
rng = np.random.default_rng(11)
W = rng.standard_normal((4, 3)).astype(np.float32); B = rng.standard_normal(3).astype(np.float32)
def vi(n, shape): return helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
g = helper.make_graph([helper.make_node('MatMul', ['X', wn], ['M']), helper.make_node('Add', ['M', bn], ['Y'])], 'g',
    [vi('X', [1, 4])], [vi('Y', [1, 3])], [numpy_helper.from_array(W, wn), numpy_helper.from_array(B, bn)])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
m.ir_version = 8
onnx.checker.check_model(m)
if opts.get('external'):
    onnx.save(m, onnx_path, save_as_external_data=True, all_tensors_to_one_file=True, location='w.bin', size_threshold=0)
else:
    onnx.save(m, onnx_path)
if opts.get('h5'):
    with h5py.File(opts['h5'], 'w', alignment_threshold=1, alignment_interval=64) as f:
        f.create_dataset('W', data=W, compression='gzip' if opts.get('gzip') else None)
        f.create_dataset('B', data=B)
`,
    [onnxPath, JSON.stringify(opts)],
  );
}

describe('onnx-link --repack never replaces a side file it was not told to (item 5)', () => {
  it('an existing OUT.weights.h5 is refused with H5_EXISTS naming it (exit 3), byte-identical; --force replaces it', async () => {
    const d = join(dir, 'side');
    mkdirSync(d);
    const model = join(d, 'm.onnx');
    const h5 = join(d, 'w.h5');
    makeModel(model, { h5, gzip: true });
    const out = join(d, 'out.onnx');
    const side = join(d, 'out.weights.h5');
    writeFileSync(side, 'precious weights of another model');
    const before = sha(side);

    const r = cli(['onnx-link', model, h5, out, '--repack']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('H5_EXISTS');
    expect(r.stderr).toContain(side);
    expect(r.stderr).toContain('--force');
    expect(sha(side)).toBe(before);
    expect(existsSync(out)).toBe(false);

    // The API refuses it the same way unless overwrite: true.
    const e = await linkOnnx(model, h5, out, { onUnlinkable: 'repack' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect(e).toMatchObject({ code: 'H5_EXISTS', path: side });
    expect(sha(side)).toBe(before);

    const ok = cli(['onnx-link', model, h5, out, '--repack', '--force']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(sha(side)).not.toBe(before);
    expect(await run(out)).toEqual(await run(model));
  });
});

describe('linkOnnx keeps external data pointing at the same file in another directory (item 6)', () => {
  it('a model moved up one directory reads its own w.bin, not a same-named file there: outputs equal the original', async () => {
    const root = join(dir, 'moved');
    const sub = join(root, 'sub');
    mkdirSync(sub, { recursive: true });
    const model = join(sub, 'm.onnx');
    makeModel(model, { external: true });
    // The trap: a file of the same name and size where the new model lives, holding other values.
    const real = readFileSync(join(sub, 'w.bin'));
    writeFileSync(join(root, 'w.bin'), Buffer.from(new Float32Array(real.length / 4).fill(7.5).buffer));
    const h5 = join(root, 'unrelated.h5');
    python(
      `import sys, h5py, numpy as np; h5py.File(sys.argv[1], 'w').create_dataset('other', data=np.zeros(2, np.float32))`,
      [h5],
    );
    const out = join(root, 'out.onnx');

    const r = await linkOnnx(model, h5, out);
    expect(r.linked).toEqual([]);
    expect(r.inline.map((i) => [i.initializer, i.reason]).sort()).toEqual([
      ['B', 'already-external'],
      ['W', 'already-external'],
    ]);
    const loc = JSON.parse(
      python(
        `
import sys, json, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
print(json.dumps({t.name: {e.key: e.value for e in t.external_data} for t in m.graph.initializer}))`,
        [out],
      ),
    ) as Record<string, Record<string, string>>;
    expect(loc.W!.location).toBe('sub/w.bin');
    expect(loc.B!.location).toBe('sub/w.bin');
    // offset/length entries are kept as they were.
    expect(Object.keys(loc.W!).sort()).toEqual(['length', 'location', 'offset']);
    const want = await run(model);
    expect(await run(out)).toEqual(want);
  });

  it('a model written where its external file would be outside its directory is refused (H5_NOT_LINKABLE), nothing written', async () => {
    const root = join(dir, 'sibling');
    const a = join(root, 'a');
    const b = join(root, 'b');
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    const model = join(a, 'm.onnx');
    makeModel(model, { external: true });
    const h5 = join(b, 'x.h5');
    python(
      `import sys, h5py, numpy as np; h5py.File(sys.argv[1], 'w').create_dataset('other', data=np.zeros(2, np.float32))`,
      [h5],
    );
    const out = join(b, 'out.onnx');
    const e = await linkOnnx(model, h5, out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_NOT_LINKABLE');
    const tensors = (e as H5Error & { tensors: { initializer: string; reason: string }[] }).tensors;
    expect(tensors.map((t) => t.initializer).sort()).toEqual(['B', 'W']);
    expect(tensors[0]!.reason).toMatch(/^external-data: .*not inside the output model's directory/);
    expect(existsSync(out)).toBe(false);
  });
});

describe("an initializer named '../W' is refused by name (item 14)", () => {
  it("H5_NOT_LINKABLE lists it with the name rule's reason; nothing is written; mapped explicitly, the link succeeds", async () => {
    const d = join(dir, 'names');
    mkdirSync(d);
    const model = join(d, 'm.onnx');
    const h5 = join(d, 'w.h5');
    makeModel(model, { names: ['../W', 'B'], h5 });
    const out = join(d, 'out.onnx');
    const e = await linkOnnx(model, h5, out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_NOT_LINKABLE');
    const tensors = (e as H5Error & { tensors: { initializer: string; dataset: string | null; reason: string }[] })
      .tensors;
    expect(tensors).toHaveLength(1);
    expect(tensors[0]).toMatchObject({ initializer: '../W', dataset: null });
    expect(tensors[0]!.reason).toContain(
      `dataset name "/../W" must be '/'-separated non-empty segments without '.' or '..'`,
    );
    expect((e as Error).message).toContain("'../W'");
    expect(existsSync(out)).toBe(false);

    // The ONNX name itself is fine: mapped to a real dataset, it links, and the model runs the same.
    const r = await linkOnnx(model, h5, out, { map: { '../W': 'W' } });
    expect(r.linked.map((l) => l.initializer).sort()).toEqual(['../W', 'B']);
    expect(await run(out)).toEqual(await run(model));
  });
});
