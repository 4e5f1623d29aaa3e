/** Shared test helpers: temp dirs, the h5py/h5dump peers. */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { gaussianFloat32 } from '../lib/bench/synthetic.js';

/**
 * Resolves once `cond()` is true, polling every 5 ms; throws naming `what` after
 * `ms` (a deadline for a test that would otherwise hang, not a timing assertion).
 */
export async function waitFor(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh temp directory removed after the file's tests. */
export function tempDir(prefix = 'h5vault-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/**
 * Debian's python3 with h5py (not a pyenv/venv python, which lacks it).
 * Interop tests FAIL when the peer is missing: CI must have it
 * (scripts/dev/bootstrap.sh installs it). Set H5VAULT_PYTHON to override.
 */
export const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
export const PLUGIN_PATH = '/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins';

export function requirePeers(): void {
  const r = spawnSync(PYTHON, ['-c', 'import h5py, hdf5plugin, numpy'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `interop peer missing: ${PYTHON} cannot import h5py/hdf5plugin/numpy (${r.stderr?.trim() ?? r.error}). ` +
        'Install python3-h5py python3-hdf5plugin python3-numpy hdf5-plugin-lzf hdf5-tools (bash scripts/dev/bootstrap.sh).',
    );
  }
  if (spawnSync('h5dump', ['--version']).status !== 0)
    throw new Error('interop peer missing: h5dump (apt-get install hdf5-tools)');
}

function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (existsSync(PLUGIN_PATH)) env.HDF5_PLUGIN_PATH = PLUGIN_PATH;
  return env;
}

/** Runs a Python snippet with h5py; returns stdout. Throws with stderr on failure. */
export function python(code: string, args: string[] = []): string {
  return execFileSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', env: pythonEnv(), maxBuffer: 1 << 28 });
}

/**
 * python(), without blocking the test worker: for snippets that run for tens of
 * seconds (h5py writing hundreds of MiB), where a synchronous wait stalls
 * vitest's worker RPC ("Timeout calling onTaskUpdate").
 */
export async function pythonAsync(code: string, args: string[] = []): Promise<string> {
  const run = promisify(execFile);
  return (await run(PYTHON, ['-c', code, ...args], { encoding: 'utf8', env: pythonEnv(), maxBuffer: 1 << 28 })).stdout;
}

export function h5dump(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (existsSync(PLUGIN_PATH)) env.HDF5_PLUGIN_PATH = PLUGIN_PATH;
  const r = spawnSync('h5dump', args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Deterministic generators shared with the CLI's synthetic weights. */
export { rng } from '../lib/bench/synthetic.js';

/** Float32 weights ~ N(0, sigma), deterministic. */
export function gaussian(n: number, seed = 1, sigma = 0.02): Float32Array {
  return gaussianFloat32(n, seed, sigma);
}

export function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return Buffer.compare(x, y) === 0;
}

/**
 * A real, small tmpfs (a full disk on demand), mounted for this test file and
 * lazily unmounted after it (views may still map files on it). Needs root;
 * without it the calling test fails rather than skips.
 */
export function mountTmpfs(size = '2m'): string {
  const d = mkdtempSync(join(tmpdir(), 'h5vault-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d], { encoding: 'utf8' });
  // One hook, in this order: the directory can only be removed once unmounted.
  afterAll(() => {
    if (r.status === 0) spawnSync('umount', ['-l', d]);
    rmSync(d, { recursive: true, force: true });
  });
  if (r.status !== 0)
    throw new Error(`cannot mount a ${size} tmpfs at ${d} (needs root): ${r.stderr?.trim() ?? r.error}`);
  return d;
}

/** The error `fn` throws (fails the test when it returns), to assert the whole error: class and message. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

/** The error `p` rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
