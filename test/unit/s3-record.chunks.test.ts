// A format-2 manifest read from the bucket is untrusted: the pieces of a chunked
// tensor must cover exactly its bytes, be at least MIN_CHUNK_BYTES, and each
// name an object of its own SHA-256 (else a pull would allocate, request or
// accept what the manifest says). isRecord is the one check every reader uses.
import { describe, it, expect } from 'vitest';
import { isRecord } from '../../lib/model/store/s3-record.js';

const sha = (c: string) => c.repeat(64);
const key = (h: string, nonce = '0123456789abcdef') => `blobs/sha256/${h.slice(0, 2)}/${h}/${nonce}`;

function record(tensor: Record<string, unknown>) {
  return {
    format: 2,
    name: 'm',
    version: 1,
    digest: sha('a'),
    bytes: 1,
    publisher: { host: 'h', pid: 1, nonce: 'n' },
    provenance: {},
    rebuild: {
      compression: 'none',
      shuffle: false,
      metadataJson: '{}',
      writer: { version: '0.1.0', hdf5: '1.10.8', node: 'v20', platform: 'linux-x64' },
    },
    tensors: [{ name: 'big', dtype: 'float32', shape: [65536 * 3], sha256: sha('b'), bytes: 65536 * 12, ...tensor }],
  };
}
const pieces = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ sha256: sha('cdef'[i % 4]!), object: key(sha('cdef'[i % 4]!)) }));

describe('a manifest naming the pieces of a chunked tensor', () => {
  it('is a record when the pieces cover exactly the tensor', () => {
    expect(isRecord(record({ chunkBytes: 262144, chunks: pieces(3) }), 'm', 1)).toBe(true);
    expect(isRecord(record({ chunkBytes: 65536 * 5, chunks: pieces(3) }), 'm', 1)).toBe(true); // 5+5+2
    expect(isRecord(record({ object: key(sha('b')) }), 'm', 1)).toBe(true); // whole, as before
  });

  it.each([
    ['one piece too few', { chunkBytes: 262144, chunks: pieces(2) }],
    ['one piece too many', { chunkBytes: 262144, chunks: pieces(4) }],
    ['pieces under 64 KiB (a GET per few bytes)', { chunkBytes: 4096, chunks: pieces(192) }],
    ['pieces as big as the tensor', { chunkBytes: 65536 * 12, chunks: pieces(1) }],
    ['a fractional piece size', { chunkBytes: 262144.5, chunks: pieces(3) }],
    ['both an object and pieces', { object: key(sha('b')), chunkBytes: 262144, chunks: pieces(3) }],
    ['a piece size without pieces', { object: key(sha('b')), chunkBytes: 262144 }],
    [
      'a piece whose key is of another hash',
      { chunkBytes: 262144, chunks: [...pieces(2), { sha256: sha('c'), object: key(sha('d')) }] },
    ],
    ['a piece without a hash', { chunkBytes: 262144, chunks: [...pieces(2), { object: key(sha('d')) }] }],
    ['a piece that is not an object', { chunkBytes: 262144, chunks: [...pieces(2), null] }],
    [
      'a key outside blobs/',
      { chunkBytes: 262144, chunks: [...pieces(2), { sha256: sha('c'), object: `../${key(sha('c'))}` }] },
    ],
  ])('is refused with %s', (_, tensor) => {
    expect(isRecord(record(tensor), 'm', 1)).toBe(false);
  });
});
