// Views across the lifetime of a server: thousands of open/view/close cycles,
// files replaced by atomic rename under live views, worker threads, and
// process exit with views alive.
import { describe, expect, it } from 'vitest';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { File } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { bytesEqual, gaussian, tempDir } from '../helpers.js';

const dir = tempDir();
const gc = (globalThis as { gc?: () => void }).gc;
const DIST = new URL('../../dist/index.js', import.meta.url).href;

function save(p: string, tensors: Record<string, Float32Array>): void {
  // The replace-by-rename pattern saveModel uses: write a temp, rename over.
  const tmp = `${p}.tmp`;
  const f = File.create(tmp, { overwrite: true });
  for (const [k, v] of Object.entries(tensors)) f.createDataset(k, { dtype: 'float32', shape: [v.length], data: v });
  f.close();
  renameSync(tmp, p);
}

function rssAnonKiB(): number {
  const s = readFileSync('/proc/self/status', 'utf8');
  return Number(/RssAnon:\s+(\d+)/.exec(s)![1]);
}

describe('view lifetime', () => {
  it('10 000 open/view/close cycles keep memory and mappings flat', async () => {
    expect(gc, 'run with --expose-gc (vitest.config.ts sets it)').toBeTypeOf('function');
    const p = join(dir, 'cycles.h5');
    save(p, { a: gaussian(1 << 14, 1), b: gaussian(1 << 12, 2) });
    const cycle = () => {
      const f = File.open(p);
      const v = f.dataset('a').view() as Float32Array;
      const w = f.dataset('b').view() as Float32Array;
      // Touch a page of each view so the mapping is really populated.
      if (!(v.length === 1 << 14 && w.length === 1 << 12) || Number.isNaN(v[100]! + w[100]!))
        throw new Error('bad view');
      f.close();
    };
    for (let i = 0; i < 500; i++) cycle(); // warm up allocator / JIT
    gc!();
    await new Promise((r) => setTimeout(r, 10));
    gc!();
    const base = rssAnonKiB();
    for (let i = 0; i < 10_000; i++) {
      cycle();
      if (i % 1000 === 999) {
        gc!();
        await new Promise((r) => setImmediate(r));
      }
    }
    gc!();
    await new Promise((r) => setTimeout(r, 10));
    gc!();
    const grown = rssAnonKiB() - base;
    // Each cycle maps 80 KiB of file: 10 000 leaked cycles would be ~800 MB.
    expect(grown).toBeLessThan(32 * 1024);
    // Leaked views would keep mappings (and their file handles) alive.
    expect(native.mappingStats().mappings).toBeLessThan(50);
    expect(native.mappingStats().handles).toBeLessThan(200);
  });

  it('views of v1 keep v1 values after v2 is renamed over the path', () => {
    const p = join(dir, 'replace.h5');
    const v1 = gaussian(50_000, 21);
    const v2 = gaussian(50_000, 22);
    save(p, { w: v1 });
    const f1 = File.open(p);
    const view1 = f1.dataset('w').view();
    save(p, { w: v2 }); // atomic replace while view1 is alive
    expect(bytesEqual(view1, v1)).toBe(true);
    const f2 = File.open(p);
    expect(bytesEqual(f2.dataset('w').view(), v2)).toBe(true);
    f1.close();
    expect(bytesEqual(view1, v1)).toBe(true);
    f2.close();
  });

  it('a file renamed over between open and first view maps the inode libhdf5 opened', () => {
    const p = join(dir, 'late.h5');
    const v1 = gaussian(4096, 31);
    save(p, { w: v1 });
    const f = File.open(p);
    save(p, { w: gaussian(4096, 32) });
    expect(bytesEqual(f.dataset('w').view(), v1)).toBe(true);
    f.close();
  });

  it('views work inside worker_threads and survive the worker exiting', async () => {
    const p = join(dir, 'worker.h5');
    const data = gaussian(8192, 41);
    save(p, { w: data });
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.dist).then(({ File }) => {
        const f = File.open(workerData.path);
        const v = f.dataset('w').view();
        let s = 0; for (const x of v) s += x;
        f.close();
        parentPort.postMessage({ sum: s, first: v[0], len: v.length });
      });`;
    const results = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<{ sum: number; first: number; len: number }>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { dist: DIST, path: p } });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    let sum = 0;
    for (const x of data) sum += x;
    for (const r of results) {
      expect(r.len).toBe(8192);
      expect(r.first).toBe(data[0]);
      expect(r.sum).toBeCloseTo(sum, 6);
    }
  });

  it('process exit with live views (and open files) is clean', () => {
    const p = join(dir, 'exit.h5');
    save(p, { w: gaussian(4096, 51) });
    for (const how of ['exit', 'return', 'throw']) {
      const script = `
        import { File } from ${JSON.stringify(DIST)};
        const f = File.open(${JSON.stringify(p)});
        globalThis.keep = f.dataset('w').view();
        ${how === 'exit' ? 'process.exit(0);' : how === 'throw' ? "throw new Error('boom');" : ''}`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status).toBe(how === 'throw' ? 1 : 0);
    }
  });
});
