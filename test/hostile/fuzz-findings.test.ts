/**
 * Regression tests for what fuzz_walk (test/fuzz/fuzz_walk.cc) found. Every
 * finding so far is inside libhdf5 1.10.8 itself (see docs/security.md); the
 * property under test is that the walk child contains each one and this
 * process gets the typed error, in the class the finding belongs to.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, ensureWalkChild, refusal } from './helpers.js';

const finding = (name: string) => join(REPO, 'test', 'hostile', 'fuzz-findings', name);
const outcome = (name: string, timeoutMs = 10_000) =>
  refusal(finding(name), { untrusted: true, limits: { timeoutMs } });

describe('fuzz_walk findings stay in the walk child', () => {
  beforeAll(() => ensureWalkChild());

  it('invalid free in H5G__link_release_table (compact links): crashed', async () => {
    const e = await outcome('link-release-invalid-free.h5');
    expect([e.reason, e.signal]).toEqual(['crashed', 'SIGSEGV']);
  });

  // The two global-heap findings crashed or hung libhdf5 in the child until
  // the heap-ID checks (native/h5/heap_check.h) found the damage first: now
  // refused as 'corrupt', with the reason, before libhdf5 reads the heap.
  it('overlapping memcpy in H5HG_read (VL attribute from the global heap): corrupt, found by the heap checks', async () => {
    const e = await outcome('global-heap-memcpy-overlap.h5');
    expect(e.reason).toBe('corrupt');
    expect(e.message).toMatch(/global heap collection at 0x800: object 1 of \d+ bytes runs past the collection's end/);
  });

  it('metadata-cache entry of ~3 PiB (H5C_protect): the RLIMIT_AS-capped malloc fails, reason memory', async () => {
    expect((await outcome('cache-huge-allocation.h5')).reason).toBe('memory');
  });

  it('SEGV in H5A__compact_build_table under the core driver: corrupt under sec2', async () => {
    expect((await outcome('attr-table-segv-core-driver.h5')).reason).toBe('corrupt');
  });

  it('a libhdf5 infinite loop (a 0-byte free-space block in a heap collection): corrupt, without waiting for the deadline', async () => {
    // libhdf5's collection parser steps by the block's size: 0 never ends.
    // The deadline (reason 'timeout') is tested in policy.test.ts.
    const t0 = performance.now();
    const e = await outcome('hang.h5', 20_000);
    expect(e.reason).toBe('corrupt');
    expect(e.message).toMatch(/a free-space block of 0 bytes/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
