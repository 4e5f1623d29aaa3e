/**
 * Conformance with h5py over the committed corpus of real public HDF5 files
 * (test/fixtures/conformance, PROVENANCE.md): every dataset and attribute
 * h5py reads is compared with h5vault's reading (harness.ts). Fails on any
 * mismatch or untyped failure, on a typed refusal of a type class h5vault
 * reads (every class h5py reads), and on any change from the
 * committed per-value outcomes (expected.json): a regression fails, and so
 * does an improvement until expected.json and docs/conformance.md are
 * rewritten (`npm run conformance -- --write-expected`).
 */
import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requirePeers } from '../helpers.js';
import { CORPUS, corpusFiles, EXPECTED, expectations, h5pyDumpMany, runFile, type FileResult } from './harness.js';

requirePeers();

/**
 * Type classes h5vault does not read (h5py does not either: they are excluded
 * when h5py cannot read them); a typed refusal of one of these is allowed.
 * Every other class is read, so its refusal is a defect.
 */
const NOT_READ = new Set(['time', 'float-128bit', 'integer-128bit']);

const files = corpusFiles([CORPUS]);
let results: FileResult[] = [];
const all = () => results.flatMap((fr) => fr.results.map((r) => ({ file: relative(CORPUS, fr.file), ...r })));
const show = (xs: ReturnType<typeof all>) =>
  xs.map((r) => `${r.file} ${r.key} [${r.class}] ${r.outcome} ${r.code ?? ''} ${r.detail ?? ''}`).join('\n');

beforeAll(async () => {
  results = [];
  const dumps = await h5pyDumpMany(files);
  for (const f of files) results.push(await runFile(f, dumps.get(f)));
}, 900_000);

describe('conformance corpus', () => {
  it('is at most 20 MB and every file has its provenance recorded', () => {
    const bytes = files.reduce((a, f) => a + statSync(f).size, 0);
    expect(bytes).toBeLessThanOrEqual(20 * 1024 * 1024);
    const provenance = readFileSync(`${CORPUS}/PROVENANCE.md`, 'utf8');
    expect(files.filter((f) => !provenance.includes(`\`${relative(CORPUS, f)}\``))).toEqual([]);
    expect(files.length).toBeGreaterThanOrEqual(100);
  });
});

describe('h5vault reads the corpus like h5py', () => {
  it('no untyped failures: every error is an H5Error with a code', () => {
    expect(show(all().filter((r) => r.outcome === 'untyped'))).toBe('');
  });

  it('no mismatches', () => {
    expect(show(all().filter((r) => r.outcome === 'mismatch'))).toBe('');
  });

  it('typed refusals only for filters no installed plugin provides (and classes h5py does not read either)', () => {
    const refusedSupported = all().filter(
      (r) => r.outcome === 'refused' && !NOT_READ.has(r.class) && r.code !== 'H5_FILTER_UNAVAILABLE',
    );
    expect(show(refusedSupported)).toBe('');
  });

  it('every value has the outcome recorded in expected.json (rewrite it with `npm run conformance -- --write-expected` after an improvement)', () => {
    const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as Record<string, Record<string, string>>;
    const actual = expectations(results, (f) => relative(CORPUS, f));
    const regressions: string[] = [];
    const changes: string[] = [];
    for (const file of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const e = expected[file] ?? {};
      const a = actual[file] ?? {};
      for (const key of new Set([...Object.keys(e), ...Object.keys(a)])) {
        if (e[key] === a[key]) continue;
        const line = `${file} ${key}: expected ${e[key] ?? '(absent)'}, now ${a[key] ?? '(absent)'}`;
        (e[key] === 'match' ? regressions : changes).push(line);
      }
    }
    expect(regressions.join('\n'), 'values that matched h5py no longer do').toBe('');
    expect(
      changes.join('\n'),
      'outcomes changed: if these are improvements, rewrite expected.json and docs/conformance.md',
    ).toBe('');
  });
});
