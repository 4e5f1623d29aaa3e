// What the native builds need from the Node installation: its headers
// (nodeDir) and npm's node-gyp (nodeGypBin), for build.mjs and prebuild.mjs.
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// Finds the Node.js headers installed next to this node binary (Debian's
// nodejs, the official tarballs and nvm all ship include/node/), so node-gyp
// and cmake-js build offline instead of trying to download them. An explicit
// npm_config_nodedir wins.

export function nodeDir() {
  const fromEnv = process.env.npm_config_nodedir;
  if (fromEnv && existsSync(join(fromEnv, 'include', 'node', 'node.h'))) return fromEnv;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node.h'))) return prefix;
  return undefined; // let the tools fall back to their own (download) logic
}

/**
 * node-gyp's CLI script: the one npm names to the scripts it runs
 * (npm_config_node_gyp), else a node-gyp package resolvable from here, else
 * the copy npm ships next to this Node (through symlinks such as
 * /usr/bin/node), so the builds also work when run directly.
 */
export function nodeGypBin() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {}
  const bundled = join(
    dirname(dirname(realpathSync(process.execPath))),
    'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  );
  if (existsSync(bundled)) return bundled;
  throw new Error('node-gyp not found (it ships with npm; or set npm_config_node_gyp)');
}
