#!/usr/bin/env node
// Prints compiler/linker flags of h5vault's system libraries for binding.gyp and
// CMakeLists.txt, via pkg-config (never hard-coded paths).
import { execFileSync } from 'node:child_process';
import { PACKAGES } from './deps.mjs';

const mods = PACKAGES.map((p) => p.pkgconfig);
const run = (args) => execFileSync('pkg-config', [...args, ...mods], { encoding: 'utf8' }).trim();
const mode = process.argv[2];
// The prebuilt binaries link a libhdf5 built without ROS3 (scripts/build/libhdf5.sh,
// set by scripts/build/prebuild.mjs): its headers and library come before the system's.
const own = process.env.H5VAULT_HDF5_PREFIX;
const first = (flag, sub) => (own ? `${flag}${own}/${sub} ` : '');
if (mode === '--include-dirs') {
  const dirs = `${first('-I', 'include')}${run(['--cflags-only-I'])}`
    .split(/\s+/)
    .filter(Boolean)
    .map((s) => s.replace(/^-I/, ''));
  console.log(dirs.join(' '));
} else if (mode === '--libs') {
  console.log(`${first('-L', 'lib')}${run(['--libs'])}`);
} else if (mode === '--cflags') {
  console.log(`${first('-I', 'include')}${run(['--cflags'])}`);
} else {
  console.error('usage: pkg-config.mjs --include-dirs|--libs|--cflags');
  process.exit(2);
}
