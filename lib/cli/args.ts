/**
 * Argument parsing for the h5vault CLI: node:util parseArgs plus typed
 * converters (sizes like '256MiB', bounded integers). Every bad argument is
 * a UsageError, which the entry point turns into exit code 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { choices, mustBe } from '../util/validate.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

/** For commands that open a user's file: walk it in a sandboxed child process first (docs/security.md). */
export const INPUT_OPTIONS = {
  untrusted: { type: 'boolean' },
  /** For s3:// inputs (default: env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, S3_ENDPOINT). */
  endpoint: { type: 'string' },
  /** For s3:// inputs (default: env AWS_REGION). */
  region: { type: 'string' },
} as const satisfies OptionSpec;

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

/**
 * Strict parse: unknown options, missing option values and a wrong number of
 * positionals are usage errors (not silently ignored).
 */
export function parse(
  argv: string[],
  options: OptionSpec,
  positionals: { min: number; max: number; names: string },
): Parsed {
  let r: ReturnType<typeof parseArgs>;
  try {
    r = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs messages are long and mention internals; keep the first sentence.
    const msg = (e as Error).message.split('. ')[0]!.replace(/\.$/, '');
    throw new UsageError(msg);
  }
  if (!r.values.help) {
    if (r.positionals.length < positionals.min) throw new UsageError(`missing argument: expected ${positionals.names}`);
    if (r.positionals.length > positionals.max) {
      throw new UsageError(`unexpected argument '${r.positionals[positionals.max]}': expected ${positionals.names}`);
    }
  }
  return { values: r.values as Values, positionals: r.positionals };
}

/** A usage error in the one message format of lib/util/validate.ts: `--x must be <expected> (got '<text>')`. */
export function badArgument(what: string, expected: string, text: string | number): UsageError {
  return new UsageError(mustBe(what, expected, text));
}

/** A string option that must be one of a few names (undefined when absent). */
export function oneOf<T extends string>(text: string | undefined, what: string, values: readonly T[]): T | undefined {
  if (text !== undefined && !values.includes(text as T)) throw badArgument(what, choices(values), text);
  return text as T | undefined;
}

/** The value of a string option, or undefined. */
export function str(v: Values[string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** '256MiB' -> 268435456; '1.5GB' -> 1.5e9; '4096' -> 4096. Decimal units are powers of 1000. */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw badArgument(what, 'a size such as 4096, 64KiB, 1MiB or 2GB', text);
  }
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n < 1) throw badArgument(what, 'at least 1 byte', text);
  return n;
}

export function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw badArgument(what, `an integer from ${min} to ${max}`, text);
  const n = Number(text);
  if (n < min || n > max) throw badArgument(what, `an integer from ${min} to ${max}`, n);
  return n;
}
