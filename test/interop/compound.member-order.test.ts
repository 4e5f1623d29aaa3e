/**
 * A compound dataset reads with its members in the order the file declares
 * them (h5py's order), from every read form and on every call. libhdf5 1.10
 * sorts a dataset's own compound type by member offset, in place, the first
 * time H5Dread converts it; before value.cc kept the declared type, the first
 * read() of PyTables' out_of_order_types.h5 /group/table gave test_5, test_10,
 * test_15 and every later read (readSync, read, readRecords, a new handle)
 * test_15, test_10, test_5.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { CORPUS } from '../conformance/harness.js';

requirePeers();

function h5pyNames(file: string, path: string): string[] {
  return JSON.parse(
    python('import h5py, json, sys; print(json.dumps(list(h5py.File(sys.argv[1], "r")[sys.argv[2]].dtype.names)))', [
      file,
      path,
    ]),
  ) as string[];
}

const fieldsOf = (v: unknown): string[] => Object.keys(Array.isArray(v) ? (v[0] as object) : (v as object));

/** Every read form, twice, and a second handle opened after them: the field names each gave. */
async function everyRead(file: string, path: string): Promise<Record<string, string[]>> {
  const f = File.open(file);
  try {
    const d = f.dataset(path);
    const out: Record<string, string[]> = {};
    for (const round of [1, 2]) {
      out[`read #${round}`] = fieldsOf(await d.read());
      out[`readSync #${round}`] = fieldsOf(d.readSync());
      out[`readRecords #${round}`] = fieldsOf(await d.readRecords());
      out[`readRecordsSync #${round}`] = fieldsOf(d.readRecordsSync());
      out[`readValue #${round}`] = fieldsOf(await d.readValue());
    }
    const again = f.dataset(path);
    const t = again.type;
    out['type of a handle opened after the reads'] = t.class === 'compound' ? t.fields.map((x) => x.name) : [];
    out['read of that handle'] = fieldsOf(await again.read());
    return out;
  } finally {
    f.close();
  }
}

describe('compound members keep the file order on every read', () => {
  it.each([
    ['PyTables/out_of_order_types.h5', '/group/table'],
    ['hdf5/tools/test/h5repack/testfiles/h5repack_nested_8bit_enum.h5', '/tracks/1/trace'],
  ])('%s %s', async (rel, path) => {
    const file = join(CORPUS, rel);
    const want = h5pyNames(file, path);
    const got = await everyRead(file, path);
    expect(got).toEqual(Object.fromEntries(Object.keys(got).map((k) => [k, want])));
  });

  it('members declared at descending offsets, written by h5py', async () => {
    const file = join(tempDir(), 'ooo.h5');
    python(
      `import h5py, numpy as np, sys
dt = np.dtype({'names': ['a', 'b', 'c'], 'formats': ['<i4', '<f8', 'S3'], 'offsets': [12, 0, 8], 'itemsize': 16})
x = np.zeros(3, dt); x['a'] = [1, 2, 3]; x['b'] = [0.5, 1.5, 2.5]; x['c'] = [b'x', b'y', b'z']
with h5py.File(sys.argv[1], 'w') as f: f['d'] = x`,
      [file],
    );
    const got = await everyRead(file, '/d');
    expect(got).toEqual(Object.fromEntries(Object.keys(got).map((k) => [k, ['a', 'b', 'c']])));
    const f = File.open(file);
    const recs = await f.dataset('/d').readRecords();
    f.close();
    expect(recs).toEqual([
      { a: 1, b: 0.5, c: 'x' },
      { a: 2, b: 1.5, c: 'y' },
      { a: 3, b: 2.5, c: 'z' },
    ]);
  });
});
