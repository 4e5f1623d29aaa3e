/**
 * The one place argument and option checks are written (docs/architecture.md, "Argument checks").
 *
 * Every check throws with one message format, `<name> must be <expected> (got <value>)`, and one rule
 * for the class (Node's own: ERR_INVALID_ARG_TYPE vs ERR_OUT_OF_RANGE): a value of the wrong kind is a
 * TypeError, a number of the right kind but outside its range (or not an integer) is a RangeError.
 * The CLI builds its usage errors from the same `mustBe` text. Domain checks (a tensor's shape against
 * its data, a compound's fields) stay with their domain; what lives here is what every entry point asks
 * of an option: is it a boolean, a non-empty string, a function, an AbortSignal, an integer in range,
 * a finite number, one of a few names, an options object, a path.
 *
 * Anchors: sharp's lib/is.js (one predicate each, one invalidParameterError) and better-sqlite3's
 * lib/util.js option getters (read, default and check an option in one call).
 */
import { basename, dirname, resolve } from 'node:path';

type ErrorClass = new (message: string) => Error;

/** A value as a message shows it: short, and never the whole of a large string or object. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
    case 'bigint':
      return `${v}n`;
    case 'number':
    case 'boolean':
      return String(v);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
  }
  if (Array.isArray(v))
    return v.length <= 8 && v.every((x) => typeof x !== 'object' || x === null)
      ? `[${v.map(describe).join(', ')}]`
      : 'an array';
  const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

/** The one message text: `<name> must be <expected> (got <value>)`. */
export function mustBe(name: string, expected: string, value: unknown): string {
  return `${name} must be ${expected} (got ${describe(value)})`;
}

/** The error for a bad argument, of the class the caller names (TypeError unless it is a range). */
export function invalid(name: string, expected: string, value: unknown, Class: ErrorClass = TypeError): Error {
  return new Class(mustBe(name, expected, value));
}

/** A plain value object (not null, not an array, not a typed array). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** An options object; the caller's own type survives the check (only null, arrays and primitives are refused). */
export function checkObject<T>(v: T, name = 'options'): asserts v is T & object {
  if (!isPlainObject(v)) throw invalid(name, 'an object', v);
}

export function checkBoolean(v: unknown, name: string): asserts v is boolean {
  if (typeof v !== 'boolean') throw invalid(name, 'a boolean', v);
}

/** A non-empty string (an empty name, path or region is never what the caller meant). */
export function checkString(v: unknown, name: string): asserts v is string {
  if (typeof v !== 'string' || v === '') throw invalid(name, 'a non-empty string', v);
}

// biome-ignore lint/complexity/noBannedTypes: any callable is accepted; the caller types its own signature.
export function checkFunction(v: unknown, name: string): asserts v is Function {
  if (typeof v !== 'function') throw invalid(name, 'a function', v);
}

export function checkSignal(v: unknown, name = 'options.signal'): asserts v is AbortSignal {
  if (!(v instanceof AbortSignal)) throw invalid(name, 'an AbortSignal', v);
}

function integerText(min: number, max: number): string {
  if (max < Number.MAX_SAFE_INTEGER) return `an integer from ${min} to ${max}`;
  if (min === 0) return 'a non-negative integer';
  if (min === 1) return 'a positive integer';
  return `an integer >= ${min}`;
}

/** A safe integer in [min, max]: TypeError when not a number, RangeError when fractional or out of range. */
export function checkInteger(
  v: unknown,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
  expected = integerText(min, max),
): asserts v is number {
  if (typeof v !== 'number') throw invalid(name, expected, v);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalid(name, expected, v, RangeError);
}

export interface NumberRange {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound (`> above`). */
  above?: number;
  /** Infinity allowed (a size with no limit); NaN never is. Default false. */
  infinite?: boolean;
}

/** A number within a bound, finite unless range.infinite: TypeError when not a number, RangeError otherwise. */
export function checkNumber(v: unknown, name: string, range: NumberRange = {}): asserts v is number {
  const expected =
    range.min !== undefined
      ? `a number >= ${range.min}`
      : range.above !== undefined
        ? range.above === 0
          ? 'a positive number'
          : `a number > ${range.above}`
        : 'a finite number';
  if (typeof v !== 'number') throw invalid(name, expected, v);
  const inRange = (range.min === undefined || v >= range.min) && (range.above === undefined || v > range.above);
  if (!inRange || Number.isNaN(v) || (!range.infinite && !Number.isFinite(v)))
    throw invalid(name, expected, v, RangeError);
}

/** An array of safe integers >= min (a shape, a start, a chunk size): TypeError otherwise, like the shape it describes. */
export function checkIntegers(v: unknown, name: string, min = 0): asserts v is number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= min))
    throw invalid(name, `an array of ${min === 0 ? 'non-negative' : min === 1 ? 'positive' : `>= ${min}`} integers`, v);
}

