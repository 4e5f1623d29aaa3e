/**
 * The one door out (docs/architecture.md, "One way out"; invariant 5): every
 * file h5vault writes is published here. A temp file in the target's
 * directory is written, CHECKED (a caller-supplied verification of the temp:
 * nothing that fails it is ever published), fsynced, then renamed over the
 * target (or hard-linked in, when the target must not be replaced), and the
 * directory fsynced. Any failure before the rename removes the temp and
 * leaves the old file as it was. Also here: stale-temp cleanup, fs errors as
 * H5Error, and the test-only fault hook.
 */
import type { Stats } from 'node:fs';
import { link, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { H5Error } from '../errors.js';
import { fileTarget } from './validate.js';
import { checkAbort } from './abort.js';

/** Steps of a save at which the fault hook is called (in order). */
export type SaveStep = 'create' | 'write' | 'attrs' | 'close' | 'check' | 'fsync' | 'rename' | 'fsync-dir';

/** @internal test-only: called before each step; a throw (or rejection) fails the save there. */
export type FaultHook = (
  step: SaveStep,
  detail: { path: string; temp: string; tensor?: string },
) => void | Promise<void>;
let faultHook: FaultHook | undefined;

/** @internal test-only fault injection (test/api/model.faults.test.ts). Not exported from the package. */
export function setFaultHook(hook: FaultHook | undefined): void {
  faultHook = hook;
}

export async function faultPoint(
  step: SaveStep,
  detail: { path: string; temp: string; tensor?: string },
): Promise<void> {
  if (faultHook) await faultHook(step, detail);
}

const TEMP_MARK = '.h5vault-tmp-';

/** `.<base>.h5vault-tmp-<pid>-<random>` next to `target`: same filesystem, so rename is atomic. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);
}

const TEMP_RE = /^\..+\.h5vault-tmp-(\d+)-[0-9a-f]+$/;

/** Is process `pid` alive on this host? EPERM means it exists but is not ours. */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Default age after which a temp file whose writer seems alive is still treated as abandoned. */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Removes temp files left in `dir` by saves that will never finish: the
 * writer's pid is gone, or the file has not been written to for `maxAgeMs`
 * (a reused pid, or a writer on another host sharing the directory; a live
 * save keeps touching its temp, so its mtime stays recent). Our own process's
 * temps are never touched. Best effort: errors are ignored. Returns the names removed.
 */
export async function cleanStaleTemps(dir: string, maxAgeMs = STALE_TEMP_MS): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    const p = join(dir, name);
    try {
      const dead = !pidAlive(pid);
      if (!dead && now - (await stat(p)).mtimeMs < maxAgeMs) continue;
      await unlink(p);
      removed.push(name);
    } catch {
      // Raced with another cleaner or the writer itself: nothing to do.
    }
  }
  return removed;
}

/** fs errors as H5Error: ENOENT -> H5_FILE_NOT_FOUND, ENOSPC/EIO/... -> H5_IO; `errno` keeps the fs code. */
export function ioError(e: unknown, what: string): unknown {
  if (e instanceof H5Error || !(e instanceof Error)) return e;
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === undefined) return e;
  return new H5Error(`${what}: ${e.message}`, {
    code: errno === 'ENOENT' ? 'H5_FILE_NOT_FOUND' : 'H5_IO',
    errno,
    syscall: (e as NodeJS.ErrnoException).syscall,
  });
}

let fsyncEnabled = true;

/**
 * @internal bench-only (bench/save.ts measures what durability costs). Not
 * exported from the package: a save without fsync is not durable.
 */
export function setFsyncForBenchmark(enabled: boolean): void {
  fsyncEnabled = enabled;
}

/** fsync through an open handle, unless a benchmark turned it off. */
export async function syncHandle(fh: { sync(): Promise<void> }): Promise<void> {
  if (fsyncEnabled) await fh.sync();
}

/**
 * Starts writing a file's data to the disk early, through an open handle
 * (fdatasync on the libuv pool), so a writer can hash or finish the file
 * while the disk works, and the fsync of the publish (syncHandle) finds little
 * left to write. Not a durability step by itself: the publish still fsyncs.
 * Nothing when a benchmark turned fsync off.
 */
