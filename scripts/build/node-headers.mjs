// Finds the Node.js headers installed next to this node binary (Debian's
// nodejs, the official tarballs and nvm all ship include/node/), so node-gyp
// and cmake-js build offline instead of trying to download them. An explicit
// npm_config_nodedir wins.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function nodeDir() {
  const fromEnv = process.env.npm_config_nodedir;
  if (fromEnv && existsSync(join(fromEnv, 'include', 'node', 'node.h'))) return fromEnv;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node.h'))) return prefix;
  return undefined; // let the tools fall back to their own (download) logic
}
