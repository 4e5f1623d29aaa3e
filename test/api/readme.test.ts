// The README's example must run as written (the README contract).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';

describe('README', () => {
  it('the example runs and prints what its comments say', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /## Example\s+```js\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README has a ```js block under "## Example"').not.toBeNull();
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const code = m![1]!.replace("from 'h5vault'", `from ${JSON.stringify(dist)}`);
    const dir = tempDir();
    const script = join(dir, 'example.mjs');
    writeFileSync(script, code);
    const out = execFileSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(['100352 128 12', 'H5_NOT_FOUND']);
    expect(code.split('\n').length).toBeLessThanOrEqual(22);
  });
});
