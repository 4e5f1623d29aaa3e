/**
 * Budgets for the parsers of untrusted bytes (safetensors headers, Keras
 * config JSON, ONNX protobuf; docs/security.md#parser-budgets): one place for
 * the limits, the typed error that names the limit, a bounded JSON parse and a
 * worker-thread runner so a large input is parsed off the event loop.
 *
 * The JSON scan is a strict, linear RFC 8259 validator that builds nothing: it
 * measures nesting depth and member/element counts (and optionally refuses
 * repeated keys and lone surrogates, as serde_json does) before JSON.parse is
 * allowed to allocate. A 10 MB `[[[[...` therefore costs one pass over the
 * text and no memory, instead of V8's ~570 MB.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { H5Error, type H5ErrorCode, type H5ErrorDetails } from '../errors.js';
import { PACKAGE_ROOT } from '../addon/locate.js';

/**
 * Deepest JSON nesting any parser accepts: 127 levels, as serde_json (the
 * safetensors reference reader's parser), whose recursion budget of 128
 * refuses the 128th nested array or object.
 */
export const JSON_MAX_DEPTH = 127;

/** Inputs larger than this (bytes) are parsed in a worker thread, so the event loop keeps running. */
export const OFF_LOOP_BYTES = 1 << 20;

export interface JsonBudget {
  /** Longest text accepted, in UTF-16 code units (bytes, for ASCII). */
  maxBytes: number;
  /** Deepest nesting of objects and arrays (at most JSON_MAX_DEPTH). */
  maxDepth: number;
  /** Most object members plus array elements, counted over the whole document. */
  maxEntries: number;
  /** Refuse lone UTF-16 surrogates, escaped (`"\ud800"`) or not: such a string has no UTF-8 form (serde_json refuses them). */
  wellFormed?: boolean;
  /**
   * Refuse an object that repeats a key (JSON.parse silently keeps the last
   * one). `{ fromDepth: d }` checks only objects nested at depth d or deeper
   * (the root is depth 1), for a caller that checks the outer ones itself.
   */
  uniqueKeys?: boolean | { fromDepth: number };
}

/** Why a JSON text was refused by scanJson. `limit` names the budget for kind 'limit'. */
export type JsonScanKind = 'syntax' | 'limit' | 'duplicate-key' | 'lone-surrogate';

export class JsonScanError extends Error {
  constructor(
    message: string,
    readonly kind: JsonScanKind,
    /** Offset in the text (UTF-16 code units). */
    readonly at: number,
    readonly limit?: 'bytes' | 'depth' | 'entries',
    readonly max?: number,
    /** The repeated key, for kind 'duplicate-key'. */
    readonly key?: string,
  ) {
    super(message);
    this.name = 'JsonScanError';
  }
}

export interface JsonStats {
  /** Deepest nesting seen. */
  depth: number;
  /** Object members plus array elements. */
  entries: number;
}

/**
 * Validates `s` as one JSON document within `b`, in one linear pass and
 * without building any value. Throws JsonScanError on the first violation.
 */
