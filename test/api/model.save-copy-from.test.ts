/**
 * writeModelInto's copyFrom (the delta pull's rebuild has the kernel copy the
 * tensors a cached version holds instead of writing them from its mapping):
 * libhdf5 writes a prefix of each big uncompressed tensor, which makes it
 * allocate the dataset as a full write does, and copy_file_range fills the
 * rest. The file must come out byte-identical to saveModel's for every shape
 * the prefix rule meets, a wrong source range must only make the file's
 * SHA-256 differ (which the caller checks), and copies are refused without
 * knownSha256 (nothing would check them).
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, loadModel, saveModel, type Tensor, type TypedArray } from '../../lib/index.js';
import { prepareSave, writeModelInto } from '../../lib/model/save.js';
import type { CopySource } from '../../lib/model/placed.js';
import { gaussian, tempDir } from '../helpers.js';

const dir = tempDir('h5vault-copy-from-');
const sha = (b: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
    .digest('hex');
const bytes = (n: number, seed: number) => {
  const a = new Int8Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 31 + seed) % 251) - 125;
  return a;
};

// Each big tensor takes another branch of the prefix rule (save.ts writePrefix).
function model(): Record<string, Tensor> {
  return {
    'flat/w': { dtype: 'float32', shape: [80_000], data: gaussian(80_000, 1) }, // 1-D: a run of elements
    'rows/w': { dtype: 'float32', shape: [3, 30_000], data: gaussian(90_000, 2) }, // rows of 120 KB: 2 rows
    'wide/w': { dtype: 'float64', shape: [2, 40_000], data: Float64Array.from(gaussian(80_000, 3)) }, // part of a row
    'deep/w': { dtype: 'float32', shape: [1, 1, 70_000], data: gaussian(70_000, 4) }, // leading 1s
    'cube/w': { dtype: 'float32', shape: [4, 64, 300], data: gaussian(4 * 64 * 300, 5) }, // whole inner planes
    'int8/w': { dtype: 'int8', shape: [300_000], data: bytes(300_000, 6) },
    'small/b': { dtype: 'float32', shape: [64], data: gaussian(64, 7) }, // below the copy threshold
    'mid/w': { dtype: 'float32', shape: [40_000], data: gaussian(40_000, 8) }, // 160 KB: below it too
    scalar: { dtype: 'float64', shape: [], data: Float64Array.of(2.5) },
    empty: { dtype: 'int32', shape: [0], data: new Int32Array(0) },
  };
}
const shasOf = (m: Record<string, Tensor>) => new Map(Object.entries(m).map(([k, t]) => [k, sha(t.data)]));

/** The saved file's tensors as views of its mapping: their byteOffset is their file offset. */
async function sourceOf(path: string): Promise<{ src: CopySource; tensors: Record<string, Tensor>; close(): void }> {
  const loaded = await loadModel(path);
  const fd = openSync(path, 'r');
  const offsets = new Map<string, number>();
  const tensors: Record<string, Tensor> = {};
  for (const [n, t] of loaded.tensors) {
    tensors[n] = t as Tensor;
    if (loaded.views.has(n)) offsets.set(n, (t.data as TypedArray).byteOffset);
  }
  return {
    src: { fd, offsets },
    tensors,
    close: () => {
      closeSync(fd);
      loaded.close();
    },
  };
}

type Source = Awaited<ReturnType<typeof sourceOf>>;

/** model() saved as `name` (with `metadata`), then `fn` with it open as a copy source, closed after. */
async function withSaved(
  name: string,
  metadata: Record<string, number>,
  fn: (m: Record<string, Tensor>, saved: { path: string; digest: string }, s: Source) => Promise<void>,
): Promise<void> {
  const m = model();
  const saved = await saveModel(join(dir, name), m, { metadata });
  const s = await sourceOf(saved.path);
  try {
    await fn(m, saved, s);
  } finally {
    s.close();
  }
}

