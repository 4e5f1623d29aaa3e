/**
 * loadKeras on `.keras` zip archives made with Python's zipfile as Keras
 * makes them: the weights member opened in place when it starts where
 * libhdf5 looks for a superblock, else extracted to a temporary file that is
 * unlinked once open; config.json / metadata.json parsed; damaged archives
 * give typed errors and leave nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H5Error, fileDigestSync, loadKeras, type LoadedKeras } from '../../lib/index.js';
import { PYTHON, requirePeers, tempDir } from '../helpers.js';
import { bytesOf, readWithH5py, writeKeras } from './keras.helpers.js';

requirePeers();
const dir = tempDir('h5vault-keras-zip-');
const scratch = join(dir, 'scratch');
mkdirSync(scratch);

function expectSameAsH5py(m: LoadedKeras, path: string): void {
  const ref = readWithH5py(path).datasets;
  for (const w of [...m.tensors.values(), ...m.optimizer]) {
    expect(bytesOf(w.data).equals(Buffer.from(ref[w.key]!.b64, 'base64')), w.key).toBe(true);
    expect(w.shape, w.key).toEqual(ref[w.key]!.shape);
  }
}

async function failure(p: Promise<unknown>): Promise<H5Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(H5Error);
  return e as H5Error;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return (await failure(p)).code;
}

describe('a stored member at an ordinary offset (what Keras writes)', () => {
  const p = join(dir, 'stored.keras');
  writeKeras('keras-archive', p);

  it('is extracted, opened, unlinked, and says why', async () => {
    using m = await loadKeras(p, { tmpDir: scratch });
    expect(m.container).toBe('zip');
    expect(m.layout).toBe('keras3-weights');
    expect(m.source.kind).toBe('zip-extracted');
    if (m.source.kind !== 'zip-extracted') return;
    expect(m.source.compression).toBe('stored');
    expect(m.source.reason).toMatch(/starts at offset \d+, where libhdf5 does not look for a superblock/);
    expect(readdirSync(scratch)).toEqual([]);
    // The extracted copy is mapped: views still avoid a second copy.
    expect(m.views.size).toBe(m.tensors.size + m.optimizer.length);
    expectSameAsH5py(m, p);
  });

  it('parses config.json and metadata.json', async () => {
    using m = await loadKeras(p, { tmpDir: scratch });
    expect(m.config).toMatchObject({ class_name: 'Sequential', config: { name: 'sequential' } });
    expect(m.metadata).toEqual({ kerasVersion: '3.9.2', backend: null, date_saved: '2025-01-01@00:00:00' });
    expect(m.layers.map((l) => [l.name, l.className])).toEqual([
      ['encoder', 'Dense'],
      ['norm', 'BatchNormalization'],
      ['dropout', 'Dropout'],
      ['rnn', 'LSTM'],
      ['head', 'Dense'],
    ]);
  });

  it('names layers from config.json when the vars groups carry no name (Keras 3 before 3.x metadata)', async () => {
    const q = join(dir, 'stored-nonames.keras');
    writeKeras('keras-archive', q, { names: false });
    using m = await loadKeras(q, { tmpDir: scratch });
    expect([...m.tensors.keys()]).toEqual([
      'encoder/kernel',
      'encoder/bias',
      'norm/gamma',
      'norm/beta',
      'norm/moving_mean',
      'norm/moving_variance',
      'rnn/cell/kernel',
      'rnn/cell/recurrent_kernel',
      'rnn/cell/bias',
      'head/kernel',
      'head/bias',
    ]);
    expect(m.tensors.get('head/kernel')!.key).toBe('/layers/dense_1/vars/0');
    expectSameAsH5py(m, q);
  });
});

describe('a stored member at a superblock offset (512, 1024, 2048, ...)', () => {
  const p = join(dir, 'aligned.keras');
  writeKeras('keras-archive', p, { align: 4096 });

  it('opens in place: views are windows on the mapping of the archive itself', async () => {
    using m = await loadKeras(p, { tmpDir: scratch });
    expect(m.source).toEqual({ kind: 'zip-direct', member: 'model.weights.h5', offset: 4096, compression: 'stored' });
    const size = statSync(p).size;
    for (const w of m.tensors.values()) {
      expect(w.viewed).toBe(true);
      expect(w.data.buffer.byteLength).toBe(size);
      expect(w.data.byteOffset).toBeGreaterThan(4096);
    }
    expectSameAsH5py(m, p);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('walks the archive in the untrusted child and honours expectDigest of the archive', async () => {
    {
      using m = await loadKeras(p, { untrusted: true });
      expect(m.source.kind).toBe('zip-direct');
      expectSameAsH5py(m, p);
    }
    const digest = fileDigestSync(p);
    {
      using m = await loadKeras(p, { expectDigest: digest });
      expect(m.digest).toBe(digest);
    }
    expect(await codeOf(loadKeras(p, { expectDigest: 'f'.repeat(64) }))).toBe('H5_CHECKSUM_MISMATCH');
  });
});

describe('a deflated member', () => {
  const p = join(dir, 'deflated.keras');
  writeKeras('keras-archive', p, { deflate: true });

  it('is inflated to a temporary file with its CRC checked, and loads like the stored one', async () => {
    using m = await loadKeras(p, { tmpDir: scratch, untrusted: true });
    expect(m.source.kind).toBe('zip-extracted');
    if (m.source.kind === 'zip-extracted') {
      expect(m.source.compression).toBe('deflate');
      expect(m.source.reason).toBe('the member is deflated');
    }
    expect(readdirSync(scratch)).toEqual([]);
    expect(m.tensors.size).toBe(11);
    expectSameAsH5py(m, p);
  });

  it('expectDigest covers the archive before any member is read', async () => {
    const digest = fileDigestSync(p);
    using m = await loadKeras(p, { expectDigest: digest, tmpDir: scratch });
    expect(m.digest).toBe(digest);
    expect(await codeOf(loadKeras(p, { expectDigest: '0'.repeat(64), tmpDir: scratch }))).toBe('H5_CHECKSUM_MISMATCH');
  });
});

describe('damaged and foreign archives give typed errors and leave no temporary file', () => {
  const good = join(dir, 'good.keras');
  writeKeras('keras-archive', good);
  const goodDeflated = join(dir, 'good-deflated.keras');
  writeKeras('keras-archive', goodDeflated, { deflate: true });
  const bytes = readFileSync(good);
  const member = readWithH5py(good).member!;

  it('a truncated archive (no end-of-central-directory record) is H5_CORRUPT', async () => {
    const p = join(dir, 'truncated.keras');
    writeFileSync(p, bytes.subarray(0, bytes.length - 200));
    const e = await failure(loadKeras(p, { tmpDir: scratch }));
    expect(e.code).toBe('H5_CORRUPT');
    expect(e.message).toMatch(/not a valid zip archive: no end-of-central-directory record/);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('an archive cut inside the weights member is H5_CORRUPT', async () => {
    const p = join(dir, 'cut.keras');
    // Keep the central directory but drop bytes of the member before it: offsets now point past the data.
    const firstCd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    expect(firstCd).toBeGreaterThan(1000);
    writeFileSync(p, Buffer.concat([bytes.subarray(0, firstCd - 1000), bytes.subarray(firstCd)]));
    expect(await codeOf(loadKeras(p, { tmpDir: scratch }))).toBe('H5_CORRUPT');
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('a flipped byte in a stored member fails its CRC-32: H5_CORRUPT, nothing left behind', async () => {
    const p = join(dir, 'flipped.keras');
    const b = Buffer.from(bytes);
    const at = member.offset + 30 + 'model.weights.h5'.length + 2000;
    b[at] = b[at]! ^ 0xff;
    writeFileSync(p, b);
    const e = await failure(loadKeras(p, { tmpDir: scratch }));
    expect(e.code).toBe('H5_CORRUPT');
    expect(e.message).toMatch(/model\.weights\.h5' fails its CRC-32 check/);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('garbage inside a deflated member is H5_CORRUPT', async () => {
    const p = join(dir, 'bad-deflate.keras');
    const b = Buffer.from(readFileSync(goodDeflated));
    const m = readWithH5py(goodDeflated).member!;
    const start = m.offset + 30 + 'model.weights.h5'.length;
    b.fill(0xa5, start + 50, start + 400);
    writeFileSync(p, b);
    expect(await codeOf(loadKeras(p, { tmpDir: scratch }))).toBe('H5_CORRUPT');
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('a zip without model.weights.h5 is H5_NOT_KERAS', async () => {
    const p = join(dir, 'config-only.keras');
    writeKeras('keras-archive', p, { members: ['metadata.json', 'config.json'] });
    const e = await failure(loadKeras(p));
    expect(e.code).toBe('H5_NOT_KERAS');
    expect(e.message).toMatch(/is a zip archive without model\.weights\.h5; expected/);
  });

  it('a config.json that is not JSON is H5_CORRUPT', async () => {
    const p = join(dir, 'bad-config.keras');
    // Rewritten by zipfile, so sizes and CRCs are right and only the JSON is wrong.
    const py = `
import zipfile, sys
src, dst = sys.argv[1], sys.argv[2]
zin = zipfile.ZipFile(src)
with zipfile.ZipFile(dst, 'w') as zout:
    for i in zin.infolist():
        zout.writestr(i.filename, b'{not json' if i.filename == 'config.json' else zin.read(i.filename))
`;
    execFileSync(PYTHON, ['-c', py, good, p]);
    const e = await failure(loadKeras(p, { tmpDir: scratch }));
    expect(e.code).toBe('H5_CORRUPT');
    expect(e.message).toMatch(/config\.json is not valid JSON/);
  });
});

describe('extraction into a full filesystem', () => {
  // A real 2 MiB tmpfs: a 3 MiB weights member cannot fit.
  const mnt = join(dir, 'tmpfs');
  beforeAll(() => {
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
  });
  afterAll(() => {
    execFileSync('umount', [mnt]);
  });

  it('fails with H5_IO and removes the partial file', async () => {
    const p = join(dir, 'big.keras');
    writeKeras('keras-archive', p, { deflate: true, big_mb: 3 });
    expect(statSync(p).size).toBeLessThan(1 << 20);
    const e = await failure(loadKeras(p, { tmpDir: mnt }));
    expect(e).toBeInstanceOf(H5Error);
    expect(e.code).toBe('H5_IO');
    expect(e.message).toMatch(/ENOSPC|no space/i);
    expect(readdirSync(mnt)).toEqual([]);
    // The same archive loads when there is room.
    using m = await loadKeras(p, { tmpDir: scratch });
    expect(m.tensors.get('embed/embeddings')!.shape).toEqual([3 * 262144]);
  });
});
