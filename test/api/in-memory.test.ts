// In-memory files: File.createInMemory() + toBuffer(), File.fromBuffer()
// (an HDF5 image from a Buffer/Uint8Array), h5py reading the bytes and
// writing images we open, and the untrusted checks applied to an image.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { File, H5Error, type Dataset } from '../../lib/index.js';
import { fileDigestSync } from '../../lib/safety/untrusted.js';
import { gaussian, python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir('h5vault-memory-');

function h5pyImage(code: string): Buffer {
  // h5py writes into a BytesIO; the bytes come back as hex on stdout.
  const hex = python(`import h5py, numpy as np, io, sys
b = io.BytesIO()
with h5py.File(b, 'w') as f:
${code
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
sys.stdout.write(b.getvalue().hex())`);
  return Buffer.from(hex, 'hex');
}

describe('createInMemory and toBuffer', () => {
  it('a file built in memory gives bytes that h5py opens from memory with the same contents', () => {
    const w = gaussian(5000, 3);
    const f = File.createInMemory();
    expect(f.inMemory).toBe(true);
    f.createDataset('model/w', { dtype: 'float32', shape: [50, 100], data: w, compression: 'gzip', shuffle: true });
    f.createDataset('names', { dtype: 'string', shape: [2], data: ['a', 'bé'] });
    f.attrs.set('epoch', 7);
    const bytes = f.toBuffer();
    f.close();
    const out = python(
      `import h5py, io, sys, json, hashlib
b = open(sys.argv[1], 'rb').read()
f = h5py.File(io.BytesIO(b), 'r')
print(json.dumps([hashlib.sha256(f['model/w'][()].tobytes()).hexdigest(), [s.decode() for s in f['names'][()]], int(f.attrs['epoch']), f['model/w'].compression]))`,
      [writeTemp('built.h5', bytes)],
    );
    const sha = (x: Float32Array) => createHash('sha256').update(Buffer.from(x.buffer)).digest('hex');
    expect(JSON.parse(out)).toEqual([sha(w), ['a', 'bé'], 7, 'gzip']);
  });

  it('toBuffer() of a file on disk is that file as libhdf5 would write it now', () => {
    const p = join(dir, 'disk.h5');
    const f = File.create(p);
    f.createDataset('x', { dtype: 'int16', shape: [3], data: new Int16Array([1, 2, 3]) });
    const img = f.toBuffer();
    f.close();
    const r = File.fromBuffer(img);
    expect(Array.from(r.dataset('x').readSync() as Int16Array)).toEqual([1, 2, 3]);
    r.close();
    expect(img.equals(readFileSync(p))).toBe(true);
  });

  it('two in-memory files are independent (libhdf5 would take same-named ones for one file)', () => {
    const a = File.createInMemory();
    const b = File.createInMemory();
    a.createGroup('only-in-a');
    expect(b.keys()).toEqual([]);
    a.close();
    b.close();
  });
});

describe('fromBuffer', () => {
  it('opens an h5py image read-only: reads, views and the parallel engine match h5py', async () => {
    const img = h5pyImage(`f['c'] = np.arange(64, dtype='<f4')
f.create_dataset('z', data=np.arange(10000, dtype='<i8').reshape(100, 100), chunks=(10, 10), compression='lzf')
f['g/s'] = 'text'`);
    const f = File.fromBuffer(img);
    expect(f.inMemory).toBe(true);
    expect(f.writable).toBe(false);
    expect(f.keys()).toEqual(['c', 'g', 'z']);
    const c = f.dataset('c');
    expect(c.viewable).toBe(true);
    expect(Array.from(c.view() as Float32Array)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    const z = (await f.dataset('z').read()) as BigInt64Array;
    expect(z.length).toBe(10000);
    expect(z[9999]).toBe(9999n);
    expect(f.dataset('g/s').readSync()).toEqual(['text']);
    expect(() => f.createGroup('x')).toThrow(expect.objectContaining({ code: 'H5_READ_ONLY' }));
    f.close();
  });

  it('copies the bytes: changing the Buffer afterwards changes nothing in the open file', () => {
    const img = h5pyImage(`f['c'] = np.arange(8, dtype='<f8')`);
    const f = File.fromBuffer(img);
    const v = f.dataset('c').view() as Float64Array;
    img.fill(0);
    expect(Array.from(v)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(f.dataset('c').readSync() as Float64Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A stray write into a view changes that view's private copy, never the file.
    v[0] = 42;
    expect((f.dataset('c').readSync() as Float64Array)[0]).toBe(0);
    f.close();
  });

  it('bad input is a typed error', () => {
    expect(() => File.fromBuffer('x' as never)).toThrow(TypeError);
    expect(() => File.fromBuffer(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'H5_NOT_HDF5' }));
    expect(() => File.fromBuffer(Buffer.from('definitely not an HDF5 file, just text'.repeat(20)))).toThrow(
      expect.objectContaining({ code: 'H5_NOT_HDF5' }),
    );
  });

  it('{ untrusted } walks the image under the limits before opening it; { expectDigest } hashes it', async () => {
    const img = h5pyImage(`for i in range(40): f.create_group('g%d' % i)
f['d'] = np.zeros(4)`);
    const ok = await File.fromBufferAsync(img, { untrusted: true });
    expect(ok.keys()).toContain('d');
    ok.close();
    let err: unknown;
    try {
      await File.fromBufferAsync(img, { untrusted: true, limits: { maxObjects: 10 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(H5Error);
    expect((err as H5Error).code).toBe('H5_UNSAFE_FILE');
    expect(() => File.fromBuffer(img, { untrusted: true, limits: { maxObjects: 10 } })).toThrow(
      expect.objectContaining({ code: 'H5_UNSAFE_FILE' }),
    );
    const digest = fileDigestSync(writeTemp('digest.h5', img));
    File.fromBuffer(img, { expectDigest: digest }).close();
    expect(() => File.fromBuffer(img, { expectDigest: '0'.repeat(64) })).toThrow(
      expect.objectContaining({ code: 'H5_CHECKSUM_MISMATCH' }),
    );
    // The check's temporary copy is gone.
    expect(readdirSync(tmpdir()).filter((n: string) => n.startsWith('h5vault-image-'))).toEqual([]);
  });

  it('an image written by h5vault round-trips through h5py both ways', () => {
    const f = File.createInMemory();
    f.createDataset('r', { dtype: 'float32', shape: [0], maxshape: [null] });
    (f.dataset('r') as Dataset).appendSync(new Float32Array([1.5, 2.5]));
    const bytes = f.toBuffer();
    f.close();
    const back = python(
      `import h5py, io, sys
b = open(sys.argv[1], 'rb').read()
out = io.BytesIO()
with h5py.File(io.BytesIO(b), 'r') as f, h5py.File(out, 'w') as g:
    f.copy('r', g)
    g['r'].resize((3,)); g['r'][2] = 3.5
sys.stdout.write(out.getvalue().hex())`,
      [writeTemp('rt.h5', bytes)],
    );
    const g = File.fromBuffer(Buffer.from(back, 'hex'));
    expect(Array.from(g.dataset('r').readSync() as Float32Array)).toEqual([1.5, 2.5, 3.5]);
    expect(g.dataset('r').maxshape).toEqual([null]);
    g.close();
  });
});

function writeTemp(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
