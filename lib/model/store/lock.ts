/**
 * An exclusive lock file (O_CREAT|O_EXCL) guarding a ModelStore model's
 * publish step (claim a version, rewrite the index). It is held for
 * milliseconds, never while tensors are written, so a lock older than
 * `staleMs` or owned by a dead pid on this host is abandoned and broken.
 */
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { H5Error } from '../../errors.js';
import { ioError, pidAlive } from '../../util/publish.js';
import { parseStoredJson } from '../../safety/budget.js';

export interface LockOptions {
  /** Give up after this long (H5_FILE_LOCKED). Default 30 s. */
  timeoutMs?: number;
  /** A lock untouched for this long is considered abandoned. Default 60 s. */
  staleMs?: number;
}

interface Owner {
  pid: number;
  host: string;
  token: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const o = parseStoredJson(await readFile(path, 'utf8')) as Partial<Owner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.token === 'string'
      ? (o as Owner)
      : undefined;
  } catch {
    return undefined; // being written right now, or garbage: judged by age alone
  }
}

async function isStale(path: string, staleMs: number): Promise<{ stale: boolean; owner?: Owner }> {
  let mtime: number;
  try {
    mtime = (await stat(path)).mtimeMs;
  } catch {
    return { stale: false }; // gone: just retry the create
  }
  const owner = await readOwner(path);
  if (owner && owner.host === hostname() && !pidAlive(owner.pid)) return { stale: true, owner };
  return { stale: Date.now() - mtime > staleMs, owner };
}

/**
 * Takes the lock at `path`, returns its release function. Breaking a stale
 * lock renames it aside first and checks that what was moved is the lock
 * judged stale, so two processes breaking the same stale lock cannot delete
 * a fresh lock taken in between by a third.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const me: Owner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me));
      } finally {
        await fh.close();
      }
      return async () => {
        const o = await readOwner(path);
        if (o?.token === me.token) await unlink(path).catch(() => {});
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, `cannot create lock '${path}'`);
    }
    const { stale, owner } = await isStale(path, staleMs);
    if (stale) {
      const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
      try {
        await rename(path, aside);
        const moved = await readOwner(aside);
        if (owner && moved && moved.token !== owner.token) {
          // We moved someone's fresh lock: put it back unless the slot was taken
          // meanwhile (link never overwrites). Were it taken, two processes would
          // hold the lock; ModelStore survives that (link() claims versions, and a committed version whose index entry was lost is adopted).
          await link(aside, path).catch(() => {});
        }
        await unlink(aside).catch(() => {});
      } catch {
        // Another process broke it first.
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new H5Error(
        `lock '${path}' is held by ${owner ? `pid ${owner.pid} on ${owner.host}` : 'another process'}`,
        { code: 'H5_FILE_LOCKED' },
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
