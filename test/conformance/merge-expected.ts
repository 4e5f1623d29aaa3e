/**
 * `vite-node test/conformance/merge-expected.ts -- FILE...`: records the
 * outcomes of the given corpus files in expected.json without rerunning the
 * whole corpus (for files just added to it). `npm run conformance --
 * --write-expected` rewrites every file's outcomes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { CORPUS, EXPECTED, expectations, h5pyDumpMany, runFile, type FileResult } from './harness.js';

const files = process.argv
  .slice(2)
  .filter((a) => a !== '--')
  .map((f) => resolve(f));
const dumps = await h5pyDumpMany(files);
const results: FileResult[] = [];
for (const f of files) results.push(await runFile(f, dumps.get(f)));
const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as Record<string, Record<string, string>>;
Object.assign(
  expected,
  expectations(results, (f) => relative(CORPUS, f)),
);
const sorted = Object.fromEntries(
  Object.keys(expected)
    .sort()
    .map((k) => [k, expected[k]]),
);
writeFileSync(EXPECTED, `${JSON.stringify(sorted, null, 1)}\n`);
for (const r of results)
  console.log(
    relative(CORPUS, r.file),
    r.results
      .filter((x) => x.outcome === 'mismatch' || x.outcome === 'untyped')
      .map((x) => `${x.key} ${x.outcome} ${x.code ?? ''} ${x.detail ?? ''}`),
  );
