// Dimension scales (HDF5 Dimension Scale specification, through libhdf5_hl's
// H5DS): reading which scales are attached to which dimension, and
// make-scale / attach / detach / labels that h5py reads back.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, type H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir('h5vault-dims-');

describe('reading dimension scales', () => {
  it('an h5py file laid out like netCDF-4 (coordinate variables as scales) reads its scales per dimension', () => {
    const p = join(dir, 'netcdf-like.h5');
    python(
      `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f['time'] = np.arange(4, dtype='f8'); f['time'].make_scale('time')
f['lat'] = np.linspace(-10, 10, 3); f['lat'].make_scale('lat')
f['lat_bnds'] = np.zeros(3); f['lat_bnds'].make_scale()
t = f.create_dataset('temp', data=np.zeros((4, 3), 'f4'))
t.dims[0].attach_scale(f['time'])
t.dims[1].attach_scale(f['lat']); t.dims[1].attach_scale(f['lat_bnds'])
t.dims[0].label = 't'
f.close()`,
      [p],
    );
    const f = File.open(p);
    const t = f.dataset('temp');
    expect(t.isScale).toBe(false);
    expect(t.dims).toEqual([
      { label: 't', scales: [{ path: '/time', name: 'time' }] },
      {
        label: '',
        scales: [
          { path: '/lat', name: 'lat' },
          { path: '/lat_bnds', name: '' },
        ],
      },
    ]);
    expect(f.dataset('time').isScale).toBe(true);
    expect(f.dataset('time').dims).toEqual([{ label: '', scales: [] }]);
    f.close();
  });
});

describe('writing dimension scales', () => {
  it('makeScale / attachScale / detachScale / setDimensionLabel read back identically in h5py', () => {
    const p = join(dir, 'ours.h5');
    const f = File.create(p);
    const x = f.createDataset('x', { dtype: 'float32', shape: [5], data: new Float32Array([0, 1, 2, 3, 4]) });
    const y = f.createDataset('y', { dtype: 'float32', shape: [2], data: new Float32Array([0, 1]) });
    const z = f.createDataset('z', { dtype: 'float32', shape: [2, 5] });
    x.makeScale('x axis');
    y.makeScale();
    z.attachScale(y, 0);
    z.attachScale(x, 1);
    z.attachScale(y, 1);
    z.detachScale(y, 1);
    z.setDimensionLabel(0, 'rows');
    expect(z.dims.map((d) => d.scales.map((s) => s.path))).toEqual([['/y'], ['/x']]);
    expect(() => z.detachScale(y, 1)).toThrow(expect.objectContaining({ code: 'H5_NOT_FOUND' }));
    expect(() => z.attachScale(x, 2)).toThrow(RangeError);
    expect(() => z.attachScale('x' as never, 0)).toThrow(TypeError);
    f.close();
    const out = python(
      `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r')
z = f['z']
print(json.dumps([[[s.name for s in d.values()] for d in z.dims], [d.label for d in z.dims],
  h5py.h5ds.is_scale(f['x'].id), f['x'].attrs['NAME'].decode() if isinstance(f['x'].attrs['NAME'], bytes) else str(f['x'].attrs['NAME'])]))`,
      [p],
    );
    expect(JSON.parse(out)).toEqual([[['/y'], ['/x']], ['rows', ''], true, 'x axis']);
  });

  it('refuses scales from another file and writes to read-only files', () => {
    const a = File.create(join(dir, 'a.h5'));
    const b = File.create(join(dir, 'b.h5'));
    const d = a.createDataset('d', { dtype: 'int8', shape: [2] });
    const s = b.createDataset('s', { dtype: 'int8', shape: [2] });
    s.makeScale('s');
    let err: unknown;
    try {
      d.attachScale(s, 0);
    } catch (e) {
      err = e;
    }
    expect((err as H5Error).code).toBe('H5_INVALID_ARGUMENT');
    a.close();
    b.close();
    const r = File.open(join(dir, 'a.h5'));
    expect(() => r.dataset('d').makeScale('n')).toThrow(expect.objectContaining({ code: 'H5_READ_ONLY' }));
    r.close();
  });
});
