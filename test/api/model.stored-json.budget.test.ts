/**
 * The JSON h5vault stores and reads back (a model's metadata and tensor-index
 * attributes, the local store's index) is parsed within STORED_JSON_BUDGET
 * (lib/safety/budget.ts): a nesting bomb planted in a file is refused as
 * H5_CORRUPT before JSON.parse allocates (V8's JSON.parse of a 10 MB `[[[…`
 * costs ~570 MB), measured as the peak RSS of a child process.
 */
import { describe, it, expect } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, saveModel, type Tensor } from '../../lib/index.js';
import { parseStoredJson, JsonScanError } from '../../lib/safety/budget.js';
import { childPeak } from '../child-peak.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-stored-json-');
const bomb = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const tensors: Record<string, Tensor> = { w: { dtype: 'float32', data: new Float32Array([1, 2, 3]), shape: [3] } };

async function model(name: string): Promise<string> {
  const p = join(dir, `${name}.h5`);
  await saveModel(p, tensors, { metadata: { task: 'test' } });
  return p;
}

function tamper(base: string, name: string, attr: string, value: string): string {
  const p = join(dir, `${name}.h5`);
  copyFileSync(base, p);
  const f = File.open(p, { mode: 'r+' });
  f.attrs.set(attr, value);
  f.close();
  return p;
}

describe('stored JSON budget', () => {
  it('parseStoredJson refuses nesting deeper than 127 levels and accepts 127', () => {
    expect(parseStoredJson(bomb(127))).toBeInstanceOf(Array);
    expect(() => parseStoredJson(bomb(128))).toThrow(JsonScanError);
  });

  it("a 10 MB nesting bomb in a model's h5vault.metadata is H5_CORRUPT with a small peak memory", async () => {
    const p = tamper(await model('meta-base'), 'meta-bomb', 'h5vault.metadata', bomb(5_000_000));
    const out = childPeak(
      `
      const { loadModel } = await import(DIST + '/index.js');
      const e = await loadModel(process.env.P, { verify: false }).then(() => null, (x) => x);
      out.result = e && [e.code, /h5vault\\.metadata/.test(e.message)].join(' ');`,
      { P: p },
    );
    expect(out.result).toBe('H5_CORRUPT true');
    expect(out.growthMb).toBeLessThan(150);
  });

  it('a 10 MB nesting bomb in the tensor index is H5_CORRUPT with a small peak memory', async () => {
    const p = tamper(await model('index-base'), 'index-bomb', 'h5vault.index', bomb(5_000_000));
    const out = childPeak(
      `
      const { loadModel } = await import(DIST + '/index.js');
      const e = await loadModel(process.env.P, { verify: false }).then(() => null, (x) => x);
      out.result = e && [e.code, /h5vault\\.index/.test(e.message)].join(' ');`,
      { P: p },
    );
    expect(out.result).toBe('H5_CORRUPT true');
    expect(out.growthMb).toBeLessThan(150);
  });

  it("a nesting bomb as a local store's index is H5_CORRUPT with a small peak memory", async () => {
    const root = join(dir, 'store');
    const out0 = childPeak(
      `
      const { ModelStore } = await import(DIST + '/index.js');
      const s = await ModelStore.open(process.env.ROOT, { create: true });
      await s.save('m', { w: { dtype: 'float32', data: new Float32Array([1]), shape: [1] } });
      out.ok = true;`,
      { ROOT: root },
    );
    expect(out0.ok).toBe(true);
    mkdirSync(join(root, 'm'), { recursive: true });
    writeFileSync(join(root, 'm', 'index.json'), bomb(5_000_000));
    const out = childPeak(
      `
      const { ModelStore } = await import(DIST + '/index.js');
      const s = await ModelStore.open(process.env.ROOT);
      const e = await s.load('m').then(() => null, (x) => x);
      out.result = e && e.code;`,
      { ROOT: root },
    );
    expect(out.result).toBe('H5_CORRUPT');
    expect(out.growthMb).toBeLessThan(150);
  });
});
