// A close that cannot flush (a full disk: a real 2 MiB tmpfs) is reported as
// an H5Error, by close() and by closeAsync(), instead of pretending it closed,
// and the process still exits cleanly: the failed file is torn down, so
// libhdf5's exit handler has nothing left to flush.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mountTmpfs } from '../helpers.js';

const mnt = mountTmpfs('2m');
let files = 0;

const DIST = new URL('../../dist/index.js', import.meta.url).href;

function run(closeCall: string) {
  const script = `
    import { File } from ${JSON.stringify(DIST)};
    import { rmSync } from 'node:fs';
    const p = ${JSON.stringify(join(mnt, `x${++files}.h5`))};
    const f = File.create(p);
    for (let i = 0; i < 50; i++) f.createGroup('g' + i).attrs.set('a', 'x'.repeat(100));
    try { await f.createDataset('n', { dtype: 'uint8', shape: [3 << 20] }).write(new Uint8Array(3 << 20)); console.log('write ok'); }
    catch (e) { console.log('write', e.code); }
    try { await ${closeCall}; console.log('close ok'); } catch (e) { console.log('close', e.code, e.constructor.name); }
    rmSync(p); // the incomplete file, so the next run has the same free space`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { lines: r.stdout.trim().split('\n'), status: r.status, signal: r.signal, stderr: r.stderr };
}

describe('close() of a file that cannot be flushed', () => {
  for (const [name, call] of [
    ['close() throws', 'f.close()'],
    ['closeAsync() rejects with', 'f.closeAsync()'],
  ]) {
    it(`${name} H5Error H5_IO, and the process exits cleanly`, () => {
      const r = run(call!);
      expect(r.lines).toEqual(['write H5_IO', 'close H5_IO H5Error']);
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
    });
  }
});
