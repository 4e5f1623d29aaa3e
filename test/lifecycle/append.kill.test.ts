/**
 * The durability point docs/api.md ("file.flush()") states for appends: a
 * process killed with SIGKILL at any point of an append loop leaves a file
 * that opens in h5vault and in h5py and holds every row appended before the
 * last completed flush() — for unfiltered chunked datasets. (Filtered ones
 * have no such guarantee in libhdf5 1.10; the docs say why.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { DIST_URL, ensureDist } from './child.js';

const dir = tempDir('h5vault-append-kill-');
const CHILD = fileURLToPath(new URL('./append-child.mjs', import.meta.url));
beforeAll(() => {
  ensureDist();
  requirePeers();
});

/** Starts the appender, kills it `delay` ms after its first flush, returns the rows of the last completed flush. */
async function killAfter(p: string, delay: number): Promise<number> {
  const c = spawn(process.execPath, [CHILD, DIST_URL, p], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  const closed = new Promise((r) => c.on('close', r));
  await new Promise((r) => c.stdout.once('data', r));
  await new Promise((r) => setTimeout(r, delay));
  c.kill('SIGKILL');
  await closed;
  // Only whole lines: a flush whose line was cut short is not known complete.
  const flushed = out
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('F '))
    .map((l) => Number(l.slice(2)));
  return flushed.at(-1)!;
}

describe('append() + flush() then SIGKILL', () => {
  it('50 kills at random points: every file opens in h5vault and h5py and holds every row flushed', async () => {
    const results: { file: string; flushed: number }[] = [];
    // Five appenders at a time: 50 node start-ups one after another took
    // longer than the test timeout on a loaded 2-core machine.
    for (let t = 0; t < 50; t += 5) {
      const batch = [0, 1, 2, 3, 4].map(async (k) => {
        const p = join(dir, `a${t + k}.h5`);
        return { file: p, flushed: await killAfter(p, Math.random() * 300) };
      });
      results.push(...(await Promise.all(batch)));
    }
    for (const { file, flushed } of results) {
      using f = File.open(file);
      const v = f.dataset('rows').readSync() as Float64Array;
      expect(v.length / 8, file).toBeGreaterThanOrEqual(flushed);
      const bad = v.subarray(0, flushed * 8).findIndex((x, i) => x !== Math.floor(i / 8));
      expect(bad, file).toBe(-1);
    }
    // h5py, once for all files: rows, and whether the flushed ones hold i.
    const py = python(
      `import h5py,sys,numpy as np\nfor p,n in zip(sys.argv[1::2], sys.argv[2::2]):\n  v=h5py.File(p,'r')['rows'][()]\n  n=int(n)\n  print(v.shape[0]>=n and bool((v[:n]==np.arange(n)[:,None]).all()))`,
      results.flatMap((r) => [r.file, String(r.flushed)]),
    );
    expect(py.trim().split('\n')).toEqual(results.map(() => 'True'));
    expect(results.filter((r) => r.flushed > 100).length).toBeGreaterThan(10); // kills past the first chunk happened
  }, 600_000);
});
