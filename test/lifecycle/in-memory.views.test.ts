// Views over a file opened from memory (File.fromBuffer) keep the image's
// memory alive after close() and after the File and the caller's Buffer are
// collected; the memory goes once the last view is collected.
import { describe, expect, it } from 'vitest';
import { readdirSync, readlinkSync } from 'node:fs';
import { File } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { gaussian } from '../helpers.js';

const gc = (globalThis as { gc?: () => void }).gc;

function imageDescriptors(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes('h5vault-image')) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
}

function image(values: Float32Array): Buffer {
  const f = File.createInMemory();
  f.createDataset('w', { dtype: 'float32', shape: [values.length], data: values });
  const b = f.toBuffer();
  f.close();
  return b;
}

describe('views over an in-memory image', () => {
  it('outlive close(), the File and the source Buffer; the memory is released with the last view', async () => {
    expect(gc, 'run with --expose-gc (vitest.config.ts sets it)').toBeTypeOf('function');
    await collect();
    const baseMappings = native.mappingStats().mappings;
    const baseFds = imageDescriptors();
    const w = gaussian(1 << 16, 7);
    let view: Float32Array | undefined = (() => {
      let bytes: Buffer | undefined = image(w);
      const f = File.fromBuffer(bytes);
      const v = f.dataset('w').view() as Float32Array;
      f.close();
      bytes.fill(0);
      bytes = undefined;
      return v;
    })();
    await collect();
    expect(native.mappingStats().mappings).toBe(baseMappings + 1);
    expect(Buffer.compare(Buffer.from(view.buffer, view.byteOffset, view.byteLength), Buffer.from(w.buffer))).toBe(0);
    view = undefined;
    await collect();
    expect(native.mappingStats().mappings).toBe(baseMappings);
    expect(imageDescriptors()).toBe(baseFds);
  });

  it('1000 open/view/close cycles of an image leave no mapping or descriptor behind', async () => {
    await collect();
    const baseMappings = native.mappingStats().mappings;
    const baseFds = imageDescriptors();
    const bytes = image(gaussian(4096, 1));
    const cycle = () => {
      const f = File.fromBuffer(bytes);
      const v = f.dataset('w').view() as Float32Array;
      if (v.length !== 4096) throw new Error('bad view');
      f.close();
    };
    for (let i = 0; i < 1000; i++) cycle();
    await collect();
    await collect();
    expect({ mappings: native.mappingStats().mappings, fds: imageDescriptors() }).toEqual({
      mappings: baseMappings,
      fds: baseFds,
    });
  });
});
