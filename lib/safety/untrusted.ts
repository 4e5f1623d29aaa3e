/**
 * Opening files we did not write (architecture.md, invariant 9). libhdf5
 * 1.10.8 crashes or hangs on published malformed files, so an untrusted file
 * is first walked in a CHILD PROCESS (a worker thread would share our address
 * space: its crash is ours) under a wall-clock deadline and RLIMIT_AS /
 * RLIMIT_CPU; only a clean walk lets the parent open it, and only if the file
 * it opens is the very inode, size and mtime/ctime the child walked.
 * A caller that already trusts the file's SHA-256 (`expectDigest`) skips the
 * walk once the digest matches. See docs/security.md.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openInput, openInputSync, sameStamp, type Input } from './open.js';
import { join } from 'node:path';
import { native, type FileHandle, type FileStamp } from '../addon/binding.js';
import { PACKAGE_ROOT } from '../addon/locate.js';
import { H5Error, isErrorCode } from '../errors.js';
import {
  booleanOption,
  checkInteger,
  checkKeys,
  checkNumber,
  checkObject,
  checkPath,
  invalid,
  matchOption,
  SHA256_ANY_CASE,
  SHA256_ANY_CASE_EXPECTED,
} from '../util/validate.js';

/** Limits of the untrusted walk; every field is optional (see DEFAULT_UNTRUSTED_LIMITS). */
export interface UntrustedLimits {
  /** Bytes one dataset's stored data decodes to (unwritten parts read as fill values and do not count). Default 16 GiB. */
  maxDatasetBytes?: number;
  /** Declared and decoded bytes of one attribute (variable-length strings count their contents). Default 1 MiB. */
  maxAttributeBytes?: number;
  /** Bytes the variable-length strings of one dataset decode to. Default 256 MiB. */
  maxVlenBytes?: number;
  /** Bytes of one uncompressed chunk (libhdf5 allocates a whole chunk per read). Default 256 MiB. */
  maxChunkBytes?: number;
  /** Shape bomb: declared bytes > maxExpansion x stored bytes. Default 1000. */
  maxExpansion?: number;
  /** Datasets declaring at most this many bytes are never shape bombs. Default 1 MiB. */
  expansionFloorBytes?: number;
  /** Group nesting below the root. Default 32. */
  maxDepth?: number;
  /** Objects (groups, datasets, named datatypes). Default 100 000. */
  maxObjects?: number;
  /** Links, all groups together. Default 1 000 000. */
  maxLinks?: number;
  /** Attributes, all objects together. Default 100 000. */
  maxAttributes?: number;
  /** Chunk grid slots of one dataset. Default 1 048 576. */
  maxChunks?: number;
  /** HDF5 filter ids allowed in pipelines. Default deflate 1, shuffle 2, fletcher32 3, szip 4, LZF 32000, Blosc 32001, LZ4 32004, Bitshuffle 32008, Zstandard 32015. */
  allowFilters?: number[];
  /** Wall-clock deadline of the walk child, ms. Default 10 000. */
  timeoutMs?: number;
  /** Address space the child may map beyond what Node itself has mapped at start-up. Default 1 GiB. */
  memoryBytes?: number;
}

export const DEFAULT_UNTRUSTED_LIMITS: Readonly<Required<UntrustedLimits>> = Object.freeze({
  maxDatasetBytes: 16 * 2 ** 30,
  maxAttributeBytes: 2 ** 20,
  maxVlenBytes: 256 * 2 ** 20,
  maxChunkBytes: 256 * 2 ** 20,
  maxExpansion: 1000,
  expansionFloorBytes: 2 ** 20,
  maxDepth: 32,
  maxObjects: 100_000,
  maxLinks: 1_000_000,
  maxAttributes: 100_000,
  maxChunks: 2 ** 20,
  allowFilters: Object.freeze([1, 2, 3, 4, 32000, 32001, 32004, 32008, 32015]) as unknown as number[],
  timeoutMs: 10_000,
  memoryBytes: 2 ** 30,
});

