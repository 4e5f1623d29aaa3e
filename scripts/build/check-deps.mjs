#!/usr/bin/env node
// Runs before node-gyp (npm "install"): fails with a message naming the package
// to install when a system library or pkg-config is missing.
import { execFileSync } from 'node:child_process';
import { PACKAGES, BUILD_TOOLS } from './deps.mjs';

function has(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (process.platform !== 'linux') {
  // The native code is written for Linux (mmap/pread, /proc, glibc); macOS and
  // Windows are not supported, rather than half-working.
  console.error(`h5vault: ${process.platform} is not supported; h5vault runs on Linux only (docs/install.md).`);
  process.exit(1);
}

const missing = [];
for (const t of BUILD_TOOLS) if (!has(t.bin, ['--version'])) missing.push(t);
if (missing.length === 0) {
  for (const p of PACKAGES) {
    const args = p.min ? [`--atleast-version=${p.min}`, p.pkgconfig] : ['--exists', p.pkgconfig];
    if (!has('pkg-config', args)) missing.push(p);
  }
}
if (missing.length) {
  const names = missing.map((m) => m.pkgconfig ?? m.bin).join(', ');
  console.error(`h5vault: missing system libraries/tools: ${names}`);
  console.error(`  Debian/Ubuntu: sudo apt-get install ${missing.map((m) => m.apt).join(' ')}`);
  console.error(`  Fedora/RHEL:   sudo dnf install ${missing.map((m) => m.dnf).join(' ')}`);
  // Said to someone in their own project (h5vault is in node_modules), so no
  // script of this package is named: only what they can run from there.
  console.error('  then, from your project directory: npx h5vault-build');
  process.exit(1);
}
