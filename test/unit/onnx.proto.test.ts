/** The protobuf wire-format subset behind linkOnnx: varints, field splitting, bounds checks, byte-exact rewriting. */
import { describe, it, expect } from 'vitest';
import { H5Error } from '../../lib/index.js';
import {
  lenField,
  readFields,
  readVarint,
  repeatedInts,
  stringField,
  varintBytes,
  varintField,
} from '../../lib/onnx/proto.js';
import { listInitializers, relinkInitializers } from '../../lib/onnx/model.js';

const cat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof H5Error ? e.code : (e as Error).name;
  }
  return undefined;
}

/** A TensorProto: dims (packed), data_type, name, raw_data, plus an unknown field 99. */
function tensor(name: string, dims: number[], raw: number[]): Uint8Array[] {
  return [
    ...lenField(1, [cat(dims.map(varintBytes))]),
    ...varintField(2, 1),
    ...stringField(8, name),
    ...lenField(9, [Uint8Array.from(raw)]),
    ...varintField(99, 5),
  ];
}

describe('protobuf wire format', () => {
  it('varints round-trip up to 2^53 - 1, in the minimal number of bytes', () => {
    for (const n of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const b = varintBytes(n);
      expect(readVarint(b, 0, b.length)).toEqual({ value: n, next: b.length });
    }
    expect([...varintBytes(300)]).toEqual([0xac, 0x02]);
    expect(() => varintBytes(-1)).toThrow(RangeError);
  });

  it('splits a message into fields and reads packed and unpacked repeated ints alike', () => {
    const msg = cat([...lenField(1, [Uint8Array.of(3, 0xac, 0x02)]), ...varintField(1, 7), ...stringField(8, 'w')]);
    const f = readFields(msg);
    expect(f.map((x) => [x.num, x.wire])).toEqual([
      [1, 2],
      [1, 0],
      [8, 2],
    ]);
    expect(repeatedInts(msg, f, 1)).toEqual([3, 300, 7]);
  });

  it('refuses truncated, overlong and out-of-bounds input with H5_ONNX_INVALID', () => {
    expect(code(() => readFields(Uint8Array.of(0x08)))).toBe('H5_ONNX_INVALID'); // tag, no value
    expect(code(() => readFields(Uint8Array.of(0x0a, 0x05, 1, 2)))).toBe('H5_ONNX_INVALID'); // length past end
    expect(code(() => readFields(Uint8Array.of(0x08, ...new Array(11).fill(0xff))))).toBe('H5_ONNX_INVALID'); // 11-byte varint
    expect(code(() => readFields(Uint8Array.of(0x0b)))).toBe('H5_ONNX_INVALID'); // wire type 3 (group)
    expect(code(() => readFields(Uint8Array.of(0x00, 0x00)))).toBe('H5_ONNX_INVALID'); // field number 0
    expect(code(() => listInitializers(cat(stringField(1, 'no graph'))))).toBe('H5_ONNX_INVALID');
  });

  it('relinking replaces only the data fields of the chosen tensor; every other byte is kept', () => {
    const keep = cat(tensor('keep', [2], [1, 2, 3, 4, 5, 6, 7, 8]));
    const link = cat(tensor('link', [1, 2], [9, 9, 9, 9, 9, 9, 9, 9]));
    const graph = cat([...stringField(2, 'g'), ...lenField(5, [keep]), ...lenField(5, [link]), ...varintField(77, 1)]);
    const model = cat([...varintField(1, 8), ...lenField(7, [graph]), ...stringField(2, 'producer')]);
    const inits = listInitializers(model);
    expect(inits.map((i) => [i.name, i.dims, i.dataType, i.raw!.length])).toEqual([
      ['keep', [2], 1, 8],
      ['link', [1, 2], 1, 8],
    ]);
    expect(relinkInitializers(model, () => undefined)).toBeUndefined();
    const out = cat(
      relinkInitializers(model, (i) =>
        i.name === 'link' ? { location: 'w.h5', offset: 4096, length: 8 } : undefined,
      )!,
    );
    const after = listInitializers(out);
    expect({ ...after[0], raw: undefined }).toEqual({ ...inits[0], raw: undefined });
    expect([...after[0]!.raw!]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(after[1]).toMatchObject({ name: 'link', dims: [1, 2], external: true, raw: undefined });
    // Unchanged bytes: the model header, the first tensor, the unknown fields.
    const hex = Buffer.from(out).toString('hex');
    expect(hex.startsWith(Buffer.from(cat(varintField(1, 8))).toString('hex'))).toBe(true);
    expect(hex).toContain(Buffer.from(keep).toString('hex'));
    expect(hex).toContain(Buffer.from(cat(varintField(77, 1))).toString('hex'));
    expect(hex).toContain(Buffer.from(cat(varintField(99, 5))).toString('hex'));
    expect(hex.endsWith(Buffer.from(cat(stringField(2, 'producer'))).toString('hex'))).toBe(true);
    expect(Buffer.from(out).includes(Buffer.from('location'))).toBe(true);
  });
});
