/**
 * worker_threads: the addon loads in several environments at once, each can
 * open/read/write, a worker that exits (or is terminated) with files open and
 * reads pending cleans up through the environment cleanup hook, and the main
 * thread keeps working. Workers run dist/ (see child.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { DIST_URL, ensureDist, runNode } from './child.js';

const dir = tempDir();
beforeAll(() => ensureDist());

function worker(code: string, workerData: unknown): Promise<{ result: unknown; exitCode: number }> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(DIST_URL)}).then(async (H5) => {
      ${code}
    }).catch((e) => { parentPort.postMessage({ error: String(e && e.stack || e) }); });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData });
    let result: unknown;
    w.on('message', (m) => {
      result = m;
    });
    w.on('error', reject);
    w.on('exit', (exitCode) => resolve({ result, exitCode }));
  });
}

describe('worker_threads', () => {
  it('create, write, read and attributes inside workers, in parallel with the main thread', async () => {
    const files = [0, 1, 2].map((i) => join(dir, `w${i}.h5`));
    const jobs = files.map((p, i) =>
      worker(
        `
      const f = H5.File.create(workerData.p);
      const d = f.createDataset('x', { dtype: 'int32', shape: [1000], chunks: [100], compression: 'lz4' });
      await d.write(new Int32Array(1000).fill(workerData.i));
      f.attrs.set('who', 'worker ' + workerData.i);
      const back = await d.read();
      await f.closeAsync();
      parentPort.postMessage({ sum: back.reduce((a, b) => a + b, 0) });
    `,
        { p, i },
      ),
    );
    // The main thread keeps using the addon meanwhile.
    const mainFile = join(dir, 'main.h5');
    {
      using f = File.create(mainFile);
      f.createDataset('m', { dtype: 'float32', shape: [10], data: new Float32Array(10).fill(1) });
    }
    const results = await Promise.all(jobs);
    results.forEach(({ result, exitCode }, i) => {
      expect(exitCode).toBe(0);
      expect(result).toEqual({ sum: 1000 * i });
    });
    for (const [i, p] of files.entries()) {
      using f = File.open(p);
      expect(f.attrs.get('who')).toBe(`worker ${i}`);
      expect(f.dataset('x').readSync()).toEqual(new Int32Array(1000).fill(i));
    }
    using m = File.open(mainFile);
    expect(m.dataset('m').readSync()).toEqual(new Float32Array(10).fill(1));
  });

  it('a worker exiting with files open and reads pending releases them', async () => {
    const p = join(dir, 'pending.h5');
    {
      using f = File.create(p);
      f.createDataset('x', {
        dtype: 'float64',
        shape: [32768],
        chunks: [512],
        compression: 'gzip',
        data: new Float64Array(32768).fill(3),
      });
    }
    const { exitCode } = await worker(
      `
      const f = H5.File.open(workerData.p);
      const d = f.dataset('x');
      for (let i = 0; i < 8; i++) d.read();      // never awaited
      H5.File.open(workerData.p).dataset('x');   // another unclosed handle
      process.exit(0);                           // in a worker: ends the worker only
    `,
      { p },
    );
    expect(exitCode).toBe(0);
    // Everything the worker held is gone: libhdf5 lets us open read-write.
    for (let i = 0; i < 50; i++) {
      try {
        File.open(p, { mode: 'r+' }).close();
        break;
      } catch (e) {
        if (i === 49) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });

  it('terminate() during pending reads does not crash the process', async () => {
    const p = join(dir, 'term.h5');
    {
      using f = File.create(p);
      f.createDataset('x', {
        dtype: 'float32',
        shape: [65536],
        chunks: [1024],
        compression: 'gzip',
        shuffle: true,
        data: new Float32Array(65536).fill(1),
      });
    }
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(${JSON.stringify(DIST_URL)}).then((H5) => {
        const f = H5.File.open(workerData.p);
        for (let i = 0; i < 16; i++) f.dataset('x').read();
        // Stay alive: otherwise a fast machine finishes the reads and the
        // worker exits by itself (code 0) before terminate() arrives.
        setInterval(() => {}, 1000);
        parentPort.postMessage('reading');
      });`;
    for (let round = 0; round < 3; round++) {
      const w = new Worker(src, { eval: true, workerData: { p } });
      await new Promise((r) => w.once('message', r));
      expect(await w.terminate()).toBe(1);
    }
    using f = File.open(p);
    expect((await f.dataset('x').read()).length).toBe(65536);
  });

  it('a process exiting with a worker holding open files exits cleanly', () => {
    const p = join(dir, 'exit-with-worker.h5');
    const r = runNode(
      `
      const { Worker } = await import('node:worker_threads');
      const w = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        import(\${JSON.stringify(process.argv.at(-1))}).then((H5) => {
          const f = H5.File.create(\${JSON.stringify(process.argv.at(-2))});
          f.createDataset('x', { dtype: 'int8', shape: [4], data: new Int8Array(4).fill(1) });
          parentPort.postMessage('open');
        });\`, { eval: true, execArgv: [] }); // not the parent's --input-type=module
      await new Promise((r) => w.once('message', r));
      process.exit(0);
    `,
      [p, DIST_URL],
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
