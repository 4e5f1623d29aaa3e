/**
 * worker.terminate() at random points while a worker uses h5vault is a clean
 * worker exit, never the end of the process. Inference servers recycle worker
 * pools; before the fix, the first napi call a terminating worker made failed,
 * node-addon-api rethrew that failure out of its C callback and std::terminate
 * aborted the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'"). The rounds run in a child process (terminate-child.mjs) so
 * that an abort is seen as its exit signal rather than the end of this run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';
import { DIST_URL, ensureDist } from './child.js';

const dir = tempDir('h5vault-terminate-');
const CHILD = fileURLToPath(new URL('./terminate-child.mjs', import.meta.url));
beforeAll(() => ensureDist());

// Asynchronous on purpose: a long spawnSync stalls vitest's worker RPC.
function run(
  args: string[],
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--expose-gc', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

describe('worker.terminate() while the worker uses h5vault', () => {
  it('100 rounds of terminate at random points (open/close, sync and async reads, views, appends, flush in flight): each worker exits, the process lives, no mapping leaks, no file is harmed', async () => {
    const seed = Date.now() % 1_000_000;
    const r = await run([DIST_URL, dir, '100', String(seed)]);
    const context = `seed ${seed}\n${r.stderr}`;
    expect(r.signal, context).toBeNull();
    expect(r.stderr, context).toBe('');
    expect(r.status, context).toBe(0);
    const s = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(s.errors, context).toEqual([]);
    expect(s.rounds).toBe(100);
    // A worker stopped once it ran our code ends with code 1 (terminated);
    // one stopped while still starting up ends with 0, as Node reports it.
    for (const [key, n] of Object.entries(s.exitCodes as Record<string, number>)) {
      expect(['afterReady:1', 'beforeReady:0', 'beforeReady:1'], `${key} x${n}, ${context}`).toContain(key);
    }
    // Both kinds of stop happened, and workers had acknowledged rows that
    // were then found in their files.
    expect(s.phase.afterReady).toBeGreaterThan(20);
    expect(s.phase.beforeReady).toBeGreaterThan(20);
    expect(s.checkedFiles).toBeGreaterThan(0);
    expect(s.mainRowsOk).toBe(true);
    // Not asserted: s.leakedHandles (wrapped handles still counted after GC)
    // was 0 in 3 runs and 4 in 1 (of thousands the workers made); open
    // question, see the branch report.
    expect(s.leakedMappings).toBe(0);
  }, 600_000); // 100 worker start-ups: 45 s idle, over 120 s on a loaded 2-core machine
});
