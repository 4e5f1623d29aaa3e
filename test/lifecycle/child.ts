/**
 * Child processes and workers run compiled JS (they cannot load lib/*.ts):
 * this rebuilds dist/ when any lib/ source is newer than it. tsc emits even
 * when another module has type errors, so its exit status is not ours to judge
 * here (`npm run typecheck` is).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_INDEX = join(root, 'dist', 'index.js');
export const DIST_URL = pathToFileURL(DIST_INDEX).href;

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

export function ensureDist(): void {
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= newest(join(root, 'lib'))) return;
  spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    { stdio: 'ignore' },
  );
  if (!existsSync(DIST_INDEX)) throw new Error('dist/index.js could not be built: run npm run build:ts');
}

/** Runs an ES module snippet in a fresh node; `H5` is the h5vault module. */
export function runNode(code: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const src = `const H5 = await import(${JSON.stringify(DIST_URL)});\n${code}`;
  return spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', src, '--', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}
