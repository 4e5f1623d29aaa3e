/**
 * h5vault opens regular files only. A FIFO's open() waits for a writer that
 * never comes (it froze the event loop forever), /dev/zero never ends (a
 * digest of it never settled), a socket or directory cannot hold HDF5: every
 * open path refuses them with H5Error H5_OPEN_FAILED before any call that
 * could block. Each case runs in its own child process with a deadline, so a
 * hang fails the test instead of stalling the suite.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_URL, ensureDist } from './child.js';
import { CLI } from '../cli/run.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-nonregular-');
const fifo = join(dir, 'pipe.h5');
const socketPath = join(dir, 'sock.h5');
const DEADLINE_MS = 20_000;
const DIGEST = 'a'.repeat(64);
let scripts = 0;

interface Outcome { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

function run(args: string[]): Outcome {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: DEADLINE_MS, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, timedOut: r.signal === 'SIGKILL' };
}

/** Runs `expr` (a Promise or value using H5 and P = the path) in a fresh node; returns the error it raised. */
function attempt(expr: string, path: string): { code?: string; message?: string; ok?: boolean } {
  const src = `const H5 = await import(${JSON.stringify(DIST_URL)});
const P = ${JSON.stringify(path)};
try {
  await (async () => (${expr}))();
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message, name: e.name }));
}
process.exit(0);`;
  // A module file, not --input-type=module -e: the case must not depend on how
  // the code reached node (that has its own test, model.input-type.test.ts).
  const file = join(dir, `case-${scripts++}.mjs`);
  writeFileSync(file, src);
  const r = run([file]);
  expect(r.timedOut, `${expr} on ${path} did not settle within ${DEADLINE_MS} ms`).toBe(false);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function expectRefused(got: { code?: string; message?: string }, what: RegExp): void {
  expect(got.code, JSON.stringify(got)).toBe('H5_OPEN_FAILED');
  expect(got.message).toMatch(what);
}

beforeAll(() => {
  ensureDist();
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  // A real unix socket file: bind it in a child that exits (the file stays).
  const r = run(['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.exit(0))`]);
  expect(r.status).toBe(0);
});

describe('a FIFO is refused on every open path, without blocking', () => {
  const cases: [string, string][] = [
    ['File.open', 'H5.File.open(P)'],
    ['File.open r+', "H5.File.open(P, { mode: 'r+' })"],
    ['File.openAsync', 'H5.File.openAsync(P)'],
    ['File.openAsync untrusted', 'H5.File.openAsync(P, { untrusted: true })'],
    ['File.open expectDigest', `H5.File.open(P, { expectDigest: '${DIGEST}' })`],
    ['File.openAsync expectDigest', `H5.File.openAsync(P, { expectDigest: '${DIGEST}' })`],
    ['File.create overwrite', 'H5.File.create(P, { overwrite: true })'],
    ['loadModel', 'H5.loadModel(P)'],
    ['loadModel expectDigest', `H5.loadModel(P, { expectDigest: '${DIGEST}' })`],
    ['verifyModel', 'H5.verifyModel(P)'],
    ['verifyModel expectDigest', `H5.verifyModel(P, { expectDigest: '${DIGEST}' })`],
  ];
  it.each(cases)('%s', (_name, expr) => {
    expectRefused(attempt(expr, fifo), /FIFO/);
  });
});

describe('character devices, sockets and directories are refused too', () => {
  it.each([
    ["loadModel('/dev/zero', { expectDigest })", `H5.loadModel(P, { expectDigest: '${DIGEST}' })`, '/dev/zero', /character device/],
    ["verifyModel('/dev/zero', { expectDigest })", `H5.verifyModel(P, { expectDigest: '${DIGEST}' })`, '/dev/zero', /character device/],
    ["File.open('/dev/zero')", 'H5.File.open(P)', '/dev/zero', /character device/],
    ['File.open of a socket', 'H5.File.open(P)', socketPath, /socket/],
    ['loadModel of a socket, expectDigest', `H5.loadModel(P, { expectDigest: '${DIGEST}' })`, socketPath, /socket/],
    ['File.open of a directory', 'H5.File.open(P)', dir, /directory/],
    ['loadModel of a directory, expectDigest', `H5.loadModel(P, { expectDigest: '${DIGEST}' })`, dir, /directory/],
  ] as [string, string, string, RegExp][])('%s', (_name, expr, path, what) => {
    expectRefused(attempt(expr, path), what);
  });
});

describe('ModelStore', () => {
  it('a version file or an index replaced by a FIFO is refused, not waited on', () => {
    const root = join(dir, 'store');
    mkdirSync(root);
    const setup = attempt(`(async () => {
      const s = await H5.ModelStore.open(P, { create: true });
      await s.save('m', { w: { dtype: 'float32', shape: [2], data: new Float32Array(2) } });
      return s.path('m', 1);
    })()`, root);
    expect(setup.ok).toBe(true);
    const version = join(root, 'm', 'v000001.h5');
    const index = join(root, 'm', 'index.json');
    // Where the store keeps version 1 (asked, not assumed).
    const where = attempt(`(async () => { const p = (await H5.ModelStore.open(P)).path('m', 1); if (p !== ${JSON.stringify(version)}) throw new Error(p); })()`, root);
    expect(where.ok, JSON.stringify(where)).toBe(true);
    rmSync(version);
    expect(spawnSync('mkfifo', [version]).status).toBe(0);
    expectRefused(attempt(`(async () => (await H5.ModelStore.open(P)).load('m'))()`, root), /FIFO/);
    rmSync(index);
    expect(spawnSync('mkfifo', [index]).status).toBe(0);
    expectRefused(attempt(`(async () => (await H5.ModelStore.open(P)).load('m'))()`, root), /FIFO/);
  });
});

describe('CLI', () => {
  it.each([['ls', fifo], ['info', fifo], ['verify', fifo], ['verify', '/dev/zero']])('h5vault %s %s exits with H5_OPEN_FAILED', (cmd, path) => {
    const r = run([CLI, cmd, path]);
    expect(r.timedOut, `h5vault ${cmd} ${path} did not exit within ${DEADLINE_MS} ms`).toBe(false);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not a regular file \[H5_OPEN_FAILED\]/);
  });
});
