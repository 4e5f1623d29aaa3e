/**
 * vitest globalSetup: refuses to run the tests against a native addon or a
 * dist/ older than the sources they are built from. The addon is only rebuilt
 * by `npm run build:native` and dist/ by `npm run build:ts`, so after a pull or
 * a merge the suite would otherwise test yesterday's binary and report its
 * bugs (or hide today's) as today's.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir: string, test: (name: string) => boolean): { path: string; mtime: number } {
  let best = { path: '', mtime: 0 };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const n = e.isDirectory() ? newest(p, test) : test(e.name) ? { path: p, mtime: statSync(p).mtimeMs } : best;
    if (n.mtime > best.mtime) best = n;
  }
  return best;
}

function check(built: string, sources: { path: string; mtime: number }, rebuild: string): void {
  if (!existsSync(built)) return; // locate.ts reports a missing addon itself
  if (statSync(built).mtimeMs < sources.mtime)
    throw new Error(`${built} is older than ${sources.path}: run \`${rebuild}\` before the tests`);
}

export default function setup(): void {
  const root = process.cwd();
  const addon = process.env.H5VAULT_BINDING ?? join(root, 'build/Release/h5vault.node');
  const native = newest(join(root, 'native'), (n) => /\.(cc|h|c)$/.test(n));
  const gyp = { path: join(root, 'binding.gyp'), mtime: statSync(join(root, 'binding.gyp')).mtimeMs };
  check(addon, native.mtime > gyp.mtime ? native : gyp, 'npm run build:native');
  check(
    join(root, 'dist/index.js'),
    newest(join(root, 'lib'), (n) => n.endsWith('.ts')),
    'npm run build:ts',
  );
}
