// openSafetensors on files written by an independent writer (Python json +
// struct + numpy, by hand) and on the reference implementation's published
// byte examples: every dtype, zero-copy views of the mapping, copies only
// for misaligned tensors, non-regular files refused without blocking.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, openSafetensors } from '../../lib/index.js';
import { native } from '../../lib/addon/binding.js';
import { requirePeers, tempDir } from '../helpers.js';
import { hex, pyRead, pyWrite } from './st.helpers.js';
import { REFERENCE_VECTORS } from './vectors.js';

requirePeers();
const dir = tempDir('h5vault-st-');

/** Runs GC until `until()` holds (at most 50 rounds); vitest runs with --expose-gc. */
async function collect(until: () => boolean, rounds = 50): Promise<void> {
  for (let i = 0; i < rounds && !until(); i++) {
    globalThis.gc!();
    await new Promise((r) => setTimeout(r, 5));
  }
}

// [name, safetensors dtype, shape, numpy expression], laid out in this order.
const ALL: [string, string, number[], string][] = [
  ['f64', 'F64', [2, 3], "np.array([[0, -0.0, np.pi], [-1e308, np.inf, np.nan]], '<f8')"],
  ['f32', 'F32', [4], "np.array([1.5, -3.25e38, 0, 1e-45], '<f4')"],
  ['f16', 'F16', [3], "np.array([1, -2, 65504], '<f2')"],
  ['bf16', 'BF16', [3], "np.array([0x3f80, 0xc000, 0x7f7f], '<u2')"],
  ['i64', 'I64', [2], "np.array([-2**63, 2**63 - 1], '<i8')"],
  ['i32', 'I32', [2], "np.array([-2**31, 2**31 - 1], '<i4')"],
  ['i16', 'I16', [2], "np.array([-32768, 32767], '<i2')"],
  ['u64', 'U64', [2], "np.array([0, 2**64 - 1], '<u8')"],
  ['u32', 'U32', [2], "np.array([0, 2**32 - 1], '<u4')"],
  ['u16', 'U16', [2], "np.array([0, 65535], '<u2')"],
  ['i8', 'I8', [2], "np.array([-128, 127], 'i1')"],
  ['u8', 'U8', [2], "np.array([0, 255], 'u1')"],
  ['bool', 'BOOL', [3], 'np.array([True, False, True])'],
  ['f8e4m3', 'F8_E4M3', [2], "np.array([0x38, 0xb8], 'u1')"],
  ['f8e5m2', 'F8_E5M2', [2], "np.array([0x3c, 0xbc], 'u1')"],
  ['scalar', 'F32', [], "np.array(2.5, '<f4')"],
  ['empty', 'F32', [2, 0], "np.zeros((2, 0), '<f4')"],
];

const H5_DTYPE: Record<string, string> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U64: 'uint64',
  U32: 'uint32',
  U16: 'uint16',
  U8: 'uint8',
  BOOL: 'bool',
  F8_E4M3: 'uint8',
  F8_E5M2: 'uint8',
};

