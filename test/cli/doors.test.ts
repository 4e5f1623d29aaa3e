/**
 * `h5vault info` and `repack` ask the file they opened about itself, never its
 * path again: a racing process renames two files over the path, one after the
 * other, while the commands run again and again, and every report must
 * describe one file (its size and its attribute), never the size of one and
 * the contents of the other. Before the fix both commands statSync'ed the
 * path after opening it (info's fileBytes, repack's inputBytes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { linkSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { command as info } from '../../lib/cli/info.js';
import { command as repack } from '../../lib/cli/repack.js';

const dir = mkdtempSync(join(tmpdir(), 'h5vault-cli-doors-'));
const p = (name: string) => join(dir, name);
const ROUNDS = 60;
const size: Record<string, number> = {};
let racer: ChildProcess | undefined;

/** Renames hard links of a and b over `link`, alternately, as fast as it can (each step atomic). */
function race(a: string, b: string, link: string): void {
  const script = `
const fs = require('node:fs');
const [a, b, link] = process.argv.slice(1);
const tmp = link + '.tmp';
for (let i = 0; ; i++) {
  try { fs.unlinkSync(tmp); } catch {}
  fs.linkSync(i % 2 ? b : a, tmp);
  fs.renameSync(tmp, link);
}`;
  racer = spawn(process.execPath, ['-e', script, a, b, link], { stdio: 'ignore' });
}

/** Runs a CLI command in this process and returns what it printed on stdout. */
async function run(cmd: { run(argv: string[]): Promise<number> }, argv: string[]): Promise<string> {
  let text = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await cmd.run(argv);
  } finally {
    process.stdout.write = write;
  }
  return text;
}

beforeAll(() => {
  for (const [who, n] of [
    ['small', 16],
    ['big', 1 << 16],
  ] as const) {
    const f = File.create(p(`${who}.h5`));
    f.attrs.set('who', who);
    // Many small datasets: the walk takes long enough for the racer to flip the path under it.
    for (let i = 0; i < 40; i++)
      f.createDataset(`d${i}`, { dtype: 'float32', shape: [n], data: new Float32Array(n).fill(i) });
    f.close();
    size[who] = statSync(p(`${who}.h5`)).size;
  }
  expect(size.small).not.toBe(size.big);
  linkSync(p('small.h5'), p('flip.h5')); // the racer only ever renames over it: the path always names a file
});

afterEach(() => {
  racer?.kill('SIGKILL');
  racer = undefined;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('info and repack report the file they opened, not what the path names later', () => {
  it(`info --json: fileBytes is the size of the file whose attributes it lists (${ROUNDS} runs under a rename race)`, async () => {
    race(p('small.h5'), p('big.h5'), p('flip.h5'));
    const seen: Record<string, number> = { small: 0, big: 0, mixed: 0 };
    for (let i = 0; i < ROUNDS; i++) {
      const doc = JSON.parse(await run(info, ['--json', p('flip.h5')])) as {
        fileBytes: number;
        attributes: { who: string };
      };
      const who = doc.attributes.who;
      seen[doc.fileBytes === size[who] ? who : 'mixed']!++;
    }
    expect(seen.mixed).toBe(0);
    expect(seen.small + seen.big).toBe(ROUNDS);
  });

  it(`repack --json: inputBytes is the size of the file it copied (${ROUNDS} runs under a rename race)`, async () => {
    race(p('small.h5'), p('big.h5'), p('flip.h5'));
    let mixed = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const out = p(`out-${i}.h5`);
      const doc = JSON.parse(await run(repack, ['--json', p('flip.h5'), out, '--compression', 'none'])) as {
        inputBytes: number;
      };
      const f = File.open(out);
      const who = f.attrs.get('who') as string;
      f.close();
      if (doc.inputBytes !== size[who]) mixed++;
      rmSync(out);
    }
    expect(mixed).toBe(0);
  });
});
