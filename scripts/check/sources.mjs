#!/usr/bin/env node
// The code checks itself (issue 22). Fails if
// - binding.gyp and CMakeLists.txt do not build the same native sources, or a
//   listed source is missing / a native .cc file is in neither list;
// - the functions native/napi exports (`exports.Set("name"`) and the members of
//   the Native interface in lib/addon/binding.ts differ;
// - the error codes of lib/errors.ts (CODES) and the headings of docs/errors.md differ;
// - lib/ has an import cycle (scripts/check/cycles.mjs);
// - a native source file is over 600 lines or a native function over 120
//   (scripts/check/native-size.mjs, which says how functions are found);
// - a lib/**/*.ts file is over 600 lines (same script, LIB_PENDING excepted).
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findCycles, importGraph } from './cycles.mjs';
import { LIB_PENDING, libSizeProblems, MAX_FUNCTION_LINES, sizeProblems } from './native-size.mjs';

const root = new URL('../..', import.meta.url).pathname;
const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');

const fromGyp = new Set([...gyp.matchAll(/"(native\/[^"]+\.cc)"/g)].map((m) => m[1]));
const cmakeLists = [...cmake.matchAll(/set\(H5VAULT_(?:CORE|ADDON)_SOURCES([\s\S]*?)\)/g)].map((m) => m[1]);
const fromCmake = new Set(
  cmakeLists
    .join('\n')
    .split(/\s+/)
    .filter((s) => s.startsWith('native/')),
);

function walkFiles(dir, ext) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walkFiles(p, ext));
    else if (p.endsWith(ext)) out.push(p);
  }
  return out;
}
const onDisk = new Set(walkFiles(join(root, 'native'), '.cc').map((p) => relative(root, p)));

const problems = [];
for (const s of fromGyp) if (!fromCmake.has(s)) problems.push(`${s}: in binding.gyp but not CMakeLists.txt`);
for (const s of fromCmake) if (!fromGyp.has(s)) problems.push(`${s}: in CMakeLists.txt but not binding.gyp`);
for (const s of fromGyp) if (!existsSync(join(root, s))) problems.push(`${s}: listed but missing`);
for (const s of onDisk) if (!fromGyp.has(s)) problems.push(`${s}: on disk but built by neither`);

// The native surface: what the addon exports is what TypeScript says it exports.
// Each native/napi file lists its exports in a table (wrap.h, Export):
//   static const Export kExports[] = {{"fileOpen", FileOpen}, ...};
// and a direct `exports.Set("name"` counts too.
const exported = new Set();
let tables = 0;
for (const f of walkFiles(join(root, 'native', 'napi'), '.cc')) {
  const src = readFileSync(f, 'utf8');
  for (const m of src.matchAll(/exports\.Set\("(\w+)"/g)) exported.add(m[1]);
  for (const t of src.matchAll(/\bExport\s+\w+\[\]\s*=\s*\{([\s\S]*?)\};/g)) {
    tables++;
    for (const m of t[1].matchAll(/\{\s*"(\w+)"\s*,\s*\w+\s*\}/g)) exported.add(m[1]);
  }
}
if (tables === 0) problems.push('native/napi: no `static const Export kExports[] = {...}` table found');
const binding = readFileSync(join(root, 'lib', 'addon', 'binding.ts'), 'utf8');
const iface = /export interface Native \{([\s\S]*?)\n\}/.exec(binding);
const typed = new Set(iface ? [...iface[1].matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]) : []);
if (!iface) problems.push('lib/addon/binding.ts: no `export interface Native { ... }`');
for (const n of exported)
  if (!typed.has(n)) problems.push(`native export '${n}' is not a member of Native (lib/addon/binding.ts)`);
for (const n of typed)
  if (!exported.has(n)) problems.push(`Native.${n} (lib/addon/binding.ts) is not exported by native/napi`);

// The error table: every code in CODES has a section in docs/errors.md, and only those.
const errorsTs = readFileSync(join(root, 'lib', 'errors.ts'), 'utf8');
const codesBlock = /export const CODES = \{([\s\S]*?)\n\} as const/.exec(errorsTs);
const codes = new Set(codesBlock ? [...codesBlock[1].matchAll(/^ {2}(H5_[A-Z0-9_]+):/gm)].map((m) => m[1]) : []);
if (!codesBlock) problems.push('lib/errors.ts: no `export const CODES = { ... } as const`');
const documented = new Set();
for (const m of readFileSync(join(root, 'docs', 'errors.md'), 'utf8').matchAll(/^### (H5_[A-Z0-9_, ]+)$/gm))
  for (const c of m[1].split(/,\s*/)) documented.add(c.trim());
for (const c of codes)
  if (!documented.has(c)) problems.push(`${c}: in CODES (lib/errors.ts) but has no '### ${c}' in docs/errors.md`);
for (const c of documented)
  if (!codes.has(c)) problems.push(`${c}: documented in docs/errors.md but not in CODES (lib/errors.ts)`);

// The layers import downwards only: no import cycle in lib/.
for (const c of findCycles(importGraph())) problems.push(`import cycle: ${c.join(' -> ')}`);

// Native sizes: files and functions small enough to read.
const sizes = sizeProblems(root);
problems.push(...sizes.problems);
for (const k of sizes.stale)
  console.log(
    `check-sources: '${k}' is within ${MAX_FUNCTION_LINES} lines now: delete it from PENDING in scripts/check/native-size.mjs`,
  );

// TypeScript sizes: lib/ files small enough to read (files only).
const libSizes = libSizeProblems(root);
problems.push(...libSizes.problems);
for (const k of libSizes.stale)
  console.log(
    `check-sources: '${k}' is within 600 lines now: delete it from LIB_PENDING in scripts/check/native-size.mjs`,
  );

if (problems.length) {
  console.error(`check-sources: the sources disagree:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `check-sources: binding.gyp and CMakeLists.txt agree on ${fromGyp.size} sources; ` +
    `Native types all ${exported.size} native exports; CODES and docs/errors.md agree on ${codes.size} codes; lib/ has no import cycle; native files <= 600 lines, functions <= 120; lib/ .ts files <= 600 lines (except ${Object.keys(LIB_PENDING).length} in LIB_PENDING)`,
);
