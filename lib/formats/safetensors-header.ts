/**
 * The safetensors header parser, apart from openSafetensors so that it can run
 * in the parse worker (lib/safety/parse-worker.ts; no native code here).
 *
 * Bounded (docs/security.md#parser-budgets): the header is at most 100 MB (the
 * reference's cap), nested at most 127 deep (serde_json's limit), and it is
 * never turned into a JSON object graph: a strict linear scan (scanJson)
 * checks syntax, depth, repeated keys and lone surrogates, then one walk
 * collects each tensor's fields into flat arrays. Memory stays a small
 * multiple of the header (JSON.parse of a 99 MB header of 1.7 M tensors took
 * ~900 MB and 20 s on its own), and openSafetensors runs it off the event loop
 * for headers over 1 MiB.
 */
import { H5Error } from '../errors.js';
import { JSON_MAX_DEPTH, JsonScanError, scanJson } from '../safety/budget.js';
import { compareNames } from '../model/schema.js';

/** Every dtype name the safetensors format defines, in the reference's enum order (increasing alignment). */
export const ALL_DTYPES = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
] as const;
export type AnyDType = (typeof ALL_DTYPES)[number];

const BITS: Record<AnyDType, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};
const DTYPE_INDEX = new Map<string, number>(ALL_DTYPES.map((d, i) => [d, i]));

/** The reference reader's cap on N (safetensors/src/tensor.rs, MAX_HEADER_SIZE). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/**
 * Most `__metadata__` entries read (h5vault's budget; the reference has none).
 * Real files carry a handful; the metadata becomes one object on the calling
 * thread, and a 6.5 M-key object took 90 s to build there.
 */
export const SAFETENSORS_MAX_METADATA_ENTRIES = 65_536;

/** Why a header was refused: H5Error `reason` for code H5_SAFETENSORS_INVALID. */
export type SafetensorsInvalidReason =
  | 'file-too-small'
  | 'header-too-large'
  | 'header-out-of-bounds'
  | 'header-not-object'
  | 'header-not-utf8'
  | 'header-not-json'
  | 'too-deep'
  | 'too-many-entries'
  | 'not-unicode'
  | 'duplicate-key'
  | 'metadata-not-string-map'
  | 'bad-tensor-entry'
  | 'bad-dtype'
  | 'bad-offsets'
  | 'overflow'
  | 'shape-mismatch'
  | 'overlap'
  | 'hole'
  | 'out-of-bounds';

export function invalid(
  path: string,
  reason: SafetensorsInvalidReason,
  what: string,
  tensor?: string,
  extra: Record<string, unknown> = {},
): H5Error {
  return new H5Error(`'${path}' is not a valid safetensors file: ${what}`, {
    code: 'H5_SAFETENSORS_INVALID',
    reason,
    ...(tensor !== undefined ? { tensor } : {}),
    ...extra,
  });
}

/** A validated header entry. `begin`/`end` are relative to the data section. */
export interface HeaderEntry {
  name: string;
  dtype: AnyDType;
  shape: number[];
  begin: number;
  end: number;
}

export interface ParsedHeader {
  headerBytes: number;
  metadata: Record<string, string> | null;
  /** In data order (ascending offsets). */
  entries: HeaderEntry[];
}

/** A validated header as flat arrays: entry k is names[k], ALL_DTYPES[dtypes[k]], dims[rankStart[k] .. rankStart[k+1]), [begin[k], end[k]). */
export interface CompactHeader {
  headerBytes: number;
  /** In data order (ascending offsets). */
  names: string[];
  dtypes: Uint8Array;
  rankStart: Uint32Array;
  dims: Float64Array;
  begin: Float64Array;
  end: Float64Array;
  /** Entry indices in UTF-8 byte order of the names. */
  nameOrder: Uint32Array;
  metaKeys: string[] | null;
  metaValues: string[];
}

/**
 * N from the 8-byte size field, after the checks that need no parsing: the
 * file holds 8 + N bytes, N is within the cap and the header starts with '{'.
 */
