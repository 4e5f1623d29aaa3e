/**
 * h5py writes -> h5vault reads bit-exactly: every numeric dtype through gzip +
 * shuffle + fletcher32, h5py's LZF, hdf5plugin's LZ4 and szip; big-endian
 * types; fill values; soft links; fixed and variable-length strings; bool;
 * float16; attributes of every kind. numpy's little-endian bytes are the reference.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, halfToNumber } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { bytesOf } from '../api/fixtures.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'theirs.h5');

type Expect = { dtype: string; shape: number[]; hex?: string; strings?: string[]; filters?: number[] };
let expected: Record<string, Expect> = {};
let attrs: Record<string, unknown> = {};

beforeAll(() => {
  python(
    `
import h5py, hdf5plugin, numpy as np, sys, json
rng = np.random.default_rng(3)
out, attrs = {}, {}
def raw(a, n):
    # Random bit patterns (NaN payloads, subnormals, -0 included) of dtype a.
    b = rng.integers(0, 256, size=n * np.dtype(a).itemsize, dtype=np.uint8).tobytes()
    x = np.frombuffer(b, dtype=np.dtype(a).newbyteorder('<')).copy()
    return x
OURS = {'i1': 'int8', 'i2': 'int16', 'i4': 'int32', 'i8': 'int64', 'u1': 'uint8', 'u2': 'uint16', 'u4': 'uint32',
        'u8': 'uint64', 'f2': 'float16', 'f4': 'float32', 'f8': 'float64'}
def record(f, name, ds, data):
    e = {'shape': list(ds.shape), 'filters': [ds.id.get_create_plist().get_filter(i)[0] for i in range(ds.id.get_create_plist().get_nfilters())] if ds.chunks else []}
    if data.dtype.kind == 'b':
        e['dtype'] = 'bool'; e['hex'] = data.astype('u1').tobytes().hex()
    else:
        e['dtype'] = OURS[data.dtype.str[1:]]; e['hex'] = data.astype(data.dtype.newbyteorder('<')).tobytes().hex()
    out[name] = e
FILTERS = {
    'plain': {},
    'gzip-shuffle-fletcher32': dict(compression='gzip', compression_opts=9, shuffle=True, fletcher32=True),
    'lzf': dict(compression='lzf'),
    'lz4': dict(**hdf5plugin.LZ4(nbytes=0)),
    'shuffle-lz4': dict(shuffle=True, **hdf5plugin.LZ4(nbytes=64)),
    'szip': dict(compression='szip', compression_opts=('nn', 8)),
}
with h5py.File(sys.argv[1], 'w') as f:
    for t in OURS:
        for fname, kw in FILTERS.items():
            data = raw(t, 11 * 13).reshape(11, 13)
            chunks = (4, 5) if fname != 'plain' else None
            ds = f.create_dataset(f'{t}/{fname}', data=data, chunks=chunks, **kw)
            record(f, f'{t}/{fname}', ds, data)
        # Big-endian, contiguous and compressed.
        if t not in ('i1', 'u1'):
            be = raw(t, 40).astype(np.dtype(t).newbyteorder('>'))
            record(f, f'{t}/be', f.create_dataset(f'{t}/be', data=be), be)
            record(f, f'{t}/be-gzip', f.create_dataset(f'{t}/be-gzip', data=be, chunks=(16,), compression='gzip', shuffle=True), be)
    b = rng.integers(0, 2, 50).astype(bool)
    record(f, 'bool/plain', f.create_dataset('bool/plain', data=b), b)
    record(f, 'bool/lzf', f.create_dataset('bool/lzf', data=b, chunks=(16,), compression='lzf'), b)
    # Fill values: only part written; the rest must read as the fill value.
    d = f.create_dataset('fill/chunked', shape=(10,), dtype='<i4', chunks=(4,), fillvalue=-7)
    d[0:3] = [1, 2, 3]
    record(f, 'fill/chunked', d, np.array([1, 2, 3] + [-7] * 7, dtype='<i4'))
    d = f.create_dataset('fill/contiguous', shape=(5,), dtype='<f8', fillvalue=np.nan)
    record(f, 'fill/contiguous', d, np.full(5, np.nan, dtype='<f8'))
    d = f.create_dataset('fill/unwritten-gzip', shape=(6,), dtype='<u2', chunks=(3,), compression='gzip', fillvalue=9)
    record(f, 'fill/unwritten-gzip', d, np.full(6, 9, dtype='<u2'))
    # Scalar and empty.
    s = np.array(-0.0, dtype='>f4')
    record(f, 'scalar', f.create_dataset('scalar', data=s), s)
    e = np.zeros((0, 4), dtype='<i2')
    record(f, 'empty', f.create_dataset('empty', data=e), e)
    # Strings.
    vl = ['', 'ascii', 'ü→✓ 𝄞', 'x' * 1000]
    f.create_dataset('str/vlen', data=vl, dtype=h5py.string_dtype('utf-8'))
    f.create_dataset('str/vlen-ascii', data=[s.encode() for s in ['a', 'bc']], dtype=h5py.string_dtype('ascii'))
    f.create_dataset('str/fixed', data=np.array([b'abc', b'', b'0123456789'], dtype='S10'))
    f.create_dataset('str/fixed-utf8', data=np.array(['ü→'.encode(), b'z'], dtype=h5py.string_dtype('utf-8', 8)))
    f.create_dataset('str/scalar', data='just one', dtype=h5py.string_dtype())
    # Soft link to a dataset and through a group.
    f['link/soft'] = h5py.SoftLink('/f4/gzip-shuffle-fletcher32')
    f['link/group'] = h5py.SoftLink('/f4')
    # Attributes of every kind.
    a = f.attrs
    for t in OURS:
        a['s_' + t] = np.array(rng.integers(0, 100), dtype=t)[()]
        a['a_' + t] = raw(t, 5)
    a['be_i4'] = np.array([1, -2, 3], dtype='>i4')
    a['be_f8'] = np.array(2.5, dtype='>f8')
    a['bool_s'] = np.bool_(True)
    a['bool_a'] = np.array([True, False, True])
    a['vlen'] = 'héllo ✓'
    a['vlen_list'] = ['a', '', 'ü']
    a['fixed'] = np.bytes_(b'fixed')
    a['fixed_arr'] = np.array([b'ab', b'cde'], dtype='S3')
    a['py_int'] = 7
    a['py_float'] = 0.1
    a['empty_f4'] = np.zeros(0, dtype='<f4')
    for k in a:
        v = a[k]
        if isinstance(v, np.ndarray) and v.dtype.kind in 'iufb':
            attrs[k] = {'dtype': v.dtype.str, 'hex': v.astype(v.dtype.newbyteorder('<')).tobytes().hex()}
        elif isinstance(v, np.generic) and v.dtype.kind in 'iufb':
            attrs[k] = {'dtype': v.dtype.str, 'scalar': True, 'hex': np.array(v).astype(v.dtype.newbyteorder('<')).tobytes().hex()}
json.dump({'datasets': out, 'attrs': attrs}, open(sys.argv[2], 'w'))
`,
    [p, join(dir, 'expected.json')],
  );
  const j = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  expected = j.datasets;
  attrs = j.attrs;
});

const hex = (d: Parameters<typeof bytesOf>[0]) => Buffer.from(bytesOf(d) as Uint8Array).toString('hex');

describe('h5vault reads what h5py wrote', () => {
  it('every numeric dataset: dtype, shape, filters and bytes, sync and async', async () => {
    // 11 numeric types x 6 pipelines, big-endian pairs, bool, fill values, scalar, empty.
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(11 * 6 + 9 * 2 + 2 + 3 + 2);
    using f = File.open(p);
    for (const [name, e] of Object.entries(expected)) {
      const d = f.dataset(name);
      expect(d.dtype, name).toBe(e.dtype);
      expect(d.shape, name).toEqual(e.shape);
      if (e.filters)
        expect(
          d.filters.map((x) => x.id),
          name,
        ).toEqual(e.filters);
      expect(hex(d.readSync()), name).toBe(e.hex);
      expect(hex(await d.read()), name).toBe(e.hex);
    }
  });

  it('big-endian datasets are reported as such and read as native values; views refuse them', () => {
    using f = File.open(p);
    const d = f.dataset('f4/be');
    expect(d.bigEndian).toBe(true);
    expect(d.viewable).toBe('big-endian');
    expect(() => d.view()).toThrow(expect.objectContaining({ code: 'H5_NOT_VIEWABLE', reason: 'big-endian' }));
    expect(hex(d.view({ copy: true }))).toBe(expected['f4/be']!.hex);
    expect(d.readSync({ start: [3], count: [2] })).toEqual(
      new Float32Array(Uint8Array.from(Buffer.from(expected['f4/be']!.hex!, 'hex')).buffer).slice(3, 5),
    );
  });

  it('filters are recognised by name', () => {
    using f = File.open(p);
    expect(f.dataset('i4/gzip-shuffle-fletcher32').filters.map((x) => x.name)).toEqual([
      'shuffle',
      'gzip',
      'fletcher32',
    ]);
    expect(f.dataset('i4/lzf').filters.map((x) => x.name)).toEqual(['lzf']);
    expect(f.dataset('i4/lz4').filters.map((x) => x.name)).toEqual(['lz4']);
    expect(f.dataset('i4/szip').filters.map((x) => x.name)).toEqual(['szip']);
  });

  it('fixed and variable-length strings (UTF-8 and ASCII), and a scalar string', async () => {
    using f = File.open(p);
    expect(f.dataset('str/vlen').dtype).toBe('string');
    expect(f.dataset('str/vlen').readSync()).toEqual(['', 'ascii', 'ü→✓ 𝄞', 'x'.repeat(1000)]);
    expect(await f.dataset('str/vlen').read({ start: [2], count: [1] })).toEqual(['ü→✓ 𝄞']);
    expect(f.dataset('str/vlen-ascii').readSync()).toEqual(['a', 'bc']);
    expect(f.dataset('str/fixed').readSync()).toEqual(['abc', '', '0123456789']);
    expect(f.dataset('str/fixed-utf8').readSync()).toEqual(['ü→', 'z']);
    expect(f.dataset('str/scalar').readSync()).toEqual(['just one']);
  });

  it('soft links resolve to their targets', () => {
    using f = File.open(p);
    const want = expected['f4/gzip-shuffle-fletcher32']!.hex;
    expect(hex(f.dataset('link/soft').readSync())).toBe(want);
    expect(hex(f.dataset('link/group/gzip-shuffle-fletcher32').readSync())).toBe(want);
  });

  it('attributes of every kind', () => {
    using f = File.open(p);
    for (const [k, raw] of Object.entries(attrs)) {
      const e = raw as { dtype: string; hex: string; scalar?: boolean };
      const v = f.attrs.get(k);
      if (!e.scalar) {
        expect(ArrayBuffer.isView(v), k).toBe(true);
        expect(hex(v as never), k).toBe(e.hex);
        continue;
      }
      // Scalars come back as JS values: compare against the decoded bytes.
      const b = Buffer.from(e.hex, 'hex');
      const t = e.dtype.slice(1);
      const want =
        t === 'b1'
          ? b[0] === 1
          : t === 'f2'
            ? halfToNumber(b.readUInt16LE(0))
            : t === 'f4'
              ? b.readFloatLE(0)
              : t === 'f8'
                ? b.readDoubleLE(0)
                : t === 'i8'
                  ? Number(b.readBigInt64LE(0))
                  : t === 'u8'
                    ? Number(b.readBigUInt64LE(0))
                    : t[0] === 'i'
                      ? b.readIntLE(0, Number(t.slice(1)))
                      : b.readUIntLE(0, Number(t.slice(1)));
      expect(f.attrs.get(k), k).toBe(want);
    }
    expect(f.attrs.get('vlen')).toBe('héllo ✓');
    expect(f.attrs.get('vlen_list')).toEqual(['a', '', 'ü']);
    expect(f.attrs.get('fixed')).toBe('fixed');
    expect(f.attrs.get('fixed_arr')).toEqual(['ab', 'cde']);
    expect(f.attrs.get('py_int')).toBe(7);
    expect(f.attrs.get('py_float')).toBe(0.1);
    expect(f.attrs.get('bool_s')).toBe(true);
    expect(f.attrs.get('empty_f4')).toEqual(new Float32Array(0));
    expect(f.attrs.keys()).toContain('be_i4');
  });

  it('a partial hyperslab through h5py-written LZ4 and LZF chunks', () => {
    using f = File.open(p);
    for (const name of ['u2/lz4', 'u2/shuffle-lz4', 'u2/lzf', 'u2/szip']) {
      const all = f.dataset(name).readSync() as Uint16Array;
      const part = f.dataset(name).readSync({ start: [3, 4], count: [5, 6], step: [1, 1] }) as Uint16Array;
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 6; j++) expect(part[i * 6 + j], name).toBe(all[(3 + i) * 13 + 4 + j]);
    }
  });
});
