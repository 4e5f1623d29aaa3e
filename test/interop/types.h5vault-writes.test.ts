/**
 * h5vault writes every datatype class, h5py reads back the same values (and
 * h5vault reads its own file back the same way): compound from records and
 * from columns, enum with members, vlen sequences, array types, complex,
 * object references, fixed and variable strings, bitfields, opaque bytes;
 * datasets and attributes. Bad values are refused with typed errors before
 * anything is created.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error, types, type AttrAnyValue, type CompoundColumns, type H5Value } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'ours.h5');

const cpdType = types.compound({
  x: 'float32',
  n: 'int64',
  s: 'string',
  fs: types.string({ size: 4, cset: 'ascii' }),
  v: types.vlen('int32'),
  a: types.array('int16', [2]),
  e: types.enum('uint8', { A: 0, B: 5 }),
  b: 'bool',
  c: types.complex('float64'),
  r: types.reference(),
  inner: types.compound({ p: 'uint16', q: 'float64' }),
});

let seen: Record<string, unknown> = {};

beforeAll(() => {
  const f = File.create(p, { overwrite: true });
  f.createDataset('target', { dtype: 'int32', shape: [3], data: new Int32Array([1, 2, 3]) });
  f.createTypedDataset('records', {
    type: cpdType,
    data: [
      {
        x: 1.5,
        n: 1n,
        s: 'α',
        fs: 'ab',
        v: [1, 2],
        a: [1, 2],
        e: 5,
        b: true,
        c: [1, 2],
        r: { path: '/target' },
        inner: { p: 7, q: 0.5 },
      },
      {
        x: 2,
        n: -(2n ** 40n),
        s: '',
        fs: 'abcd',
        v: new Int32Array(0),
        a: new Int16Array([3, 4]),
        e: 'A',
        b: false,
        c: [0, -1],
        r: null,
        inner: { p: 8, q: -1 },
      },
    ],
  });
  f.createTypedDataset('columns', {
    type: types.compound({ x: 'float64', y: 'int8' }),
    data: { x: new Float64Array([1, 2, 3]), y: new Int8Array([4, 5, 6]) },
  });
  f.createTypedDataset('enum', { type: types.enum('int16', { RED: -1, GREEN: 7 }), data: new Int16Array([-1, 7, 7]) });
  f.createTypedDataset('vlen', { type: types.vlen('float32'), data: [[1, 2, 3], new Float32Array([4]), []] });
  f.createTypedDataset('vlen-vlen', { type: types.vlen(types.vlen('uint8')), data: [[[1], [2, 3]], []] });
  f.createTypedDataset('array', {
    type: types.array('float64', [2, 2]),
    data: Float64Array.from({ length: 12 }, (_, i) => i),
    shape: [3],
  });
  f.createTypedDataset('array2d', {
    type: types.array('int32', [3]),
    data: Int32Array.from({ length: 12 }, (_, i) => i),
    shape: [2, 2],
  });
  f.createTypedDataset('complex', { type: types.complex('float32'), data: new Float32Array([1, 2, 3, 4]), shape: [2] });
  f.createTypedDataset('refs', { type: types.reference(), data: [{ path: '/target' }, '/records', null] });
  f.createTypedDataset('bitfield', { type: types.bitfield('uint32'), data: new Uint32Array([0xdeadbeef, 1]) });
  f.createTypedDataset('opaque', { type: types.opaque(2), data: [new Uint8Array([1, 2]), new Uint8Array([3, 4])] });
  // h5py reads only untagged opaque data (its memory type has no tag); the tag is checked at the low level.
  const tagged = f.createGroup('tagged');
  tagged.createTypedDataset('opaque', { type: types.opaque(2, 'pair'), data: new Uint8Array([5, 6]) });
  f.createTypedDataset('spacepad', {
    type: types.string({ size: 5, pad: 'spacepad', cset: 'ascii' }),
    data: ['ab', 'abcde'],
  });
  f.createTypedDataset('scalar', {
    type: types.compound({ a: 'int8', b: 'string' }),
    data: { a: 3, b: 'one' },
    shape: [],
  });
  f.attrs.set('cpd', { x: 1, y: 2 }, { type: types.compound({ x: 'float32', y: 'uint16' }) });
  f.attrs.set(
    'cpds',
    [
      { x: 1, y: 2 },
      { x: 3, y: 4 },
    ],
    { type: types.compound({ x: 'float32', y: 'uint16' }) },
  );
  f.attrs.set('seq', [1, 2, 3], { type: types.vlen('int8'), scalar: true });
  f.attrs.set('seqs', [[1], [2, 3]], { type: types.vlen('int8') });
  f.attrs.set('en', 1, { type: types.enum('int8', { OFF: 0, ON: 1 }) });
  f.attrs.set('r', { path: '/target' }, { type: types.reference() });
  f.attrs.set('cx', [3, -4], { type: types.complex('float64') });
  f.attrs.set('arr', [1, 2, 3], { type: types.array('uint8', [3]) });
  f.close();

  seen = JSON.parse(
    python(
      `
import h5py, numpy as np, sys, json
def js(x):
    if isinstance(x, h5py.Reference): return None if not x else f[x].name
    if isinstance(x, (bytes, np.bytes_)): return x.decode('latin1')
    if isinstance(x, np.void) and x.dtype.names: return {k: js(x[k]) for k in x.dtype.names}
    if isinstance(x, np.ndarray):
        if x.dtype.names: return [js(e) for e in x]
        return [js(e) for e in x.tolist()] if x.dtype != object else [js(e) for e in x]
    if isinstance(x, (list, tuple)): return [js(e) for e in x]
    if isinstance(x, (complex, np.complexfloating)): return [x.real, x.imag]
    if isinstance(x, np.generic): return js(x.item())
    return x
out = {}
with h5py.File(sys.argv[1], 'r') as f:
    for k in f:
        if k == 'tagged': continue
        out[k] = {'value': js(f[k][()]), 'dtype': str(f[k].dtype), 'shape': list(f[k].shape)}
    for k in ['enum']:
        out[k]['members'] = h5py.check_enum_dtype(f[k].dtype)
    out['records']['enum'] = h5py.check_enum_dtype(f['records'].dtype['e'])
    out['records']['bool'] = h5py.check_enum_dtype(f['records'].dtype['b']) is None and f['records'].dtype['b'] == np.bool_
    out['records']['s'] = h5py.check_string_dtype(f['records'].dtype['s']).encoding
    out['refs']['deref'] = [f[r].name if r else None for r in f['refs'][()]]
    out['opaque']['tagged'] = h5py.h5d.open(f.id, b'tagged/opaque').get_type().get_tag().decode()
    out['spacepad']['pad'] = h5py.h5d.open(f.id, b'spacepad').get_type().get_strpad() == h5py.h5t.STR_SPACEPAD
    out['bitfield']['class'] = h5py.h5d.open(f.id, b'bitfield').get_type().get_class() == h5py.h5t.BITFIELD
    out['attrs'] = {k: js(f.attrs[k]) for k in f.attrs}
print(json.dumps(out))
`,
      [p],
    ),
  );
});

describe('h5py reads what h5vault wrote', () => {
  it('compound from records: every field type, nested compound, enum/bool/utf-8 metadata', () => {
    const r = seen.records as { value: unknown[]; enum: unknown; bool: boolean; s: string };
    expect(r.value).toEqual([
      {
        x: 1.5,
        n: 1,
        s: 'Î±',
        fs: 'ab',
        v: [1, 2],
        a: [1, 2],
        e: 5,
        b: true,
        c: [1, 2],
        r: '/target',
        inner: { p: 7, q: 0.5 },
      },
      {
        x: 2,
        n: -(2 ** 40),
        s: '',
        fs: 'abcd',
        v: [],
        a: [3, 4],
        e: 0,
        b: false,
        c: [0, -1],
        r: null,
        inner: { p: 8, q: -1 },
      },
    ]);
    expect(r.enum).toEqual({ A: 0, B: 5 });
    expect(r.bool).toBe(true);
    expect(r.s).toBe('utf-8');
  });

  it('compound from columns, enum, vlen, nested vlen, array types, complex, references, bitfield, opaque, spacepad, scalar', () => {
    expect(seen.columns).toMatchObject({
      value: [
        { x: 1, y: 4 },
        { x: 2, y: 5 },
        { x: 3, y: 6 },
      ],
    });
    expect(seen.enum).toMatchObject({ value: [-1, 7, 7], members: { RED: -1, GREEN: 7 } });
    expect(seen.vlen).toMatchObject({ value: [[1, 2, 3], [4], []] });
    expect(seen['vlen-vlen']).toMatchObject({ value: [[[1], [2, 3]], []] });
    expect(seen.array).toMatchObject({
      shape: [3],
      value: [
        [
          [0, 1],
          [2, 3],
        ],
        [
          [4, 5],
          [6, 7],
        ],
        [
          [8, 9],
          [10, 11],
        ],
      ],
    });
    expect(seen.array2d).toMatchObject({
      shape: [2, 2],
      value: [
        [
          [0, 1, 2],
          [3, 4, 5],
        ],
        [
          [6, 7, 8],
          [9, 10, 11],
        ],
      ],
    });
    expect(seen.complex).toMatchObject({
      dtype: 'complex64',
      value: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(seen.refs).toMatchObject({ deref: ['/target', '/records', null] });
    expect(seen.bitfield).toMatchObject({ class: true, value: [0xdeadbeef, 1] });
    expect(seen.opaque).toMatchObject({ tagged: 'pair', dtype: '|V2', value: ['\x01\x02', '\x03\x04'] });
    expect(seen.spacepad).toMatchObject({ pad: true, value: ['ab', 'abcde'] });
    expect(seen.scalar).toMatchObject({ shape: [], value: { a: 3, b: 'one' } });
  });

  it('attributes of every class', () => {
    expect(seen.attrs).toEqual({
      cpd: { x: 1, y: 2 },
      cpds: [
        { x: 1, y: 2 },
        { x: 3, y: 4 },
      ],
      seq: [1, 2, 3],
      seqs: [[1], [2, 3]],
      en: 1,
      r: '/target',
      cx: [3, -4],
      arr: [1, 2, 3],
    });
  });
});

describe('h5vault reads back what it wrote', () => {
  it('every dataset and attribute', () => {
    const f = File.open(p);
    expect(f.dataset('records').readRecordsSync()).toEqual([
      {
        x: 1.5,
        n: 1n,
        s: 'α',
        fs: 'ab',
        v: new Int32Array([1, 2]),
        a: new Int16Array([1, 2]),
        e: 5,
        b: true,
        c: [1, 2],
        r: { kind: 'object', path: '/target' },
        inner: { p: 7, q: 0.5 },
      },
      {
        x: 2,
        n: -(2n ** 40n),
        s: '',
        fs: 'abcd',
        v: new Int32Array([]),
        a: new Int16Array([3, 4]),
        e: 0,
        b: false,
        c: [0, -1],
        r: { kind: 'object', path: null },
        inner: { p: 8, q: -1 },
      },
    ]);
    expect(f.dataset('columns').readSync<CompoundColumns>()).toEqual({
      x: new Float64Array([1, 2, 3]),
      y: new Int8Array([4, 5, 6]),
    });
    expect(f.dataset('vlen-vlen').readSync<H5Value>()).toEqual([[new Uint8Array([1]), new Uint8Array([2, 3])], []]);
    expect(f.dataset('spacepad').readSync()).toEqual(['ab', 'abcde']);
    expect(f.dataset('tagged/opaque').type).toMatchObject({ class: 'opaque', size: 2, tag: 'pair' });
    expect(f.dataset('opaque').readSync<H5Value>()).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(f.dataset('scalar').readRecordsSync()).toEqual([{ a: 3, b: 'one' }]);
    expect(f.attrs.get<AttrAnyValue>('seq')).toEqual(new Int8Array([1, 2, 3]));
    expect(f.attrs.get<AttrAnyValue>('en', { enumNames: true })).toBe('ON');
    f.close();
  });
});

describe('refused values leave nothing behind', () => {
  it('typed errors for values the type cannot hold', () => {
    const f = File.create(join(dir, 'bad.h5'), { overwrite: true });
    const en = types.enum('int8', { A: 0, B: 1 });
    expect(() => f.createTypedDataset('e', { type: en, data: new Int8Array([0, 9]) })).toThrow(
      expect.objectContaining({ code: 'H5_INVALID_ARGUMENT', message: expect.stringContaining('no enum member') }),
    );
    expect(() => f.createTypedDataset('e', { type: en, data: ['C'] })).toThrow(TypeError);
    expect(() => f.createTypedDataset('c', { type: types.compound({ a: 'int8' }), data: [{ b: 1 }] })).toThrow(
      /no field 'a'/,
    );
    expect(() =>
      f.createTypedDataset('c', {
        type: types.compound({ a: 'int8', b: 'int8' }),
        data: { a: new Int8Array(2), b: new Int8Array(3) },
      }),
    ).toThrow(RangeError);
    expect(() => f.createTypedDataset('s', { type: types.string({ size: 2 }), data: ['abc'] })).toThrow(
      expect.objectContaining({ code: 'H5_INVALID_ARGUMENT' }),
    );
    expect(() => f.createTypedDataset('b', { type: 'bool', data: new Uint8Array([2]) })).toThrow(
      expect.objectContaining({ code: 'H5_INVALID_ARGUMENT' }),
    );
    expect(() => f.createTypedDataset('r', { type: types.reference(), data: [{ path: '/nope' }] })).toThrow(H5Error);
    expect(() =>
      f.attrs.set(
        'big',
        Array.from({ length: 10000 }, () => [1]),
        { type: types.vlen('int8') },
      ),
    ).toThrow(expect.objectContaining({ code: 'H5_INVALID_ARGUMENT' }));
    expect(f.keys()).toEqual([]);
    expect(f.attrs.keys()).toEqual([]);
    f.close();
  });
});
