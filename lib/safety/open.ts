/**
 * The one door in (docs/architecture.md, "Doors" / "One way in"): every path a
 * user hands h5vault that h5vault reads by itself (outside libhdf5's own
 * trusted open) is opened here, once.
 *
 * - Never blocks on it: a FIFO's open() waits for a writer and /dev/zero never
 *   ends, so a plain open would freeze the caller (or a libuv thread) forever.
 *   The path is opened O_NONBLOCK (no effect on regular files), its descriptor
 *   is fstat'ed, and anything but a regular file is refused with H5Error
 *   H5_OPEN_FAILED (saying what it is) before a single byte is read.
 * - Pins it: the result is one descriptor (an `Input`) that is hashed
 *   (expectDigest), walked (untrusted: handed to the child as its fd 3) and
 *   then read, never the path again. Code that must hand a path to a library
 *   (libhdf5) gives it `openPath` (/proc/self/fd/N, the pinned inode) and
 *   checks the identity it got with `sameStamp`.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  open as openCb,
  openSync,
  read,
  readSync,
  statSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { H5Error } from '../errors.js';

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

import type { FileStamp } from '../addon/binding.js';
import { checkPath } from '../util/validate.js';
export type { FileStamp };

type Kind = Pick<Stats, 'isFile' | 'isDirectory' | 'isFIFO' | 'isCharacterDevice' | 'isBlockDevice' | 'isSocket'>;

function kind(st: Kind): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

function named(path: string, what?: string): string {
  return what ? `${what} '${path}'` : `'${path}'`;
}

/** H5_OPEN_FAILED saying what `path` is instead of a regular file. */
export function notRegular(path: string, st: Kind, what?: string): H5Error {
  return new H5Error(`cannot open ${named(path, what)}: it is ${kind(st)}, not a regular file`, {
    code: 'H5_OPEN_FAILED',
    path,
  });
}

