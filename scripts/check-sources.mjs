#!/usr/bin/env node
// Fails if binding.gyp and CMakeLists.txt do not build the same native sources,
// or if a listed source is missing / a native .cc file is in neither list.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');

const fromGyp = new Set([...gyp.matchAll(/"(native\/[^"]+\.cc)"/g)].map((m) => m[1]));
const cmakeLists = [...cmake.matchAll(/set\(H5VAULT_(?:CORE|ADDON)_SOURCES([\s\S]*?)\)/g)].map((m) => m[1]);
const fromCmake = new Set(cmakeLists.join('\n').split(/\s+/).filter((s) => s.startsWith('native/')));

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.cc')) out.push(relative(root, p));
  }
  return out;
}
const onDisk = new Set(walk(join(root, 'native')));

const problems = [];
for (const s of fromGyp) if (!fromCmake.has(s)) problems.push(`${s}: in binding.gyp but not CMakeLists.txt`);
for (const s of fromCmake) if (!fromGyp.has(s)) problems.push(`${s}: in CMakeLists.txt but not binding.gyp`);
for (const s of fromGyp) if (!existsSync(join(root, s))) problems.push(`${s}: listed but missing`);
for (const s of onDisk) if (!fromGyp.has(s)) problems.push(`${s}: on disk but built by neither`);
if (problems.length) {
  console.error('check-sources: build files disagree:\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log(`check-sources: binding.gyp and CMakeLists.txt agree on ${fromGyp.size} sources`);