export async function startWriteback(fh: { datasync(): Promise<void> }): Promise<void> {
  if (fsyncEnabled) await fh.datasync();
}

/** fsync a regular file by path (libhdf5 never does: it only write()s). */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await syncHandle(fh);
  } finally {
    await fh.close();
  }
}

/**
 * fsync a directory so a rename or link in it survives power loss. Platforms
 * that cannot open or sync directories (Windows: EISDIR/EPERM) have no
 * equivalent, so those errors are ignored; real I/O errors are not.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch (e) {
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    await syncHandle(fh);
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (!(c === 'EINVAL' || c === 'EISDIR' || c === 'EPERM' || c === 'EBADF')) throw e;
  } finally {
    await fh.close();
  }
}

/**
 * Gives the file open as `fh` the permission bits of `like` (if `like` is a
 * regular file) and its owner where allowed: as root its user and group, else
 * its group when we may (we own the file and belong to the group). A replace
 * (rename over `like`) then keeps a 0600 file 0600. Call before fsync, so the
 * new metadata is as durable as the data.
 */
export async function keepModeOwner(fh: FileHandle, like: string): Promise<void> {
  let st: Stats;
  try {
    st = await stat(like);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isFile()) return;
  // Owner first: chown clears set-id bits, which the chmod restores.
  if (process.geteuid?.() === 0) await fh.chown(st.uid, st.gid);
  else if (st.gid !== process.getegid?.()) await fh.chown(-1, st.gid).catch(() => {});
  await fh.chmod(st.mode & 0o7777);
}

/** How a publish may treat a file already at the target. */
export interface PublishTarget {
  /**
   * Replace an existing file at the target (default false: an existing file
   * is refused with H5_EXISTS, atomically: the publish is a hard link, which
   * never replaces). Pass true only for a file the user named as the output,
   * or when they said --force / { overwrite: true }.
   */
  overwrite?: boolean;
  /** What the target is, for the H5_EXISTS message (default 'output'). */
  role?: string;
  /** How to allow the replacement, for the H5_EXISTS message (default 'pass { overwrite: true }'). */
  allow?: string;
}

export interface StageOptions<T> {
  /** Creates and writes the file at `temp` (closed when it resolves). */
  write: (temp: string) => Promise<T>;
  /**
   * Verifies the written temp before it can be published (re-open and
   * re-hash, ...): a throw publishes nothing and leaves the old file as it was.
   */
  check?: (temp: string, written: T) => Promise<void> | void;
  /** The file whose mode and owner the new one takes (default: the target it replaces). */
  modeOf?: string;
  /** The temp's path (default tempPathFor(target)); it must be in the target's directory. */
  temp?: string;
  signal?: AbortSignal;
  /** @internal false: no fault-hook steps (small metadata files written inside a step the hook already saw). */
  faults?: boolean;
}

export interface PublishOptions<T> extends StageOptions<T>, PublishTarget {}

/** A written, checked and fsynced temp file, not yet published. */
export interface Staged<T> {
  temp: string;
  result: T;
}

/** The H5_EXISTS refusal: which file, and how to allow its replacement. */
export function existsError(target: string, t: PublishTarget = {}): H5Error {
  return new H5Error(
    `${t.role ?? 'output'} '${target}' exists; h5vault does not replace it (${t.allow ?? 'pass { overwrite: true }'} to replace it)`,
    {
      code: 'H5_EXISTS',
      path: target,
    },
  );
}

/** Refuses early (before anything is written) when the target exists and may not be replaced. */
export async function refuseExisting(target: string, t: PublishTarget = {}): Promise<void> {
  if (t.overwrite) return;
  const st = await stat(target).catch(() => undefined);
  if (st) throw existsError(target, t);
}

/**
 * The first half of a publish: write the temp, check it, give it the
 * replaced file's mode and owner, fsync it. On any failure the temp is removed.
 */