export function headerSize(path: string, bytes: Uint8Array, maxHeaderBytes = SAFETENSORS_MAX_HEADER_BYTES): number {
  const size = bytes.byteLength;
  if (size < 8) throw invalid(path, 'file-too-small', `the file has ${size} bytes, fewer than the 8-byte header size`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(maxHeaderBytes)) {
    throw invalid(
      path,
      'header-too-large',
      `the header size ${n64} exceeds the limit of ${maxHeaderBytes} bytes`,
      undefined,
      { limit: 'bytes', max: maxHeaderBytes },
    );
  }
  const n = Number(n64);
  if (8 + n > size)
    throw invalid(path, 'header-out-of-bounds', `the header size ${n} runs past the end of the ${size}-byte file`);
  if (n === 0 || bytes[8] !== 0x7b) throw invalid(path, 'header-not-object', "the header does not begin with '{'");
  return n;
}

/** A shape entry or offset: only an integer literal, as the reference (u64/usize fields) reads them; 'overflow' past 2^53. */
function intToken(t: string | null): number | 'bad' | 'overflow' {
  if (t === null || !/^(0|[1-9][0-9]*)$/.test(t)) return 'bad';
  const v = Number(t);
  return Number.isSafeInteger(v) ? v : 'overflow';
}

const U64_MAX = (1n << 64n) - 1n;

/** Exact size check for shapes past 2^53 bits: true if they do not hold `bytes`; throws 'overflow' past a u64, as the reference does. */
function sizeMismatch(d: number, ds: number[], bytes: number, where: () => string, name: string, path = ''): boolean {
  let bits = BigInt(BITS[ALL_DTYPES[d]!]);
  for (const x of ds) bits *= BigInt(x);
  if (bits > U64_MAX)
    throw invalid(path, 'overflow', `${where()}: shape [${ds.join(', ')}] overflows 64-bit arithmetic`, name);
  return bits % 8n !== 0n || bits / 8n !== BigInt(bytes);
}

/**
 * Parses and validates a header: `header` is its N bytes, `fileSize` the whole
 * file's size. Every rule of the reference reader, plus: no duplicate keys, no
 * shape entry or offset above 2^53.
 */
