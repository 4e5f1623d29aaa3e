/**
 * Object references are named as h5py names them, with one walk of the file
 * per open read-only file (one per read in a writable one) instead of one
 * H5Rget_name search per reference: netcdf-c's ref_hdf5_compat1.nc (2,000
 * variables, /x's REFERENCE_LIST of 2,000 references) took 8.2 s to read and
 * was refused in untrusted mode (the walk's timeout).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { File, type AttrAnyValue } from '../../lib/index.js';
import { PYTHON, python, requirePeers, tempDir } from '../helpers.js';
import { CORPUS } from '../conformance/harness.js';

requirePeers();

type Ref = { kind: string | null; path: string | null };

describe('reference names', () => {
  it("ref_hdf5_compat1.nc opens untrusted and /x's REFERENCE_LIST names what h5py names", {
    timeout: 600_000,
  }, async () => {
    const file = join(CORPUS, 'netcdf-c/ref_hdf5_compat1.nc');
    // h5py names each reference with a search of the file (about a minute
    // here): asynchronously, so the test worker stays responsive meanwhile.
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [
        '-c',
        `import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
print(json.dumps([f[r].name for r in f['x'].attrs['REFERENCE_LIST']['dataset']]))`,
        file,
      ],
      { maxBuffer: 1 << 24 },
    );
    const want = JSON.parse(stdout) as string[];
    expect(want).toHaveLength(2000);
    const f = await File.open(file, { untrusted: true });
    try {
      const list = f.get('/x').attrs.get<AttrAnyValue>('REFERENCE_LIST') as unknown as { dataset: Ref[] };
      expect(list.dataset.map((r) => r.path)).toEqual(want);
      expect(list.dataset.every((r) => r.kind === 'object')).toBe(true);
    } finally {
      f.close();
    }
  });

  it('in a writable file, names follow a link moved between reads', async () => {
    const file = join(tempDir(), 'refs.h5');
    python(
      `import h5py, sys
with h5py.File(sys.argv[1], 'w') as f:
    a = f.create_dataset('g/a', data=[1, 2])
    b = f.create_dataset('b', data=[3])
    f.attrs.create('refs', [a.ref, b.ref, f.ref], dtype=h5py.ref_dtype)`,
      [file],
    );
    const f = File.open(file, { mode: 'r+' });
    try {
      const names = () => (f.attrs.get<AttrAnyValue>('refs') as unknown as Ref[]).map((r) => r.path);
      expect(names()).toEqual(['/g/a', '/b', '/']);
      f.move('/g/a', '/c');
      expect(names()).toEqual(['/c', '/b', '/']);
    } finally {
      f.close();
    }
  });
});
