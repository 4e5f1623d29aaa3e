#!/usr/bin/env node
// npm "prepack": after tsc, writes the CommonJS declarations (dist/**/*.d.cts),
// and refuses a package whose optionalDependencies do not name every platform
// package (one per PREBUILT_TARGETS of scripts/build/deps.mjs) at its own version.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

// The binaries are not in this package: each platform's is its own package
// (scripts/build/pack-platform.mjs, which refuses a missing or stale prebuild),
// installed through optionalDependencies. Those must name every prebuilt target
// at exactly this version: the loader takes whatever npm installed, and a binary
// of another version would not match this JavaScript.
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const want = Object.fromEntries(PREBUILT_TARGETS.map((t) => [`@h5vault/${t}-gnu`, pkg.version]));
const have = pkg.optionalDependencies ?? {};
const wrong = [...new Set([...Object.keys(want), ...Object.keys(have)])].filter((n) => want[n] !== have[n]);
if (wrong.length) {
  console.error(
    `pack: optionalDependencies must be ${JSON.stringify(want)} (every platform package at h5vault's own version); ${wrong.map((n) => `${n}: ${have[n] ?? 'missing'}`).join(', ')}`,
  );
  process.exit(1);
}