export function parseHeaderCompact(path: string, header: Uint8Array, fileSize: number): CompactHeader {
  const n = header.byteLength;
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header);
  } catch {
    throw invalid(path, 'header-not-utf8', 'the header is not valid UTF-8');
  }
  try {
    // The entry count is bounded by the 100 MB cap; depth, keys and surrogates are the reference's rules.
    // The walk below checks the keys of the root, of __metadata__ and of each tensor entry itself (cheaper than a Set per object).
    scanJson(s, {
      maxBytes: n,
      maxDepth: JSON_MAX_DEPTH,
      maxEntries: n,
      wellFormed: true,
      uniqueKeys: { fromDepth: 3 },
    });
  } catch (e) {
    if (!(e instanceof JsonScanError)) throw e;
    if (e.kind === 'duplicate-key')
      throw invalid(path, 'duplicate-key', `the header repeats the key ${JSON.stringify(e.key)}`);
    if (e.kind === 'lone-surrogate')
      throw invalid(path, 'not-unicode', `the header is not well-formed Unicode: ${e.message}`);
    if (e.kind === 'limit')
      throw invalid(
        path,
        'too-deep',
        `the header is ${e.message} (the reference's JSON parser accepts ${JSON_MAX_DEPTH})`,
        undefined,
        { limit: e.limit, max: e.max },
      );
    throw invalid(path, 'header-not-json', `the header is not JSON (${e.message})`);
  }

  // The text is valid JSON within budget: walk it without re-checking syntax.
  let i = 0;
  const ws = (): void => {
    for (let c = s.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = s.charCodeAt(++i));
  };
  const str = (): string => {
    const a = i;
    let escaped = false;
    for (i++; s.charCodeAt(i) !== 0x22; i++) {
      if (s.charCodeAt(i) === 0x5c) {
        escaped = true;
        i++;
      }
    }
    i++;
    return escaped ? (JSON.parse(s.slice(a, i)) as string) : s.slice(a + 1, i - 1);
  };
  /** Moves past a number or literal: to the next ',', ']', '}', whitespace or the end. */
  const numberEnd = (): void => {
    for (
      let c = s.charCodeAt(i);
      !Number.isNaN(c) &&
      c !== 0x2c &&
      c !== 0x5d &&
      c !== 0x7d &&
      c !== 0x20 &&
      c !== 0x0a &&
      c !== 0x0d &&
      c !== 0x09;
      c = s.charCodeAt(++i)
    );
  };
  /** Skips one value (syntax already known good). */
  const skip = (): void => {
    ws();
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      str();
      return;
    }
    if (c === 0x7b || c === 0x5b) {
      let d = 0;
      do {
        const x = s.charCodeAt(i);
        if (x === 0x22) {
          str();
          continue;
        }
        if (x === 0x7b || x === 0x5b) d++;
        else if (x === 0x7d || x === 0x5d) d--;
        i++;
      } while (d > 0);
      return;
    }
    numberEnd();
  };
  /**
   * An array of its elements: a plain integer literal of at most 15 digits as
   * its value (exact: below 2^53), any other number token as its text (for
   * intToken to judge), null for any other element; or 'not-array' (skipped).
   * Reading the digits in place spares a slice and a regular expression per
   * shape entry and offset (three or more per tensor).
   */
  const intArray = (): (number | string | null)[] | 'not-array' => {
    ws();
    if (s.charCodeAt(i) !== 0x5b) {
      skip();
      return 'not-array';
    }
    i++;
    const out: (number | string | null)[] = [];
    ws();
    if (s.charCodeAt(i) === 0x5d) {
      i++;
      return out;
    }
    for (;;) {
      ws();
      const c = s.charCodeAt(i);
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        const a = i;
        let v = 0;
        for (let d = c; d >= 0x30 && d <= 0x39; d = s.charCodeAt(++i)) v = v * 10 + (d - 0x30);
        const t = s.charCodeAt(i);
        const plain = t === 0x2c || t === 0x5d || t === 0x20 || t === 0x0a || t === 0x0d || t === 0x09;
        if (plain && i > a && i - a <= 15 && (c !== 0x30 || i - a === 1)) out.push(v);
        else {
          i = a;
          numberEnd();
          out.push(s.slice(a, i));
        }
      } else {
        skip();
        out.push(null);
      }
      ws();
      if (s.charCodeAt(i++) === 0x5d) return out;
    }
  };
  const members = (each: (key: string) => void): void => {
    i++; // '{'
    ws();
    if (s.charCodeAt(i) === 0x7d) {
      i++;
      return;
    }
    for (;;) {
      ws();
      const k = str();
      ws();
      i++; // ':'
      ws();
      each(k);
      ws();
      if (s.charCodeAt(i++) === 0x7d) return;
    }
  };

  let metaKeys: string[] | null = null;
  const metaValues: string[] = [];
  const names: string[] = [];
  const dtypes: number[] = [];
  const rankStart: number[] = [0];
  const dims: number[] = [];
  const begin: number[] = [];
  const end: number[] = [];
  const duplicate = (k: string): H5Error =>
    invalid(path, 'duplicate-key', `the header repeats the key ${JSON.stringify(k)}`);
  let sawMetadata = false;
  const badMeta = (): never => {
    throw invalid(path, 'metadata-not-string-map', '__metadata__ must be an object whose values are all strings');
  };
  ws();
  members((name) => {
    if (name === '__metadata__') {
      if (sawMetadata) throw duplicate(name);
      sawMetadata = true;
      if (s.charCodeAt(i) !== 0x7b) badMeta();
      metaKeys = [];
      const seen = new Set<string>();
      members((k) => {
        if (seen.has(k)) throw duplicate(k);
        seen.add(k);
        if (s.charCodeAt(i) !== 0x22) badMeta();
        if (metaKeys!.length === SAFETENSORS_MAX_METADATA_ENTRIES) {
          throw invalid(
            path,
            'too-many-entries',
            `__metadata__ has more than ${SAFETENSORS_MAX_METADATA_ENTRIES} entries`,
            undefined,
            {
              limit: 'metadata-entries',
              max: SAFETENSORS_MAX_METADATA_ENTRIES,
            },
          );
        }
        metaKeys!.push(k);
        metaValues.push(str());
      });
      return;
    }
    // Built only for an error message: a header may hold 1.7 M entries.
    const where = (): string => `tensor ${JSON.stringify(name)}`;
    if (s.charCodeAt(i) !== 0x7b) throw invalid(path, 'bad-tensor-entry', `${where()} is not an object`, name);
    let dtype: string | null = null;
    let dtypeText: string | undefined;
    let shape: (number | string | null)[] | 'not-array' | undefined;
    let offsets: (number | string | null)[] | 'not-array' | undefined;
    const fields: string[] = [];
    members((k) => {
      if (fields.includes(k)) throw duplicate(k);
      fields.push(k);
      if (k === 'dtype') {
        if (s.charCodeAt(i) === 0x22) dtype = str();
        else {
          const a = i;
          skip();
          dtypeText = s.slice(a, Math.min(i, a + 40));
        }
      } else if (k === 'shape') shape = intArray();
      else if (k === 'data_offsets') offsets = intArray();
      else skip();
    });
    const d = dtype === null ? undefined : DTYPE_INDEX.get(dtype);
    if (d === undefined)
      throw invalid(
        path,
        'bad-dtype',
        `${where()} has an unknown dtype ${dtype !== null ? JSON.stringify(dtype) : (dtypeText ?? 'undefined')}`,
        name,
      );
    if (shape === undefined || shape === 'not-array')
      throw invalid(path, 'bad-tensor-entry', `${where()} has no shape array`, name);
    const rank0 = dims.length;
    for (const t of shape) {
      const v = typeof t === 'number' ? t : intToken(t);
      if (v === 'bad')
        throw invalid(
          path,
          'bad-tensor-entry',
          `${where()} has a shape entry that is not a non-negative integer (${String(t).slice(0, 40)})`,
          name,
        );
      if (v === 'overflow') throw invalid(path, 'overflow', `${where()} has a shape entry above 2^53`, name);
      dims.push(v);
    }
    if (offsets === undefined || offsets === 'not-array' || offsets.length !== 2)
      throw invalid(path, 'bad-tensor-entry', `${where()} has no data_offsets [begin, end]`, name);
    const o0 = offsets[0]!;
    const o1 = offsets[1]!;
    const b = typeof o0 === 'number' ? o0 : intToken(o0);
    const e = typeof o1 === 'number' ? o1 : intToken(o1);
    if (b === 'bad' || e === 'bad')
      throw invalid(path, 'bad-tensor-entry', `${where()} has data_offsets that are not non-negative integers`, name);
    if (b === 'overflow' || e === 'overflow')
      throw invalid(path, 'overflow', `${where()} has data_offsets above 2^53`, name);
    if (e < b) throw invalid(path, 'bad-offsets', `${where()} ends (${e}) before it begins (${b})`, name);
    // Exact arithmetic: the reference refuses sizes that overflow a u64.
    let approx = BITS[ALL_DTYPES[d]];
    for (let x = rank0; x < dims.length; x++) approx *= dims[x]!;
    // Exact in doubles up to 2^53 (every factor is an integer): BigInt only past that.
    if (
      approx <= Number.MAX_SAFE_INTEGER
        ? approx % 8 !== 0 || approx / 8 !== e - b
        : sizeMismatch(d, dims.slice(rank0), e - b, where, name, path)
    ) {
      const ds = dims.slice(rank0);
      throw invalid(
        path,
        'shape-mismatch',
        `${where()}: ${ALL_DTYPES[d]} shape [${ds.join(', ')}] needs ${approx / 8} bytes, data_offsets [${b}, ${e}] hold ${e - b}`,
        name,
      );
    }
    names.push(name);
    dtypes.push(d);
    rankStart.push(dims.length);
    begin.push(b);
    end.push(e);
  });

  // The data section must be covered exactly: sorted by offsets, each tensor
  // begins where the previous one ended and the last ends at the file's end.
  const count = names.length;
  const byData = Array.from({ length: count }, (_, k) => k).sort((x, y) => begin[x]! - begin[y]! || end[x]! - end[y]!);
  const dataLen = fileSize - 8 - n;
  let at = 0;
  for (const k of byData) {
    const where = `tensor ${JSON.stringify(names[k])}`;
    if (end[k]! > dataLen) {
      throw invalid(
        path,
        'out-of-bounds',
        `${where} data_offsets [${begin[k]}, ${end[k]}] run past the ${dataLen}-byte data section`,
        names[k],
      );
    }
    if (begin[k]! < at)
      throw invalid(
        path,
        'overlap',
        `${where} data_offsets [${begin[k]}, ${end[k]}] overlap the previous tensor (ending at ${at})`,
        names[k],
      );
    if (begin[k]! > at)
      throw invalid(path, 'hole', `bytes [${at}, ${begin[k]}) of the data section belong to no tensor`, names[k]);
    at = end[k]!;
  }
  if (at !== dataLen)
    throw invalid(path, 'hole', `bytes [${at}, ${dataLen}) at the end of the data section belong to no tensor`);

  // Lay the arrays out in data order; nameOrder indexes that order.
  const out: CompactHeader = {
    headerBytes: n,
    names: new Array<string>(count),
    dtypes: new Uint8Array(count),
    rankStart: new Uint32Array(count + 1),
    dims: new Float64Array(dims.length),
    begin: new Float64Array(count),
    end: new Float64Array(count),
    nameOrder: new Uint32Array(count),
    metaKeys,
    metaValues,
  };
  let r = 0;
  byData.forEach((k, j) => {
    out.names[j] = names[k]!;
    out.dtypes[j] = dtypes[k]!;
    out.begin[j] = begin[k]!;
    out.end[j] = end[k]!;
    for (let x = rankStart[k]!; x < rankStart[k + 1]!; x++) out.dims[r++] = dims[x]!;
    out.rankStart[j + 1] = r;
  });
  // UTF-16 order is UTF-8 byte order unless a name holds a surrogate pair or a
  // character from U+E000; then compareNames (which encodes) decides.
  const nm = out.names;
  const plain = nm.every((x) => !/[\uD800-\uFFFF]/.test(x));
  const order = Array.from({ length: count }, (_, j) => j).sort(
    plain ? (x, y) => (nm[x]! < nm[y]! ? -1 : nm[x]! > nm[y]! ? 1 : 0) : (x, y) => compareNames(nm[x]!, nm[y]!),
  );
  out.nameOrder.set(order);
  // Tensor names: a repeat sorts next to its twin.
  for (let j = 1; j < count; j++) if (nm[order[j]!] === nm[order[j - 1]!]) throw duplicate(nm[order[j]!]!);
  return out;
}

