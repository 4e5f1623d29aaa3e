/** Peers of the ONNX tests: Debian's python3-onnx / python3-torch, and onnxruntime-node from npm. */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { PYTHON, requirePeers } from '../helpers.js';

export type Ort = typeof import('onnxruntime-node');

/** Fails (never skips) when a peer is missing: CI installs them (scripts/dev/bootstrap.sh, package.json). */
export function requireOnnxPeers(opts: { torch?: boolean } = {}): void {
  requirePeers();
  const mods = opts.torch ? 'onnx, torch' : 'onnx';
  const r = spawnSync(PYTHON, ['-c', `import ${mods}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `ONNX peer missing: ${PYTHON} cannot import ${mods} (${r.stderr?.trim() ?? r.error}). Install python3-onnx python3-torch (bash scripts/dev/bootstrap.sh).`,
    );
  }
}

/** onnxruntime-node (a devDependency), loaded the way lib/onnx/ort.ts loads it. */
export function ort(): Ort {
  return createRequire(import.meta.url)('onnxruntime-node') as Ort;
}

/** Session options that keep external weights in the file mapping (no MatMul pre-packing copy). */
export const NO_PREPACK = { extra: { session: { disable_prepacking: '1' } } };