/** Why an untrusted file was refused (H5Error.reason with code 'H5_UNSAFE_FILE'). */
export type UnsafeReason =
  | 'external-link'
  | 'user-defined-link'
  | 'external-storage'
  | 'virtual-dataset'
  | 'filter'
  | 'dataset-too-large'
  | 'attribute-too-large'
  | 'chunk-too-large'
  | 'shape-bomb'
  | 'too-deep'
  | 'too-many-objects'
  | 'too-many-chunks'
  | 'out-of-bounds'
  | 'corrupt'
  | 'memory'
  | 'crashed'
  | 'timeout'
  | 'changed';

/** The fields an H5Error with code 'H5_UNSAFE_FILE' (or H5_CHECKSUM_MISMATCH from expectDigest) carries. */
export type UnsafeFileError = H5Error & {
  reason?: UnsafeReason;
  /** Signal that ended the walk child ('crashed', 'timeout'). */
  signal?: string;
  /** Exit status of a child that exited without a report. */
  exitCode?: number;
  path: string;
  detail?: string;
  /** Object inside the file the rejection is about ('/layers/0/w', '/g@attr'). */
  object?: string;
  /** libhdf5's error, mapped to an H5Error code, for reason 'corrupt'/'memory'. */
  hdf5Code?: string;
  /** H5_CHECKSUM_MISMATCH: the digests. */
  expected?: string;
  actual?: string;
};

/** What the walk saw. */
export interface WalkStats {
  groups: number;
  datasets: number;
  datatypes: number;
  links: number;
  softLinks: number;
  attributes: number;
  attributesRead: number;
  chunks: number;
  depth: number;
  declaredBytes: number;
  storedBytes: number;
  fileSize: number;
}

export type { FileStamp } from '../addon/binding.js';

export interface WalkResult {
  stats: WalkStats;
  /** Identity of the file the child walked. */
  stamp: FileStamp;
  /** Time of the walk inside the child, ms. */
  walkMs: number;
  /** Time from spawn to the child's answer, ms (Node start-up + addon load + walk). */
  totalMs: number;
}

/** Options File.open/openAsync accept for untrusted files. */
export interface UntrustedOpenOptions {
  /** Walk the file in a limited child process before opening it. */
  untrusted?: boolean;
  /** Limits of that walk. */
  limits?: UntrustedLimits;
  /** Lower-case hex SHA-256 of the file: when it matches, the file is trusted and the walk skipped. */
  expectDigest?: string;
  /**
   * @internal With expectDigest: the identity of a file whose bytes already
   * hashed to it (ModelStore's verified-once record). A pinned file with this
   * very identity is not hashed again; any other is.
   */
  vouchedStamp?: FileStamp;
  /**
   * @internal The file, already pinned by the caller (lib/safety/open.ts): it
   * is hashed or walked and opened through this descriptor, never by path.
   * The caller keeps it open and closes it.
   */
  input?: Input;
}

/** @internal Identity (device, inode, size, mtime, ctime) of the file libhdf5 holds open. */
export function fileStampOf(f: { readonly fileHandle: FileHandle }): FileStamp {
  return native.fileStamp(f.fileHandle);
}

// --- the child's protocol (lib/safety/walk-child.ts) ---

/** @internal */
export interface WalkChildRequest {
  path: string;
  limits: Omit<UntrustedLimits, 'timeoutMs' | 'memoryBytes'>;
  memoryBytes: number;
  cpuSeconds: number;
}

interface ChildReport {
  ok: boolean;
  reason?: string;
  detail?: string;
  object?: string;
  code?: string;
  stats: WalkStats;
  stamp?: FileStamp;
}

const LIMIT_KEYS = Object.keys(DEFAULT_UNTRUSTED_LIMITS) as (keyof UntrustedLimits)[];

