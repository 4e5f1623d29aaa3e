/** Peak memory of real work, measured in a child process (VmHWM of /proc/self/status): for the parser budget tests. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir('h5vault-child-peak-');
let seq = 0;

/**
 * Runs `body` (an ES module body with top-level await; `DIST` is the built
 * package's dist/ path, `env` is in process.env, results go in fields of
 * `out`) in a fresh Node process after h5vault is loaded, and returns `out`
 * plus `growthMb`: how far the body raised the process's peak RSS.
 */
export function childPeak(body: string, env: Record<string, string>): Record<string, unknown> & { growthMb: number } {
  const js = join(dir, `child${seq++}.mjs`);
  writeFileSync(
    js,
    `
    import { readFileSync } from 'node:fs';
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const DIST = process.env.DIST;
    const out = {};
    await import(DIST + '/index.js');
    const base = hwm();
    ${body}
    out.growthMb = hwm() - base;
    console.log(JSON.stringify(out));`,
  );
  const r = spawnSync(process.execPath, [js], {
    env: { ...process.env, ...env, DIST: join(process.cwd(), 'dist') },
    encoding: 'utf8',
    timeout: 110_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown> & { growthMb: number };
}