/** `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`. */
export function choices(values: readonly unknown[]): string {
  const q = values.map((x) => (typeof x === 'string' ? `'${x}'` : String(x)));
  return q.length < 2 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

/** A string of a given form (a digest, a URL): `expected` says the form in words. */
export function checkMatch(v: unknown, name: string, re: RegExp, expected: string): asserts v is string {
  if (typeof v !== 'string' || !re.test(v)) throw invalid(name, expected, v);
}

export function checkOneOf<T>(v: unknown, name: string, values: readonly T[]): asserts v is T {
  if (!values.includes(v as T)) throw invalid(name, choices(values), v);
}

/** No keys but the known ones (a misspelt option is refused, not ignored). */
export function checkKeys(o: object, known: readonly string[], what = 'option'): void {
  for (const k of Object.keys(o))
    if (!known.includes(k)) throw new TypeError(`unknown ${what} '${k}' (known: ${known.join(', ')})`);
}

/** A user path: a non-empty string. */
export function checkPath(v: unknown, name = 'path'): asserts v is string {
  checkString(v, name);
}

/** A path that can name a file to write (a filesystem root cannot). Returns it resolved. */
export function fileTarget(path: string, name = 'path'): string {
  checkPath(path, name);
  const target = resolve(path);
  if (basename(target) === '' || target === dirname(target)) throw invalid(name, 'a file path', path);
  return target;
}

// Option getters (better-sqlite3's lib/util.js): read one key of an options object, default it when
// absent, check it, name it `options.<key>` in the message.

type Options = object;

function get(o: Options, key: string): unknown {
  return (o as Record<string, unknown>)[key];
}

export function booleanOption(o: Options, key: string): boolean | undefined;
export function booleanOption(o: Options, key: string, dflt: boolean): boolean;
export function booleanOption(o: Options, key: string, dflt?: boolean): boolean | undefined {
  const v = get(o, key);
  if (v === undefined) return dflt;
  checkBoolean(v, `options.${key}`);
  return v;
}

export function stringOption(o: Options, key: string): string | undefined {
  const v = get(o, key);
  if (v !== undefined) checkString(v, `options.${key}`);
  return v as string | undefined;
}

export function functionOption<F>(o: Options, key: string): F | undefined {
  const v = get(o, key);
  if (v !== undefined) checkFunction(v, `options.${key}`);
  return v as F | undefined;
}

export function signalOption(o: Options, key = 'signal'): AbortSignal | undefined {
  const v = get(o, key);
  if (v !== undefined) checkSignal(v, `options.${key}`);
  return v as AbortSignal | undefined;
}

export function matchOption(o: Options, key: string, re: RegExp, expected: string): string | undefined {
  const v = get(o, key);
  if (v !== undefined) checkMatch(v, `options.${key}`, re, expected);
  return v as string | undefined;
}

export function integerOption(o: Options, key: string, min: number, max?: number): number | undefined;
export function integerOption(o: Options, key: string, min: number, max: number | undefined, dflt: number): number;

export function integerOption(o: Options, key: string, min: number, max?: number, dflt?: number): number | undefined {
  const v = get(o, key);
  if (v === undefined) return dflt;
  checkInteger(v, `options.${key}`, min, max);
  return v;
}

export function numberOption(o: Options, key: string, range: NumberRange): number | undefined;
export function numberOption(o: Options, key: string, range: NumberRange, dflt: number): number;
export function numberOption(o: Options, key: string, range: NumberRange, dflt?: number): number | undefined {
  const v = get(o, key);
  if (v === undefined) return dflt;
  checkNumber(v, `options.${key}`, range);
  return v;
}

export function oneOfOption<T>(o: Options, key: string, values: readonly T[]): T | undefined;
export function oneOfOption<T>(o: Options, key: string, values: readonly T[], dflt: T): T;
export function oneOfOption<T>(o: Options, key: string, values: readonly T[], dflt?: T): T | undefined {
  const v = get(o, key);
  if (v === undefined) return dflt;
  checkOneOf(v, `options.${key}`, values);
  return v;
}

/**
 * A digest as users pass it (expectDigest of File.open, loadModel, verifyModel,
 * loadKeras; `h5vault verify --digest`): 64 hex characters in either case —
 * sha256sum prints lowercase, PowerShell's Get-FileHash uppercase. It is
 * lowercased once, here, so every comparison after is with lowercase hex.
 */
export const SHA256_ANY_CASE = /^[0-9a-fA-F]{64}$/;
export const SHA256_ANY_CASE_EXPECTED = 'a SHA-256 digest: 64 hex characters';

/** Validates options.expectDigest; returns the options with it lowercased. */
export function expectDigestOption<T extends object>(o: T): T {
  const d = matchOption(o, 'expectDigest', SHA256_ANY_CASE, SHA256_ANY_CASE_EXPECTED);
  return d === undefined || d === d.toLowerCase() ? o : { ...o, expectDigest: d.toLowerCase() };
}
