/**
 * h5vault writes -> real h5py reads, bit-exactly: every dtype through every
 * filter h5vault can write (LZF/LZ4 through the standard plugins), groups,
 * attributes of every kind, bfloat16 converted to float32 by libhdf5 itself;
 * and h5dump -H / -d succeed on the file. Peers missing = failure, not skip.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, bfloat16ToFloat32, type CreateDatasetOptions, type DType } from '../../lib/index.js';
import { PLUGIN_PATH, h5dump, python, requirePeers, tempDir } from '../helpers.js';

const LIBLZF = '/usr/lib/x86_64-linux-gnu/liblzf.so.1';
import { NUMERIC, bytesOf, product, sample } from '../api/fixtures.js';

requirePeers();
const dir = tempDir();
const p = join(dir, 'ours.h5');

const FILTERS: Record<string, Partial<CreateDatasetOptions>> = {
  contiguous: {},
  chunked: { chunks: [4, 5] },
  gzip: { chunks: [4, 5], compression: { name: 'gzip', level: 6 } },
  'shuffle-gzip-fletcher32': { chunks: [4, 5], shuffle: true, compression: 'gzip', fletcher32: true },
  lzf: { chunks: [4, 5], compression: 'lzf' },
  lz4: { chunks: [4, 5], compression: 'lz4' },
  'shuffle-lz4': { chunks: [4, 5], shuffle: true, compression: 'lz4' },
  szip: { chunks: [4, 5], compression: { name: 'szip', pixelsPerBlock: 4 } },
};
const SHAPE = [9, 7];
const written = new Map<string, ReturnType<typeof sample>>();

// numpy dtype h5py should report for each of ours (bfloat16 is handled separately).
const NP: Record<string, string> = {
  int8: '|i1',
  int16: '<i2',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  uint16: '<u2',
  uint32: '<u4',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
  bool: '|b1',
};

beforeAll(() => {
  using f = File.create(p);
  for (const dtype of [...NUMERIC, 'string'] as DType[]) {
    for (const [fname, opts] of Object.entries(FILTERS)) {
      if (dtype === 'string' && fname !== 'contiguous' && fname !== 'chunked') continue;
      if (dtype === 'bool' && fname === 'szip') continue;
      const data = sample(dtype, product(SHAPE), fname.length + dtype.length);
      written.set(`${dtype}/${fname}`, data);
      f.createDataset(`${dtype}/${fname}`, { dtype, shape: SHAPE, data, ...opts });
    }
  }
  f.createDataset('scalar', { dtype: 'float64', shape: [], data: Float64Array.of(-0) });
  f.createDataset('empty', { dtype: 'int16', shape: [0, 3] });
  const g = f.createGroup('meta/deep');
  g.attrs.set('vlen', 'héllo ✓');
  g.attrs.set('strs', ['a', '', 'ü→✓']);
  g.attrs.set('int', 12);
  g.attrs.set('float', 0.1);
  g.attrs.set('flag', true);
  g.attrs.set('big', 2n ** 64n - 1n);
  g.attrs.set('f32s', Float32Array.of(1.5, -0, Infinity));
  g.attrs.set('halfs', [1, 0.5], { dtype: 'float16' });
  g.attrs.set('bf', 3.0, { dtype: 'bfloat16' });
  g.attrs.set('i8s', Int8Array.of(-128, 127));
});

/** h5py's view of the file: per dataset its numpy dtype, shape and raw bytes (hex). */
function h5pyDump(): Record<
  string,
  { dtype: string; shape: number[]; hex?: string; strings?: string[]; f32hex?: string }
> {
  const out = python(
    `
import h5py, numpy as np, sys, json
res = {}
def visit(name, obj):
    if not isinstance(obj, h5py.Dataset): return
    e = {'shape': list(obj.shape)}
    t = obj.dtype
    if h5py.check_string_dtype(t):
        e['dtype'] = 'string'
        e['strings'] = [s.decode('utf-8') for s in obj[()].ravel()] if obj.shape else [obj[()].decode('utf-8')]
    elif obj.id.get_type().get_class() == h5py.h5t.FLOAT and obj.id.get_type().get_size() == 2 and obj.id.get_type().get_ebias() == 127:
        # bfloat16: h5py has no such numpy type; libhdf5 converts it to float32.
        a = obj.astype('<f4')[()]
        e['dtype'] = 'bfloat16'
        e['f32hex'] = a.tobytes().hex()
    else:
        e['dtype'] = t.str
        e['hex'] = np.ascontiguousarray(obj[()]).tobytes().hex()
    res['/' + name] = e
with h5py.File(sys.argv[1], 'r') as f:
    f.visititems(visit)
print(json.dumps(res))
`,
    [p],
  );
  return JSON.parse(out);
}

