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
    const r = spawnSync(
      'bash',
      ['-c', 'ulimit -f 1048576; exec "$0" --input-type=module -e "$1" -- "$2"', process.execPath, script, p],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('H5_TOO_LARGE,closed');
    expect(
      python(
        `import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nprint(sorted(f.keys()), f['sparse'].shape, list(f['small'][()]))`,
        [p],
      ).trim(),
    ).toBe("['small', 'sparse'] (2147483648, 2147483648) [1, 2, 3]");
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

/**
 * An extent whose element count overflows 64 bits: [2^31, 2^31, 2^31] float64
 * chunked [1, 1, 1024] was accepted with size 0 (libhdf5's count wrapped) and
 * a hyperslab write into it killed the process with SIGSEGV inside libhdf5.
 * Every dtype, chunked or not, maxshape, attributes and resize are refused
 * with H5_TOO_LARGE; the native guard holds on its own (the addon called
 * directly, past lib's check). Each case runs in a child: a crash fails the
 * test instead of the run.
 */
describe('extents past 2^63 bytes', () => {
  it('createDataset (every dtype, chunked and contiguous), maxshape, resize() and attributes: H5_TOO_LARGE, no crash, the file stays usable and h5py reads it', () => {
    const p = join(dir, 'overflow.h5');
    const script = `
      const H5 = await import(${JSON.stringify(DIST_URL)});
      const { native } = await import(${JSON.stringify(new URL('./addon/binding.js', DIST_URL).href)});
      const out = [];
      const code = (fn) => { try { fn(); return 'accepted'; } catch (e) { return e.code ?? e.name; } };
      const f = H5.File.create(process.argv.at(-1));
      const huge = [2 ** 31, 2 ** 31, 2 ** 31];
      for (const dtype of ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float16', 'bfloat16', 'float32', 'float64', 'bool', 'string']) {
        out.push(dtype + ':' + code(() => f.createDataset('c_' + dtype, { dtype, shape: huge, chunks: [1, 1, 1024] })) +
          ',' + code(() => f.createDataset('k_' + dtype, { dtype, shape: huge })));
      }
      // The first case of the report, with the write that crashed.
      out.push('write:' + code(() => {
        const d = f.createDataset('x', { dtype: 'float64', shape: huge, chunks: [1, 1, 1024] });
        d.writeSync(new Float64Array(4).fill(1), { start: [5, 5, 5], count: [1, 1, 4] });
      }));
      out.push('maxshape:' + code(() => f.createDataset('m', { dtype: 'float32', shape: [1, 1], maxshape: [2 ** 40, 2 ** 40], chunks: [1, 1] })));
      // Unlimited dims bound nothing at create; the resize that would overflow is refused.
      const r = f.createDataset('r', { dtype: 'float64', shape: [1, 1, 1], maxshape: [null, null, null], chunks: [1, 1, 1024] });
      out.push('resize:' + code(() => r.resize(huge)) + ',' + code(() => native.datasetResize(r.handle, huge)));
      out.push('resize-ok:' + code(() => r.resize([2 ** 20, 2 ** 20, 2 ** 10])) + ':' + r.shape.join('x'));
      // The addon alone, past lib's checks.
      const root = f.handle;
      const spec = { dtype: 'float64', shape: huge, scalar: false, chunks: [1, 1, 1024], shuffle: false, fletcher32: false };
      out.push('native:' + code(() => native.datasetCreate(root, 'n', spec)) + ',' +
        code(() => native.datasetCreate(root, 'n2', { ...spec, shape: [1, 1, 1], maxshape: [2 ** 40, 2 ** 40, 2 ** 40] })));
      // An attribute whose count wraps to 0 matched empty data.
      out.push('attr:' + code(() => native.attrSet(root, 'a', 'float64', [2 ** 32, 2 ** 32], new Float64Array(0))) + ',' +
        code(() => native.valueSetAttr(root, 'b', { class: 'integer', dtype: 'uint8', size: 1 }, [2 ** 32, 2 ** 32], new Uint8Array(0))));
      f.createDataset('small', { dtype: 'int32', shape: [2], data: Int32Array.of(7, 8) });
      f.close();
      console.log(out.join(' '));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', p], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const res = r.stdout.trim().split(' ');
    for (const t of res.slice(0, 14)) expect(t).toMatch(/^[a-z0-9]+:H5_TOO_LARGE,H5_TOO_LARGE$/);
    expect(res.slice(14)).toEqual([
      'write:H5_TOO_LARGE',
      'maxshape:H5_TOO_LARGE',
      'resize:H5_TOO_LARGE,H5_TOO_LARGE',
      'resize-ok:accepted:1048576x1048576x1024',
      'native:H5_TOO_LARGE,H5_TOO_LARGE',
      'attr:H5_TOO_LARGE,H5_TOO_LARGE',
    ]);
    expect(
      python(
        `import h5py,sys\nf=h5py.File(sys.argv[1],'r')\nprint(sorted(f.keys()), f['r'].shape, list(f['small'][()]), list(f.attrs))`,
        [p],
      ).trim(),
    ).toBe("['r', 'small'] (1048576, 1048576, 1024) [7, 8] []");
  });

  it('the message names the dataset, the shape and the size', () => {
    using f = File.create(join(dir, 'message.h5'));
    expect(() =>
      f.createDataset('x', { dtype: 'float64', shape: [2 ** 31, 2 ** 31, 2 ** 31], chunks: [1, 1, 1024] }),
    ).toThrow(
      "cannot create dataset 'x': shape [2147483648, 2147483648, 2147483648] of 8-byte elements is about 2^96 bytes, more than the 2^63 - 1 bytes an HDF5 file can address",
    );
  });
});
