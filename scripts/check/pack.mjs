#!/usr/bin/env node
// npm "prepack": after tsc, writes the CommonJS declarations (dist/**/*.d.cts)
// and refuses to pack a package that would not install on a machine without a
// compiler: the prebuilt binaries must be there (scripts/build/prebuild.mjs, one per
// PREBUILT_TARGETS of scripts/build/deps.mjs) and match
// this source. H5VAULT_PACK_WITHOUT_PREBUILD=1 packs a source-only package.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PREBUILT_TARGETS } from '../build/deps.mjs';

const root = new URL('../..', import.meta.url).pathname;

// `require('h5vault')` loads the ES module itself (require(esm), Node >= 20.19),
// so there is one copy of every class (H5Error's instanceof works across both).
// TypeScript must see CommonJS declarations for the "require" condition: with
// module node16 it refuses an ES module's types from a CommonJS file (TS1479),
// although Node loads it. So every dist/**/*.d.ts gets a .d.cts twin whose
// relative imports name the twins ('./file.js' -> './file.cjs', which
// TypeScript resolves to file.d.cts). The declarations are otherwise the same.
const SPECIFIER = /(\bfrom\s+|\bimport\(\s*)(['"])(\.{1,2}\/[^'"]+)\.js\2/g;
function twin(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) twin(p);
    else if (e.name.endsWith('.d.ts')) {
      writeFileSync(p.replace(/\.d\.ts$/, '.d.cts'), readFileSync(p, 'utf8').replace(SPECIFIER, '$1$2$3.cjs$2'));
    }
  }
}
twin(`${root}dist`);

if (process.env.H5VAULT_PACK_WITHOUT_PREBUILD !== '1') {
  for (const target of PREBUILT_TARGETS) {
    const manifest = `${root}prebuilds/${target}/manifest.json`;
    if (!existsSync(manifest)) {
      console.error(
        `pack: prebuilds/${target} is missing: run \`npm run prebuild:${target}\` first (Debian 12 x64; see scripts/build/prebuild.mjs),`,
      );
      console.error('      or set H5VAULT_PACK_WITHOUT_PREBUILD=1 for a package that always builds from source.');
      process.exit(1);
    }
    // A binary older than a native source would ship stale code.
    const built = statSync(`${root}prebuilds/${target}/h5vault.node`).mtimeMs;
    const stale = [...listNative(), `${root}binding.gyp`].filter((f) => statSync(f).mtimeMs > built);
    if (stale.length) {
      console.error(
        `pack: prebuilds/${target}/h5vault.node is older than ${stale[0].slice(root.length)}: run \`npm run prebuild:${target}\` again.`,
      );
      process.exit(1);
    }
  }
}

function listNative(dir = `${root}native`) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listNative(join(dir, e.name)) : [join(dir, e.name)],
  );
}
