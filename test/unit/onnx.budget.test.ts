// Budgets of the ONNX protobuf reader behind linkOnnx (issue 21 #13, #14):
// nested subgraphs, dims per initializer and the number of initializers are
// bounded, and refused with H5_ONNX_INVALID naming the limit; memory stays a
// small multiple of the model (peak RSS of a child process), error messages
// stay short.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, linkOnnx, saveModel } from '../../lib/index.js';
import { lenField, stringField, varintBytes, varintField } from '../../lib/onnx/proto.js';
import { tempDir } from '../helpers.js';
import { childPeak } from '../child-peak.js';

const dir = tempDir('h5vault-onnx-budget-');
const cat = (parts: Uint8Array[]): Buffer => Buffer.concat(parts);
let seq = 0;

/** A TensorProto named `name`, float32, with `dims` and 4 bytes of raw data per element. */
function tensor(name: string, dims: number[]): Uint8Array[] {
  const n = dims.reduce((a, b) => a * b, 1);
  return [
    ...lenField(1, [cat(dims.map(varintBytes))]),
    ...varintField(2, 1),
    ...stringField(8, name),
    ...lenField(9, [new Uint8Array(4 * n)]),
  ];
}
const graph = (parts: Uint8Array[][]): Uint8Array[] => parts.flat();
const model = (g: Uint8Array[]): Buffer => cat([...varintField(1, 8), ...lenField(7, [cat(g)])]);

function write(bytes: Uint8Array): string {
  const p = join(dir, `m${seq++}.onnx`);
  writeFileSync(p, bytes);
  return p;
}

const h5 = join(dir, 'w.h5');
await saveModel(h5, { w: { dtype: 'float32', shape: [2], data: new Float32Array(2) } });

async function refusal(p: string): Promise<H5Error & { limit?: string; max?: number }> {
  const e = await linkOnnx(p, h5, join(dir, `out${seq++}.onnx`)).then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(H5Error);
  return e as H5Error & { limit?: string; max?: number };
}

/** `levels` nested If nodes, each holding the next graph in attribute 'then_branch'; the innermost has one initializer. */
function nested(levels: number): Buffer {
  let g = graph([[...lenField(5, tensor('w', [2]))]]);
  for (let k = 0; k < levels; k++) {
    const attr = [...stringField(1, 'then_branch'), ...lenField(6, [cat(g)])];
    const node = [...stringField(3, `if${k}`), ...lenField(5, [cat(attr)])];
    g = lenField(1, [cat(node)]);
  }
  return model(g);
}

describe('ONNX reader budgets', () => {
  it('32 nested subgraphs are walked; 1000 are H5_ONNX_INVALID naming the depth limit (was a stack overflow RangeError)', async () => {
    const r = await linkOnnx(write(nested(32)), h5, join(dir, 'deep-ok.onnx'));
    expect(r.linked.map((l) => l.initializer)).toEqual(['w']);
    expect(r.linked[0]!.graph.split('/').length).toBe(1 + 32 * 2);
    for (const levels of [33, 1000]) {
      const e = await refusal(write(nested(levels)));
      expect([e.code, e.limit, e.max], `${levels} levels`).toEqual(['H5_ONNX_INVALID', 'depth', 32]);
    }
  });

  it('an initializer with 10 M dims (a 10 MB model) is refused at 64 dims, with a short message and little memory', () => {
    const p = write(
      model(
        graph([
          [
            ...lenField(5, [
              ...lenField(1, [new Uint8Array(10_000_000).fill(1)]),
              ...varintField(2, 1),
              ...stringField(8, 'w'),
            ]),
          ],
        ]),
      ),
    );
    const r = childPeak(
      `
      const { linkOnnx } = await import(DIST + '/index.js');
      const e = await linkOnnx(process.env.P, process.env.H5, process.env.OUT).then(() => null, (x) => x);
      out.result = e && [e.code, e.limit, e.max].join(' ');
      out.messageLength = e && e.message.length;`,
      { P: p, H5: h5, OUT: join(dir, 'dims-out.onnx') },
    );
    expect(r.result).toBe('H5_ONNX_INVALID the dims of initializer "w" 64');
    expect(r.messageLength).toBeLessThan(300);
    // Before: 1.09 GB and a 30 MB message.
    expect(r.growthMb).toBeLessThan(120);
  });

  it('2 M initializers in a 14 MB model are refused over the per-byte budget with little memory', () => {
    const one = cat(lenField(5, [...stringField(8, 'x')]));
    const p = write(model([Buffer.concat(Array.from({ length: 2_000_000 }, () => one))]));
    const r = childPeak(
      `
      const { linkOnnx } = await import(DIST + '/index.js');
      const e = await linkOnnx(process.env.P, process.env.H5, process.env.OUT).then(() => null, (x) => x);
      out.result = e && [e.code, e.limit].join(' ');`,
      { P: p, H5: h5, OUT: join(dir, 'many-out.onnx') },
    );
    expect(r.result).toBe('H5_ONNX_INVALID initializers');
    // Before: 1.29 GB.
    expect(r.growthMb).toBeLessThan(250);
  });

  it('a refusal listing 50 initializers names the first 10 and counts the rest; `tensors` holds all 50', async () => {
    const inits = Array.from({ length: 50 }, (_, k) => lenField(5, tensor(k === 0 ? 'w' : `w${k}`, [3])));
    const e = (await linkOnnx(write(model(graph(inits))), h5, join(dir, 'list-out.onnx'), { map: () => '/w' }).catch(
      (x: unknown) => x,
    )) as H5Error & { tensors: unknown[] };
    expect(e.code).toBe('H5_NOT_LINKABLE');
    expect(e.tensors).toHaveLength(50);
    expect(e.message).toMatch(/; and 40 more$/);
  });
});
