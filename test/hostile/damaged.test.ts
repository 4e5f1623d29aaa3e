/**
 * Issue 7: damaged copies of a real h5vault-written model — truncated at every
 * 1/64 of its length, and >= 1000 single-bit flips in its metadata (fixed
 * seed) — opened with { untrusted: true }. Each case must end opened and
 * readable (reads may fail typed) or in a typed error; the test process must
 * survive them all.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { rng, tempDir } from '../helpers.js';
import { ensureWalkChild, exercise, isTyped, pool } from './helpers.js';
import { writeModel } from './model.js';

const dir = tempDir('h5vault-damaged-');
const original = join(dir, 'model.h5');
let bytes: Buffer;
let dataRanges: [number, number][];

/** Opens one damaged file untrusted; returns its outcome label. */
async function attempt(path: string): Promise<string> {
  let f: File | undefined;
  try {
    f = await File.openAsync(path, { untrusted: true, limits: { timeoutMs: 10_000 } });
    const ex = await exercise(f);
    return ex.typedErrors.length ? 'opened (typed errors on read)' : 'opened and readable';
  } catch (e) {
    if (!isTyped(e)) throw new Error(`${path}: untyped failure ${String(e)}`, { cause: e });
    const h = e as { code?: string; reason?: string };
    return h.code === 'H5_UNSAFE_FILE' ? `rejected: ${h.reason}` : `error: ${h.code ?? (e as Error).name}`;
  } finally {
    f?.close();
  }
}

function tally(label: string, outcomes: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  const rows = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(5)}  ${k}`);
  console.log(`${label}:\n${rows.join('\n')}`);
  return counts;
}

describe('damaged h5vault models with { untrusted: true }', () => {
  beforeAll(() => {
    ensureWalkChild();
    ({ dataRanges } = writeModel(original));
    bytes = readFileSync(original);
  });

  it('the undamaged model passes the walk and reads back', async () => {
    expect(await attempt(original)).toBe('opened and readable');
  });

  it('truncated at every 1/64 of its length: typed error or readable, never a crash', async () => {
    const cuts = Array.from({ length: 64 }, (_, k) => Math.floor((bytes.length * k) / 64));
    const outcomes = await pool(cuts, 2, async (len, k) => {
      const p = join(dir, `trunc-${k}.h5`);
      writeFileSync(p, bytes.subarray(0, len));
      return attempt(p);
    });
    const counts = tally(`truncated model (${bytes.length} bytes, 64 cuts)`, outcomes);
    expect(outcomes).toHaveLength(64);
    // libhdf5 compares the superblock's end-of-address with the file's
    // length at open, so no cut short model may open as if whole.
    expect(counts.get('opened and readable') ?? 0).toBe(0);
  });

  it('1000 single-bit flips in metadata (seed 7): typed error or readable, never a crash', async () => {
    const inData = (pos: number) => dataRanges.some(([o, n]) => pos >= o && pos < o + n);
    const r = rng(7);
    const flips: { pos: number; bit: number }[] = [];
    while (flips.length < 1000) {
      const pos = Math.floor(r() * bytes.length);
      const bit = Math.floor(r() * 8);
      if (!inData(pos)) flips.push({ pos, bit });
    }
    const outcomes = await pool(flips, 2, async ({ pos, bit }, i) => {
      const copy = Buffer.from(bytes);
      copy[pos]! ^= 1 << bit;
      const p = join(dir, `flip-${i}.h5`);
      writeFileSync(p, copy);
      try {
        return await attempt(p);
      } finally {
        rmSync(p);
      }
    });
    tally('1000 metadata bit flips', outcomes);
    expect(outcomes).toHaveLength(1000);
    // One child process per case: ~0.1 s each on an idle 2-core machine,
    // several times that when the machine is shared.
  }, 900_000);
});
