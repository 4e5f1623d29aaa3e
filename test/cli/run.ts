/** Runs the real CLI (dist/cli/main.js, rebuilt from lib/ when stale) as a child process. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

function newestIn(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestIn(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Compiles lib/ to dist/ if any source is newer (serialised: test files run in parallel). */
export function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestIn(join(ROOT, 'lib'))) return;
  execFileSync('flock', ['/tmp/h5vault-tsc.lock', 'npx', 'tsc', '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function h5vault(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The --json document on stdout (fails the test with the output if it is not JSON). */
export function json<T = Record<string, unknown>>(r: Run): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (status ${r.status}):\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
}