function openError(path: string, e: unknown, what?: string): H5Error {
  const code = (e as NodeJS.ErrnoException).code;
  // open() itself fails on a directory (EISDIR) or a socket (ENXIO): say what it is.
  if (code === 'EISDIR' || code === 'ENXIO') {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && !st.isFile()) return notRegular(path, st, what);
  }
  const h5code =
    code === 'ENOENT'
      ? 'H5_FILE_NOT_FOUND'
      : code === 'EACCES' || code === 'EPERM'
        ? 'H5_PERMISSION'
        : 'H5_OPEN_FAILED';
  return new H5Error(`cannot open ${named(path, what)}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
    code: h5code,
    path,
    errno: code,
  });
}

function stampOf(st: BigIntStats): FileStamp {
  return { dev: `${st.dev}`, ino: `${st.ino}`, size: `${st.size}`, mtimeNs: `${st.mtimeNs}`, ctimeNs: `${st.ctimeNs}` };
}

/** Same inode, size, mtime and ctime: nothing replaced or rewrote the file in between. */
export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

const PROC_FD = existsSync('/proc/self/fd');
const preadAsync = promisify(read);
const openAsync = promisify(openCb) as (path: string, flags: number) => Promise<number>;
const STEP = 1 << 20;

/**
 * A pinned input file: one read-only descriptor of a regular file, and the
 * identity it had when opened. Every read and hash goes through `fd` with
 * positional reads (its offset is never used), so concurrent readers do not
 * disturb each other and a path replaced meanwhile is never seen.
 */
export class Input {
  /** The path as the caller gave it (for messages). */
  readonly path: string;
  /** What the caller called it in messages ('Keras file', 'ONNX model', ...), or undefined. */
  readonly what: string | undefined;
  readonly fd: number;
  /** Identity when opened. */
  readonly stamp: FileStamp;
  /** Size in bytes when opened; reads never go past it. */
  readonly size: number;
  /** A path naming exactly this inode (/proc/self/fd/N), for libraries that take paths; the path itself where /proc is absent. */
  readonly openPath: string;
  #closed = false;

  /** @internal use openInput / openInputSync */
  constructor(path: string, what: string | undefined, fd: number, st: BigIntStats) {
    this.path = path;
    this.what = what;
    this.fd = fd;
    this.stamp = stampOf(st);
    this.size = Number(st.size);
    this.openPath = PROC_FD ? `/proc/self/fd/${fd}` : path;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** pread into `buf`, off the event loop; returns the bytes read (0 at the pinned end). */
  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    length = Math.max(0, Math.min(length, this.size - position));
    if (length === 0) return 0;
    return (await preadAsync(this.fd, buf, offset, length, position)).bytesRead;
  }

  /** `length` bytes from `position` (fewer only at the pinned end of the file). */
  async readAt(position: number, length: number): Promise<Buffer> {
    length = Math.max(0, Math.min(length, this.size - position));
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = await this.read(buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  /** readAt() for synchronous callers. */
  readAtSync(position: number, length: number): Buffer {
    length = Math.max(0, Math.min(length, this.size - position));
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  /**
   * The whole file (as pinned) in memory; refuses a file larger than
   * `maxBytes` (H5_LIMIT_EXCEEDED) before reading any of it.
   */
  async readAll(maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
    if (this.size > maxBytes) {
      throw new H5Error(`${named(this.path, this.what)} is ${this.size} bytes, more than the ${maxBytes} allowed`, {
        code: 'H5_LIMIT_EXCEEDED',
        path: this.path,
      });
    }
    const b = await this.readAt(0, this.size);
    if (b.length !== this.size) throw this.changedError('while it was being read');
    return b;
  }

  /** A stream of bytes [start, end] (inclusive, as fs streams), through the pinned descriptor, which it leaves open. */
  stream(start: number, end: number, highWaterMark = STEP): Readable {
    end = Math.min(end, this.size - 1);
    if (end < start) return Readable.from([]);
    let pos = start;
    const input = this;
    // A pull stream over pread: an fs.ReadStream would close (or seek) the shared descriptor.
    return new Readable({
      highWaterMark,
      read(n) {
        const len = Math.min(Math.max(n, highWaterMark), end + 1 - pos);
        if (len <= 0) return void this.push(null);
        const buf = Buffer.allocUnsafe(len);
        input.read(buf, 0, len, pos).then(
          (got) => {
            pos += got;
            this.push(got === 0 ? null : buf.subarray(0, got));
          },
          (e: Error) => this.destroy(e),
        );
      },
    });
  }

  /** SHA-256 (lower-case hex) of the pinned bytes, read through the descriptor off the event loop. */
  async sha256(): Promise<string> {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(STEP);
    let pos = 0;
    for (;;) {
      const n = await this.read(buf, 0, buf.length, pos);
      if (!(n > 0)) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
    if (pos !== this.size) throw this.changedError('while it was being hashed');
    return h.digest('hex');
  }

  /** sha256() for synchronous callers. */
  sha256Sync(): string {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(STEP);
    let pos = 0;
    while (pos < this.size) {
      const n = readSync(this.fd, buf, 0, Math.min(buf.length, this.size - pos), pos);
      if (!(n > 0)) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
    if (pos !== this.size) throw this.changedError('while it was being hashed');
    return h.digest('hex');
  }

  /** The descriptor's identity now. */
  current(): FileStamp {
    return stampOf(fstatSync(this.fd, { bigint: true }));
  }

  /** True while the file is as pinned (nothing wrote, truncated or touched it since). */
  unchanged(): boolean {
    return sameStamp(this.stamp, this.current());
  }

  /** Throws H5_UNSAFE_FILE reason 'changed' unless unchanged(). */
  assertUnchanged(when = 'while it was being read'): void {
    if (!this.unchanged()) throw this.changedError(when);
  }

  /** Throws unless `stamp` (what a library reports it opened through openPath) is this pinned file as pinned. */
  assertSame(stamp: FileStamp, when = 'between the check and the open'): void {
    if (!sameStamp(this.stamp, stamp)) throw this.changedError(when);
  }

  changedError(when: string): H5Error {
    const detail = `the file changed ${when} (device, inode, size, mtime or ctime differ)`;
    return new H5Error(`${named(this.path, this.what)} refused (changed): ${detail}`, {
      code: 'H5_UNSAFE_FILE',
      reason: 'changed',
      path: this.path,
      detail,
    });
  }

  /** Closes the descriptor. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function pinned(path: string, what: string | undefined, fd: number): Input {
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) throw notRegular(path, st, what);
    return new Input(path, what, fd, st);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Opens `path` (named `what` in messages) as a pinned Input: regular files
 * only, never blocking; the caller closes it.
 */
export async function openInput(path: string, what?: string): Promise<Input> {
  checkPath(path);
  let fd: number;
  try {
    // fs.open (not fs/promises): a raw descriptor the Input owns, not a FileHandle that closes itself when collected.
    fd = await openAsync(path, FLAGS);
  } catch (e) {
    throw openError(path, e, what);
  }
  return pinned(path, what, fd);
}

/** openInput() for synchronous callers. */
export function openInputSync(path: string, what?: string): Input {
  checkPath(path);
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    throw openError(path, e, what);
  }
  return pinned(path, what, fd);
}

/**
 * Runs `fn` with the pinned input and closes it afterwards, whatever happens.
 * @example const digest = await withInput('m.h5', 'model', (i) => i.sha256());
 */
export async function withInput<T>(
  path: string,
  what: string | undefined,
  fn: (input: Input) => Promise<T> | T,
): Promise<T> {
  const input = await openInput(path, what);
  try {
    return await fn(input);
  } finally {
    input.close();
  }
}

/** Opens `path` read-only if it is a regular file, as a FileHandle; the caller closes it. */
export async function openRegular(path: string, what?: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, FLAGS);
  } catch (e) {
    throw openError(path, e, what);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(path, st, what);
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** openRegular() for synchronous callers: returns a descriptor the caller closes. */
export function openRegularSync(path: string, what?: string): number {
  return openInputSync(path, what).fd;
}
