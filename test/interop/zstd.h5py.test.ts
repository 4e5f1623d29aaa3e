/**
 * Zstandard (HDF5 filter 32015) both ways with real peers. No Debian package
 * ships the HDF5 Zstd plugin, so the reference is python3-zstandard (libzstd)
 * plus h5py's direct chunk I/O: h5py lays out a 32015 dataset exactly as
 * hdf5plugin.Zstd() would (cd_values = (level,)) and writes zstd frames made
 * by zstandard as its chunks; h5vault reads them. The other way, h5py reads
 * h5vault's chunks raw and zstandard decodes them. Peers missing = failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { PYTHON, python, requirePeers, rng, tempDir } from '../helpers.js';

requirePeers();
{
  const r = spawnSync(PYTHON, ['-c', 'import zstandard'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `interop peer missing: ${PYTHON} cannot import zstandard (apt-get install python3-zstandard; bash scripts/dev/bootstrap.sh)`,
    );
}
const dir = tempDir();

/** Float32 weights ~N(0, 0.02) like a model's, deterministic. */
function weights(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() + r() + r() + r() - 2) * 0.035;
  return a;
}

describe('zstd: h5vault reads chunks that zstandard framed (written by h5py)', () => {
  const p = join(dir, 'theirs.h5');
  let expected: Record<string, number[]> = {};
  beforeAll(() => {
    expected = JSON.parse(
      python(
        `
import h5py, numpy as np, zstandard, sys, json
rng = np.random.default_rng(7)
out = {}
with h5py.File(sys.argv[1], 'w') as f:
    for name, level, dtype, content_size in [('l3', 3, '<f4', True), ('l19', 19, '<f4', True),
                                              ('l1_i2', 1, '<i2', True), ('streamed', 3, '<f4', False)]:
        shape, chunks = (37, 11), (8, 11)
        if dtype == '<f4':
            a = rng.normal(0, 0.02, shape).astype(dtype)
        else:
            a = rng.integers(-300, 300, shape).astype(dtype)
        d = f.create_dataset(name, shape=shape, chunks=chunks, dtype=dtype,
                             compression=32015, compression_opts=(level,), allow_unknown_filter=True)
        cz = zstandard.ZstdCompressor(level=level, write_content_size=content_size)
        for r0 in range(0, shape[0], chunks[0]):
            block = np.zeros(chunks, dtype)  # edge chunks are whole chunks, zero padded
            part = a[r0:r0 + chunks[0]]
            block[:part.shape[0]] = part
            d.id.write_direct_chunk((r0, 0), cz.compress(block.tobytes()))
        out[name] = a.ravel().tolist()
print(json.dumps(out))
`,
        [p],
      ),
    );
  });

  it('every dataset reads with equal values, sync, async and a hyperslab, reported as zstd', async () => {
    using f = File.open(p);
    for (const [name, values] of Object.entries(expected)) {
      const d = f.dataset(name);
      expect(d.filters.map((x) => [x.name, x.available])).toEqual([['zstd', true]]);
      const want = name === 'l1_i2' ? Int16Array.from(values) : Float32Array.from(values);
      expect(d.readSync()).toEqual(want);
      expect(await d.read()).toEqual(want);
      expect(d.readSync({ start: [5, 3], count: [20, 4] })).toEqual(
        (want.constructor as Float32ArrayConstructor).from(
          { length: 80 },
          (_, k) => want[(5 + Math.floor(k / 4)) * 11 + 3 + (k % 4)]!,
        ),
      );
    }
  });

  it('a frame that claims more than the chunk is refused as corrupt on both read paths, not allocated', () => {
    const bomb = join(dir, 'bomb.h5');
    python(
      `
import h5py, numpy as np, zstandard, sys
with h5py.File(sys.argv[1], 'w') as f:
    # little-endian: h5vault's engine decodes it; big-endian: libhdf5's pipeline runs our filter
    for name, t in (('le', '<f4'), ('be', '>f4')):
        d = f.create_dataset(name, shape=(16,), chunks=(16,), dtype=t, compression=32015, allow_unknown_filter=True)
        d.id.write_direct_chunk((0,), zstandard.ZstdCompressor().compress(bytes(64 << 20)))  # 64 MiB of zeros for a 64-byte chunk
`,
      [bomb],
    );
    using f = File.open(bomb);
    for (const read of [() => f.dataset('le').readSync(), () => f.dataset('be').readSync()]) {
      let err: unknown;
      try {
        read();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(H5Error);
      expect((err as H5Error).code).toBe('H5_CORRUPT');
    }
  });
});

describe('zstd: h5py + zstandard read what h5vault wrote', () => {
  it('cd_values are (level,), each chunk is one zstd frame that zstandard decodes, identical to its own', () => {
    const p = join(dir, 'ours.h5');
    const data = weights(64 * 1024 + 333, 11);
    {
      using f = File.create(p);
      for (const level of [1, 3, 9, 19])
        f.createDataset(`l${level}`, {
          dtype: 'float32',
          shape: [data.length],
          chunks: [8192],
          compression: { name: 'zstd', level },
          data,
        });
      f.createDataset('shuffled', {
        dtype: 'float32',
        shape: [data.length],
        chunks: [8192],
        shuffle: true,
        compression: 'zstd',
        data,
      });
    }
    const res = JSON.parse(
      python(
        `
import h5py, numpy as np, zstandard, sys, json
out = {}
with h5py.File(sys.argv[1], 'r') as f:
    for name in f:
        d = f[name]
        pl = d.id.get_create_plist()
        filters = [pl.get_filter(i)[:3] for i in range(pl.get_nfilters())]
        level = filters[-1][2][0]
        values, same = [], True
        for i in range(d.id.get_num_chunks()):
            info = d.id.get_chunk_info(i)
            mask, raw = d.id.read_direct_chunk(info.chunk_offset)
            assert mask == 0, (name, i, mask)
            plain = zstandard.decompress(raw)
            # the reference encoder (one ZSTD_compress frame at this level) makes the same bytes
            same = same and zstandard.ZstdCompressor(level=level).compress(plain) == raw
            if len(filters) == 2:  # byte shuffle before zstd: undo it
                plain = np.frombuffer(plain, 'u1').reshape(4, -1).T.tobytes()
            values.append(np.frombuffer(plain, '<f4'))
        out[name] = {'filters': [[int(i), int(fl), [int(v) for v in cd]] for i, fl, cd in filters], 'same': bool(same),
                     'hex': np.concatenate(values)[:d.shape[0]].tobytes().hex()}
print(json.dumps(out))
`,
        [p],
      ),
    );
    const hex = Buffer.from(data.buffer).toString('hex');
    for (const level of [1, 3, 9, 19]) {
      expect(res[`l${level}`].filters).toEqual([[32015, 1, [level]]]); // H5Z_FLAG_OPTIONAL, as hdf5plugin via h5py
      expect(res[`l${level}`].same).toBe(true);
      expect(res[`l${level}`].hex).toBe(hex);
    }
    expect(res.shuffled.filters).toEqual([
      [2, 1, [4]],
      [32015, 1, [3]],
    ]);
    expect(res.shuffled.hex).toBe(hex);
  });
});
