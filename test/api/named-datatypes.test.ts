// Committed (named) datatypes: listed by keys()/links() and, on request, by
// walk(); opened with datatype(), their attributes are readable.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, NamedDatatype } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir('h5vault-ntype-');

describe('committed datatypes', () => {
  it('are listed, walked on request, and carry readable attributes', () => {
    const p = join(dir, 'types.h5');
    python(
      `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f['pair'] = np.dtype([('r', '<f8'), ('i', '<f8')])
f['pair'].attrs['note'] = 'complex pair'
f['g/f4'] = np.dtype('<f4')
f['g/x'] = np.zeros(2)
f.close()`,
      [p],
    );
    const f = File.open(p);
    expect(f.keys()).toEqual(['g', 'pair']);
    expect(f.links().find((l) => l.name === 'pair')).toEqual({ name: 'pair', kind: 'datatype', link: 'hard' });
    const t = f.datatype('pair');
    expect(t).toBeInstanceOf(NamedDatatype);
    expect(t.kind).toBe('datatype');
    expect(t.name).toBe('pair');
    expect(t.attrs.keys()).toEqual(['note']);
    expect(t.attrs.get('note')).toBe('complex pair');
    expect(() => f.get('pair')).toThrow(expect.objectContaining({ code: 'H5_UNSUPPORTED' }));
    expect(() => f.datatype('g/x')).toThrow(TypeError);
    expect([...f.walk()].map(([path]) => path)).toEqual(['/g', '/g/x']);
    expect([...f.walk({ datatypes: true })].map(([path, o]) => [path, o.kind])).toEqual([
      ['/g', 'group'],
      ['/g/f4', 'datatype'],
      ['/g/x', 'dataset'],
      ['/pair', 'datatype'],
    ]);
    f.close();
  });

  it('attributes set on a committed datatype read back in h5py', () => {
    const p = join(dir, 'types-rw.h5');
    python(
      `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f['t'] = np.dtype('<i2')
f.close()`,
      [p],
    );
    const f = File.open(p, { mode: 'r+' });
    f.datatype('t').attrs.set('units', 'counts');
    f.close();
    const out = python(
      `import h5py, sys
f = h5py.File(sys.argv[1], 'r')
v = f['t'].attrs['units']
print(v.decode() if isinstance(v, bytes) else v)`,
      [p],
    );
    expect(out.trim()).toBe('counts');
  });
});
