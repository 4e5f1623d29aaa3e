/**
 * Typed arrays by dtype (issue 26 item 3): test/types/dtype-typed.mts is
 * compiled as a user's project compiles it (`tsc --strict`, skipLibCheck off,
 * `h5vault` resolved through node_modules to dist's declarations), so its
 * `@ts-expect-error` lines prove the wrong uses fail, then it runs and the
 * checks behind the types throw the TypeErrors it lists.
 */
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, STRICT_OPTIONS, tsc, userProject } from '../docs/doctest.mjs';

// Only @types/node next to it: a project without the optional peers.
const root = userProject(REPO, 'h5vault-types-', ['@types']);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('dtype-typed reads and views', () => {
  it('compile under --strict with the wrong uses rejected, and run with the run-time checks', async () => {
    copyFileSync(join(REPO, 'test/types/dtype-typed.mts'), join(root, 'dtype-typed.mts'));
    const compilerOptions = { ...STRICT_OPTIONS, outDir: 'out' };
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['dtype-typed.mts'] }));
    const r = await tsc(root);
    // Errors in another package's own declarations are theirs (onnxruntime-common
    // names DOM types; dist/onnx/ort.d.ts reaches it through h5vault's own
    // node_modules here): only errors in this file or in h5vault's count.
    const ours = r.output.split('\n').filter((l) => /error TS/.test(l) && !/node_modules\/(?!h5vault\/)/.test(l));
    expect(ours).toEqual([]);
    const out = JSON.parse(
      execFileSync(process.execPath, [join(root, 'out', 'dtype-typed.mjs')], { cwd: root, encoding: 'utf8' }),
    );
    expect(out).toEqual({
      w: [1, 2, 3, 4],
      w2: 4,
      w3: [2, 3],
      a: 'Float32Array',
      b: 'BigInt64Array',
      c: 2,
      s: ['a', 'b'],
      s2: ['a', 'b'],
      kk: 4,
      any: 4,
      target: '/k',
      loss: false,
      reject: 'v2: H5_CHECKSUM_MISMATCH',
      wrong: [
        "dataset '/k' is float32, not int32",
        "dataset '/k' is float32, not int32",
        "dataset '/k' is float32, not float64",
        "read('string') gives the dtype's array: 'strings' and 'enumNames' take read() without a dtype",
        'deref() takes a reference read from a file ({ kind, path })',
      ],
    });
    expect(readFileSync(join(root, 'dtype-typed.mts'), 'utf8')).toContain('@ts-expect-error');
  });
});
