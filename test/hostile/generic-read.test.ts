/**
 * Values without a flat dtype (compound, vlen sequences, references, ...) are
 * read through libhdf5's type conversion, which damaged types and heaps can
 * crash. The untrusted walk does that very read in its child, so such files
 * are refused as 'crashed' there instead of taking down this process when
 * read() runs. Three files of the HDF Group's CVE corpus, which passed the
 * walk and then crashed the parent once these types became readable.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { File, type UnsafeFileError } from '../../lib/index.js';
import { corpusDir, ensureWalkChild } from './helpers.js';

describe('untrusted walk reads non-flat datasets the way read() will', () => {
  for (const [name, what] of [
    ['cve-2024-33877.h5', 'a compound { int8, object reference } with a damaged fill value'],
    ['unknown-1.h5', 'a big-endian compound whose float member declares 654,311,432 bytes'],
    // Reads cleanly on the main thread and faults on a libuv worker (read()):
    // the child walks on a thread of its own for this one.
    ['cve-2024-29165.h5', 'a vlen of vlen uint32 over a damaged global heap'],
  ] as const) {
    it(`${name} (${what}): refused in the child, never opened here`, async () => {
      ensureWalkChild();
      const err = await File.openAsync(join(corpusDir(), name), { untrusted: true }).then(
        (f) => {
          f.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'H5_UNSAFE_FILE', reason: 'crashed' });
      expect((err as UnsafeFileError).message).toBeTruthy();
    });
  }
});
