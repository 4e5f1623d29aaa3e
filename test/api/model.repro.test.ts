/** Invariant 7: the same tensors and options give byte-identical files in different processes. */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { h5dump, tempDir } from '../helpers.js';
import { requireFreshDist, runNode } from './model.helpers.js';

const dir = tempDir('h5vault-model-repro-');
const child = fileURLToPath(new URL('./model.child.mjs', import.meta.url));

beforeAll(requireFreshDist);

describe('reproducible saves across processes', () => {
  for (const compression of ['none', 'gzip', 'lz4', 'lzf']) {
    it(`${compression}: two processes with different thread pools write identical bytes`, async () => {
      const a = join(dir, `a-${compression}.h5`);
      const b = join(dir, `b-${compression}.h5`);
      // Different scheduling on purpose: hashes finish in another order, chunks are encoded by 1 vs 4 threads.
      const [ra, rb] = await Promise.all([
        runNode(child, ['save', a, '7', compression], { UV_THREADPOOL_SIZE: '1', H5VAULT_TEST_THREADS: '1' }),
        runNode(child, ['save', b, '7', compression], { UV_THREADPOOL_SIZE: '8', H5VAULT_TEST_THREADS: '4' }),
      ]).then((rs) => rs.map((r) => JSON.parse(r) as { digest: string; modelDigest: string }));
      expect(ra.digest).toBe(rb.digest);
      expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
      // libhdf5's own write path (H5VAULT_ENGINE=0) is just as deterministic, though its layout differs
      // from the engine's for compressed tensors (docs/model-storage.md#reproducibility).
      const [s1, s2] = await Promise.all(
        ['s1', 's2'].map((s) =>
          runNode(child, ['save', join(dir, `${s}-${compression}.h5`), '7', compression], { H5VAULT_ENGINE: '0' }),
        ),
      );
      expect(JSON.parse(s1!).digest).toBe(JSON.parse(s2!).digest);
      expect(JSON.parse(s1!).modelDigest).toBe(ra.modelDigest);
      const other = JSON.parse(await runNode(child, ['save', join(dir, `c-${compression}.h5`), '8', compression])) as {
        digest: string;
      };
      expect(other.digest).not.toBe(ra.digest); // different tensors, different bytes: the test can fail
    });
  }

  it('the files carry no object timestamps (h5dump shows none)', () => {
    const d = h5dump(['-H', '-p', join(dir, 'a-gzip.h5')]);
    expect(d.status).toBe(0);
    expect(d.stdout).not.toMatch(/MODIFIED|ACCESSED|CHANGED/i);
  });
});
