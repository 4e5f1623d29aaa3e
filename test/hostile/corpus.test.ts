/**
 * Issue 7: every file of the HDF Group's CVE corpus, opened with
 * { untrusted: true }. libhdf5 1.10.8 crashes or hangs on many of them; this
 * process must survive all, each ending in a typed error or an open file that
 * reads back (or fails typed) within the walk deadline.
 */
import { basename } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UNTRUSTED_LIMITS, File, type UnsafeFileError } from '../../lib/index.js';
import { corpusFiles, ensureWalkChild, exercise, isTyped, pool } from './helpers.js';

interface Outcome {
  file: string;
  outcome: string;
  ms: number;
  detail: string;
}

describe('CVE corpus with { untrusted: true }', () => {
  beforeAll(() => ensureWalkChild());

  it('survives every file: typed error or opened-and-readable, within the deadline', async () => {
    const files = corpusFiles();
    expect(files.length).toBe(137);
    const deadline = DEFAULT_UNTRUSTED_LIMITS.timeoutMs;
    const t0 = performance.now();
    // Two walks at a time: the machine has two cores and each walk is a process.
    const outcomes = await pool(files, 2, async (path): Promise<Outcome> => {
      const start = performance.now();
      let f: File | undefined;
      try {
        f = await File.openAsync(path, { untrusted: true });
        const ex = await exercise(f);
        return {
          file: basename(path),
          outcome: ex.typedErrors.length ? 'opened (typed errors on read)' : 'opened',
          ms: performance.now() - start,
          detail: ex.typedErrors.slice(0, 3).join('; '),
        };
      } catch (e) {
        if (!isTyped(e)) throw new Error(`${basename(path)}: untyped failure ${String(e)}`, { cause: e });
        const h = e as UnsafeFileError;
        const outcome =
          h.code === 'H5_UNSAFE_FILE'
            ? `rejected: ${h.reason}${h.signal ? ` (${String(h.signal)})` : ''}`
            : `error: ${h.code}`;
        return { file: basename(path), outcome, ms: performance.now() - start, detail: h.message };
      } finally {
        f?.close();
      }
    });
    const totalMs = performance.now() - t0;

    const counts = new Map<string, number>();
    for (const o of outcomes) counts.set(o.outcome, (counts.get(o.outcome) ?? 0) + 1);
    const table = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(4)}  ${k}`);
    console.log(
      `CVE corpus, ${files.length} files, ${(totalMs / 1000).toFixed(1)} s (2 in parallel):\n${table.join('\n')}`,
    );
    if (process.env.H5VAULT_CORPUS_VERBOSE)
      for (const o of outcomes) console.log(`${o.file}\t${o.outcome}\t${o.ms.toFixed(0)} ms\t${o.detail}`);

    // Every file finished within the deadline (plus process start-up slack).
    for (const o of outcomes) expect(o.ms, o.file).toBeLessThan(deadline + 5000);
    // The child boundary was really exercised: libhdf5 1.10.8 crashes on
    // some of these files, and each crash stayed in the child.
    expect(outcomes.filter((o) => o.outcome.startsWith('rejected: crashed')).length).toBeGreaterThan(0);
    // Policy rejections fire on the files that carry them.
    const by = (name: string) => outcomes.find((o) => o.file === name)?.outcome;
    expect(by('cve-2018-14034.h5')).toBe('rejected: external-link');
    expect(by('cve-2024-32606.h5')).toBe('rejected: external-storage');
    expect(by('cve-2024-29162.h5')).toBe('rejected: filter');
    // Not HDF5 at all: the same error a trusted open gives.
    expect(by('cve-2018-17433')).toBe('error: H5_NOT_HDF5');
  });
});