describe('openSafetensors reads what an independent writer wrote', () => {
  it('every dtype, with names, shapes, bytes and metadata equal to the Python side', async () => {
    const p = join(dir, 'all.safetensors');
    pyWrite(p, ALL, { format: 'pt', note: 'ünïcode ✓' });
    const ref = pyRead(p);
    await using_(await openSafetensors(p), (st) => {
      expect(st.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
      expect([...st.tensors.keys()]).toEqual([...ALL.map((a) => a[0])].sort());
      for (const [name, stDtype, shape] of ALL) {
        const t = st.tensors.get(name)!;
        expect(t.safetensorsDtype).toBe(stDtype);
        expect(t.dtype).toBe(H5_DTYPE[stDtype]);
        expect(t.shape).toEqual(shape);
        expect(hex(t.data)).toBe(ref.tensors[name]!.hex);
        expect(t.offset).toBe(8 + ref.n + ref.tensors[name]!.offsets[0]);
      }
      expect(st.tensors.get('f32')!.data).toBeInstanceOf(Float32Array);
      expect(st.tensors.get('i64')!.data).toBeInstanceOf(BigInt64Array);
      expect(st.tensors.get('bf16')!.data).toBeInstanceOf(Uint16Array);
      expect(st.tensors.get('f8e4m3')!.data).toBeInstanceOf(Uint8Array);
      expect((st.tensors.get('u64')!.data as BigUint64Array)[1]).toBe(2n ** 64n - 1n);
    });
  });

  it('tensors are views sharing one mapping of the file (no copy) and writes into them stay private', async () => {
    const p = join(dir, 'views.safetensors');
    pyWrite(p, [
      ['a', 'F32', [256], "np.arange(256, dtype='<f4')"],
      ['b', 'F32', [256], "np.arange(256, dtype='<f4') * 2"],
    ]);
    const before = readFileSync(p);
    await collect(() => false, 5); // mappings of earlier tests are released first
    const stats0 = native.mappingStats();
    const st = await openSafetensors(p);
    expect(native.mappingStats().mappings).toBe(stats0.mappings + 1);
    expect(native.mappingStats().bytes).toBe(stats0.bytes + st.size);
    const a = st.tensors.get('a')!.data as Float32Array;
    const b = st.tensors.get('b')!.data as Float32Array;
    expect(st.views).toEqual(new Set(['a', 'b']));
    expect(st.copied.size).toBe(0);
    // One buffer, the size of the file: both tensors are windows on the same mapping.
    expect(a.buffer).toBe(b.buffer);
    expect(a.buffer.byteLength).toBe(before.length);
    const whole = new Uint8Array(a.buffer);
    a[1] = 12345; // lands on a private copy-on-write page
    expect(new Float32Array(whole.buffer, st.tensors.get('a')!.offset, 256)[1]).toBe(12345);
    st.close();
    expect(Buffer.compare(readFileSync(p), before)).toBe(0);
  });

  it('a misaligned tensor is copied and flagged; the aligned ones are still views', async () => {
    const p = join(dir, 'misaligned.safetensors');
    // 3 bytes of U8 first: the F32 that follows starts at an odd offset.
    pyWrite(p, [
      ['odd', 'U8', [3], "np.array([1, 2, 3], 'u1')"],
      ['w', 'F32', [4], "np.array([1, 2, 3, 4], '<f4')"],
    ]);
    using st = await openSafetensors(p);
    const w = st.tensors.get('w')!;
    expect(w.offset % 4).not.toBe(0);
    expect(w.copied).toBe(true);
    expect(st.copied).toEqual(new Set(['w']));
    expect(Array.from(w.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(w.data.buffer.byteLength).toBe(16); // its own memory, not the mapping
    expect(st.tensors.get('odd')!.copied).toBe(false);
  });

  it('{ copy: true } copies every tensor', async () => {
    const p = join(dir, 'copy.safetensors');
    pyWrite(p, [['w', 'F32', [4], "np.array([1, 2, 3, 4], '<f4')"]]);
    using st = await openSafetensors(p, { copy: true });
    expect(st.tensors.get('w')!.copied).toBe(true);
    expect(st.views.size).toBe(0);
  });

  it("tensors in any header order and the reference's published byte examples", async () => {
    for (const v of REFERENCE_VECTORS.filter((x) => x.ok)) {
      const p = join(dir, `${v.name}.safetensors`);
      writeFileSync(p, v.bytes);
      using st = await openSafetensors(p);
      expect([...st.tensors.keys()], v.name).toEqual(v.names);
      for (const [name, t] of st.tensors) {
        expect(t.shape, v.name).toEqual(v.shapes![name]);
        expect(t.byteLength, v.name).toBe(v.byteLengths![name]);
      }
    }
  });

  it('views outlive close() and the mapping is released when they are collected', async () => {
    const p = join(dir, 'life.safetensors');
    pyWrite(p, [['w', 'F32', [1024], "np.arange(1024, dtype='<f4')"]]);
    await collect(() => false, 5);
    const base = native.mappingStats().mappings;
    let w: Float32Array | undefined = await (async () => {
      const st = await openSafetensors(p);
      const data = st.tensors.get('w')!.data as Float32Array;
      st.close();
      return data;
    })();
    await collect(() => false, 5);
    expect(native.mappingStats().mappings).toBe(base + 1); // the view holds it
    expect(w[1023]).toBe(1023);
    w = undefined;
    await collect(() => native.mappingStats().mappings === base);
    expect(native.mappingStats().mappings).toBe(base);
  });

  it('a FIFO is refused without waiting for a writer; a missing file is H5_FILE_NOT_FOUND', async () => {
    const fifo = join(dir, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    const e = await openSafetensors(fifo).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_OPEN_FAILED');
    expect((e as H5Error).message).toMatch(/not a regular file/);
    const d = await openSafetensors(dir).catch((x: unknown) => x);
    expect((d as H5Error).code).toBe('H5_OPEN_FAILED');
    const m = await openSafetensors(join(dir, 'missing.safetensors')).catch((x: unknown) => x);
    expect((m as H5Error).code).toBe('H5_FILE_NOT_FOUND');
  });

  it('dtypes h5vault cannot represent (F4, C64) are H5_UNSUPPORTED_TYPE naming the tensor', async () => {
    const p = join(dir, 'c64.safetensors');
    pyWrite(p, [['z', 'C64', [2], "np.array([1+2j, 3-4j], '<c8')"]]);
    const e = await openSafetensors(p).catch((x: unknown) => x);
    expect((e as H5Error).code).toBe('H5_UNSUPPORTED_TYPE');
    expect((e as H5Error & { tensor: string }).tensor).toBe('z');
  });
});

async function using_<T extends { close(): void }>(x: T, fn: (x: T) => void | Promise<void>): Promise<void> {
  try {
    await fn(x);
  } finally {
    x.close();
  }
}