describe('writeModelInto with copyFrom', () => {
  it('copies the big tensors file to file and writes the byte-identical file saveModel writes', async () => {
    await withSaved('base.h5', { run: 1 }, async (m, saved, s) => {
      const temp = join(dir, 'copied.h5');
      const w = await writeModelInto(temp, prepareSave(s.tensors, { metadata: { run: 1 } }), shasOf(m), s.src);
      expect(readFileSync(temp).equals(readFileSync(saved.path))).toBe(true);
      expect(w.digest).toBe(saved.digest);
      // Every tensor of 256 KiB or more, less the 128 KiB prefix (rounded up to whole rows/elements) libhdf5 wrote.
      const big = ['flat/w', 'rows/w', 'wide/w', 'deep/w', 'cube/w', 'int8/w'];
      const total = big.reduce((a, n) => a + m[n]!.data.byteLength, 0);
      const prefixes = 128 * 1024 + 2 * 120_000 + 128 * 1024 + 128 * 1024 + 2 * 64 * 300 * 4 + 128 * 1024;
      expect(s.src.copied).toBe(total - prefixes);
    });
  });

  it('a source range that is off by a few bytes is written as copied: the file SHA-256 differs, nothing throws', async () => {
    await withSaved('base2.h5', {}, async (m, saved, s) => {
      const shifted: CopySource = {
        fd: s.src.fd,
        offsets: new Map([...s.src.offsets].map(([n, o]) => [n, o + 4])),
      };
      const temp = join(dir, 'shifted.h5');
      const w = await writeModelInto(temp, prepareSave(s.tensors, {}), shasOf(m), shifted);
      expect(w.digest).not.toBe(saved.digest);
      expect(shifted.copied).toBeGreaterThan(0);
    });
  });

  it('a source range past the end of the source file is H5_CORRUPT', async () => {
    await withSaved('base3.h5', {}, async (m, saved, s) => {
      const past: CopySource = { fd: s.src.fd, offsets: new Map([['int8/w', readFileSync(saved.path).length - 1000]]) };
      const temp = join(dir, 'past.h5');
      await expect(writeModelInto(temp, prepareSave(s.tensors, {}), shasOf(m), past)).rejects.toMatchObject({
        code: 'H5_CORRUPT',
      });
    });
  });

  it('copyFrom without knownSha256 is a TypeError and writes nothing', async () => {
    await withSaved('base4.h5', {}, async (_m, _saved, s) => {
      const temp = join(dir, 'unchecked.h5');
      await expect(writeModelInto(temp, prepareSave(s.tensors, {}), undefined, s.src)).rejects.toThrow(TypeError);
      expect(existsSync(temp)).toBe(false);
    });
  });
});

// A delta pull's downloads: each big tensor's memory is filled when it arrives, and the writer goes on meanwhile.
describe('writeModelInto with tensors still arriving (PreparedSave.ready)', () => {
  const big = ['cube/w', 'deep/w', 'flat/w', 'int8/w', 'rows/w', 'wide/w']; // 'wide/w' is the last in name order
  /** model() with the big tensors' memory empty, and what fills it. */
  function arriving() {
    const m = model();
    const empty: Record<string, Tensor> = { ...m };
    for (const n of big) {
      const t = m[n]!;
      const C = t.data.constructor as new (n: number) => TypedArray;
      empty[n] = { ...t, data: new C(t.data.length) } as Tensor;
    }
    const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const fill = (n: string) => u8(empty[n]!.data).set(u8(m[n]!.data));
    return { m, empty, fill };
  }

  it('writes the tensors after one still arriving without waiting for it, and the file is byte-identical', async () => {
    const { m, empty, fill } = arriving();
    const saved = await saveModel(join(dir, 'arrive-ref.h5'), m, {});
    const p = prepareSave(empty, {});
    const asked: string[] = [];
    const pending = new Map<string, () => void>();
    let flushed = false;
    p.ready = (name) => {
      asked.push(name);
      if (name === 'wide/w' && !flushed) {
        // Every tensor has been asked for: only now do the big ones arrive, in reverse order.
        flushed = true;
        setImmediate(() => {
          for (const n of [...big].reverse()) {
            fill(n);
            pending.get(n)?.();
          }
        });
      }
      if (!big.includes(name)) return undefined;
      return new Promise<void>((r) => pending.set(name, r));
    };
    const temp = join(dir, 'arrived.h5');
    const w = await writeModelInto(temp, p, shasOf(m));
    expect(asked).toEqual(Object.keys(m).sort());
    expect(w.digest).toBe(saved.digest);
    expect(readFileSync(temp).equals(readFileSync(saved.path))).toBe(true);
  });

  it('a tensor whose download fails fails the write with that error', async () => {
    const { m, empty, fill } = arriving();
    const p = prepareSave(empty, {});
    const failure = new H5Error('tensor flat/w: checksum mismatch', { code: 'H5_CHECKSUM_MISMATCH' });
    p.ready = (name) => {
      if (!big.includes(name)) return undefined;
      if (name === 'flat/w') return Promise.reject(failure);
      fill(name);
      return Promise.resolve();
    };
    await expect(writeModelInto(join(dir, 'failed.h5'), p, shasOf(m))).rejects.toMatchObject({
      code: 'H5_CHECKSUM_MISMATCH',
    });
  });

  it('an aborted write ends without waiting for a tensor that never arrives: H5_ABORTED', async () => {
    const { m, empty, fill } = arriving();
    const ac = new AbortController();
    const p = prepareSave(empty, { signal: ac.signal });
    p.ready = (name) => {
      if (name === 'wide/w') ac.abort();
      if (!big.includes(name)) return undefined;
      if (name === 'flat/w') return new Promise<void>(() => {}); // never
      fill(name);
      return Promise.resolve();
    };
    await expect(writeModelInto(join(dir, 'aborted.h5'), p, shasOf(m))).rejects.toMatchObject({
      code: 'H5_ABORTED',
    });
  });
});
