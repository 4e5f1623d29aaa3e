/**
 * classic-level's at-exit test: a child process exits (process.exit) at each
 * step of a file's life. It must exit with status 0 and print nothing, and
 * the file must afterwards open cleanly; once the data is written (even if
 * the file was never closed) it must be all there, because the environment
 * cleanup releases every handle and libhdf5 closes the file properly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { ensureDist, runNode } from './child.js';

const dir = tempDir();
beforeAll(() => ensureDist());

const STEPS = [
  'loaded',
  'created',
  'dataset',
  'attrs',
  'write-pending',
  'reopened',
  'read-pending',
  'view',
  'closed',
] as const;
type Step = (typeof STEPS)[number];

// The child runs the steps in order and exits right after the named one.
const CHILD = `
const [path, stop] = process.argv.slice(-2);
const at = (s) => { if (s === stop) process.exit(0); };
at('loaded');
let f = H5.File.create(path);
at('created');
const n = 1 << 16;
const data = new Float32Array(n).map((_, i) => i);
const d = f.createDataset('x', { dtype: 'float32', shape: [n], chunks: [4096], compression: 'lz4', data });
f.createDataset('plain', { dtype: 'int32', shape: [4], data: Int32Array.of(1, 2, 3, 4) });
at('dataset');
f.attrs.set('epoch', 12);
d.attrs.set('units', 'none');
at('attrs');
d.write(data.map((x) => -x));   // not awaited
at('write-pending');
await f.closeAsync();
f = H5.File.open(path);
at('reopened');
const pending = [f.dataset('x').read(), f.dataset('x').read({ start: [5], count: [10] })];
at('read-pending');
await Promise.all(pending);
const v = f.dataset('plain').view();
at('view');
f.close();
at('closed');
`;

describe('process exit at each lifecycle step', () => {
  it.each(STEPS)('exit after %s', (step: Step) => {
    const p = join(dir, `${step}.h5`);
    const r = runNode(CHILD, [p, step]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    if (step === 'loaded') {
      expect(existsSync(p)).toBe(false);
      return;
    }
    using f = File.open(p);
    const at = STEPS.indexOf(step);
    if (at < STEPS.indexOf('dataset')) {
      expect(f.keys()).toEqual([]);
      return;
    }
    expect(f.dataset('plain').readSync()).toEqual(Int32Array.of(1, 2, 3, 4));
    const x = f.dataset('x').readSync() as Float32Array;
    expect(x.length).toBe(1 << 16);
    if (at >= STEPS.indexOf('attrs')) {
      expect(f.attrs.get('epoch')).toBe(12);
      expect(f.dataset('x').attrs.get('units')).toBe('none');
    }
    if (at > STEPS.indexOf('write-pending')) {
      // closeAsync() waited for the write.
      expect(x[1]).toBe(-1);
      expect(x[(1 << 16) - 1]).toBe(-((1 << 16) - 1));
    } else if (step === 'write-pending') {
      // Exit raced the write: each chunk holds the old or the new values, never garbage.
      for (let i = 0; i < x.length; i += 4096) expect([i, -i]).toContain(x[i]);
    } else {
      expect(x[1]).toBe(1);
    }
  });
});
