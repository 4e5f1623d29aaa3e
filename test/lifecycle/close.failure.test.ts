// A close that cannot flush (file size limit / full disk) is reported as an
// H5Error, by close() and by closeAsync(), instead of pretending it closed.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';

const DIST = new URL('../../dist/index.js', import.meta.url).href;

function run(closeCall: string): string[] {
  const dir = tempDir();
  const script = `
    import { File } from ${JSON.stringify(DIST)};
    process.on('SIGXFSZ', () => {}); // EFBIG from write() instead of being killed
    const f = File.create(${JSON.stringify(join(dir, 'x.h5'))}, { overwrite: true });
    for (let i = 0; i < 50; i++) f.createGroup('g' + i).attrs.set('a', 'x'.repeat(100));
    try { await f.createDataset('n', { dtype: 'uint8', shape: [3 << 20] }).write(new Uint8Array(3 << 20)); console.log('write ok'); }
    catch (e) { console.log('write', e.code); }
    try { await ${closeCall}; console.log('close ok'); } catch (e) { console.log('close', e.code, e.constructor.name); }`;
  // RLIMIT_FSIZE of 1 MiB: writes past it fail with EFBIG, like a full disk.
  const r = spawnSync('bash', ['-c', `ulimit -f 1024; exec "${process.execPath}" --input-type=module -e "$0"`, script], {
    encoding: 'utf8',
  });
  // libhdf5 1.10.8 still holds a file whose H5Fclose failed and crashes when
  // its atexit handler retries the flush (docs/errors.md, H5_IO): only the
  // reported errors are the contract here.
  return r.stdout.trim().split('\n');
}

describe('close() of a file that cannot be flushed', () => {
  it('close() throws H5Error H5_IO', () => {
    expect(run('f.close()')).toEqual(['write H5_IO', 'close H5_IO H5Error']);
  });
  it('closeAsync() rejects with H5Error H5_IO', () => {
    expect(run('f.closeAsync()')).toEqual(['write H5_IO', 'close H5_IO H5Error']);
  });
});
