// Budgets of the safetensors header parser (issue 21 #11, #15): strict
// integers and well-formed Unicode as the reference reader, a nesting depth
// of 127 (serde_json's), memory a small multiple of the header (measured as
// peak RSS of a child process) and large headers parsed off the event loop.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, openSafetensors } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { childPeak } from '../child-peak.js';

const dir = tempDir('h5vault-st-budget-');
let seq = 0;

function file(header: string, data = 0): string {
  const h = Buffer.from(header, 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(h.length));
  const p = join(dir, `b${seq++}.safetensors`);
  writeFileSync(p, Buffer.concat([size, h, Buffer.alloc(data)]));
  return p;
}

async function reason(p: string): Promise<string> {
  const e = await openSafetensors(p).then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'the file was accepted').toBeInstanceOf(H5Error);
  expect((e as H5Error).code).toBe('H5_SAFETENSORS_INVALID');
  return (e as H5Error & { reason: string }).reason;
}

const entry = (shape: string, offsets: string): string =>
  `{"a":{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}}`;

describe('safetensors header: integers only, as the reference reads u64 fields', () => {
  it('4.0, 4e0 and 4E0 are refused as a shape entry or an offset; 4 is read', async () => {
    for (const bad of ['4.0', '4e0', '4E0', '0.4e1']) {
      expect(await reason(file(entry(`[${bad}]`, '[0,16]'), 16)), `shape ${bad}`).toBe('bad-tensor-entry');
      expect(await reason(file(entry('[4]', `[0,${bad === '4.0' ? '16.0' : '1.6e1'}]`), 16)), `offset ${bad}`).toBe(
        'bad-tensor-entry',
      );
    }
    expect(await reason(file(entry('[4]', '[0e0,16]'), 16))).toBe('bad-tensor-entry');
    expect(await reason(file(entry('[-0]', '[0,0]'), 0))).toBe('bad-tensor-entry');
    const st = await openSafetensors(file(entry('[4]', '[0,16]'), 16));
    expect(st.tensors.get('a')!.shape).toEqual([4]);
  });
});

describe('safetensors header: names and metadata must be well-formed Unicode', () => {
  it('a lone surrogate escape in a tensor name, a metadata key or value is refused', async () => {
    const t = (name: string): string => `{"${name}":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`;
    expect(await reason(file(t('w\\ud800'), 1))).toBe('not-unicode');
    expect(await reason(file(t('w\\udc00x'), 1))).toBe('not-unicode');
    expect(await reason(file(t('\\ud800\\u0041'), 1))).toBe('not-unicode');
    expect(await reason(file('{"__metadata__":{"k\\udbff":"v"}}'))).toBe('not-unicode');
    expect(await reason(file('{"__metadata__":{"k":"\\ud800"}}'))).toBe('not-unicode');
    // A surrogate pair, escaped or as UTF-8, is one character: accepted.
    const st = await openSafetensors(file(`{"__metadata__":{"e":"\\ud83d\\ude00"},${t('w😀').slice(1)}`, 1));
    expect(st.metadata).toEqual({ e: '😀' });
    expect([...st.tensors.keys()]).toEqual(['w😀']);
  });
});

describe('safetensors header: nesting depth and counts', () => {
  it('nesting of 127 levels is read, 128 is refused (serde_json refuses the 128th), naming the limit', async () => {
    // Depth 1 is the header object, 2 the tensor entry, the extra field holds the rest.
    const nest = (d: number): string =>
      `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${'['.repeat(d - 2)}${']'.repeat(d - 2)}}}`;
    await expect(openSafetensors(file(nest(127), 1))).resolves.toBeTruthy();
    const e = (await openSafetensors(file(nest(128), 1)).catch((x: unknown) => x)) as H5Error & {
      reason: string;
      limit: string;
      max: number;
    };
    expect([e.code, e.reason, e.limit, e.max]).toEqual(['H5_SAFETENSORS_INVALID', 'too-deep', 'depth', 127]);
  });

  it('__metadata__ with more than 65,536 entries is refused naming the limit', async () => {
    const keys = Array.from({ length: 65_537 }, (_, i) => `"k${i}":""`).join(',');
    const e = (await openSafetensors(file(`{"__metadata__":{${keys}}}`)).catch((x: unknown) => x)) as H5Error & {
      reason: string;
      limit: string;
    };
    expect([e.reason, e.limit]).toEqual(['too-many-entries', 'metadata-entries']);
  });

  it('a 10 MB nesting bomb is refused typed with peak memory far below what parsing it took (~570 MB)', () => {
    const d = 5_000_000;
    const p = file(`{"__metadata__":${'['.repeat(d)}${']'.repeat(d)}}`);
    const r = childPeak(
      `
      const { openSafetensors } = await import(process.env.DIST + '/index.js');
      const e = await openSafetensors(process.env.P).then(() => null, (x) => x);
      out.result = e && [e.code, e.reason, e.limit].join(' ');`,
      { P: p },
    );
    expect(r.result).toBe('H5_SAFETENSORS_INVALID too-deep depth');
    // Header 10 MB: the mapping, one copy for the worker, its decoded text and the worker's heap.
    expect(r.growthMb).toBeLessThan(150);
  });

  it('a header of 100,000 tensors (5 MB) costs memory proportional to it, and the event loop keeps turning while it is parsed', () => {
    const n = 100_000;
    const parts = Array.from(
      { length: n },
      (_, i) => `"t${i}":{"dtype":"U8","shape":[1],"data_offsets":[${i},${i + 1}]}`,
    );
    const p = file(`{${parts.join(',')}}`, n);
    const r = childPeak(
      `
      const { openSafetensors } = await import(process.env.DIST + '/index.js');
      let ticks = 0, pending = true;
      const spin = () => { if (pending) { ticks++; setImmediate(spin); } };
      setImmediate(spin);
      const st = await openSafetensors(process.env.P);
      pending = false;
      out.result = st.tensors.size + ' ' + st.tensors.get('t99999').data[0];
      out.ticks = ticks;`,
      { P: p },
    );
    expect(r.result).toBe(`${n} 0`);
    // Parsed in one synchronous call before, the loop turned only while the file was mapped.
    expect(r.ticks).toBeGreaterThan(100);
    // Before: JSON.parse's object graph plus a Set per object, ~23x the header at 99 MB.
    expect(r.growthMb).toBeLessThan(150);
  });
});
