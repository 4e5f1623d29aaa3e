/**
 * h5vault opens regular files only. A FIFO's open() waits for a writer that
 * never comes (it froze the event loop forever), /dev/zero never ends (a
 * digest of it never settled), a socket or directory cannot hold HDF5: every
 * open path refuses them with H5Error H5_OPEN_FAILED before any call that
 * could block. Each case runs in its own child process with a deadline, so a
 * hang fails the test instead of stalling the suite.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_URL, ensureDist } from './child.js';
import { CLI } from '../cli/run.js';
import { python, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-nonregular-');
const fifo = join(dir, 'pipe.h5');
const socketPath = join(dir, 'sock.h5');
const DEADLINE_MS = 20_000;
const DIGEST = 'a'.repeat(64);
let scripts = 0;

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(args: string[]): Outcome {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: DEADLINE_MS, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, timedOut: r.signal === 'SIGKILL' };
}

/** run() without blocking the test worker's event loop (vitest's RPC must keep flowing through long runs of cases). */
function runAsync(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, DEADLINE_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** Runs `expr` (a Promise or value using H5 and P = the path) in a fresh node; returns the error it raised. */
function attempt(expr: string, path: string): { code?: string; message?: string; ok?: boolean } {
  const file = caseFile(expr, path, true);
  const r = run([file]);
  expect(r.timedOut, `${expr} on ${path} did not settle within ${DEADLINE_MS} ms`).toBe(false);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** attempt() in a child not told to exit: it must end by itself (nothing left blocked on the file keeps it alive). */
async function attemptNoExit(expr: string, path: string): Promise<{ code?: string; message?: string; ok?: boolean }> {
  const r = await runAsync([caseFile(expr, path, false)]);
  expect(r.timedOut, `${expr} on ${path} did not settle and exit within ${DEADLINE_MS} ms`).toBe(false);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function caseFile(expr: string, path: string, exit: boolean): string {
  const src = `const H5 = await import(${JSON.stringify(DIST_URL)});
const P = ${JSON.stringify(path)};
try {
  await (async () => (${expr}))();
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message, name: e.name }));
}
${exit ? 'process.exit(0);' : ''}`;
  // A module file, not --input-type=module -e: the case must not depend on how
  // the code reached node (that has its own test, model.input-type.test.ts).
  const file = join(dir, `case-${scripts++}.mjs`);
  writeFileSync(file, src);
  return file;
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
    [
      "loadModel('/dev/zero', { expectDigest })",
      `H5.loadModel(P, { expectDigest: '${DIGEST}' })`,
      '/dev/zero',
      /character device/,
    ],
    [
      "verifyModel('/dev/zero', { expectDigest })",
      `H5.verifyModel(P, { expectDigest: '${DIGEST}' })`,
      '/dev/zero',
      /character device/,
    ],
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
    const setup = attempt(
      `(async () => {
      const s = await H5.ModelStore.open(P, { create: true });
      await s.save('m', { w: { dtype: 'float32', shape: [2], data: new Float32Array(2) } });
      return s.path('m', 1);
    })()`,
      root,
    );
    expect(setup.ok).toBe(true);
    const version = join(root, 'm', 'v000001.h5');
    const index = join(root, 'm', 'index.json');
    // Where the store keeps version 1 (asked, not assumed).
    const where = attempt(
      `(async () => { const p = (await H5.ModelStore.open(P)).path('m', 1); if (p !== ${JSON.stringify(version)}) throw new Error(p); })()`,
      root,
    );
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
  it.each([
    ['ls', fifo],
    ['info', fifo],
    ['verify', fifo],
    ['verify', '/dev/zero'],
  ])('h5vault %s %s exits with H5_OPEN_FAILED', (cmd, path) => {
    const r = run([CLI, cmd, path]);
    expect(r.timedOut, `h5vault ${cmd} ${path} did not exit within ${DEADLINE_MS} ms`).toBe(false);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not a regular file \[H5_OPEN_FAILED\]/);
  });
});

describe('the surfaces behind the one opener (issue 21, #9): refused promptly, and the process exits by itself', () => {
  const onnx = join(dir, 'm.onnx');
  const h5 = join(dir, 'w.h5');
  beforeAll(() => {
    // A real ONNX model with one initializer 'w' and the .h5 holding it (onnx and h5py are interop peers).
    python(
      `import sys, numpy as np, onnx, h5py
from onnx import helper, numpy_helper, TensorProto
w = np.ones(4, dtype='<f4')
g = helper.make_graph([helper.make_node('Identity', ['w'], ['y'])], 'g', [], [helper.make_tensor_value_info('y', TensorProto.FLOAT, [4])], [numpy_helper.from_array(w, 'w')])
onnx.save(helper.make_model(g), sys.argv[1])
with h5py.File(sys.argv[2], 'w') as f: f['w'] = w`,
      [onnx, h5],
    );
  });
  const out = (name: string) => JSON.stringify(join(dir, name));
  const cases: [string, string, string, RegExp][] = [
    ['loadKeras(fifo)', 'H5.loadKeras(P)', fifo, /FIFO/],
    ['loadKeras(fifo, { expectDigest })', `H5.loadKeras(P, { expectDigest: '${DIGEST}' })`, fifo, /FIFO/],
    ['loadKeras(fifo, { untrusted })', 'H5.loadKeras(P, { untrusted: true })', fifo, /FIFO/],
    ["loadKeras('/dev/zero')", 'H5.loadKeras(P)', '/dev/zero', /character device/],
    [
      'linkOnnx(fifo as the model)',
      `H5.linkOnnx(P, ${JSON.stringify(h5)}, ${out('o1.onnx')})`,
      fifo,
      /ONNX model .*FIFO/,
    ],
    ['linkOnnx(fifo as the .h5)', `H5.linkOnnx(${JSON.stringify(onnx)}, P, ${out('o2.onnx')})`, fifo, /FIFO/],
    [
      "linkOnnx('/dev/zero' as the model)",
      `H5.linkOnnx(P, ${JSON.stringify(h5)}, ${out('o3.onnx')})`,
      '/dev/zero',
      /character device/,
    ],
    [
      "linkOnnx('/dev/zero' as the .h5)",
      `H5.linkOnnx(${JSON.stringify(onnx)}, P, ${out('o4.onnx')})`,
      '/dev/zero',
      /character device/,
    ],
    ['convertModel(fifo)', `H5.convertModel(P, ${out('c1.safetensors')})`, fifo, /FIFO/],
    [
      "convertModel('/dev/zero', { from: 'safetensors' })",
      `H5.convertModel(P, ${out('c2.h5')}, { from: 'safetensors' })`,
      '/dev/zero',
      /character device/,
    ],
    ["openSafetensors('/dev/zero')", 'H5.openSafetensors(P)', '/dev/zero', /character device/],
    ['fileDigest(fifo)', 'H5.fileDigest(P)', fifo, /FIFO/],
  ];
  it.each(cases)('%s', async (_name, expr, path, what) => {
    expectRefused(await attemptNoExit(expr, path), what);
  });

  it.each([
    ['onnx-link FIFO W.h5 OUT', (p: string) => ['onnx-link', p, h5, join(dir, 'cli1.onnx')]],
    ['onnx-link M.onnx FIFO OUT', (p: string) => ['onnx-link', onnx, p, join(dir, 'cli2.onnx')]],
    ['onnx-link --map-file FIFO', (p: string) => ['onnx-link', onnx, h5, join(dir, 'cli3.onnx'), '--map-file', p]],
    ['convert FIFO OUT', (p: string) => ['convert', p, join(dir, 'cli4.safetensors')]],
  ] as [string, (p: string) => string[]][])('h5vault %s exits with H5_OPEN_FAILED', async (_name, args) => {
    const r = await runAsync([CLI, ...args(fifo)]);
    expect(r.timedOut, `h5vault ${args(fifo).join(' ')} did not exit within ${DEADLINE_MS} ms`).toBe(false);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not a regular file \[H5_OPEN_FAILED\]/);
  });
});