export function scanJson(s: string, b: JsonBudget): JsonStats {
  const n = s.length;
  if (n > b.maxBytes)
    throw new JsonScanError(`${n} bytes exceed the limit of ${b.maxBytes}`, 'limit', 0, 'bytes', b.maxBytes);
  const maxDepth = Math.min(b.maxDepth, JSON_MAX_DEPTH);
  let i = 0;
  let depth = 0;
  let deepest = 0;
  let entries = 0;
  const syntax = (what: string): never => {
    throw new JsonScanError(`${i >= n ? 'unexpected end of text' : what} at offset ${i}`, 'syntax', i);
  };
  const ws = (): void => {
    for (let c = s.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = s.charCodeAt(++i));
  };
  const count = (): void => {
    if (++entries > b.maxEntries) {
      throw new JsonScanError(
        `more than ${b.maxEntries} object members and array elements`,
        'limit',
        i,
        'entries',
        b.maxEntries,
      );
    }
  };
  const enter = (): void => {
    if (++depth > maxDepth)
      throw new JsonScanError(`nesting deeper than ${maxDepth} levels`, 'limit', i, 'depth', maxDepth);
    if (depth > deepest) deepest = depth;
  };
  const hex4 = (at: number): number => {
    let v = 0;
    for (let k = at; k < at + 4; k++) {
      const c = s.charCodeAt(k);
      const d =
        c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) {
        i = k;
        syntax('bad \\u escape');
      }
      v = v * 16 + d;
    }
    return v;
  };
  const lone = (): never => {
    throw new JsonScanError(
      `a string holds a lone UTF-16 surrogate at offset ${i} (it has no UTF-8 form)`,
      'lone-surrogate',
      i,
    );
  };
  /** Skips the string at i (a '"'); returns true if it had escapes. */
  const string = (): boolean => {
    let escaped = false;
    i++;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return escaped;
      }
      if (Number.isNaN(c) || c < 0x20) syntax('unterminated string or control character in a string');
      if (c === 0x5c) {
        escaped = true;
        const e = s.charCodeAt(i + 1);
        if (e === 0x75) {
          const u = hex4(i + 2);
          if (b.wellFormed && u >= 0xd800 && u <= 0xdfff) {
            // A high surrogate must be followed at once by an escaped low one.
            if (u >= 0xdc00 || s.charCodeAt(i + 6) !== 0x5c || s.charCodeAt(i + 7) !== 0x75) lone();
            const lo = hex4(i + 8);
            if (lo < 0xdc00 || lo > 0xdfff) lone();
            i += 12;
          } else i += 6;
        } else if (
          e === 0x22 ||
          e === 0x5c ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          i += 2;
        } else {
          i++;
          syntax('bad escape');
        }
      } else if (b.wellFormed && c >= 0xd800 && c <= 0xdfff) {
        const lo = s.charCodeAt(i + 1);
        if (c >= 0xdc00 || !(lo >= 0xdc00 && lo <= 0xdfff)) lone();
        i += 2;
      } else i++;
    }
  };
  const digits = (): void => {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) syntax('expected a digit');
    while (s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
  };
  const number = (): void => {
    if (s.charCodeAt(i) === 0x2d) i++;
    if (s.charCodeAt(i) === 0x30) i++;
    else digits();
    if (s.charCodeAt(i) === 0x2e) {
      i++;
      digits();
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = s.charCodeAt(i);
    if (c === 0x7b) object();
    else if (c === 0x5b) array();
    else if (c === 0x22) string();
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) number();
    else if (s.startsWith('true', i)) i += 4;
    else if (s.startsWith('false', i)) i += 5;
    else if (s.startsWith('null', i)) i += 4;
    else syntax('unexpected character');
  };
  // Recursion is bounded by maxDepth (≤ 127 frames), checked before each descent.
  const object = (): void => {
    enter();
    i++;
    ws();
    if (s.charCodeAt(i) === 0x7d) {
      i++;
      depth--;
      return;
    }
    // Most objects have a few keys: a short list is far cheaper than a Set
    // each (1.7 M Sets cost 13 s in a 99 MB header); a Set takes over at 16.
    const few: string[] | null =
      b.uniqueKeys === true || (typeof b.uniqueKeys === 'object' && depth >= b.uniqueKeys.fromDepth) ? [] : null;
    let many: Set<string> | null = null;
    for (;;) {
      ws();
      if (s.charCodeAt(i) !== 0x22) syntax('expected a string key');
      const k0 = i;
      const escaped = string();
      count();
      if (few) {
        const k = escaped ? (JSON.parse(s.slice(k0, i)) as string) : s.slice(k0 + 1, i - 1);
        if (many ? many.has(k) : few.includes(k)) {
          throw new JsonScanError(
            `an object repeats the key ${JSON.stringify(k)}`,
            'duplicate-key',
            k0,
            undefined,
            undefined,
            k,
          );
        }
        if (many) many.add(k);
        else if (few.push(k) === 16) many = new Set(few);
      }
      ws();
      if (s.charCodeAt(i) !== 0x3a) syntax("expected ':'");
      i++;
      value();
      ws();
      const c = s.charCodeAt(i);
      i++;
      if (c === 0x7d) break;
      if (c !== 0x2c) {
        i--;
        syntax("expected ',' or '}'");
      }
    }
    depth--;
  };
  const array = (): void => {
    enter();
    i++;
    ws();
    if (s.charCodeAt(i) === 0x5d) {
      i++;
      depth--;
      return;
    }
    for (;;) {
      count();
      value();
      ws();
      const c = s.charCodeAt(i);
      i++;
      if (c === 0x5d) break;
      if (c !== 0x2c) {
        i--;
        syntax("expected ',' or ']'");
      }
    }
    depth--;
  };
  value();
  ws();
  if (i < n) syntax('unexpected text after the JSON value');
  return { depth: deepest, entries };
}

