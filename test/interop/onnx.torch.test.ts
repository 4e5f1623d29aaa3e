/**
 * A real network end to end: torch (Debian's python3-torch) builds a small
 * CNN and a transformer block with a fixed seed, exports them with
 * torch.onnx.export and writes their weights to HDF5 with h5py; linkOnnx
 * points the exported model at that .h5 and onnxruntime-node runs it. The
 * outputs must equal torch's own within 1e-5.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { linkOnnx, loadModel, ortFeeds } from '../../lib/index.js';
import { python, tempDir } from '../helpers.js';
import { NO_PREPACK, ort, requireOnnxPeers } from './onnx.helpers.js';

const dir = tempDir('h5vault-onnx-torch-');
beforeAll(() => requireOnnxPeers({ torch: true }));

const BUILD = `
import sys, json, numpy as np, torch, h5py, onnx
torch.manual_seed(0)
kind, out = sys.argv[1], sys.argv[2]

class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2)
        self.fc = torch.nn.Linear(16 * 7 * 7, 10)
    def forward(self, x):
        x = torch.relu(self.bn(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.fc(x.flatten(1))

class Block(torch.nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(d)
        self.attn = torch.nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = torch.nn.LayerNorm(d)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d))
    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))

if kind == 'cnn':
    net, x = CNN(), torch.randn(2, 3, 16, 16)
    # Non-trivial batch-norm statistics, so its buffers matter.
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5); net.bn.running_var.uniform_(0.5, 2.0)
elif kind == 'block':
    net, x = Block(), torch.randn(2, 5, 32)
net.eval()
with torch.no_grad():
    y = net(x)
# Weights stay initializers named after the module's parameters: no constant folding, and
# PRESERVE (the module is in eval mode) instead of EVAL, whose peephole folds batch norm into the conv.
torch.onnx.export(net, (x,), out + '.onnx', input_names=['x'], output_names=['y'], opset_version=14,
                  do_constant_folding=False, keep_initializers_as_inputs=False, training=torch.onnx.TrainingMode.PRESERVE)
with h5py.File(out + '.h5', 'w', alignment_threshold=1, alignment_interval=64) as f:
    for k, v in net.state_dict().items():
        if v.dtype.is_floating_point or k.endswith('num_batches_tracked'):
            f.create_dataset(k.replace('.', '/'), data=v.detach().numpy())
names = [t.name for t in onnx.load(out + '.onnx').graph.initializer]
print(json.dumps({'x': x.numpy().ravel().tolist(), 'xshape': list(x.shape), 'y': y.numpy().ravel().tolist(), 'initializers': names}))
`;

interface Built {
  x: number[];
  xshape: number[];
  y: number[];
  initializers: string[];
}

async function runLinked(base: string, built: Built): Promise<{ y: Float32Array; linked: string[] }> {
  const r = await linkOnnx(`${base}.onnx`, `${base}.h5`, `${base}.linked.onnx`);
  const o = ort();
  const s = await o.InferenceSession.create(r.path, NO_PREPACK);
  try {
    const out = await s.run({ x: new o.Tensor('float32', Float32Array.from(built.x), built.xshape) });
    return { y: out.y!.data as Float32Array, linked: r.linked.map((l) => l.initializer) };
  } finally {
    await s.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('torch → ONNX → h5vault-served weights → onnxruntime-node', () => {
  it('a small CNN (conv, batch norm, linear): outputs equal torch within 1e-5', async () => {
    const base = join(dir, 'cnn');
    const built = JSON.parse(python(BUILD, ['cnn', base])) as Built;
    const { y, linked } = await runLinked(base, built);
    // Every weight torch exported under its parameter name is served from the .h5.
    expect(linked.sort()).toEqual(built.initializers.filter((n) => !n.startsWith('onnx::')).sort());
    expect(linked.length).toBeGreaterThanOrEqual(8);
    const err = maxAbsDiff(y, built.y);
    console.log(`cnn: ${linked.length} initializers linked, max |ort - torch| = ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-5);
  });

  it('a transformer block (layer norm, multi-head attention, MLP): outputs equal torch within 1e-5', async () => {
    const base = join(dir, 'block');
    const built = JSON.parse(python(BUILD, ['block', base])) as Built;
    const { y, linked } = await runLinked(base, built);
    expect(linked).toEqual(expect.arrayContaining(['ln1.weight', 'attn.in_proj_weight', 'mlp.0.weight', 'mlp.2.bias']));
    const err = maxAbsDiff(y, built.y);
    console.log(`block: ${linked.length} initializers linked, max |ort - torch| = ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-5);
  });

  it('weights as graph inputs, fed by ortFeeds from the loaded .h5 (no copy): equal to torch within 1e-5', async () => {
    const base = join(dir, 'affine');
    const built = JSON.parse(
      python(
        `
import sys, json, numpy as np, torch, h5py
torch.manual_seed(1)
class Affine(torch.nn.Module):
    def forward(self, x, weight, bias):
        return torch.nn.functional.linear(x, weight, bias)
w, b, x = torch.randn(6, 12), torch.randn(6), torch.randn(3, 12)
torch.onnx.export(Affine(), (x, w, b), sys.argv[1] + '.onnx', input_names=['x', 'fc.weight', 'fc.bias'], output_names=['y'], opset_version=14)
with h5py.File(sys.argv[1] + '.h5', 'w', alignment_threshold=1, alignment_interval=64) as f:
    f['fc/weight'] = w.numpy(); f['fc/bias'] = b.numpy()
print(json.dumps({'x': x.numpy().ravel().tolist(), 'xshape': list(x.shape), 'y': Affine()(x, w, b).numpy().ravel().tolist(), 'initializers': []}))
`,
        [base],
      ),
    ) as Built;
    const m = await loadModel(`${base}.h5`, { verify: false });
    const o = ort();
    const s = await o.InferenceSession.create(`${base}.onnx`, NO_PREPACK);
    try {
      expect(m.views).toEqual(new Set(['fc/weight', 'fc/bias']));
      const feeds = ortFeeds(m, { 'fc.weight': 'fc/weight', 'fc.bias': 'fc/bias' });
      expect(feeds['fc.weight']!.data).toBe(m.tensors.get('fc/weight')!.data);
      const y = (await s.run({ ...feeds, x: new o.Tensor('float32', Float32Array.from(built.x), built.xshape) })).y!
        .data as Float32Array;
      expect(maxAbsDiff(y, built.y)).toBeLessThanOrEqual(1e-5);
    } finally {
      await s.release();
      m.close();
    }
  });
});
