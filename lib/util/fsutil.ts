/**
 * Filesystem steps of an atomic, durable replace (docs/architecture.md, invariant 5):
 * temp names in the target's directory, stale-temp cleanup, fsync of files
 * and directories, fs errors as H5Error, and the test-only fault hook.
 */
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { H5Error } from '../errors.js';

/** Steps of a save at which the fault hook is called (in order). */
export type SaveStep = 'create' | 'write' | 'attrs' | 'close' | 'fsync' | 'rename' | 'fsync-dir';

/** @internal test-only: called before each step; a throw (or rejection) fails the save there. */
export type FaultHook = (step: SaveStep, detail: { path: string; temp: string; tensor?: string }) => void | Promise<void>;
let faultHook: FaultHook | undefined;

/** @internal test-only fault injection (test/api/model.faults.test.ts). Not exported from the package. */
export function setFaultHook(hook: FaultHook | undefined): void {
  faultHook = hook;
}

export async function faultPoint(step: SaveStep, detail: { path: string; temp: string; tensor?: string }): Promise<void> {
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
  let fh;
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
  let st;
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

/**
 * Writes `data` to `target` atomically and durably: temp (with the old file's
 * mode and owner), fsync, rename, fsync dir. `renamed` is called once the
 * rename happened: from then on the new content is in place, even if the
 * directory fsync then fails.
 */
export async function writeFileAtomic(target: string, data: string, renamed?: () => void): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await keepModeOwner(fh, target);
      await syncHandle(fh);
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw ioError(e, `cannot write '${target}'`);
  }
  renamed?.();
  await fsyncDir(dirname(target)).catch((e) => {
    throw ioError(e, `wrote '${target}' but could not fsync its directory`);
  });
}

/** Removes a file, ignoring "already gone". */
export async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}