/** Entry k of a compact header. */
export function compactEntry(h: CompactHeader, k: number): HeaderEntry {
  return {
    name: h.names[k]!,
    dtype: ALL_DTYPES[h.dtypes[k]!]!,
    shape: Array.from(h.dims.subarray(h.rankStart[k]!, h.rankStart[k + 1]!)),
    begin: h.begin[k]!,
    end: h.end[k]!,
  };
}

/** The metadata of a compact header as a null-prototype object (a key '__proto__' is just a key). */
export function compactMetadata(h: CompactHeader): Record<string, string> | null {
  if (h.metaKeys === null) return null;
  const m = Object.create(null) as Record<string, string>;
  h.metaKeys.forEach((k, j) => {
    m[k] = h.metaValues[j]!;
  });
  return m;
}

/**
 * A compact header as one postMessage payload: its strings joined (one string
 * copies as one block, where an array of 1.7 M strings would be deserialised
 * one by one on the receiving thread) and its typed arrays transferred.
 */
export function packHeader(h: CompactHeader): { value: PackedHeader; transfer: ArrayBuffer[] } {
  const join = (a: string[]): { text: string; lens: Uint32Array } => ({
    text: a.join(''),
    lens: Uint32Array.from(a, (x) => x.length),
  });
  const names = join(h.names);
  const meta = h.metaKeys === null ? null : { keys: join(h.metaKeys), values: join(h.metaValues) };
  const value: PackedHeader = { ...h, names, meta, metaKeys: undefined, metaValues: undefined };
  const transfer = [
    h.dtypes,
    h.rankStart,
    h.dims,
    h.begin,
    h.end,
    h.nameOrder,
    names.lens,
    ...(meta ? [meta.keys.lens, meta.values.lens] : []),
  ].map((a) => a.buffer as ArrayBuffer);
  return { value, transfer };
}

export type PackedHeader = Omit<CompactHeader, 'names' | 'metaKeys' | 'metaValues'> & {
  names: { text: string; lens: Uint32Array };
  meta: { keys: { text: string; lens: Uint32Array }; values: { text: string; lens: Uint32Array } } | null;
  metaKeys?: undefined;
  metaValues?: undefined;
};

/** The inverse of packHeader. */
export function unpackHeader(p: PackedHeader): CompactHeader {
  const split = (j: { text: string; lens: Uint32Array }): string[] => {
    const out = new Array<string>(j.lens.length);
    let at = 0;
    for (let k = 0; k < j.lens.length; k++) {
      out[k] = j.text.slice(at, at + j.lens[k]!);
      at += j.lens[k]!;
    }
    return out;
  };
  return {
    headerBytes: p.headerBytes,
    names: split(p.names),
    dtypes: p.dtypes,
    rankStart: p.rankStart,
    dims: p.dims,
    begin: p.begin,
    end: p.end,
    nameOrder: p.nameOrder,
    metaKeys: p.meta ? split(p.meta.keys) : null,
    metaValues: p.meta ? split(p.meta.values) : [],
  };
}
