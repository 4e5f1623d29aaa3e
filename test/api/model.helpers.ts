/** Helpers for model tests that run child processes on the compiled dist/. */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Children import dist/: refuse to test stale JS (it would test old code and pass or fail for the wrong reason). */
export function requireFreshDist(): void {
  for (const f of readdirSync(`${root}lib/model`)) {
    if (!f.endsWith('.ts')) continue;
    const js = `${root}dist/model/${f.replace(/\.ts$/, '.js')}`;
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(`${root}lib/model/${f}`).mtimeMs) {
      throw new Error(`${js} is missing or older than lib/model/${f}: run 'npm run build:ts' first`);
    }
  }
}

/** Runs `node script args...`, resolves to stdout; rejects with stderr on a non-zero exit. */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('exit', (code, sig) =>
      code === 0 ? resolve(out) : reject(new Error(`${script} ${args.join(' ')} exited ${code ?? sig}: ${err}`)),
    );
  });
}