export async function stageFile<T>(target: string, o: StageOptions<T>): Promise<Staged<T>> {
  fileTarget(target, 'target');
  const dir = dirname(target);
  const temp = o.temp ?? tempPathFor(target);
  if (dirname(temp) !== dir)
    throw new TypeError(
      `temp '${temp}' must be in the target's directory '${dir}' (rename is atomic only within one filesystem)`,
    );
  const where = { path: target, temp };
  const fault = o.faults === false ? async () => {} : faultPoint;
  try {
    checkAbort(o.signal, 'write');
    const result = await o.write(temp);
    checkAbort(o.signal, 'write');
    await fault('check', where);
    if (o.check) await o.check(temp, result);
    checkAbort(o.signal, 'write');
    await fault('fsync', where);
    // Read-only open: fsync and fchmod need no write access, and the temp may
    // already carry a read-only mode copied from the file it replaces.
    const fh = await open(temp, 'r');
    try {
      await keepModeOwner(fh, o.modeOf ?? target);
      await syncHandle(fh);
    } finally {
      await fh.close();
    }
    return { temp, result };
  } catch (e) {
    await unlinkQuiet(temp);
    throw ioError(e, `cannot write '${target}'`);
  }
}

/**
 * Puts `temp` in place at `target`, never replacing an existing file: a hard
 * link fails with EEXIST instead (then H5_EXISTS). The temp stays (the caller
 * removes it, or tries another target).
 */
export async function linkNoReplace(temp: string, target: string, t: PublishTarget = {}): Promise<void> {
  try {
    await link(temp, target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw existsError(target, t);
    // A filesystem without hard links (vfat, some FUSE mounts): check, then
    // rename. Not atomic against a concurrent creator, but never over a file
    // that was there when we looked.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    await refuseExisting(target, t);
    await rename(temp, target);
  }
}

/**
 * The second half: rename (or, without overwrite, link) the staged temp into
 * place, then fsync the directory. Before the rename a failure removes the
 * temp and leaves the target as it was; after it, the new file is in place
 * and only its durability is in doubt (the error says so).
 */
export async function commitStaged(
  temp: string,
  target: string,
  t: PublishTarget & { signal?: AbortSignal; renamed?: () => void; faults?: boolean } = {},
): Promise<void> {
  const where = { path: target, temp };
  const fault = t.faults === false ? async () => {} : faultPoint;
  try {
    checkAbort(t.signal, 'write');
    await fault('rename', where);
    if (t.overwrite) await rename(temp, target);
    else {
      await linkNoReplace(temp, target, t);
      await unlinkQuiet(temp);
    }
  } catch (e) {
    await unlinkQuiet(temp);
    throw ioError(e, `cannot move the new '${basename(target)}' into place at '${target}'`);
  }
  t.renamed?.();
  try {
    await fault('fsync-dir', where);
    await fsyncDir(dirname(target));
  } catch (e) {
    throw ioError(e, `wrote '${target}' but could not fsync its directory: the rename may not survive power loss`);
  }
}

/**
 * Publishes a file: temp in the target's directory, write, check, fsync,
 * rename (link when it must not replace), fsync of the directory. Resolves
 * to what `write` returned.
 *
 * @example
 *   await publishFile('/models/out.bin', {
 *     write: async (temp) => { await writeFile(temp, bytes, { flag: 'wx' }); },
 *     check: async (temp) => { if (sha256(await readFile(temp)) !== expected) throw new Error('mismatch'); },
 *     overwrite: true,
 *   });
 */
export async function publishFile<T>(target: string, o: PublishOptions<T>): Promise<T> {
  await refuseExisting(target, o);
  const staged = await stageFile(target, o);
  await commitStaged(staged.temp, target, o);
  return staged.result;
}

/** Writes `data` to `target` through publishFile, replacing it. `renamed` is called once the new content is in place. */
export async function writeFileAtomic(target: string, data: string, renamed?: () => void): Promise<void> {
  const staged = await stageFile(target, {
    write: async (temp) => {
      const fh = await open(temp, 'wx');
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    },
    faults: false,
  });
  await commitStaged(staged.temp, target, { overwrite: true, renamed, faults: false });
}

/** Removes a file, ignoring "already gone". */
export async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}
