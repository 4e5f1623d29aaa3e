#!/usr/bin/env node
// `npx h5vault-build` (the package's second bin): builds the addon from source
// against the system libhdf5, from a project that has h5vault installed.
// The package has no install script (and "gypfile": false, so npm does not run
// `node-gyp rebuild` for binding.gyp by itself): the prebuilt binary needs
// nothing at install time, npm 11 warns about every dependency's install script
// ("not yet covered by allowScripts") and is moving to block them. Where the
// prebuilt binary does not match (musl, an older glibc), the import error says
// to run this command. With --if-needed it builds only when the prebuilt binary
// does not match or does not load.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../..', import.meta.url).pathname;
const fromSource = !process.argv.includes('--if-needed');
const run = (script) =>
  execFileSync(process.execPath, [`${root}scripts/build/${script}`, ...(script === 'build.mjs' ? ['gyp'] : [])], {
    stdio: 'inherit',
    cwd: root,
  });

if (!fromSource && !existsSync(`${root}build/Release/h5vault.node`)) {
  // dist/ is only in the packed package; a development checkout builds from source.
  const loader = `${root}dist/addon/locate.js`;
  if (existsSync(loader)) {
    const { prebuildFor } = await import(loader);
    const pre = prebuildFor();
    if (typeof pre === 'string') {
      console.error(`h5vault: ${pre}; building from source against the system libhdf5.`);
    } else {
      try {
        createRequire(import.meta.url)(pre.path);
        process.exit(0);
      } catch (e) {
        console.error(
          `h5vault: the prebuilt binary does not load here (${String(e?.message ?? e).split('\n')[0]}); building from source.`,
        );
      }
    }
  }
}
run('check-deps.mjs');
run('build.mjs');