/** Checks `limits` and fills in defaults. TypeError/RangeError on bad input. */
export function resolveLimits(limits: UntrustedLimits = {}): Required<UntrustedLimits> {
  checkObject(limits, 'limits');
  checkKeys(limits, LIMIT_KEYS, 'limit');
  const out = { ...DEFAULT_UNTRUSTED_LIMITS, allowFilters: [...DEFAULT_UNTRUSTED_LIMITS.allowFilters] };
  for (const k of LIMIT_KEYS) {
    const v = limits[k];
    if (v === undefined) continue;
    const name = `limits.${k}`;
    if (k === 'allowFilters') {
      if (!Array.isArray(v) || !v.every((id) => Number.isInteger(id) && id >= 0 && id < 65536))
        throw invalid(name, 'an array of HDF5 filter ids (integers 0 to 65535)', v);
      out.allowFilters = [...(v as number[])];
      continue;
    }
    // A count or size may be Infinity (no limit); the child's timeout and memory cap must be real.
    if (k === 'maxExpansion') checkNumber(v, name, { above: 0, infinite: true });
    else if (k === 'timeoutMs' || k === 'memoryBytes') checkInteger(v, name, 1);
    else if (v !== Infinity) checkInteger(v, name, 0, undefined, 'a non-negative integer or Infinity');
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Where the compiled child lives: dist/safety/ of the package, also when this module runs from lib/ (tests). */
export function walkChildPath(): string {
  const override = process.env.H5VAULT_WALK_CHILD;
  if (override) return override;
  const p = join(PACKAGE_ROOT, 'dist', 'safety', 'walk-child.js');
  if (!existsSync(p)) {
    throw new Error(`h5vault: the untrusted-file walker ${p} is missing; run 'npm run build:ts'`);
  }
  return p;
}

function unsafe(path: string, reason: UnsafeReason, detail: string, extra: Record<string, unknown> = {}): H5Error {
  return new H5Error(`untrusted file '${path}' refused (${reason}): ${detail}`, {
    code: 'H5_UNSAFE_FILE',
    reason,
    path,
    detail,
    ...extra,
  });
}

/** The pinned descriptor is the child's fd 3: it walks that inode, not whatever the path names by then. */
const CHILD_FD = 3;

function childArgs(
  path: string,
  lim: Required<UntrustedLimits>,
  pinnedFd?: number,
): { args: string[]; timeout: number } {
  if (pinnedFd !== undefined && PROC_FD) path = `/proc/self/fd/${CHILD_FD}`;
  const { timeoutMs, memoryBytes, ...limits } = lim;
  // Infinity does not survive JSON: a limit of Infinity is "no limit", the largest double.
  const walkLimits = Object.fromEntries(
    Object.entries(limits).map(([k, v]) => [k, v === Infinity ? Number.MAX_VALUE : v]),
  ) as WalkChildRequest['limits'];
  const req: WalkChildRequest = {
    path,
    limits: walkLimits,
    memoryBytes,
    // CPU backstop a little past the wall deadline: an orphaned child (parent
    // killed) spinning in a libhdf5 loop still dies on its own.
    cpuSeconds: Math.ceil(timeoutMs / 1000) + 1,
  };
  // No execArgv: the parent's flags (--expose-gc, loaders, inspectors) are not the child's business.
  return { args: [walkChildPath(), JSON.stringify(req)], timeout: timeoutMs };
}

interface ChildOutcome {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  totalMs: number;
}

const MAX_OUTPUT = 1 << 20;

/** Turns what the child did into a WalkResult or the H5Error to throw. */
function interpret(path: string, o: ChildOutcome, timeoutMs: number): WalkResult {
  // The child names the file by the descriptor it walked; messages name the path.
  o = { ...o, stdout: o.stdout.split(`/proc/self/fd/${CHILD_FD}`).join(path.replace(/["\\]/g, '')) };
  const tail = o.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
  if (o.timedOut)
    return fail(unsafe(path, 'timeout', `the walk did not finish within ${timeoutMs} ms`, { signal: 'SIGKILL' }));
  if (o.signal === 'SIGXCPU')
    return fail(unsafe(path, 'timeout', 'the walk exceeded its CPU-time limit', { signal: o.signal }));
  if (o.signal || o.status !== 0) {
    // RLIMIT_AS hit outside libhdf5's own checks (V8 or a C++ allocation) aborts the child.
    const oom = /out of memory|bad_alloc|Cannot allocate/i.test(o.stderr);
    const how = o.signal ? `killed by ${o.signal}` : `exited with status ${o.status}`;
    return fail(
      unsafe(path, oom ? 'memory' : 'crashed', `the walk process ${how}${tail ? ` (${tail})` : ''}`, {
        signal: o.signal ?? undefined,
        exitCode: o.status ?? undefined,
      }),
    );
  }
  let r: ChildReport & { ms: number };
  try {
    r = JSON.parse(o.stdout) as ChildReport & { ms: number };
  } catch {
    return fail(unsafe(path, 'crashed', `the walk process gave no report${tail ? ` (${tail})` : ''}`));
  }
  if (!r.ok) {
    if (r.reason === 'open-failed') {
      // Not HDF5 at all, gone, or locked by a writer: the same typed error a
      // trusted open gives. Any other open failure is malformed metadata.
      if (
        isErrorCode(r.code) &&
        ['H5_NOT_HDF5', 'H5_FILE_NOT_FOUND', 'H5_FILE_LOCKED', 'H5_PERMISSION'].includes(r.code)
      )
        return fail(new H5Error(r.detail ?? `cannot open '${path}'`, { code: r.code, path }));
      const memory = /memory allocation failed/.test(r.detail ?? '');
      return fail(
        unsafe(path, memory ? 'memory' : 'corrupt', r.detail ?? 'libhdf5 cannot open it', { hdf5Code: r.code }),
      );
    }
    const where = r.object && r.object !== '/' ? ` at ${r.object}` : '';
    return fail(
      unsafe(path, r.reason as UnsafeReason, `${r.detail ?? ''}${where}`, {
        object: r.object,
        hdf5Code: r.code,
        stats: r.stats,
      }),
    );
  }
  if (!r.stamp) return fail(unsafe(path, 'crashed', 'the walk process did not report the file identity'));
  return { stats: r.stats, stamp: r.stamp, walkMs: r.ms, totalMs: o.totalMs };
}

function fail(e: Error): never {
  throw e;
}

/**
 * Walks `path` in a limited child process. Resolves with what it saw, or
 * rejects with H5Error 'H5_UNSAFE_FILE' (reason says why) or the open error
 * libhdf5 gave (H5_NOT_HDF5, H5_FILE_NOT_FOUND, ...).
 */
export async function walkUntrusted(path: string, limits: UntrustedLimits = {}): Promise<WalkResult> {
  return walkPinned(path, limits);
}

async function walkPinned(path: string, limits: UntrustedLimits = {}, pinnedFd?: number): Promise<WalkResult> {
  checkPath(path);
  const lim = resolveLimits(limits);
  const { args, timeout } = childArgs(path, lim, pinnedFd);
  const t0 = performance.now();
  const outcome = await new Promise<ChildOutcome>((resolve, reject) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
    if (pinnedFd !== undefined) stdio.push(pinnedFd);
    const child = spawn(process.execPath, args, { stdio });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status, signal, timedOut, totalMs: performance.now() - t0 });
    });
  });
  return interpret(path, outcome, timeout);
}

/** walkUntrusted() for scripts: blocks the calling thread until the child ends. */
export function walkUntrustedSync(path: string, limits: UntrustedLimits = {}): WalkResult {
  return walkPinnedSync(path, limits);
}

function walkPinnedSync(path: string, limits: UntrustedLimits = {}, pinnedFd?: number): WalkResult {
  checkPath(path);
  const lim = resolveLimits(limits);
  const { args, timeout } = childArgs(path, lim, pinnedFd);
  const t0 = performance.now();
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_OUTPUT,
    stdio: pinnedFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', pinnedFd],
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (r.error && !timedOut) throw r.error;
  return interpret(
    path,
    {
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      status: r.status,
      signal: r.signal,
      timedOut,
      totalMs: performance.now() - t0,
    },
    timeout,
  );
}

/** SHA-256 of a file, lower-case hex, streamed (constant memory), through the one opener (lib/safety/open.ts). */
export async function fileDigest(path: string): Promise<string> {
  const input = await openInput(path);
  try {
    return await input.sha256();
  } finally {
    input.close();
  }
}

/** fileDigest() for scripts. */
export function fileDigestSync(path: string): string {
  const input = openInputSync(path);
  try {
    return input.sha256Sync();
  } finally {
    input.close();
  }
}

// --- File.open / File.openAsync integration ---

/** Validates the untrusted-related open options; true when any of them asks for checks. */
export function wantsChecks(o: UntrustedOpenOptions): boolean {
  checkObject(o);
  booleanOption(o, 'untrusted');
  // Either case: the digest is lowercased before it is compared (openChecked below).
  matchOption(o, 'expectDigest', SHA256_ANY_CASE, SHA256_ANY_CASE_EXPECTED);
  if (o.limits !== undefined) {
    resolveLimits(o.limits);
    if (!o.untrusted) throw new TypeError('limits only apply with { untrusted: true }');
  }
  const checked = o.untrusted === true || o.expectDigest !== undefined;
  // A check vouches for the bytes it read; libhdf5 rewrites the superblock of
  // a file it opens for writing, so such an open could never be the file that
  // was checked (it was refused as 'changed' after the file had been touched).
  if (checked && (o as { mode?: unknown }).mode === 'r+')
    throw new TypeError(
      "{ untrusted } and { expectDigest } open files read-only: mode 'r+' cannot be combined with them",
    );
  return checked;
}

const PROC_FD = existsSync('/proc/self/fd');

function changed(path: string, when: string): H5Error {
  return unsafe(path, 'changed', `the file changed ${when} (device, inode, size, mtime or ctime differ)`);
}

function digestMismatch(path: string, expected: string, actual: string): H5Error {
  return new H5Error(
    `'${path}': SHA-256 ${actual} does not match the expected ${expected.toLowerCase()}: refusing to parse it`,
    {
      code: 'H5_CHECKSUM_MISMATCH',
      path,
      expected: expected.toLowerCase(),
      actual,
    },
  );
}

/** The parts of File this module needs (no import of file.ts: it imports us). */
interface Openable {
  readonly fileHandle: FileHandle;
  close(): void;
}

/**
 * Opens the pinned inode (libhdf5 opens /proc/self/fd/N), then proves that
 * libhdf5's descriptor is that inode, unchanged since it was pinned (a write
 * in place during the hash or walk changes size, mtime or ctime).
 */
function openVetted<F extends Openable>(pinned: Input, open: (openPath: string) => F): F {
  const f = open(pinned.openPath);
  let now: FileStamp;
  try {
    now = native.fileStamp(f.fileHandle);
  } catch (e) {
    f.close();
    throw e;
  }
  if (!sameStamp(pinned.stamp, now)) {
    f.close();
    throw changed(pinned.path, 'between the check and the open');
  }
  return f;
}

/** @internal File.open(path, { untrusted / expectDigest }) */
export function openCheckedSync<F extends Openable>(
  path: string,
  o: UntrustedOpenOptions,
  open: (openPath: string) => F,
): F {
  const pinned = o.input ?? openInputSync(path);
  try {
    if (o.expectDigest !== undefined) {
      if (o.vouchedStamp && sameStamp(pinned.stamp, o.vouchedStamp)) return openVetted(pinned, open);
      const actual = pinned.sha256Sync();
      if (actual !== o.expectDigest.toLowerCase()) throw digestMismatch(path, o.expectDigest, actual);
    } else {
      const r = walkPinnedSync(path, o.limits, pinned.fd);
      if (!sameStamp(pinned.stamp, r.stamp)) throw changed(path, 'while it was being walked');
    }
    return openVetted(pinned, open);
  } finally {
    if (pinned !== o.input) pinned.close();
  }
}

/** @internal File.openAsync(path, { untrusted / expectDigest }) */
export async function openChecked<F extends Openable>(
  path: string,
  o: UntrustedOpenOptions,
  open: (openPath: string) => F,
): Promise<F> {
  const pinned = o.input ?? (await openInput(path));
  try {
    if (o.expectDigest !== undefined) {
      if (o.vouchedStamp && sameStamp(pinned.stamp, o.vouchedStamp)) return openVetted(pinned, open);
      const actual = await pinned.sha256();
      if (actual !== o.expectDigest.toLowerCase()) throw digestMismatch(path, o.expectDigest, actual);
    } else {
      const r = await walkPinned(path, o.limits, pinned.fd);
      if (!sameStamp(pinned.stamp, r.stamp)) throw changed(path, 'while it was being walked');
    }
    return openVetted(pinned, open);
  } finally {
    if (pinned !== o.input) pinned.close();
  }
}

/**
 * @internal A trusted open of a file the caller pinned (o.input): libhdf5
 * opens the pinned inode, and its identity is checked as for a vetted open.
 */
export function openPinned<F extends Openable>(pinned: Input, open: (openPath: string) => F): F {
  return openVetted(pinned, open);
}
