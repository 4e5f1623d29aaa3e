/**
 * Every fenced js/ts block of README.md and docs/*.md runs, verbatim, in an
 * empty directory where `h5vault` is this checkout, and type-checks under
 * `tsc --strict` (skipLibCheck off) against the published declarations
 * (test/docs/doctest.mjs; issue 26 item 4). Skips are rare, carry a reason,
 * and are listed here.
 */
import { describe, expect, it } from 'vitest';
import { extractBlocks, programsOf, runDocs } from './doctest.mjs';

describe('doc test directives', () => {
  const page = (body: string) => extractBlocks('p.md', body);

  it('reads after=previous, continues and skip with its reason; other fences are not code', () => {
    const blocks = page(
      [
        '```js',
        'const a = 1;',
        '```',
        '```sh',
        'ls',
        '```',
        '<!-- doctest: continues -->',
        '```ts',
        'const b: number = a;',
        '```',
        '<!-- doctest: after=previous -->',
        '',
        '```js',
        'x();',
        '```',
        '<!-- doctest: skip reason="needs an S3 endpoint" -->',
        '```js',
        'y();',
        '```',
      ].join('\n'),
    );
    expect(blocks.map((b) => [b.line, b.lang, b.after, b.continues, b.skip])).toEqual([
      [1, 'js', false, false, undefined],
      [8, 'ts', false, true, undefined],
      [13, 'js', true, false, undefined],
      [17, 'js', false, false, 'needs an S3 endpoint'],
    ]);
    const programs = programsOf(blocks);
    expect(programs.map((p) => [p.line, p.ts, p.dir === programs[0]!.dir, p.code])).toEqual([
      [1, true, true, 'const a = 1;\nconst b: number = a;\n'],
      [13, false, true, 'x();\n'],
      [17, false, false, 'y();\n'],
    ]);
  });

  it('refuses an unknown directive, a skip without a reason, and after= on a first block', () => {
    expect(() => page('<!-- doctest: skp -->\n```js\n```')).toThrow("unknown doctest directive 'skp'");
    expect(() => page('<!-- doctest: skip -->\n```js\n```')).toThrow('a skip needs reason');
    expect(() => page('<!-- doctest: after=previous -->\n```js\n```')).toThrow('first block of the page');
  });
});

describe('documentation', () => {
  it('every fenced JS/TS block runs and type-checks (skips listed with reasons)', async () => {
    const r = await runDocs({});
    const summary = [
      `${r.programs.length} programs: ${r.ran.length} ran, ${r.skipped.length} skipped, ${r.typechecked.length} type-checked`,
      ...r.skipped.map((s) => `  skipped ${s.where}: ${s.reason}`),
      ...r.thirdParty.map((t) => `  tolerated, another package's declarations: ${t}`),
    ].join('\n');
    console.log(summary);
    expect(r.failures.map((f) => `${f.stage} ${f.where}\n${f.output}`)).toEqual([]);
    expect(r.ran.length + r.skipped.length).toBe(r.programs.length);
    expect(r.typechecked.length).toBe(r.programs.length);
    // Skips stay rare: each needs a service (S3) or an input (ONNX, Keras, h5py
    // file) that a test elsewhere provides. 15 of 90 when this was written, 16 of 91 with the
    // content-addressed S3 layout's example (docs/object-storage.md).
    expect(r.skipped.length).toBeLessThanOrEqual(16);
    for (const s of r.skipped) expect(s.reason.length).toBeGreaterThan(10);
  }, 600_000); // 75 node processes and one tsc over 90 files: 1-2 min on 2 shared cores
});
