/**
 * Bitshuffle (HDF5 filter 32008) both ways with the reference filter: Debian's
 * `bitshuffle` package (kiyo-masui/bitshuffle 0.3.5, its libh5bshuf plugin in
 * libhdf5's plugin path, loaded by h5py). Element sizes 1, 2, 4, 8, default
 * and explicit block sizes (8, 64 elements), chunks that are not a whole
 * number of 8-element groups (1003, 333, 855, 517 elements) and edge chunks:
 * - LZ4: h5py-written files read in h5vault with equal values; h5vault-written
 *   files read in h5py with equal values, the plugin's cd_values and its exact
 *   chunk bytes.
 * - zstd: Debian's 0.3.5 predates zstd (it would bitshuffle without
 *   compressing, under a zstd cd_value), so the reference chunks are built in
 *   Python from the plugin's own transpose (bitshuffle.bitshuffle per block)
 *   and python3-zstandard, written with write_direct_chunk; h5vault reads them,
 *   and h5vault's chunks must be those bytes.
 * Peers missing = failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { PLUGIN_PATH, python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
if (!existsSync(join(PLUGIN_PATH, 'libh5bshuf.so')))
  throw new Error(
    `interop peer missing: no Bitshuffle HDF5 plugin in ${PLUGIN_PATH} (apt-get install bitshuffle; bash scripts/dev/bootstrap.sh)`,
  );
python('import bitshuffle, zstandard');

const dir = tempDir();

// name, numpy dtype, h5vault dtype, shape, chunks, block size (elements)
const CASES = [
  { name: 'u1', np: '<u1', dtype: 'uint8', shape: [3001], chunks: [1003], block: 0 },
  { name: 'i2', np: '<i2', dtype: 'int16', shape: [77, 41], chunks: [20, 41], block: 0 },
  { name: 'f4', np: '<f4', dtype: 'float32', shape: [301, 67], chunks: [64, 67], block: 0 },
  { name: 'f4b64', np: '<f4', dtype: 'float32', shape: [1001], chunks: [333], block: 64 },
  { name: 'f8', np: '<f8', dtype: 'float64', shape: [45, 19], chunks: [45, 19], block: 0 },
  { name: 'i8b8', np: '<i8', dtype: 'int64', shape: [1031], chunks: [517], block: 8 },
] as const;
const ZSTD_LEVELS = [1, 3, 9];

// Same values on both sides: floats ~N(0, 0.02), integer ramps with noise.
const GEN = `
import numpy as np, json, struct, zstandard, bitshuffle
CASES = json.loads(${JSON.stringify(JSON.stringify(CASES))})
def values(c):
    rng = np.random.default_rng(7)
    n = int(np.prod(c['shape']))
    if c['np'][1] == 'f':
        return rng.normal(0, 0.02, n).astype(c['np']).reshape(c['shape'])
    info = np.iinfo(c['np'])
    v = (np.arange(n) % 977) * 3 + rng.integers(0, 5, n)
    return (v % (int(info.max) + 1 - max(int(info.min), -1000)) + max(int(info.min), -1000)).astype(c['np']).reshape(c['shape'])
def zstd_chunk(raw, elem, block, level):
    # The reference filter's zstd chunk: header, then per block the plugin's
    # own bit transpose compressed by ZSTD_compress(level), then the leftover.
    block = block or max(128, (8192 // elem) // 8 * 8)
    arr = np.frombuffer(raw, dtype='u%d' % elem)
    out = bytearray(struct.pack('>QI', len(raw), block * elem))
    n, i = len(arr), 0
    while n - i >= 8:
        m = min(block, n - i) // 8 * 8
        frame = zstandard.ZstdCompressor(level=level).compress(bitshuffle.bitshuffle(arr[i:i + m], 0).tobytes())
        out += struct.pack('>I', len(frame)) + frame
        i += m
    return bytes(out) + raw[i * elem:]
def chunks_of(d, data):
    # (offset, raw bytes of that chunk as libhdf5 stores it: edge chunks padded)
    out = []
    for i in range(d.id.get_num_chunks()):
        off = d.id.get_chunk_info(i).chunk_offset
        sl = tuple(slice(o, o + c) for o, c in zip(off, d.chunks))
        block = np.zeros(d.chunks, d.dtype)
        part = data[sl]
        block[tuple(slice(0, s) for s in part.shape)] = part
        out.append((off, block.tobytes()))
    return out
`;

describe('bitshuffle: h5vault and the reference filter (Debian bitshuffle via h5py)', () => {
  const theirs = join(dir, 'theirs.h5');
  const ours = join(dir, 'ours.h5');
  const want = new Map<string, ArrayLike<number | bigint>>();
  beforeAll(() => {
    const out = JSON.parse(
      python(
        `${GEN}
import h5py, sys
res = {}
with h5py.File(sys.argv[1], 'w') as f:
    for c in CASES:
        a = values(c)
        res[c['name']] = a.ravel().tobytes().hex()
        f.create_dataset('lz4/' + c['name'], data=a, chunks=tuple(c['chunks']), compression=32008, compression_opts=(c['block'], 2))
        elem = a.dtype.itemsize
        for level in ${JSON.stringify(ZSTD_LEVELS)}:
            d = f.create_dataset('zstd%d/%s' % (level, c['name']), shape=a.shape, dtype=a.dtype, chunks=tuple(c['chunks']),
                                 compression=32008, compression_opts=(c['block'], 3, level))
            grid = [range(0, s, k) for s, k in zip(a.shape, c['chunks'])]
            import itertools
            for off in itertools.product(*grid):
                sl = tuple(slice(o, o + k) for o, k in zip(off, c['chunks']))
                block = np.zeros(c['chunks'], a.dtype)
                part = a[sl]
                block[tuple(slice(0, s) for s in part.shape)] = part
                d.id.write_direct_chunk(off, zstd_chunk(block.tobytes(), elem, c['block'], level))
print(json.dumps(res))
`,
        [theirs],
      ),
    );
    const ctor = {
      uint8: Uint8Array,
      int16: Int16Array,
      float32: Float32Array,
      float64: Float64Array,
      int64: BigInt64Array,
    };
    for (const c of CASES) {
      const bytes = Uint8Array.from(Buffer.from(out[c.name], 'hex'));
      want.set(c.name, new ctor[c.dtype](bytes.buffer));
    }
    const f = File.create(ours);
    try {
      for (const c of CASES) {
        const common = { dtype: c.dtype, shape: [...c.shape], chunks: [...c.chunks], data: want.get(c.name) as never };
        f.createDataset(`lz4/${c.name}`, { ...common, compression: { name: 'bitshuffle', blockSize: c.block } });
        for (const level of ZSTD_LEVELS)
          f.createDataset(`zstd${level}/${c.name}`, {
            ...common,
            compression: { name: 'bitshuffle', compressor: 'zstd', level, blockSize: c.block },
          });
      }
    } finally {
      f.close();
    }
  });

  it('h5vault reads what the reference wrote (LZ4 by the plugin, zstd by its transpose), equal values, sync and async', async () => {
    const f = File.open(theirs);
    try {
      for (const group of ['lz4', ...ZSTD_LEVELS.map((l) => `zstd${l}`)]) {
        for (const c of CASES) {
          const d = f.dataset(`${group}/${c.name}`);
          const k = `${group}/${c.name}`;
          expect([k, d.filters.map((x) => [x.name, x.available])]).toEqual([k, [['bitshuffle', true]]]);
          expect(d.readSync(), k).toEqual(want.get(c.name));
          expect(await d.read(), k).toEqual(want.get(c.name));
        }
      }
    } finally {
      f.close();
    }
  });

  it("h5py reads what h5vault wrote: equal values, the plugin's cd_values and its exact chunk bytes", () => {
    const res = JSON.parse(
      python(
        `${GEN}
import h5py, sys
out = {}
with h5py.File(sys.argv[1], 'r') as ours, h5py.File(sys.argv[2], 'r') as theirs:
    for c in CASES:
        a = values(c)
        for group in ['lz4'] + ['zstd%d' % l for l in ${JSON.stringify(ZSTD_LEVELS)}]:
            o, t = ours[group][c['name']], theirs[group][c['name']]
            po, pt = o.id.get_create_plist(), t.id.get_create_plist()
            if group == 'lz4':
                equal = bool(np.array_equal(o[...], a))  # decoded by the Debian plugin
                same = all(o.id.read_direct_chunk(t.id.get_chunk_info(i).chunk_offset) ==
                           t.id.read_direct_chunk(t.id.get_chunk_info(i).chunk_offset)
                           for i in range(t.id.get_num_chunks()))
            else:
                level = int(group[4:])
                chunks = chunks_of(o, a)
                same = all(o.id.read_direct_chunk(off)[1] == zstd_chunk(raw, a.dtype.itemsize, c['block'], level)
                           for off, raw in chunks)
                equal = same and o.id.get_num_chunks() == len(chunks)
            out[group + '/' + c['name']] = {'equal': equal, 'same': bool(same),
                                            'cd': [list(po.get_filter(0)[2]), list(pt.get_filter(0)[2])],
                                            'masks': [o.id.get_chunk_info(i).filter_mask for i in range(o.id.get_num_chunks())]}
print(json.dumps(out))
`,
        [ours, theirs],
      ),
    );
    expect(Object.keys(res)).toHaveLength(CASES.length * (1 + ZSTD_LEVELS.length));
    for (const [k, v] of Object.entries(res) as [
      string,
      { equal: boolean; same: boolean; cd: number[][]; masks: number[] },
    ][]) {
      expect([k, v.equal, v.same]).toEqual([k, true, true]);
      // [0..1] are the writer's version (Debian's plugin says 0.3, h5vault 0.4)
      expect(v.cd[0]!.slice(2), k).toEqual(v.cd[1]!.slice(2));
      expect(v.cd[0]!.slice(0, 2), k).toEqual([0, 4]);
      expect(
        v.masks.every((m) => m === 0),
        k,
      ).toBe(true);
    }
  });

  it('a header that claims more than the chunk, a lying block length or a truncated chunk is H5_CORRUPT', async () => {
    const p = join(dir, 'bad.h5');
    python(
      `
import h5py, numpy as np, sys, struct, bitshuffle
good = bitshuffle.compress_lz4(np.zeros(16384, '<f4'), 0).tobytes()
hdr = lambda total: struct.pack('>QI', total, 2048 * 4)
chunks = {
    'bomb': hdr(1 << 30) + good,                      # declares 1 GiB for a 64 KiB chunk
    'bomb64': hdr((1 << 64) - 1) + good,
    'lying_len': hdr(65536) + b'\\x7f\\xff\\xff\\xff' + good[4:],
    'truncated': (hdr(65536) + good)[:-9],
    'odd_block': struct.pack('>QI', 65536, 12 * 4) + good,
}
with h5py.File(sys.argv[1], 'w') as f:
    for name, chunk in chunks.items():
        d = f.create_dataset(name, shape=(16384,), chunks=(16384,), dtype='<f4', compression=32008, compression_opts=(0, 2))
        d.id.write_direct_chunk((0,), chunk)
`,
      [p],
    );
    const f = File.open(p);
    try {
      for (const ds of ['bomb', 'bomb64', 'lying_len', 'truncated', 'odd_block']) {
        for (const read of [() => f.dataset(ds).readSync(), () => f.dataset(ds).read()]) {
          let err: unknown;
          try {
            await read();
          } catch (e) {
            err = e;
          }
          expect(err, ds).toBeInstanceOf(H5Error);
          expect((err as H5Error).code, ds).toBe('H5_CORRUPT');
        }
      }
    } finally {
      f.close();
    }
  });

  it("a real file (jhdf's bitshuffle_datasets.hdf5: 4 dtypes x 5 block sizes, uncompressed and LZ4) reads as h5py reads it", async () => {
    const p = join(import.meta.dirname, '../fixtures/conformance/jhdf/bitshuffle_datasets.hdf5');
    const theirs = JSON.parse(
      python(
        `
import h5py, sys, json
with h5py.File(sys.argv[1], 'r') as f:
    print(json.dumps({k: [f[k][...].tobytes().hex(), list(f[k].id.get_create_plist().get_filter(0)[2])] for k in f}))
`,
        [p],
      ),
    ) as Record<string, [string, number[]]>;
    expect(Object.keys(theirs)).toHaveLength(40);
    const f = File.open(p);
    try {
      for (const [k, [hex, cd]] of Object.entries(theirs)) {
        const d = f.dataset(k);
        expect([k, d.filters.map((x) => [x.name, x.cdValues])]).toEqual([k, [['bitshuffle', cd]]]);
        for (const v of [d.readSync(), await d.read()]) {
          const b = v as ArrayBufferView;
          expect([k, Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')]).toEqual([k, hex]);
        }
      }
    } finally {
      f.close();
    }
  });

  it('createDataset validates the bitshuffle options', () => {
    const f = File.create(join(dir, 'opts.h5'));
    try {
      const base = { dtype: 'float32' as const, shape: [64], data: new Float32Array(64) };
      expect(() => f.createDataset('a', { ...base, compression: { name: 'bitshuffle', blockSize: 12 } })).toThrow(
        RangeError,
      );
      expect(() =>
        f.createDataset('b', { ...base, compression: { name: 'bitshuffle', compressor: 'zstd', level: 23 } }),
      ).toThrow(RangeError);
      expect(() => f.createDataset('c', { ...base, compression: { name: 'bitshuffle', level: 5 } })).toThrow(TypeError);
      expect(() =>
        f.createDataset('d', { ...base, compression: { name: 'bitshuffle', compressor: 'gzip' as never } }),
      ).toThrow(TypeError);
      const d = f.createDataset('e', { ...base, compression: { name: 'bitshuffle', compressor: 'none' } });
      expect(d.filters.map((x) => [x.name, x.cdValues])).toEqual([['bitshuffle', [0, 4, 4, 0, 0]]]);
      expect(d.readSync()).toEqual(new Float32Array(64));
    } finally {
      f.close();
    }
  });
});
