/**
 * Variable-length amplification: many vlen-string elements referencing ONE
 * 1 MiB global-heap object. The declared size is 16 bytes per element; what a
 * read decodes is 1 MiB per element. Limits must bound the decoded bytes.
 *
 * h5py writes each string to its own heap object, so the files are patched:
 * every element's 16-byte reference (length, heap collection, index) is
 * overwritten with the first element's.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { REPO, hostileFiles, refusal } from './helpers.js';

const { p } = hostileFiles('h5vault-vlen-', {
  python: `
import h5py, numpy as np, struct, sys
d = sys.argv[1]
big = 'x' * 2**20
def strings(n):
    return np.array([big] + ['a'] * (n - 1), dtype=object)

# Dataset: 2048 elements -> 2 GiB decoded from a ~1 MiB file.
with h5py.File(d + '/vlen-dataset.h5', 'w') as f:
    ds = f.create_dataset('s', shape=(2048,), dtype=h5py.string_dtype())
    ds[...] = strings(2048)
    off = ds.id.get_offset()
with open(d + '/vlen-dataset.h5', 'r+b') as fh:
    fh.seek(off); ref = fh.read(16)
    assert struct.unpack('<I', ref[:4])[0] == 2**20
    fh.seek(off); fh.write(ref * 2048)

# Attribute: 128 elements -> 128 MiB decoded (2 KiB declared: under every attribute limit).
with h5py.File(d + '/vlen-attr.h5', 'w') as f:
    f.attrs.create('a', strings(128), dtype=h5py.string_dtype())
raw = bytearray(open(d + '/vlen-attr.h5', 'rb').read())
head = struct.pack('<I', 2**20)
at = next(i for i in range(len(raw) - 48) if raw[i:i+4] == head and raw[i+16:i+20] == b'\\x01\\0\\0\\0' and raw[i+32:i+36] == b'\\x01\\0\\0\\0')
raw[at:at + 16 * 128] = bytes(raw[at:at + 16]) * 128
open(d + '/vlen-attr.h5', 'wb').write(raw)

# Benign: ordinary strings, for the trusted-path regression.
with h5py.File(d + '/vlen-plain.h5', 'w') as f:
    f.create_dataset('s', data=np.array(['alpha', 'beta', 'gamma'], dtype=object), dtype=h5py.string_dtype())
    f.attrs.create('a', np.array(['x', 'yy'], dtype=object), dtype=h5py.string_dtype())
    f.create_dataset('one', data='just one', dtype=h5py.string_dtype())
`,
});

describe('vlen strings referencing one large heap object', () => {
  it('untrusted: a dataset decoding to 2 GiB is refused by the walk (dataset-too-large)', async () => {
    const e = await refusal(p('vlen-dataset.h5'));
    expect(e.code).toBe('H5_UNSAFE_FILE');
    expect(e.reason).toBe('dataset-too-large');
    expect(e.message).toMatch(/strings decode to 2\.0 GiB/);
    expect(e.object).toBe('/s');
  });

  it('untrusted: an attribute decoding to 128 MiB is refused by the walk (attribute-too-large)', async () => {
    const e = await refusal(p('vlen-attr.h5'));
    expect(e.code).toBe('H5_UNSAFE_FILE');
    expect(e.reason).toBe('attribute-too-large');
    expect(e.message).toMatch(/attribute decodes to 128\.0 MiB/);
  });

  it('trusted: read() is H5_LIMIT_EXCEEDED before decoding, with bounded memory', () => {
    const script = `
import { readFileSync } from 'node:fs';
import { File } from ${JSON.stringify(join(REPO, 'dist', 'index.js'))};
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const f = File.open(process.argv[1]);
const base = hwm();
let out = {};
try { out.length = (await f.dataset('s').read()).length; } catch (e) { out.code = e.code; out.message = e.message; }
out.grewMiB = (hwm() - base) / 2 ** 20;
f.close();
process.stdout.write(JSON.stringify(out));
`;
    // V8 would abort long before 2 GiB of strings: a small heap proves nothing reached it.
    const r = spawnSync(
      process.execPath,
      ['--max-old-space-size=256', '--input-type=module', '-e', script, p('vlen-dataset.h5')],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe('H5_LIMIT_EXCEEDED');
    expect(out.message).toMatch(/would decode 214\d{7} bytes of variable-length data/);
    expect(out.grewMiB).toBeLessThan(64);
  });

  it('ordinary string datasets (also scalar) and attributes still read, trusted and untrusted', async () => {
    for (const f of [File.open(p('vlen-plain.h5')), await File.openAsync(p('vlen-plain.h5'), { untrusted: true })]) {
      expect(await f.dataset('s').read()).toEqual(['alpha', 'beta', 'gamma']);
      expect(f.attrs.get('a')).toEqual(['x', 'yy']);
      // A scalar string is not measured: one string cannot be amplified.
      expect(await f.dataset('one').read()).toEqual(['just one']);
      f.close();
    }
  });
});
