/**
 * h5py writes every datatype class, h5vault reads the values h5py reads
 * (docs/types.md): compound (column-wise and as records), complex, enum,
 * vlen sequences, array types, opaque, bitfield, long double, object and
 * region references, netCDF-4 dimension lists, string padding and
 * non-UTF-8 bytes, null-dataspace attributes. Datasets and attributes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  Empty,
  File,
  H5Error,
  type CompoundColumns,
  type H5Value,
  type AttrAnyValue,
  type Reference,
} from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'theirs.h5');

beforeAll(() => {
  python(
    `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    cd = np.dtype([('x', '<f4'), ('n', '>i8'), ('name', 'S5'), ('v', h5py.vlen_dtype('i4')), ('arr', '<i2', (2,)),
                   ('s', h5py.string_dtype()), ('inner', [('a', 'u1'), ('b', '<f8')]), ('flag', '?')])
    a = np.zeros(3, dtype=cd)
    a['x'] = [1.5, 2.5, -3]; a['n'] = [1, -2, 2**40]; a['name'] = [b'ab', b'cde', b'']
    a['v'] = [np.array([1, 2], 'i4'), np.array([], 'i4'), np.array([7], 'i4')]
    a['arr'] = [[1, 2], [3, 4], [5, 6]]; a['s'] = ['α', 'b', '']
    a['inner'] = [(1, 0.5), (2, 0.25), (3, -1)]; a['flag'] = [True, False, True]
    f['compound'] = a
    f['complex64'] = np.array([1+2j, -3.5j], dtype='c8')
    f['complex128'] = np.array([[1+2j, 3], [4j, -1]], dtype='>c16')
    et = h5py.enum_dtype({'RED': 0, 'GREEN': 1, 'BLUE': 42}, basetype='i1')
    f.create_dataset('enum', data=np.array([0, 42, 1], 'i1'), dtype=et)
    f.create_dataset('enum64', data=np.array([2**40], 'u8'), dtype=h5py.enum_dtype({'BIG': 2**40, 'ZERO': 0}, basetype='u8'))
    f.create_dataset('vlen', data=[np.array([1., 2.]), np.array([3.])], dtype=h5py.vlen_dtype('f8'))
    ds = f.create_dataset('array', shape=(2,), dtype=np.dtype(('<i4', (2, 3))))
    ds[...] = np.arange(12, dtype='i4').reshape(2, 2, 3)
    f.create_dataset('opaque', data=np.array([b'\\x01\\x02\\x03', b'\\xff\\x00\\x01'], dtype='V3'))
    f.create_dataset('longdouble', data=np.array([1.5, 1/3], dtype=np.longdouble))
    f.create_dataset('chunked-compound', data=a[['x', 'n']], chunks=(2,), compression='gzip')
    f['target'] = np.arange(10)
    g = f.create_group('grp')
    f.create_dataset('refs', data=[f['target'].ref, g.ref, h5py.Reference()], dtype=h5py.ref_dtype)
    f.create_dataset('regrefs', data=[f['target'].regionref[2:5]], dtype=h5py.regionref_dtype)
    # Bitfield (h5py cannot create one; the low-level API can).
    bt = h5py.h5t.STD_B16LE.copy()
    sp = h5py.h5s.create_simple((3,))
    bd = h5py.h5d.create(f.id, b'bitfield', bt, sp)
    bd.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([1, 0x8000, 0xffff], '<u2'), mtype=h5py.h5t.STD_B16LE)
    # Space-padded fixed strings (Fortran style).
    st = h5py.h5t.C_S1.copy(); st.set_size(6); st.set_strpad(h5py.h5t.STR_SPACEPAD)
    sd = h5py.h5d.create(f.id, b'spacepad', st, h5py.h5s.create_simple((2,)))
    sd.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([b'ab    ', b'cdefgh'], 'S6'))
    sa = h5py.h5a.create(f.id, b'spacepad', st, h5py.h5s.create(h5py.h5s.SCALAR))
    sa.write(np.array(b'x y   ', 'S6'))
    # netCDF-4 style dimension scales: DIMENSION_LIST (vlen of references) and
    # REFERENCE_LIST (compound of reference + int).
    f['time'] = np.arange(4.0)
    f['time'].make_scale('time')
    f['temp'] = np.zeros((4, 2))
    f['temp'].dims[0].attach_scale(f['time'])
    # Attributes.
    f.attrs.create('null', h5py.Empty('<f4'))
    f.attrs.create('nullstr', h5py.Empty(h5py.string_dtype()))
    f.attrs['latin1'] = np.bytes_(b'\\xb5m')
    f.attrs.create('vlatin1', b'\\xb5m', dtype=h5py.string_dtype('ascii'))
    f.attrs['cpd'] = np.array((1.5, 7, b'xy'), dtype=[('x', '<f4'), ('n', '<i8'), ('name', 'S5')])
    f.attrs['cpds'] = np.array([(1, 2.0), (3, 4.0)], dtype=[('a', '<i2'), ('b', '<f8')])
    f.attrs['ref'] = g.ref
    f.attrs.create('enumattr', 42, dtype=et)
    f.attrs.create('vlenattr', [np.array([1, 2], 'i2'), np.array([3], 'i2')], dtype=h5py.vlen_dtype('i2'))
    f.attrs['complex'] = np.complex64(1 - 1j)
    f.attrs.create('arrayattr', np.array([[1.0, 2.0]]), dtype=np.dtype(('<f8', (2,))))
  `,
    [p],
  );
});

describe('datasets of every class (h5py wrote them)', () => {
  it('compound: column-wise typed arrays, strings, vlen, array fields, nested compounds, bool', () => {
    const f = File.open(p);
    const d = f.dataset('compound');
    const t = d.type;
    expect(t.class).toBe('compound');
    if (t.class !== 'compound') throw new Error('unreachable');
    expect(t.fields.map((x) => x.name)).toEqual(['x', 'n', 'name', 'v', 'arr', 's', 'inner', 'flag']);
    const c = d.readSync<CompoundColumns>();
    expect(c.x).toEqual(new Float32Array([1.5, 2.5, -3]));
    expect(c.n).toEqual(new BigInt64Array([1n, -2n, 2n ** 40n])); // big-endian in the file
    expect(c.name).toEqual(['ab', 'cde', '']);
    expect(c.v).toEqual([new Int32Array([1, 2]), new Int32Array([]), new Int32Array([7])]);
    expect(c.arr).toEqual(new Int16Array([1, 2, 3, 4, 5, 6]));
    expect(c.s).toEqual(['α', 'b', '']);
    expect((c.inner as CompoundColumns).a).toEqual(new Uint8Array([1, 2, 3]));
    expect((c.inner as CompoundColumns).b).toEqual(new Float64Array([0.5, 0.25, -1]));
    expect(c.flag).toEqual(new Uint8Array([1, 0, 1]));
    f.close();
  });

  it('compound as records, async, and a hyperslab of a chunked compressed compound', async () => {
    const f = File.open(p);
    const r = await f.dataset('compound').readRecords();
    expect(r[0]).toEqual({
      x: 1.5,
      n: 1n,
      name: 'ab',
      v: new Int32Array([1, 2]),
      arr: new Int16Array([1, 2]),
      s: 'α',
      inner: { a: 1, b: 0.5 },
      flag: true,
    });
    expect(r[2]).toMatchObject({ n: 2n ** 40n, flag: true, inner: { a: 3, b: -1 } });
    const part = await f.dataset('chunked-compound').read<CompoundColumns>({ start: [1], count: [2] });
    expect(part.x).toEqual(new Float32Array([2.5, -3]));
    expect(part.n).toEqual(new BigInt64Array([-2n, 2n ** 40n]));
    f.close();
  });

  it('complex: interleaved re, im (big-endian converted), flagged by type.class', () => {
    const f = File.open(p);
    expect(f.dataset('complex64').type).toMatchObject({ class: 'complex', dtype: 'float32' });
    expect(f.dataset('complex64').readSync<H5Value>()).toEqual(new Float32Array([1, 2, -0, -3.5]));
    expect(f.dataset('complex128').readSync<H5Value>()).toEqual(new Float64Array([1, 2, 3, 0, 0, 4, -1, 0]));
    expect(f.dataset('complex64').readRecordsSync()).toEqual([
      [1, 2],
      [-0, -3.5],
    ]);
    f.close();
  });

  it('enum: integer typed array + enumMembers, names on request; 64-bit enums as bigint', () => {
    const f = File.open(p);
    const d = f.dataset('enum');
    expect(d.readSync<H5Value>()).toEqual(new Int8Array([0, 42, 1]));
    expect(d.enumMembers).toEqual({ RED: 0, GREEN: 1, BLUE: 42 });
    expect(d.readSync({ enumNames: true })).toEqual(['RED', 'BLUE', 'GREEN']);
    const big = f.dataset('enum64');
    expect(big.readSync<H5Value>()).toEqual(new BigUint64Array([2n ** 40n]));
    expect(big.enumMembers).toEqual({ BIG: 2n ** 40n, ZERO: 0n });
    expect(big.readSync({ enumNames: true })).toEqual(['BIG']);
    f.close();
  });

  it('vlen sequences, array types (trailing dims), opaque bytes, bitfields, long double', () => {
    const f = File.open(p);
    expect(f.dataset('vlen').readSync<H5Value>()).toEqual([new Float64Array([1, 2]), new Float64Array([3])]);
    const arr = f.dataset('array');
    expect(arr.type).toMatchObject({ class: 'array', dims: [2, 3] });
    expect(arr.readSync<H5Value>()).toEqual(Int32Array.from({ length: 12 }, (_, i) => i));
    expect(f.dataset('opaque').type).toMatchObject({ class: 'opaque', size: 3 });
    expect(f.dataset('opaque').readSync<H5Value>()).toEqual(new Uint8Array([1, 2, 3, 255, 0, 1]));
    expect(f.dataset('bitfield').type).toMatchObject({ class: 'bitfield', dtype: 'uint16' });
    expect(f.dataset('bitfield').readSync<H5Value>()).toEqual(new Uint16Array([1, 0x8000, 0xffff]));
    const ld = f.dataset('longdouble');
    expect(ld.type).toMatchObject({ class: 'float', dtype: 'float64', precisionLoss: true });
    expect(ld.readSync<H5Value>()).toEqual(new Float64Array([1.5, 1 / 3]));
    f.close();
  });

  it('object references resolve to paths (null stays null); deref opens them; region references carry the selection', () => {
    const f = File.open(p);
    const refs = f.dataset('refs').readSync<Reference[]>();
    expect(refs).toEqual([
      { kind: 'object', path: '/target' },
      { kind: 'object', path: '/grp' },
      { kind: 'object', path: null },
    ]);
    expect(f.deref(refs[0]!).path).toBe('/target');
    expect(f.deref(refs[1]!).kind).toBe('group');
    expect(() => f.deref(refs[2]!)).toThrow(expect.objectContaining({ code: 'H5_NOT_FOUND' }));
    const reg = f.dataset('regrefs').readSync<Reference[]>();
    expect(reg).toEqual([
      { kind: 'region', path: '/target', selection: { kind: 'blocks', blocks: [{ start: [2], end: [4] }] } },
    ]);
    f.close();
  });

  it('space-padded fixed strings lose their padding, as h5py reads them', () => {
    const f = File.open(p);
    expect(f.dataset('spacepad').readSync()).toEqual(['ab', 'cdefgh']);
    expect(f.dataset('spacepad').type).toMatchObject({ class: 'string', pad: 'spacepad' });
    expect(f.attrs.get('spacepad')).toBe('x y');
    f.close();
  });

  it('netCDF-4 dimension lists: DIMENSION_LIST (vlen of references) and REFERENCE_LIST (compound) are readable', () => {
    const f = File.open(p);
    const dl = f.dataset('temp').attrs.get<AttrAnyValue>('DIMENSION_LIST');
    expect(dl).toEqual([[{ kind: 'object', path: '/time' }], []]);
    const rl = f.dataset('time').attrs.get<AttrAnyValue>('REFERENCE_LIST');
    // One entry: a one-element column per field (dataset, dimension).
    expect(rl).toEqual({ dataset: [{ kind: 'object', path: '/temp' }], dimension: new Int32Array([0]) });
    f.close();
  });
});

describe('attributes of every class (h5py wrote them)', () => {
  it('scalars come out as one element, arrays as columns', () => {
    const f = File.open(p);
    expect(f.attrs.get<AttrAnyValue>('cpd')).toEqual({ x: 1.5, n: 7n, name: 'xy' });
    expect(f.attrs.get<AttrAnyValue>('cpds')).toEqual({ a: new Int16Array([1, 3]), b: new Float64Array([2, 4]) });
    expect(f.attrs.get<AttrAnyValue>('ref')).toEqual({ kind: 'object', path: '/grp' });
    expect(f.attrs.get<AttrAnyValue>('enumattr')).toBe(42);
    expect(f.attrs.get<AttrAnyValue>('enumattr', { enumNames: true })).toBe('BLUE');
    expect(f.attrs.get<AttrAnyValue>('vlenattr')).toEqual([new Int16Array([1, 2]), new Int16Array([3])]);
    expect(f.attrs.get<AttrAnyValue>('complex')).toEqual([1, -1]);
    expect(f.attrs.get<AttrAnyValue>('arrayattr')).toEqual(new Float64Array([1, 2]));
    expect(f.attrs.type('cpd')).toMatchObject({ class: 'compound' });
    f.close();
  });

  it('null-dataspace attributes are Empty (with their type), not undefined or ""', () => {
    const f = File.open(p);
    const e = f.attrs.get<AttrAnyValue>('null');
    expect(e).toBeInstanceOf(Empty);
    expect((e as Empty).type).toMatchObject({ class: 'float', dtype: 'float32' });
    const s = f.attrs.get<AttrAnyValue>('nullstr');
    expect(s).toBeInstanceOf(Empty);
    expect((s as Empty).type).toMatchObject({ class: 'string', variable: true });
    f.close();
  });

  it('bytes that are not UTF-8 are kept: latin1 text by default, exact bytes on request', () => {
    const f = File.open(p);
    for (const name of ['latin1', 'vlatin1']) {
      const s = f.attrs.get(name) as string;
      expect(s).toBe('µm');
      expect(Buffer.from(s, 'latin1')).toEqual(Buffer.from([0xb5, 0x6d]));
      expect(f.attrs.get<AttrAnyValue>(name, { strings: 'bytes' })).toEqual(new Uint8Array([0xb5, 0x6d]));
    }
    f.close();
  });
});

describe('what stays refused', () => {
  it('writing into an existing structured dataset is a typed H5_UNSUPPORTED_TYPE', () => {
    const f = File.open(p, { mode: 'r' });
    expect(() => f.dataset('enum').writeSync(new Int8Array(3))).toThrow(H5Error);
    f.close();
  });
});