describe('h5py reads what h5vault wrote', () => {
  it('every dataset: dtype, shape and bytes', () => {
    const seen = h5pyDump();
    for (const [key, data] of written) {
      const [dtype] = key.split('/') as [DType];
      const e = seen[`/${key}`];
      expect(e, key).toBeDefined();
      expect(e!.shape, key).toEqual(SHAPE);
      if (dtype === 'string') {
        expect(e!.dtype).toBe('string');
        expect(e!.strings, key).toEqual(data);
      } else if (dtype === 'bfloat16') {
        expect(e!.dtype).toBe('bfloat16');
        // libhdf5's bfloat16 -> float32 conversion is exact: same bits as ours.
        // (It turns every NaN into 0x7fffffff / 0xffffffff, so compare NaNs as NaNs.)
        const theirs = new Float32Array(Uint8Array.from(Buffer.from(e!.f32hex!, 'hex')).buffer);
        const mine = bfloat16ToFloat32(data as Uint16Array);
        const tb = new Uint32Array(theirs.buffer),
          mb = new Uint32Array(mine.buffer);
        for (let i = 0; i < mine.length; i++) {
          if (Number.isNaN(mine[i]!)) expect(Number.isNaN(theirs[i]!), `${key}[${i}]`).toBe(true);
          else expect(tb[i], `${key}[${i}]`).toBe(mb[i]);
        }
      } else {
        expect(e!.dtype, key).toBe(NP[dtype]);
        expect(e!.hex, key).toBe(Buffer.from(bytesOf(data) as Uint8Array).toString('hex'));
      }
    }
    expect(seen['/scalar']).toEqual({ dtype: '<f8', shape: [], hex: '0000000000000080' });
    expect(seen['/empty']).toEqual({ dtype: '<i2', shape: [0, 3], hex: '' });
  });

  it('the filter pipelines are the standard ones h5py knows', () => {
    const out = python(
      `
import h5py, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    print(json.dumps({k: [fl[0] for fl in [f['float32/' + k].id.get_create_plist().get_filter(i) for i in range(f['float32/' + k].id.get_create_plist().get_nfilters())]] for k in sys.argv[2:]}))
`,
      [p, 'gzip', 'shuffle-gzip-fletcher32', 'lzf', 'lz4', 'shuffle-lz4', 'szip'],
    );
    expect(JSON.parse(out)).toEqual({
      gzip: [1],
      'shuffle-gzip-fletcher32': [2, 1, 3],
      lzf: [32000],
      lz4: [32004],
      'shuffle-lz4': [2, 32004],
      szip: [4],
    });
  });

  it('attributes of every kind', () => {
    const out = python(
      `
import h5py, numpy as np, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    a = f['meta/deep'].attrs
    def enc(v):
        if isinstance(v, bytes): return v.decode()
        if isinstance(v, np.ndarray):
            if v.dtype.kind == 'O': return [x.decode() if isinstance(x, bytes) else x for x in v.tolist()]
            return {'dtype': v.dtype.str, 'hex': v.tobytes().hex()}
        if isinstance(v, np.generic): return {'dtype': v.dtype.str, 'hex': v.tobytes().hex()}
        return v
    print(json.dumps({k: enc(a[k]) for k in a}))
`,
      [p],
    );
    const a = JSON.parse(out);
    expect(a.vlen).toBe('héllo ✓');
    expect(a.strs).toEqual(['a', '', 'ü→✓']);
    expect(a.int).toEqual({ dtype: '<i8', hex: '0c00000000000000' });
    expect(a.float).toEqual({ dtype: '<f8', hex: Buffer.from(Float64Array.of(0.1).buffer).toString('hex') });
    expect(a.flag).toEqual({ dtype: '|b1', hex: '01' });
    expect(a.big).toEqual({ dtype: '<u8', hex: 'ffffffffffffffff' });
    expect(a.f32s).toEqual({
      dtype: '<f4',
      hex: Buffer.from(Float32Array.of(1.5, -0, Infinity).buffer).toString('hex'),
    });
    expect(a.halfs).toEqual({ dtype: '<f2', hex: '003c0038' });
    expect(a.i8s).toEqual({ dtype: '|i1', hex: '807f' });
    // bfloat16 3.0 (bits 0x4040): h5py has no bfloat16, libhdf5 hands it over as float32 3.0.
    expect(a.bf).toEqual({ dtype: '<f4', hex: Buffer.from(Float32Array.of(3).buffer).toString('hex') });
  });

  it('h5dump -H and -d succeed on the file (LZF/LZ4 via the plugin path)', () => {
    const h = h5dump(['-H', p]);
    // Debian's hdf5-plugin-lzf 3.7.0-8 ships liblzf_filter.so without linking
    // liblzf ("undefined symbol: lzf_decompress", for h5py's own LZF files
    // too): preload the library the plugin should have linked.
    const h5dumpData = (args: string[]) => {
      const r = spawnSync('h5dump', args, {
        encoding: 'utf8',
        env: { ...process.env, HDF5_PLUGIN_PATH: PLUGIN_PATH, LD_PRELOAD: LIBLZF },
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    expect(existsSync(LIBLZF), `${LIBLZF} missing: apt-get install liblzf1`).toBe(true);
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout).toContain('DATASET "lz4"');
    expect(h.stdout).toContain('H5T_IEEE_F32LE');
    for (const ds of [
      '/float32/lzf',
      '/float32/lz4',
      '/int64/shuffle-gzip-fletcher32',
      '/uint16/szip',
      '/string/chunked',
      '/bool/lz4',
    ]) {
      const d = h5dumpData(['-d', ds, p]);
      expect(d.status, `${ds}: ${d.stderr}`).toBe(0);
      expect(d.stdout).toContain('DATA {');
    }
    // The values h5dump prints match ours.
    const d = h5dumpData(['-d', '/int8/lzf', '-w', '0', '-y', p]);
    const nums = d.stdout.slice(d.stdout.indexOf('DATA {')).match(/-?\d+/g)!.map(Number);
    expect(nums).toEqual(Array.from(written.get('int8/lzf') as Int8Array));
  });

  it('the file itself is what libhdf5 wrote: re-reading it with h5vault gives the same bytes', () => {
    using f = File.open(p);
    for (const [key, data] of written) expect(bytesOf(f.dataset(key).readSync()), key).toEqual(bytesOf(data));
    expect(readFileSync(p).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]));
  });
});
