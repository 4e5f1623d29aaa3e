/**
 * Atomic, durable replacement of a file (docs/architecture.md, invariant 5): build it
 * under a temporary name in the target's directory, fsync it, rename it over
 * the target, fsync the directory. On any error the temporary file is
 * removed and the target is untouched.
 */
import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The new file keeps the replaced one's permission bits, and its owner where allowed (as root). */
function keepModeOwner(tmp: string, target: string): void {
  const st = statSync(target, { throwIfNoEntry: false });
  if (!st?.isFile()) return;
  const fd = openSync(tmp, 'r');
  try {
    // Owner first: chown clears set-id bits, which the chmod restores.
    if (process.geteuid?.() === 0) fchownSync(fd, st.uid, st.gid);
    fchmodSync(fd, st.mode & 0o7777);
  } finally {
    closeSync(fd);
  }
}

/** Calls `build(tmpPath)` (which must create and close the file), then publishes it at `target`. */
export async function replaceAtomically<T>(target: string, build: (tmpPath: string) => Promise<T>): Promise<T> {
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const result = await build(tmp);
    keepModeOwner(tmp, target);
    fsyncPath(tmp, 'r');
    renameSync(tmp, target);
    // The rename is durable only once the directory entry is on disk.
    fsyncPath(dir, 'r');
    return result;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
