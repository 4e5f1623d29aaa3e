/**
 * saveModel / loadModel from code run with `node --input-type=module` (-e or
 * stdin): the hash worker is eval'd source, which such a process would parse
 * as an ES module, where `require` does not exist (it threw ReferenceError).
 * Real child processes, both ways of feeding the code.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DIST_URL, ensureDist } from '../lifecycle/child.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-input-type-');

const code = (p: string) => `const { saveModel, loadModel } = await import(${JSON.stringify(DIST_URL)});
const r = await saveModel(${JSON.stringify(p)}, { w: { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } });
const m = await loadModel(${JSON.stringify(p)}, { expectDigest: r.digest });
console.log(JSON.stringify({ digest: r.digest, w: Array.from(m.tensors.get('w').data), views: [...m.views] }));
m.close();`;

describe('saveModel under node --input-type=module', () => {
  it.each(['-e', 'stdin'])('via %s: saves, hashes and loads', (how) => {
    ensureDist();
    const p = join(dir, `m-${how.replace('-', '')}.h5`);
    const args = how === '-e' ? ['--input-type=module', '-e', code(p)] : ['--input-type=module'];
    const r = spawnSync(process.execPath, args, {
      input: how === 'stdin' ? code(p) : undefined,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).not.toMatch(/require is not defined/);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { digest: string; w: number[]; views: string[] };
    expect(out.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(out.w).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.views).toEqual(['w']);
  });
});
