#!/usr/bin/env node
// Builds the addon offline with the local Node headers.
//   node scripts/build.mjs gyp      node-gyp rebuild (what `npm install` runs)
//   node scripts/build.mjs gyp-inc  node-gyp configure + build (incremental)
//   node scripts/build.mjs cmake    cmake-js compile into build-cmake/ (+ native tests)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { nodeDir, nodeGypBin } from './node-headers.mjs';

const root = new URL('../..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const dir = nodeDir();
const env = { ...process.env, ...(dir ? { npm_config_nodedir: dir } : {}) };
const nodedirArgs = dir ? [`--nodedir=${dir}`] : [];
const run = (args) => execFileSync(process.execPath, args, { stdio: 'inherit', cwd: root, env });

switch (process.argv[2]) {
  case 'gyp':
    run([nodeGypBin(), 'rebuild', '-j', '2', ...nodedirArgs]);
    break;
  case 'gyp-inc':
    run([nodeGypBin(), 'configure', ...nodedirArgs]);
    run([nodeGypBin(), 'build', '-j', '2', ...nodedirArgs]);
    break;
  case 'cmake':
    run([require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', 'build-cmake', ...process.argv.slice(3)]);
    break;
  default:
    console.error('usage: node scripts/build.mjs gyp|gyp-inc|cmake');
    process.exit(2);
}
