/**
 * Blosc (HDF5 filter 32001) both ways with the reference filter: Debian's
 * hdf5-filter-plugin-blosc-serial (hdf5-blosc's blosc_filter.c) loaded by
 * h5py from libhdf5's plugin path. Every inner compressor x shuffle mode:
 * h5py-written files read in h5vault with equal values; h5vault-written
 * files read in h5py with equal values, with the same cd_values and the same
 * chunk bytes as the plugin writes for the same data (zlib aside: see below).
 * Peers missing = failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error, type BloscCompressor } from '../../lib/index.js';
import { PLUGIN_PATH, python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
if (!existsSync(join(PLUGIN_PATH, 'libH5Zblosc.so')) && !existsSync(join(PLUGIN_PATH, 'libblosc_filter.so')))
  throw new Error(
    `interop peer missing: no Blosc HDF5 plugin in ${PLUGIN_PATH} (apt-get install hdf5-filter-plugin-blosc-serial; bash scripts/dev/bootstrap.sh)`,
  );

const dir = tempDir();
const CODES: Record<BloscCompressor, number> = { blosclz: 0, lz4: 1, lz4hc: 2, zlib: 4, zstd: 5 };
const SHUFFLES = { none: 0, byte: 1, bit: 2 } as const;
const CASES = (Object.keys(CODES) as BloscCompressor[]).flatMap((compressor) =>
  (Object.keys(SHUFFLES) as (keyof typeof SHUFFLES)[]).map((shuffle) => ({
    compressor,
    shuffle,
    level: compressor === 'zlib' ? 9 : 5,
  })),
);
const SHAPE = [301, 67];
const CHUNKS = [64, 67];
const name = (c: (typeof CASES)[number]) => `${c.compressor}-${c.shuffle}`;

// Same values on both sides: float32 ~N(0, 0.02), int16 ramps.
const GEN = `
import numpy as np
def values(shape):
    rng = np.random.default_rng(5)
    return rng.normal(0, 0.02, shape).astype('<f4'), (np.arange(np.prod(shape)) % 977 - 400).astype('<i2').reshape(shape)
`;

describe('blosc: h5vault and hdf5-blosc (Debian plugin via h5py)', () => {
  const theirs = join(dir, 'theirs.h5');
  const ours = join(dir, 'ours.h5');
  let f32: Float32Array;
  let i16: Int16Array;
  beforeAll(() => {
    const out = JSON.parse(
      python(
        `${GEN}
import h5py, sys, json
a, b = values(${JSON.stringify(SHAPE)})
with h5py.File(sys.argv[1], 'w') as f:
    for case in json.loads(sys.argv[2]):
        opts = (0, 0, 0, 0, case['level'], case['shuffle'], case['code'])
        for suffix, data in (('f4', a), ('i2', b)):
            f.create_dataset(case['name'] + '/' + suffix, data=data, chunks=tuple(${JSON.stringify(CHUNKS)}), compression=32001, compression_opts=opts)
print(json.dumps({'f4': a.ravel().tobytes().hex(), 'i2': b.ravel().tobytes().hex()}))
`,
        [
          theirs,
          JSON.stringify(
            CASES.map((c) => ({
              name: name(c),
              level: c.level,
              shuffle: SHUFFLES[c.shuffle],
              code: CODES[c.compressor],
            })),
          ),
        ],
      ),
    );
    f32 = new Float32Array(Uint8Array.from(Buffer.from(out.f4, 'hex')).buffer);
    i16 = new Int16Array(Uint8Array.from(Buffer.from(out.i2, 'hex')).buffer);
    const f = File.create(ours);
    try {
      for (const c of CASES) {
        const compression = { name: 'blosc' as const, compressor: c.compressor, level: c.level, shuffle: c.shuffle };
        f.createDataset(`${name(c)}/f4`, { dtype: 'float32', shape: SHAPE, chunks: CHUNKS, compression, data: f32 });
        f.createDataset(`${name(c)}/i2`, { dtype: 'int16', shape: SHAPE, chunks: CHUNKS, compression, data: i16 });
      }
    } finally {
      f.close();
    }
  });

  it('h5vault reads what the plugin wrote, every compressor x shuffle, with equal values', async () => {
    const f = File.open(theirs);
    try {
      for (const c of CASES) {
        const d = f.dataset(`${name(c)}/f4`);
        expect(d.filters.map((x) => [x.name, x.available])).toEqual([['blosc', true]]);
        expect(d.readSync()).toEqual(f32);
        expect(await d.read()).toEqual(f32);
        expect(f.dataset(`${name(c)}/i2`).readSync()).toEqual(i16);
      }
    } finally {
      f.close();
    }
  });

  it("h5py reads what h5vault wrote: equal values, the plugin's cd_values and its chunk bytes", () => {
    const res = JSON.parse(
      python(
        `${GEN}
import h5py, sys, json, numpy as np
a, b = values(${JSON.stringify(SHAPE)})
out = {}
with h5py.File(sys.argv[1], 'r') as ours, h5py.File(sys.argv[2], 'r') as theirs:
    for g in ours:
        for suffix, want in (('f4', a), ('i2', b)):
            o, t = ours[g][suffix], theirs[g][suffix]
            po, pt = o.id.get_create_plist(), t.id.get_create_plist()
            same_bytes = all(o.id.read_direct_chunk(o.id.get_chunk_info(i).chunk_offset) ==
                             t.id.read_direct_chunk(t.id.get_chunk_info(i).chunk_offset)
                             for i in range(t.id.get_num_chunks()))
            out[g + '/' + suffix] = {'equal': bool(np.array_equal(o[...], want)),
                                     'cd': [list(po.get_filter(0)[2]), list(pt.get_filter(0)[2])],
                                     'flags': [po.get_filter(0)[1], pt.get_filter(0)[1]], 'sameBytes': same_bytes}
print(json.dumps(out))
`,
        [ours, theirs],
      ),
    );
    expect(Object.keys(res)).toHaveLength(CASES.length * 2);
    for (const [k, v] of Object.entries(res) as [
      string,
      { equal: boolean; cd: number[][]; flags: number[]; sameBytes: boolean },
    ][]) {
      // zlib is the exception: inside Node, libblosc's compress2() binds to
      // Node's own (Chromium) zlib, which makes different, equally valid and
      // often slightly smaller streams than Debian's zlib in the Python process.
      expect([k, v.equal, v.sameBytes || k.startsWith('zlib-')]).toEqual([k, true, true]);
      expect(v.cd[0], k).toEqual(v.cd[1]);
      expect(v.cd[0]!.slice(0, 4), k).toEqual([
        2,
        2,
        k.endsWith('f4') ? 4 : 2,
        CHUNKS[0]! * CHUNKS[1]! * (k.endsWith('f4') ? 4 : 2),
      ]);
      expect(v.flags[0], k).toBe(v.flags[1]);
    }
  });

  it('a Blosc header that claims more than the chunk, or a length that does not match, is H5_CORRUPT', () => {
    const p = join(dir, 'bad.h5');
    python(
      `
import h5py, numpy as np, sys, ctypes
blosc = ctypes.CDLL('libblosc.so.1')
big = np.zeros(64 << 20, 'u1')  # 64 MiB of zeros for a 64 KiB chunk
dst = ctypes.create_string_buffer(big.nbytes + 16)
n = blosc.blosc_compress_ctx(5, 1, 4, ctypes.c_size_t(big.nbytes), big.ctypes.data_as(ctypes.c_void_p), dst, ctypes.c_size_t(big.nbytes + 16), b'lz4', ctypes.c_size_t(0), 1)
assert n > 0
with h5py.File(sys.argv[1], 'w') as f:
    for name, t in (('le', '<f4'), ('be', '>f4')):
        d = f.create_dataset(name, shape=(16384,), chunks=(16384,), dtype=t, compression=32001, compression_opts=(0, 0, 0, 0, 5, 1, 1))
        d.id.write_direct_chunk((0,), dst.raw[:n])
    d = f.create_dataset('short', shape=(16384,), chunks=(16384,), dtype='<f4', compression=32001, compression_opts=(0, 0, 0, 0, 5, 1, 1))
    d.id.write_direct_chunk((0,), dst.raw[:n - 3])
`,
      [p],
    );
    const f = File.open(p);
    try {
      for (const ds of ['le', 'be', 'short']) {
        let err: unknown;
        try {
          f.dataset(ds).readSync();
        } catch (e) {
          err = e;
        }
        expect(err, ds).toBeInstanceOf(H5Error);
        expect((err as H5Error).code, ds).toBe('H5_CORRUPT');
      }
    } finally {
      f.close();
    }
  });
});
