#!/usr/bin/env node
// npm "install" script. Uses the prebuilt binary when it matches this machine
// (then it only checks that the binary loads: nothing is compiled, nothing is
// needed). Builds from source against the system libhdf5 otherwise, or when
// asked: `npm install h5vault --build-from-source` (npm config), or
// H5VAULT_BUILD_FROM_SOURCE=1 (any package manager).
// The package also works with install scripts disabled whenever the prebuilt
// binary matches: this script decides nothing the loader does not decide again.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
const truthy = (v) => v !== undefined && v !== '' && v !== 'false' && v !== '0';
const fromSource = truthy(process.env.npm_config_build_from_source) || truthy(process.env.H5VAULT_BUILD_FROM_SOURCE);
const run = (script) => execFileSync(process.execPath, [`${root}scripts/${script}`, ...(script === 'build.mjs' ? ['gyp'] : [])], { stdio: 'inherit', cwd: root });

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
        console.error(`h5vault: the prebuilt binary does not load here (${String(e?.message ?? e).split('\n')[0]}); building from source.`);
      }
    }
  }
}
run('check-deps.mjs');
run('build.mjs');
