#!/usr/bin/env node
// Configures and builds the native tests with plain CMake (no addon), then runs ctest.
// H5VAULT_SANITIZE=1 builds them with ASan+UBSan into build-native-asan/.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const asan = process.env.H5VAULT_SANITIZE === '1';
const dir = join(root, asan ? 'build-native-asan' : 'build-native');
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root });
run('cmake', [
  '-S',
  root,
  '-B',
  dir,
  '-DH5VAULT_ADDON=OFF',
  `-DH5VAULT_SANITIZE=${asan ? 'ON' : 'OFF'}`,
  `-DCMAKE_BUILD_TYPE=${asan ? 'Debug' : 'Release'}`,
]);
run('cmake', ['--build', dir, '-j', '2']);
run('ctest', ['--test-dir', dir, '--output-on-failure', ...process.argv.slice(2)]);
