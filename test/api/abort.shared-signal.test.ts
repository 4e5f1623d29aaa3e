/**
 * Many concurrent reads sharing one AbortSignal: one 'abort' listener for all
 * of them (a listener per call made Node print MaxListenersExceededWarning
 * past 10), removed when the last of them settles; aborting still cancels
 * every pending call.
 */
import { describe, expect, it } from 'vitest';
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-abort-');

let n = 0;
function fixture(): string {
  const p = join(dir, `a${n++}.h5`);
  using f = File.create(p);
  f.createDataset('x', {
    dtype: 'float32',
    shape: [64, 1024],
    chunks: [1, 1024],
    compression: 'gzip',
    data: new Float32Array(64 * 1024).fill(3),
  });
  return p;
}

describe('one AbortSignal shared by many reads', () => {
  it('30 concurrent reads: no MaxListenersExceededWarning, one listener while they run, none after', async () => {
    const p = fixture();
    using f = File.open(p);
    const ds = f.dataset('x');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const ac = new AbortController();
      const reads = Array.from({ length: 30 }, () => ds.read({ signal: ac.signal }));
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      const out = await Promise.all(reads);
      expect(out).toHaveLength(30);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      // 'warning' is emitted on a later tick: let it arrive before judging.
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('aborting cancels every pending read that has not finished (H5_ABORTED), and the listener is gone after', async () => {
    const p = fixture();
    using f = File.open(p);
    const ds = f.dataset('x');
    const ac = new AbortController();
    const reads = Array.from({ length: 20 }, () =>
      ds.read({ signal: ac.signal, threads: 1 }).then(
        () => 'done',
        (e: unknown) => e,
      ),
    );
    ac.abort();
    const results = await Promise.all(reads);
    for (const r of results) {
      if (r !== 'done') expect(r).toMatchObject({ code: 'H5_ABORTED' });
      if (r !== 'done') expect(r).toBeInstanceOf(H5Error);
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    // Once aborted, a new call is refused before it starts.
    await expect(ds.read({ signal: ac.signal })).rejects.toMatchObject({ code: 'H5_ABORTED' });
  });
});
