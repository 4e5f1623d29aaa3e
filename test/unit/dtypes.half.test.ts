/**
 * float16 / bfloat16 conversions, exhaustively: every one of the 65536 bit
 * patterns, plus float32/float64 inputs around every rounding boundary,
 * against numpy (float16) and an independent exact reference (bfloat16; numpy
 * has none). Bits are compared, so -0, subnormals and Inf must be exact; NaN
 * must stay NaN (payloads are not promised).
 */
import { describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat32,
  bfloat16ToNumber,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  halfToNumber,
  numberToBfloat16,
  numberToHalf,
} from '../../lib/index.js';
import { python, requirePeers, rng, tempDir } from '../helpers.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

requirePeers();

const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);
const u32 = (f: Float32Array) => new Uint32Array(f.buffer, f.byteOffset, f.length);

/** Runs numpy on raw little-endian bytes (through temp files: too big for argv), returns raw bytes. */
const tmp = tempDir();
function numpy(expr: string, input: ArrayBufferView): Buffer {
  const inPath = join(tmp, 'in.bin'),
    outPath = join(tmp, 'out.bin');
  writeFileSync(inPath, new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
  python(`import sys, numpy as np\nx = open(sys.argv[1], 'rb').read()\nopen(sys.argv[2], 'wb').write(${expr})`, [
    inPath,
    outPath,
  ]);
  return readFileSync(outPath);
}

const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isBf16NaN = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

/** Half values half-way between neighbours (ties), just above and below them, in float32. */
function boundaryFloats(): Float32Array {
  const out: number[] = [];
  const f = float16ToFloat32(ALL);
  for (let h = 0; h < 0x7c00; h++) {
    const a = f[h]!,
      b = h + 1 < 0x7c00 ? f[h + 1]! : 65536;
    const mid = (a + b) / 2;
    out.push(mid, -mid, Math.fround(mid * (1 + 2 ** -20)), Math.fround(mid * (1 - 2 ** -20)));
  }
  out.push(65519, 65520, 65521, 1e6, 2 ** -25, 2 ** -26, 3 * 2 ** -26, 2 ** -24 * 1.5);
  return Float32Array.from(out);
}

describe('float16', () => {
  it('every bit pattern to float32 matches numpy (NaN stays NaN)', () => {
    const ours = u32(float16ToFloat32(ALL));
    const ref = new Uint32Array(new Uint8Array(numpy(`np.frombuffer(x, '<f2').astype('<f4').tobytes()`, ALL)).buffer);
    let nan = 0;
    for (let h = 0; h < 65536; h++) {
      if (isHalfNaN(h)) {
        expect(Number.isNaN(halfToNumber(h))).toBe(true);
        nan++;
        continue;
      }
      if (ours[h] !== ref[h])
        expect.fail(`half 0x${h.toString(16)}: ours 0x${ours[h]!.toString(16)} numpy 0x${ref[h]!.toString(16)}`);
      expect(Object.is(halfToNumber(h), new Float32Array(new Uint32Array([ref[h]!]).buffer)[0])).toBe(true);
    }
    expect(nan).toBe(2 * 1023);
  });

  it('every non-NaN bit pattern survives half -> float32 -> half', () => {
    const back = float32ToFloat16(float16ToFloat32(ALL));
    for (let h = 0; h < 65536; h++) {
      if (isHalfNaN(h)) expect(isHalfNaN(back[h]!)).toBe(true);
      else if (back[h] !== h) expect.fail(`0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  it('float32 -> half rounds to nearest even like numpy: ties, subnormals, overflow, random patterns', () => {
    const r = rng(42);
    const random = Uint32Array.from({ length: 100_000 }, () => Math.floor(r() * 2 ** 32));
    const inputs = new Float32Array(boundaryFloats().length + random.length);
    inputs.set(boundaryFloats());
    u32(inputs).set(random, boundaryFloats().length);
    const ours = float32ToFloat16(inputs);
    const ref = new Uint16Array(
      new Uint8Array(numpy(`np.frombuffer(x, '<f4').astype('<f2').tobytes()`, inputs)).buffer,
    );
    for (let i = 0; i < inputs.length; i++) {
      if (isHalfNaN(ref[i]!)) expect(isHalfNaN(ours[i]!)).toBe(true);
      else if (ours[i] !== ref[i])
        expect.fail(
          `${inputs[i]} (0x${u32(inputs)[i]!.toString(16)}): ours 0x${ours[i]!.toString(16)} numpy 0x${ref[i]!.toString(16)}`,
        );
    }
  });

  it('numberToHalf rounds float64 inputs once, like numpy (no double rounding through float32)', () => {
    const halfs = float16ToFloat32(ALL);
    const xs: number[] = [];
    for (let h = 0; h < 0x7bff; h += 7) {
      const mid = (halfs[h]! + halfs[h + 1]!) / 2;
      // Just off the tie by less than a float32 ulp: float32 would land on the tie.
      xs.push(mid + mid * 2 ** -40, mid - mid * 2 ** -40, -(mid + mid * 2 ** -40));
    }
    xs.push(65520 - 2 ** -20, 65520, 2 ** -25 + 2 ** -60, 2 ** -25 - 2 ** -60);
    const input = Float64Array.from(xs);
    const ref = new Uint16Array(new Uint8Array(numpy(`np.frombuffer(x, '<f8').astype('<f2').tobytes()`, input)).buffer);
    const ours = Uint16Array.from(xs, numberToHalf);
    for (let i = 0; i < xs.length; i++) {
      if (ours[i] !== ref[i]) expect.fail(`${xs[i]}: ours 0x${ours[i]!.toString(16)} numpy 0x${ref[i]!.toString(16)}`);
    }
  });
});

/** Exact round-to-nearest-even of a float64 to bfloat16 bits, by arithmetic on exact values. */
function refBfloat16(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const f = new Float32Array(1);
  const b = new Uint32Array(f.buffer);
  // Truncate towards zero to a bfloat16 (clear low 16 bits of the float32 at or below |x|).
  f[0] = x;
  if (Math.abs(f[0]!) > Math.abs(x)) b[0] = b[0]! - 1; // float32 rounded away from zero: step back
  const lo = b[0]! >>> 16;
  const loVal = bfloat16ToNumber(lo);
  // Past the largest finite bfloat16 the next step is where 2^128 would be.
  const hiVal = ((lo + 1) & 0x7fff) === 0x7f80 ? Math.sign(x) * 2 ** 128 : bfloat16ToNumber(lo + 1);
  if (Math.abs(x) >= 2 ** 128) return x > 0 ? 0x7f80 : 0xff80;
  const dLo = Math.abs(x - loVal),
    dHi = Math.abs(hiVal - x);
  if (dLo < dHi) return lo;
  if (dHi < dLo) return (lo + 1) & 0xffff;
  return lo & 1 ? (lo + 1) & 0xffff : lo;
}

describe('bfloat16', () => {
  it('every bit pattern converts to float32 exactly (the high half of the float32)', () => {
    const ours = u32(bfloat16ToFloat32(ALL));
    for (let h = 0; h < 65536; h++) {
      if (ours[h] !== (h << 16) >>> 0) expect.fail(`0x${h.toString(16)}`);
      if (!isBf16NaN(h))
        expect(Object.is(bfloat16ToNumber(h), new Float32Array(new Uint32Array([h << 16]).buffer)[0])).toBe(true);
    }
  });

  it('every non-NaN bit pattern survives bfloat16 -> float32 -> bfloat16; NaN stays NaN', () => {
    const back = float32ToBfloat16(bfloat16ToFloat32(ALL));
    for (let h = 0; h < 65536; h++) {
      if (isBf16NaN(h)) expect(isBf16NaN(back[h]!)).toBe(true);
      else if (back[h] !== h) expect.fail(`0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  it('float32 -> bfloat16 rounds to nearest even: ties, overflow to Inf, random patterns', () => {
    const r = rng(7);
    const xs = new Float32Array(200_000);
    const bits = u32(xs);
    for (let i = 0; i < bits.length; i++) bits[i] = Math.floor(r() * 2 ** 32);
    // Exact ties and their neighbours for a spread of exponents.
    for (let i = 0; i < 4096; i++) bits[i] = (((i * 16) << 16) | 0x8000) + ((i % 3) - 1);
    bits[4096] = 0x7f7fffff; // max float32 rounds to Inf
    bits[4097] = 0x7f7f7fff; // just below the tie: stays finite
    const ours = float32ToBfloat16(xs);
    for (let i = 0; i < xs.length; i++) {
      const want = refBfloat16(xs[i]!);
      if (Number.isNaN(xs[i]!)) expect(isBf16NaN(ours[i]!)).toBe(true);
      else if (ours[i] !== want)
        expect.fail(`0x${bits[i]!.toString(16)}: ours 0x${ours[i]!.toString(16)} want 0x${want.toString(16)}`);
    }
  });

  it('numberToBfloat16 rounds float64 inputs once (no double rounding through float32)', () => {
    const xs: number[] = [];
    for (let h = 0x0080; h < 0x7f7f; h += 37) {
      const mid = (bfloat16ToNumber(h) + bfloat16ToNumber(h + 1)) / 2;
      xs.push(mid + mid * 2 ** -40, mid - mid * 2 ** -40, -(mid - mid * 2 ** -40));
    }
    for (const x of xs) {
      const got = numberToBfloat16(x);
      if (got !== refBfloat16(x)) expect.fail(`${x}: ours 0x${got.toString(16)} want 0x${refBfloat16(x).toString(16)}`);
    }
  });
});
