/**
 * The few pieces of the protobuf wire format that rewriting an ONNX model's
 * initializers needs, and nothing else: split a message into its fields,
 * re-emit fields byte for byte, and encode the handful of new ones.
 *
 * Rewriting never re-serialises a message it does not change: a field is
 * copied as the exact bytes it had, so unknown fields, field order, packed or
 * unpacked encodings and producer quirks all survive. Only the length
 * prefixes of the messages on the path to a changed TensorProto are new.
 */
import { H5Error } from '../errors.js';

/** Wire types used by proto3 (groups, 3 and 4, are refused). */
export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

export interface Field {
  /** Field number. */
  num: number;
  wire: number;
  /** Where the whole field (tag included) lies in the buffer. */
  start: number;
  end: number;
  /** For LEN fields: the payload; for VARINT: the value (as a number, exact below 2^53). */
  payloadStart: number;
  payloadEnd: number;
  varint?: number;
}

/** The wire format is broken: an H5Error H5_ONNX_INVALID saying where. */
export function invalid(what: string, at: number, extra: Record<string, unknown> = {}): H5Error {
  return new H5Error(`not a valid ONNX model: ${what} at byte ${at}`, {
    code: 'H5_ONNX_INVALID',
    offset: at,
    ...extra,
  });
}

/**
 * Reads a varint at `pos`. Values above 2^53 - 1 cannot be exact numbers, so
 * they come back as Infinity and callers that need them (tags, dims) refuse
 * them. A varint is at most 10 bytes.
 */
export function readVarint(buf: Uint8Array, pos: number, end: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) throw invalid('truncated varint', pos);
    const b = buf[pos + i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { value: value > Number.MAX_SAFE_INTEGER ? Infinity : value, next: pos + i + 1 };
  }
  throw invalid('varint longer than 10 bytes', pos);
}

/** Splits buf[start, end) into fields, checking every length against the bounds. */
export function readFields(buf: Uint8Array, start = 0, end = buf.length): Field[] {
  const out: Field[] = [];
  forEachField(buf, start, end, (f) => {
    out.push(f);
  });
  return out;
}

/**
 * Calls `each` with the fields of buf[start, end) one at a time, as they are
 * read: a graph of 2 M initializers is never a 2 M-entry array, and a budget
 * `each` enforces stops the read where it is exceeded.
 */
export function forEachField(buf: Uint8Array, start: number, end: number, each: (f: Field) => void): void {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const tag = readVarint(buf, pos, end);
    pos = tag.next;
    if (!Number.isFinite(tag.value)) throw invalid('field tag out of range', fieldStart);
    const wire = tag.value % 8;
    const num = Math.floor(tag.value / 8);
    if (num < 1 || num > 0x1fffffff) throw invalid(`field number ${num}`, fieldStart);
    const f: Field = { num, wire, start: fieldStart, end: 0, payloadStart: pos, payloadEnd: pos };
    switch (wire) {
      case WIRE.VARINT: {
        const v = readVarint(buf, pos, end);
        f.varint = v.value;
        pos = v.next;
        f.payloadEnd = pos;
        break;
      }
      case WIRE.I64:
        pos += 8;
        break;
      case WIRE.I32:
        pos += 4;
        break;
      case WIRE.LEN: {
        const len = readVarint(buf, pos, end);
        if (len.value > end - len.next)
          throw invalid(`field ${num} is ${len.value} bytes long but only ${end - len.next} remain`, fieldStart);
        f.payloadStart = len.next;
        f.payloadEnd = len.next + len.value;
        pos = f.payloadEnd;
        break;
      }
      default:
        throw invalid(`wire type ${wire} of field ${num}`, fieldStart);
    }
    if (pos > end) throw invalid(`field ${num} runs past the end of its message`, fieldStart);
    f.end = pos;
    if (wire === WIRE.I64 || wire === WIRE.I32) f.payloadEnd = pos;
    each(f);
  }
}

/** Bytes of a varint (non-negative safe integer). */
export function varintBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint value ${n} must be a non-negative safe integer`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** A LEN field: tag, length, payload (given as parts, concatenated). */
export function lenField(num: number, parts: Uint8Array[]): Uint8Array[] {
  const len = parts.reduce((a, p) => a + p.length, 0);
  return [varintBytes(num * 8 + WIRE.LEN), varintBytes(len), ...parts];
}

/** A VARINT field. */
export function varintField(num: number, value: number): Uint8Array[] {
  return [varintBytes(num * 8 + WIRE.VARINT), varintBytes(value)];
}

/** A LEN field holding a UTF-8 string. */
export function stringField(num: number, s: string): Uint8Array[] {
  return lenField(num, [new TextEncoder().encode(s)]);
}

/** Total length of parts. */
export function partsLength(parts: Uint8Array[]): number {
  return parts.reduce((a, p) => a + p.length, 0);
}

/** The UTF-8 string in a LEN field. */
export function fieldString(buf: Uint8Array, f: Field): string {
  if (f.wire !== WIRE.LEN) throw invalid(`field ${f.num} should be a string`, f.start);
  return new TextDecoder('utf-8', { fatal: false }).decode(buf.subarray(f.payloadStart, f.payloadEnd));
}

/**
 * A repeated int64 field's values, whether written packed (one LEN field) or
 * one VARINT field per value; negative values (10-byte varints) are refused.
 */
export function repeatedInts(
  buf: Uint8Array,
  fields: Field[],
  num: number,
  max = Infinity,
  what = `field ${num}`,
): number[] {
  const out: number[] = [];
  // Counted as read, so a 10 MB packed field of 1-byte values stops at `max`, not after 10 M numbers.
  const push = (v: number, at: number): void => {
    if (out.length === max) throw invalid(`${what} has more than ${max} values`, at, { limit: what, max });
    out.push(v);
  };
  for (const f of fields) {
    if (f.num !== num) continue;
    if (f.wire === WIRE.VARINT) push(f.varint!, f.start);
    else if (f.wire === WIRE.LEN) {
      for (let p = f.payloadStart; p < f.payloadEnd; ) {
        const v = readVarint(buf, p, f.payloadEnd);
        push(v.value, f.start);
        p = v.next;
      }
    } else throw invalid(`field ${num} should be an integer`, f.start);
  }
  for (const v of out)
    if (!Number.isSafeInteger(v)) throw invalid(`field ${num} holds a negative or huge integer`, fields[0]!.start);
  return out;
}
