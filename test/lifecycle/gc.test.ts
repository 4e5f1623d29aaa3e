/**
 * Handles dropped without close() are released by GC (vitest runs with
 * --expose-gc): the live-handle count returns to its baseline and libhdf5
 * really closes the file, so it can be reopened read-write in this process.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();

async function collect(until: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !until(); i++) {
    globalThis.gc!();
    await new Promise((r) => setTimeout(r, 5));
  }
}

function leak(p: string): void {
  // Everything opened here becomes garbage when the function returns.
  const f = File.open(p);
  const d = f.dataset('g/x');
  d.readSync();
  d.attrs.toObject();
  [...f.walk()];
  f.group('g').keys();
  void d.view();
}

describe('GC of unclosed handles', () => {
  it('releases every handle and the file itself', async () => {
    expect(typeof globalThis.gc).toBe('function');
    const p = join(dir, 'gc.h5');
    {
      using f = File.create(p);
      f.createDataset('g/x', { dtype: 'int32', shape: [100], data: new Int32Array(100).fill(5) });
      f.attrs.set('a', 1);
    }
    await collect(() => false);
    const base = native.mappingStats();
    for (let i = 0; i < 20; i++) leak(p);
    expect(native.mappingStats().handles).toBeGreaterThan(base.handles);
    // Reopening read-write while a read-only handle is still open fails in libhdf5.
    await collect(
      () => native.mappingStats().handles <= base.handles && native.mappingStats().mappings <= base.mappings,
    );
    expect(native.mappingStats().handles).toBe(base.handles);
    expect(native.mappingStats().mappings).toBe(base.mappings);
    using w = File.open(p, { mode: 'r+' });
    w.dataset('g/x').writeSync(new Int32Array(100).fill(6));
  });

  it('a pending read keeps its file alive even if every JS reference is dropped', async () => {
    const p = join(dir, 'gc2.h5');
    {
      using f = File.create(p);
      f.createDataset('x', {
        dtype: 'float64',
        shape: [4096],
        chunks: [256],
        compression: 'gzip',
        data: new Float64Array(4096).fill(2.5),
      });
    }
    const pending = (() => File.open(p).dataset('x').read())();
    globalThis.gc!();
    expect(await pending).toEqual(new Float64Array(4096).fill(2.5));
    await collect(() => false);
    File.open(p, { mode: 'r+' }).close();
  });
});