/**
 * A JsonScanError as the H5Error callers throw: `code` for a syntax error or a
 * lone surrogate / repeated key, `limitCode` for a budget (`limit` and `max`
 * name it). Anything else passes through unchanged.
 */
export function jsonH5Error(
  e: unknown,
  what: string,
  code: H5ErrorCode,
  limitCode: H5ErrorCode = code,
  extra: Record<string, unknown> = {},
): unknown {
  if (!(e instanceof JsonScanError)) return e;
  const limit = e.kind === 'limit' ? { limit: e.limit, max: e.max } : {};
  return new H5Error(`${what}: ${e.message}`, { code: e.kind === 'limit' ? limitCode : code, ...limit, ...extra });
}

/** The JSON value of `text`, parsed only after scanJson found it within `b`. Synchronous: for small inputs. */
export function parseJsonBounded(text: string, b: JsonBudget): unknown {
  scanJson(text, b);
  return JSON.parse(text);
}

/**
 * Budget of the JSON h5vault writes itself and later reads back from places a
 * user or an attacker can change: a model file's `h5vault.metadata` and tensor
 * index attributes, the local store's index and records, S3 version records,
 * convert's safetensors metadata, `onnx-link --map-file`, JSON shown by `info`.
 * Real ones are bytes to a few MB (a 100,000-tensor index is ~6 MB); the budget
 * refuses nesting bombs and sizes no real file has, before JSON.parse allocates.
 */
export const STORED_JSON_BUDGET: JsonBudget = {
  maxBytes: 64 << 20,
  maxDepth: JSON_MAX_DEPTH,
  maxEntries: 1 << 25,
};

/** JSON that h5vault stored (STORED_JSON_BUDGET), parsed after the scan; throws JsonScanError or SyntaxError. */
export function parseStoredJson(text: string): unknown {
  return parseJsonBounded(text, STORED_JSON_BUDGET);
}

/**
 * parseJsonBounded, in a worker thread when the text is longer than
 * OFF_LOOP_BYTES; the worker's heap is capped at a multiple of the input
 * (exceeding it is H5_LIMIT_EXCEEDED `limit: 'memory'`, not a process abort).
 * Errors come back as the JsonScanError they were.
 *
 * @example
 *   const v = await parseJsonBoundedAsync(text, { maxBytes: 1 << 20, maxDepth: 127, maxEntries: 100_000 });
 */
export async function parseJsonBoundedAsync(text: string, b: JsonBudget): Promise<unknown> {
  if (text.length <= OFF_LOOP_BYTES) return parseJsonBounded(text, b);
  if (text.length > b.maxBytes) scanJson(text, b); // throws the 'bytes' limit without starting a worker
  return runOffLoop('json', { text, budget: b }, [], text.length * 2);
}

