/**
 * A contiguous dataset's storage is allocated when it is created. Storage no
 * file can hold is refused at createDataset with H5_TOO_LARGE, before it can
 * turn into a close that fails and a crash at exit; chunked (sparse) datasets
 * of the same extent stay legitimate, as in h5py.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { DIST_URL, ensureDist } from './child.js';

const dir = tempDir('h5vault-too-large-');
beforeAll(() => {
  ensureDist();
  requirePeers();
});

describe('contiguous storage no file can hold', () => {
  it('[2**31, 2**31] uint8 (4 EiB) past the file size limit: H5_TOO_LARGE at create; chunked is fine; close and exit are clean; h5py reads the file', () => {
    const p = join(dir, 'limit.h5');
    // RLIMIT_FSIZE of 1 GiB stands in for a filesystem's maximum file size
    // (ext4: 16 TiB), so the result does not depend on where /tmp lives.
    const script = `
      const H5 = await import(${JSON.stringify(DIST_URL)});
      process.on('SIGXFSZ', () => {});
      const f = H5.File.create(process.argv.at(-1));
      const out = [];
      try { f.createDataset('x', { dtype: 'uint8', shape: [2 ** 31, 2 ** 31] }); out.push('created'); } catch (e) { out.push(e.code); }
      f.createDataset('sparse', { dtype: 'uint8', shape: [2 ** 31, 2 ** 31], chunks: [1024, 1024] });
      f.createDataset('small', { dtype: 'uint8', shape: [3], data: Uint8Array.of(1, 2, 3) });
      try { f.close(); out.push('closed'); } catch (e) { out.push('close ' + e.code + ' ' + e.message); }
      console.log(out.join(','));`;
    const r = spawnSync('bash', ['-c', 'ulimit -f 1048576; exec "$0" --input-type=module -e "$1" -- "$2"', process.execPath, script, p], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('H5_TOO_LARGE,closed');
    expect(python(`import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nprint(sorted(f.keys()), f['sparse'].shape, list(f['small'][()]))`, [p]).trim()).toBe(
      "['small', 'sparse'] (2147483648, 2147483648) [1, 2, 3]",
    );
  });

  it('storage past 2^63 bytes (no file offset can address it): H5_TOO_LARGE, the file stays usable', () => {
    const p = join(dir, 'offsets.h5');
    const f = File.create(p);
    const e = (() => {
      try {
        f.createDataset('x', { dtype: 'float64', shape: [2 ** 31, 2 ** 31, 2] });
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_TOO_LARGE');
    f.createDataset('y', { dtype: 'int32', shape: [2], data: Int32Array.of(5, 6) });
    f.close();
    using g = File.open(p);
    expect(g.keys()).toEqual(['y']);
    expect(Array.from(g.dataset('y').readSync() as Int32Array)).toEqual([5, 6]);
  });
});
