/**
 * Regression tests for what fuzz_walk (test/fuzz/fuzz_walk.cc) found. Every
 * finding so far is inside libhdf5 1.10.8 itself (see docs/security.md); the
 * property under test is that the walk child contains each one and this
 * process gets the typed error, in the class the finding belongs to.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File, H5Error, type UnsafeFileError } from '../../lib/index.js';
import { REPO, ensureWalkChild } from './helpers.js';

const finding = (name: string) => join(REPO, 'test', 'hostile', 'fuzz-findings', name);

async function outcome(name: string, timeoutMs = 10_000): Promise<UnsafeFileError> {
  try {
    (await File.openAsync(finding(name), { untrusted: true, limits: { timeoutMs } })).close();
  } catch (e) {
    expect(e).toBeInstanceOf(H5Error);
    return e as UnsafeFileError;
  }
  throw new Error(`${name} opened`);
}

describe('fuzz_walk findings stay in the walk child', () => {
  beforeAll(() => ensureWalkChild());

  it('invalid free in H5G__link_release_table (compact links): crashed', async () => {
    const e = await outcome('link-release-invalid-free.h5');
    expect([e.reason, e.signal]).toEqual(['crashed', 'SIGSEGV']);
  });

  it('overlapping memcpy in H5HG_read (VL attribute from the global heap): crashed', async () => {
    const e = await outcome('global-heap-memcpy-overlap.h5');
    expect([e.reason, e.signal]).toEqual(['crashed', 'SIGSEGV']);
  });

  it('metadata-cache entry of ~3 PiB (H5C_protect): the RLIMIT_AS-capped malloc fails, reason memory', async () => {
    expect((await outcome('cache-huge-allocation.h5')).reason).toBe('memory');
  });

  it('SEGV in H5A__compact_build_table under the core driver: corrupt under sec2', async () => {
    expect((await outcome('attr-table-segv-core-driver.h5')).reason).toBe('corrupt');
  });

  it('a libhdf5 infinite loop: killed at the deadline, reason timeout', async () => {
    const t0 = performance.now();
    const e = await outcome('hang.h5', 2000);
    expect([e.reason, e.signal]).toEqual(['timeout', 'SIGKILL']);
    expect(performance.now() - t0).toBeLessThan(2000 + 3000);
  });
});
