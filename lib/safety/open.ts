/**
 * Opening files h5vault hashes or reads by itself (outside libhdf5) without
 * ever blocking on them: a FIFO's open() waits for a writer and /dev/zero
 * never ends, so a plain open would freeze the caller (or a libuv thread)
 * forever. The path is opened O_NONBLOCK (no effect on regular files), its
 * descriptor is fstat'ed, and anything but a regular file is refused with
 * H5Error H5_OPEN_FAILED before a single byte is read.
 */
import { closeSync, constants, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { H5Error } from '../errors.js';

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function kind(st: Pick<Stats, 'isDirectory' | 'isFIFO' | 'isCharacterDevice' | 'isBlockDevice' | 'isSocket'>): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** H5_OPEN_FAILED saying what `path` is instead of a regular file. */
export function notRegular(path: string, st: Stats | { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): H5Error {
  return new H5Error(`cannot open '${path}': it is ${kind(st)}, not a regular file`, { code: 'H5_OPEN_FAILED', path });
}

function openError(path: string, e: unknown): H5Error {
  const code = (e as NodeJS.ErrnoException).code;
  // open() itself fails on a directory (EISDIR) or a socket (ENXIO): say what it is.
  if (code === 'EISDIR' || code === 'ENXIO') {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && !st.isFile()) return notRegular(path, st);
  }
  return new H5Error(`cannot open '${path}': ${(e as Error).message}`, {
    code: code === 'ENOENT' ? 'H5_FILE_NOT_FOUND' : 'H5_OPEN_FAILED',
    path, errno: code,
  });
}

/** Opens `path` read-only if it is a regular file; the caller closes it. */
export async function openRegular(path: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, FLAGS);
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(path, st);
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** openRegular() for synchronous callers: returns a descriptor the caller closes. */
export function openRegularSync(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(path, st);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
