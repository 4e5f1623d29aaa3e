/**
 * Terminal output for the CLI: colours (only on a TTY, never with NO_COLOR),
 * aligned tables, a progress bar that appears only for work taking over a
 * second, human units, and the error -> exit code mapping.
 */
import { H5Error } from '../errors.js';
import { UsageError } from './args.js';

/** Exit codes (documented in docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** The command ran but found a problem (verify failed, a tensor unreadable, ...). */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
  /** A file could not be opened, created or written (missing, not HDF5, locked, exists, I/O). */
  FILE: 3,
  /** Interrupted (Ctrl-C) before finishing; temporary files were removed. */
  INTERRUPTED: 130,
  /** Internal error: a bug in h5vault; rerun with --verbose and report it. */
  INTERNAL: 70,
  /** The native addon cannot be loaded here (not built for this platform, or a library is missing): an install problem, the message says what to run. */
  UNAVAILABLE: 69,
} as const;

const FILE_CODES = new Set([
  'H5_FILE_NOT_FOUND',
  'H5_NOT_HDF5',
  'H5_UNSAFE_FILE',
  'H5_OPEN_FAILED',
  'H5_FILE_LOCKED',
  'H5_EXISTS',
  'H5_IO',
  'H5_READ_ONLY',
  'ENOENT',
  'EACCES',
  'EPERM',
  'EISDIR',
  'ENOTDIR',
  'EEXIST',
  'ENOSPC',
  'EROFS',
  'EIO',
  'EXDEV',
  'H5_S3_NOT_FOUND',
  'H5_S3_ACCESS_DENIED',
  'H5_S3_THROTTLED',
  'H5_S3_NETWORK',
  'H5_S3_CHANGED',
]);

export interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const ANSI = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  magenta: [35, 39],
} as const;
export type Style = keyof typeof ANSI;

export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly color: boolean;
  readonly stdout: Stream;
  readonly stderr: Stream;

  constructor(
    opts: { json?: boolean; verbose?: boolean },
    stdout: Stream = process.stdout,
    stderr: Stream = process.stderr,
    env = process.env,
  ) {
    this.json = !!opts.json;
    this.verbose = !!opts.verbose;
    this.stdout = stdout;
    this.stderr = stderr;
    // https://no-color.org: any non-empty NO_COLOR disables colour.
    this.color = !!stdout.isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
  }

  style(s: string, ...styles: Style[]): string {
    if (!this.color) return s;
    return styles.reduce((acc, st) => `\x1b[${ANSI[st][0]}m${acc}\x1b[${ANSI[st][1]}m`, s);
  }

  /** Human text to stdout; suppressed with --json (stdout then carries exactly one JSON document). */
  line(s = ''): void {
    if (!this.json) this.stdout.write(`${s}\n`);
  }

  /** Diagnostics (warnings, notes) to stderr, in both modes. */
  note(s: string): void {
    this.stderr.write(`${s}\n`);
  }

  emitJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
  }

  progress(label: string, total: number): Progress {
    return new Progress(this.stderr, label, total, !this.json && !!this.stderr.isTTY);
  }
}

/** Durations to the microsecond: performance.now() differences print as 26.311679999999967 otherwise. */
const roundMs = (x: unknown): unknown =>
  typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;

/**
 * bigint -> string, typed arrays -> plain arrays: JSON.stringify would throw or print objects.
 * Durations (keys `ms`, `…Ms`, and the ms `…Spread` objects and arrays) are rounded to the microsecond.
 */
export function jsonReplacer(k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (k === 'ms' || k.endsWith('Ms') || k.endsWith('Spread')) {
    if (Array.isArray(v)) return v.map(roundMs);
    if (v !== null && typeof v === 'object' && k.endsWith('Spread'))
      return Object.fromEntries(Object.entries(v).map(([n, x]) => [n, roundMs(x)]));
    return roundMs(v);
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? x.toString() : x));
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

