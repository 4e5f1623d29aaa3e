/**
 * What is hashed or walked is what is opened. A racing process swaps the
 * path between a good file and another one (a symlink flipped, or files
 * renamed over it as an atomic republish does) while the test opens it again
 * and again: an expectDigest open must never parse the file it did not hash,
 * and a model load must never mix two files (hash one, parse another).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { File, H5Error, fileDigest, loadModel, saveModel } from '../../lib/index.js';
import { hostileFiles, isTyped } from './helpers.js';

const { p } = hostileFiles('h5vault-pin-');
const ROUNDS = 400;

let racer: ChildProcess | undefined;

/** Starts a process that points `link` at a, b, a, b ... as fast as it can (each step atomic). */
function race(kind: 'symlink' | 'rename', a: string, b: string, link: string): void {
  const script = `
const fs = require('node:fs');
const [kind, a, b, link] = process.argv.slice(1);
const tmp = link + '.tmp';
for (let i = 0; ; i++) {
  try { fs.unlinkSync(tmp); } catch {}
  if (kind === 'symlink') fs.symlinkSync(i % 2 ? b : a, tmp);
  else fs.linkSync(i % 2 ? b : a, tmp);
  fs.renameSync(tmp, link);
}`;
  racer = spawn(process.execPath, ['-e', script, kind, a, b, link], { stdio: 'ignore' });
}

afterEach(() => {
  racer?.kill('SIGKILL');
  racer = undefined;
});

let goodDigest = '';
let goodModelDigest = '';

beforeAll(async () => {
  for (const who of ['good', 'other']) {
    const f = File.create(p(`${who}.h5`));
    f.attrs.set('who', who);
    f.createDataset('w', { dtype: 'float32', shape: [256], data: new Float32Array(256).fill(who === 'good' ? 1 : 2) });
    f.close();
    await saveModel(
      p(`${who}-model.h5`),
      { w: { dtype: 'float32', shape: [4096], data: new Float32Array(4096).fill(who === 'good' ? 1 : 2) } },
      { metadata: { who } },
    );
  }
  goodDigest = await fileDigest(p('good.h5'));
  goodModelDigest = await fileDigest(p('good-model.h5'));
});

describe('expectDigest pins the descriptor it hashed', () => {
  it(`File.openAsync({ untrusted, expectDigest }) never opens the other file (${ROUNDS} opens under a symlink flip)`, async () => {
    race('symlink', p('good.h5'), p('other.h5'), p('flip.h5'));
    const seen = { good: 0, other: 0, mismatch: 0, changed: 0 };
    // At least ROUNDS attempts, and more until one lands on the good file: on
    // a loaded machine the racer can win every round of a short run.
    for (let i = 0; i < ROUNDS || (seen.good === 0 && i < ROUNDS * 25); i++) {
      try {
        const f = await File.openAsync(p('flip.h5'), { untrusted: true, expectDigest: goodDigest });
        seen[f.attrs.get('who') as 'good' | 'other']++;
        f.close();
      } catch (e) {
        if (!(e instanceof H5Error)) throw e;
        if (e.code === 'H5_CHECKSUM_MISMATCH') seen.mismatch++;
        else if (e.code === 'H5_FILE_NOT_FOUND') seen.changed++;
        else throw e;
      }
    }
    expect(seen.other).toBe(0);
    expect(seen.good).toBeGreaterThan(0);
  });

  it(`loadModel({ expectDigest }) never loads the other model (${ROUNDS} loads under a symlink flip)`, async () => {
    race('symlink', p('good-model.h5'), p('other-model.h5'), p('flip-model.h5'));
    const seen = { good: 0, other: 0, refused: 0 };
    // At least ROUNDS attempts, and more until one lands on the good file: on
    // a loaded machine the racer can win every round of a short run.
    for (let i = 0; i < ROUNDS || (seen.good === 0 && i < ROUNDS * 25); i++) {
      try {
        const m = await loadModel(p('flip-model.h5'), { expectDigest: goodModelDigest });
        seen[m.metadata.who as 'good' | 'other']++;
        expect((m.tensors.get('w')!.data as Float32Array)[0]).toBe(1);
        m.close();
      } catch (e) {
        expect(e).toBeInstanceOf(H5Error);
        expect(['H5_CHECKSUM_MISMATCH', 'H5_FILE_NOT_FOUND']).toContain((e as H5Error).code);
        seen.refused++;
      }
    }
    expect(seen.other).toBe(0);
    expect(seen.good).toBeGreaterThan(0);
  });
});

describe('one open per load', () => {
  it(`loadModel during an atomic republish loop: every load succeeds and is one whole model (${ROUNDS} loads)`, async () => {
    copyFileSync(p('good-model.h5'), p('published.h5'));
    race('rename', p('good-model.h5'), p('other-model.h5'), p('published.h5'));
    const failures: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      try {
        const m = await loadModel(p('published.h5'));
        const first = (m.tensors.get('w')!.data as Float32Array)[0];
        // Metadata and tensor come from the same file.
        expect(first).toBe(m.metadata.who === 'good' ? 1 : 2);
        m.close();
      } catch (e) {
        failures.push(`${isTyped(e) ? (e as H5Error).code : 'UNTYPED'}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