// --- the worker runner ----------------------------------------------------------

/** Tasks the parse worker runs (lib/safety/parse-worker.ts). */
export type OffLoopTask = 'json' | 'safetensors-header';

/** What a worker posts back on failure: enough to rebuild the error on this thread. */
export interface WorkerFailure {
  kind: 'h5' | 'json' | 'other';
  message: string;
  details?: Record<string, unknown>;
  json?: { kind: JsonScanKind; at: number; limit?: 'bytes' | 'depth' | 'entries'; max?: number; key?: string };
  name?: string;
}

/** Turns an error thrown in the worker into a message for postMessage. */
export function encodeFailure(e: unknown): WorkerFailure {
  if (e instanceof JsonScanError)
    return {
      kind: 'json',
      message: e.message,
      json: { kind: e.kind, at: e.at, limit: e.limit, max: e.max, key: e.key },
    };
  if (e instanceof H5Error) {
    const details: Record<string, unknown> = { code: e.code };
    for (const [k, v] of Object.entries(e)) if (k !== 'stack' && k !== 'message' && k !== 'name') details[k] = v;
    return { kind: 'h5', message: e.message, details };
  }
  const err = e as Error;
  return { kind: 'other', message: String(err?.message ?? e), name: err?.name };
}

function decodeFailure(f: WorkerFailure): Error {
  if (f.kind === 'json')
    return new JsonScanError(f.message, f.json!.kind, f.json!.at, f.json!.limit, f.json!.max, f.json!.key);
  if (f.kind === 'h5') return new H5Error(f.message, f.details as H5ErrorDetails);
  const E = f.name === 'TypeError' ? TypeError : f.name === 'RangeError' ? RangeError : Error;
  return new E(f.message);
}

/** Worker heap cap: this multiple of the input, at least MIN_WORKER_HEAP_MB. */
export const WORKER_HEAP_MULTIPLE = 8;
const MIN_WORKER_HEAP_MB = 64;

function parseWorkerPath(): string {
  // Tests run lib/*.ts directly; the worker is the compiled module (as cache-worker and walk-child are).
  return join(PACKAGE_ROOT, 'dist', 'safety', 'parse-worker.js');
}

/**
 * Runs one parse task in a fresh worker thread and resolves with its result.
 * `inputBytes` sizes the worker's heap cap (WORKER_HEAP_MULTIPLE × input).
 */
export function runOffLoop<T>(
  task: OffLoopTask,
  input: unknown,
  transfer: ArrayBuffer[],
  inputBytes: number,
): Promise<T> {
  const heapMb = Math.max(MIN_WORKER_HEAP_MB, Math.ceil((inputBytes * WORKER_HEAP_MULTIPLE) / 2 ** 20));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const w = new Worker(parseWorkerPath(), {
      workerData: { task, input },
      transferList: transfer,
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 32 },
      stdout: false,
      stderr: true,
    });
    w.stderr.resume(); // V8's out-of-memory report is not for the host's stderr
    const done = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
      void w.terminate();
    };
    w.once('message', (m: { ok: true; value: T } | { ok: false; error: WorkerFailure }) => {
      done(() => (m.ok ? resolve(m.value) : reject(decodeFailure(m.error))));
    });
    w.once('error', (e: Error & { code?: string }) => {
      done(() =>
        reject(
          e.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new H5Error(
                `parsing needed more than ${heapMb} MB (${WORKER_HEAP_MULTIPLE}x the ${inputBytes}-byte input)`,
                {
                  code: 'H5_LIMIT_EXCEEDED',
                  limit: 'memory',
                  max: heapMb * 2 ** 20,
                },
              )
            : e,
        ),
      );
    });
    w.once('exit', (code) =>
      done(() => reject(new H5Error(`the parse worker exited with code ${code}`, { code: 'H5_ERROR' }))),
    );
  });
}