/**
 * A progress bar on stderr. It stays invisible for the first second so quick
 * commands print nothing extra, and never draws when stderr is not a TTY.
 */
export class Progress {
  #done = 0;
  #start = performance.now();
  #lastDraw = 0;
  #drawn = false;
  #label: string;

  constructor(
    private readonly stream: Stream,
    label: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {
    this.#label = label;
  }

  update(done: number, current?: string): void {
    this.#done = done;
    if (current !== undefined) this.#label = current;
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.#start < 1000 || now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#drawn = true;
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 50));
    const frac = this.total > 0 ? Math.min(1, this.#done / this.total) : 0;
    const fill = Math.round(frac * width);
    const secs = ((now - this.#start) / 1000).toFixed(1);
    const what = this.#label.length > 28 ? `${this.#label.slice(0, 27)}…` : this.#label;
    this.stream.write(
      `\r\x1b[2K[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${Math.round(frac * 100)}% ${secs}s ${what}`,
    );
  }

  tick(current?: string): void {
    this.update(this.#done + 1, current);
  }

  /** Clears the bar (if it was drawn) so the next output starts on a clean line. */
  end(): void {
    if (this.#drawn) this.stream.write('\r\x1b[2K');
    this.#drawn = false;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches ANSI SGR escapes (ESC '[' ... 'm') on purpose, to strip them
const ANSI_RE = /\x1b\[[0-9;]*m/g;
export function visibleLength(s: string): number {
  return [...s.replace(ANSI_RE, '')].length;
}

/**
 * Aligned columns. `align` is 'l' or 'r' per column (numbers right-aligned);
 * the header row is underlined with dashes so it survives without colour.
 */
export function table(header: string[], rows: string[][], align: ('l' | 'r')[], out?: Output): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => visibleLength(r[c] ?? ''))));
  const fmt = (r: string[]) =>
    r
      .map((cell, c) => {
        const pad = ' '.repeat(widths[c]! - visibleLength(cell));
        return align[c] === 'r' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  const head = fmt(header);
  const lines = [out ? out.style(head, 'bold') : head, widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** Megabytes (10^6 bytes) per second, as HDF5 and h5py benchmarks usually quote. */
export function mbPerSec(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : Infinity;
}

export function formatRate(mbps: number): string {
  if (!Number.isFinite(mbps)) return '-';
  return mbps >= 100 ? mbps.toFixed(0) : mbps >= 10 ? mbps.toFixed(1) : mbps.toFixed(2);
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function formatShape(shape: number[] | null): string {
  return shape ? `[${shape.join(', ')}]` : '-';
}

/** Exit code and one-line message for an error that reached the top. */
export function describeError(e: unknown): { exitCode: number; code: string; message: string } {
  if (e instanceof UsageError) return { exitCode: EXIT.USAGE, code: 'USAGE', message: e.message };
  if (e instanceof H5Error) {
    if (e.code === 'H5_ABORTED') return { exitCode: EXIT.INTERRUPTED, code: e.code, message: e.message };
    if (e.code === 'H5_ADDON_UNAVAILABLE') return { exitCode: EXIT.UNAVAILABLE, code: e.code, message: e.message };
    return { exitCode: FILE_CODES.has(e.code) ? EXIT.FILE : EXIT.FAILURE, code: e.code, message: e.message };
  }
  const sys = e as NodeJS.ErrnoException;
  if (sys && typeof sys.code === 'string' && FILE_CODES.has(sys.code)) {
    return { exitCode: EXIT.FILE, code: sys.code, message: sys.message };
  }
  // The CLI validates its arguments itself, so a TypeError/RangeError from the
  // library means the file holds something the operation cannot handle.
  if (e instanceof TypeError || e instanceof RangeError)
    return { exitCode: EXIT.FAILURE, code: e.name, message: e.message };
  if (e instanceof Error) return { exitCode: EXIT.INTERNAL, code: e.name, message: e.message };
  return { exitCode: EXIT.INTERNAL, code: 'ERROR', message: String(e) };
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
