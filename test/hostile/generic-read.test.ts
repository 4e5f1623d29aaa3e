/**
 * Values without a flat dtype (compound, vlen sequences, references, ...) are
 * read through libhdf5's type conversion, which damaged types and heaps can
 * crash. The untrusted walk does that very read in its child, so such files
 * are refused there (as 'crashed', or 'corrupt' once a check names the damage)
 * instead of taking down this process when
 * read() runs. Three files of the HDF Group's CVE corpus, which passed the
 * walk and then crashed the parent once these types became readable.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset, File, type UnsafeFileError } from '../../lib/index.js';
import { corpusDir, ensureWalkChild } from './helpers.js';

describe('untrusted walk reads non-flat datasets the way read() will', () => {
  for (const [name, what, reason] of [
    ['cve-2024-33877.h5', 'a compound { int8, object reference } with a damaged fill value', 'crashed'],
    // Faulted in libhdf5's heap read (on a libuv worker, not on the main
    // thread); the heap-ID checks (native/h5/heap_check.h) now find the
    // damaged heap object before libhdf5 reads it: 'corrupt', not 'crashed'.
    ['cve-2024-29165.h5', 'a vlen of vlen uint32 over a damaged global heap', 'corrupt'],
  ] as const) {
    it(`${name} (${what}): refused in the child (${reason}), never opened here`, async () => {
      ensureWalkChild();
      const err = await File.openAsync(join(corpusDir(), name), { untrusted: true }).then(
        (f) => {
          f.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'H5_UNSAFE_FILE', reason });
      if (reason === 'corrupt')
        expect((err as Error).message).toMatch(/global heap collection .* runs past the collection's end/);
      expect((err as UnsafeFileError).message).toBeTruthy();
    });
  }

  // Floats wider than 128 bits are refused H5_UNSUPPORTED_TYPE before libhdf5
  // converts anything (issue 21 #18, value.cc): the walk's read fails typed,
  // so the file opens, and read() here fails the same typed way.
  it('unknown-1.h5 (a big-endian compound whose float member declares 654,311,432 bytes): opens, and its read is refused typed', async () => {
    ensureWalkChild();
    const f = await File.openAsync(join(corpusDir(), 'unknown-1.h5'), { untrusted: true });
    try {
      const codes: string[] = [];
      for (const [, o] of f.walk()) {
        if (!(o instanceof Dataset) || o.dtype !== 'unsupported') continue;
        await o.read().then(
          () => codes.push('read'),
          (e: { code?: string; message: string }) =>
            codes.push(`${e.code} ${/float of \d+ bytes/.exec(e.message)?.[0] ?? ''}`),
        );
      }
      expect(codes).toContain('H5_UNSUPPORTED_TYPE float of 654311432 bytes');
    } finally {
      f.close();
    }
  });
});
