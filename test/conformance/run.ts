/**
 * `npm run conformance -- [--json OUT] [--write-expected] [PATH ...]`: runs
 * the conformance harness (harness.ts) over HDF5 files (directories are
 * searched recursively; default: the committed corpus test/fixtures/conformance)
 * and prints the tally by type class, the refusals by code, and every
 * mismatch and untyped failure. --write-expected rewrites
 * test/conformance/expected.json from this run (committed corpus only).
 * Exit 1 if anything mismatched or failed untyped.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import {
  CORPUS,
  corpusFiles,
  EXPECTED,
  expectations,
  h5pyDumpMany,
  refusals,
  runFile,
  tally,
  tallyTable,
  type FileResult,
} from './harness.js';

async function main(argv: string[]): Promise<number> {
  let json: string | undefined;
  let writeExpected = false;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = argv[++i];
    else if (a === '--write-expected') writeExpected = true;
    else if (a !== '--') paths.push(a);
  }
  const root = paths.length ? undefined : CORPUS;
  const files = corpusFiles(paths.length ? paths : [CORPUS]);
  const results: FileResult[] = [];
  const BATCH = 16;
  for (let i = 0; i < files.length; i += BATCH) {
    const part = files.slice(i, i + BATCH);
    const dumps = await h5pyDumpMany(part);
    for (const [j, file] of part.entries()) {
      process.stderr.write(`\r[${i + j + 1}/${files.length}] ${file.slice(-70).padEnd(70)}`);
      results.push(await runFile(file, dumps.get(file)));
    }
  }
  process.stderr.write('\n');
  const hdf5 = results.filter((r) => r.h5pyFailed === undefined);
  const count = (o: string) => hdf5.reduce((a, r) => a + r.results.filter((x) => x.outcome === o).length, 0);
  console.log(
    `${files.length} files, ${hdf5.length} HDF5 files h5py opens (${files.length - hdf5.length} not: not HDF5, HDF4, or Git LFS pointers)\n`,
  );
  console.log('### By type class\n');
  console.log(tallyTable(tally(hdf5)));
  console.log('\n### By kind\n');
  console.log(
    tallyTable(
      tally(hdf5, (r) => r.kind),
      'kind',
    ),
  );
  const ref = refusals(hdf5);
  if (Object.keys(ref).length) {
    console.log('\n### Typed refusals (class, code)\n');
    console.log(
      ['| class code | values |', '|---|---:|', ...Object.entries(ref).map(([k, n]) => `| ${k} | ${n} |`)].join('\n'),
    );
  }
  const bad = hdf5.flatMap((fr) =>
    fr.results.filter((r) => r.outcome === 'mismatch' || r.outcome === 'untyped').map((r) => ({ file: fr.file, ...r })),
  );
  if (bad.length) {
    console.log('\n### Mismatches and untyped failures\n');
    for (const b of bad)
      console.log(
        `- ${b.outcome} ${relative(process.cwd(), b.file)} ${b.key} (${b.class}): ${b.code ? `${b.code}: ` : ''}${b.detail}`,
      );
  }
  if (json) writeFileSync(json, JSON.stringify(results, null, 1));
  if (writeExpected) {
    if (!root) throw new Error('--write-expected records the committed corpus only (give no PATH)');
    writeFileSync(
      EXPECTED,
      `${JSON.stringify(
        expectations(results, (f) => relative(root, f)),
        null,
        1,
      )}\n`,
    );
    console.log(`\nwrote ${relative(process.cwd(), EXPECTED)}`);
  }
  return count('mismatch') + count('untyped') > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(70);
  },
);
