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
  console.error(`  macOS:         brew install ${missing.map((m) => m.brew).join(' ')}`);
  console.error('  (or run: bash scripts/bootstrap.sh, which installs them on Debian/Ubuntu)');
  process.exit(1);
}
