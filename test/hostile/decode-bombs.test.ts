/**
 * Decompression bombs: a chunk whose stored stream decodes to far more than
 * the chunk's declared size. Every decode path must stop at the declared size
 * with a typed error and bounded memory: the parallel engine (little-endian
 * types) and libhdf5's own pipeline (big-endian types, szip), for every
 * compressor (gzip, LZ4, LZF, szip).
 *
 * The files are built by h5py: a scratch dataset compresses 256 MiB of zeros
 * in one chunk, and that raw chunk is transplanted (write_direct_chunk) into a
 * dataset that declares 1 MiB chunks. Each read runs in a CHILD process that
 * reports its peak resident memory (VmHWM): native allocations are invisible
 * to V8's heap limits.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { python } from '../helpers.js';
import { REPO, hostileFiles } from './helpers.js';

const BOMB_MIB = 256;

const { p } = hostileFiles('h5vault-bombs-', {
  python: `
import h5py, hdf5plugin, numpy as np, sys
d, mib = sys.argv[1], int(sys.argv[2])
n = mib * 2**20 // 4
filters = {
    'gzip': dict(compression='gzip', compression_opts=9),
    'lz4': dict(**hdf5plugin.LZ4()),
    'lzf': dict(compression='lzf'),
    'szip': dict(compression='szip', compression_opts=('nn', 32)),
}
for name, kw in filters.items():
    for order in '<>':
        # The stream: mib MiB of zeros as ONE chunk, compressed by the real filter.
        with h5py.File(d + '/scratch.h5', 'w') as s:
            big = s.create_dataset('x', shape=(n,), chunks=(n,), dtype=order + 'f4', **kw)
            big[...] = np.zeros(n, dtype=order + 'f4')
            mask, raw = big.id.read_direct_chunk((0,))
        tag = 'be' if order == '>' else 'le'
        with h5py.File(d + '/%s-%s.h5' % (name, tag), 'w') as f:
            small = 2**20 // 4  # the declared chunk: 1 MiB
            ds = f.create_dataset('w', shape=(small,), chunks=(small,), dtype=order + 'f4', **kw)
            ds.id.write_direct_chunk((0,), raw, mask)
    `,
  args: [String(BOMB_MIB)],
  timeoutMs: 300_000,
});

/** Reads /w in a fresh process; returns what happened and its peak RSS growth. */
function readInChild(
  path: string,
  untrusted: boolean,
): { error?: { code?: string; message: string }; length?: number; grewMiB: number } {
  const script = `
import { readFileSync } from 'node:fs';
import { File } from ${JSON.stringify(join(REPO, 'dist', 'index.js'))};
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const f = ${untrusted ? 'await File.openAsync(process.argv[1], { untrusted: true })' : 'File.open(process.argv[1])'};
const ds = f.dataset('w');
// Everything the read needs besides the decode (addon, file, thread pool) is warm.
const base = hwm();
let out = {};
try {
  out.length = (await ds.read()).length;
} catch (e) {
  out.error = { code: e.code, message: e.message };
}
out.grewMiB = (hwm() - base) / 2 ** 20;
f.close();
process.stdout.write(JSON.stringify(out));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, path], { encoding: 'utf8', cwd: REPO });
  if (r.status !== 0) throw new Error(`child failed (${r.status} ${r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('a chunk that inflates past its declared 1 MiB', () => {
  it.each([
    ['gzip-le.h5', 'engine'],
    ['gzip-be.h5', "libhdf5's pipeline"],
    ['lz4-le.h5', 'engine'],
    ['lz4-be.h5', "libhdf5's pipeline"],
    ['lzf-le.h5', 'engine'],
    ['lzf-be.h5', "libhdf5's pipeline"],
    ['szip-le.h5', "libhdf5's pipeline"],
    ['szip-be.h5', "libhdf5's pipeline"],
  ])('%s (%s): H5_CORRUPT, memory bounded, in untrusted and trusted mode', (name) => {
    for (const untrusted of [true, false]) {
      const r = readInChild(p(name), untrusted);
      expect(r.error, `${name} untrusted=${untrusted} read ${r.length} elements`).toBeDefined();
      expect(r.error!.code).toBe('H5_CORRUPT');
      // The declared chunk is 1 MiB; the stream would give 256 MiB.
      expect(r.grewMiB).toBeLessThan(48);
    }
  });
});

describe('the bounded deflate stays byte-compatible', () => {
  it('libhdf5-path gzip writes (unaligned hyperslabs, big-endian) read back in h5py', async () => {
    python(
      `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.create_dataset('be', shape=(1000,), chunks=(100,), dtype='>f4', compression='gzip', shuffle=True, fletcher32=True)
    f.create_dataset('le', shape=(1000,), chunks=(100,), dtype='<f4', compression='gzip')
`,
      [p('compat.h5')],
    );
    const f = File.open(p('compat.h5'), { mode: 'r+' });
    const data = new Float32Array(1000).map((_, i) => i * 0.5);
    // Starts off a chunk boundary: the engine declines, libhdf5 reads, merges and re-deflates chunks.
    await f.dataset('le').write(data.subarray(0, 950), { start: [37], count: [950] });
    // Big-endian on disk: converted and compressed by libhdf5 (shuffle, deflate, fletcher32).
    await f.dataset('be').write(data);
    f.close();
    const out = python(
      `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'r') as f:
    x = f['le'][...]
    y = f['be'][...]
    print(int(np.all(x[37:987] == np.arange(950, dtype='<f4') * 0.5)), int(np.all(x[:37] == 0)),
          int(np.all(y == np.arange(1000, dtype='<f4') * 0.5)))
`,
      [p('compat.h5')],
    );
    expect(out.trim()).toBe('1 1 1');
  });
});
