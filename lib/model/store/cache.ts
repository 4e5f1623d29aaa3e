/**
 * The local cache of an S3 model store: version files by their SHA-256, shared
 * by every process on the machine that uses the same directory
 * (docs/object-storage.md#the-cache).
 *
 *   DIR/blobs/<sha256>.h5          complete, verified files (only ever renamed in)
 *   DIR/blobs/.<sha256>.h5.<pid>.<rand>.part   a download in progress
 *   DIR/locks/<sha256>.lock        held by the one process downloading it
 *   DIR/pins/<sha256>.<pid>.<rand> one per loaded (mapped) version, per process
 *   DIR/used/<sha256>              its mtime is the version's last use (LRU)
 *
 * One download: a process that misses takes the digest's lock, looks again,
 * and only then downloads; the others wait on the lock and find the file.
 * A file is renamed in only after its SHA-256 matched, so a cache file is
 * never wrong. Mapped versions are pinned by a file naming the pid; eviction
 * (least recently used first, by the mtime of a per-digest file each use
 * touches: touching the version file itself would change its ctime, which
 * File.open's check-then-open stamp compares) skips
 * a digest with a pin whose process is alive, and removes pins of dead ones.
 */
import { mkdir, open, readdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { H5Error } from '../../errors.js';
import { fileSha256 } from '../digest.js';
import { commitStaged, ioError, pidAlive, stageFile, unlinkQuiet } from '../../util/publish.js';
import { acquireLock } from './lock.js';
import { checkAbort } from '../../util/abort.js';

async function sha256Of(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    return (await fileSha256(fh.fd)).hex;
  } finally {
    await fh.close();
  }
}

const BLOB_RE = /^([0-9a-f]{64})\.h5$/;
const PART_RE = /^\.([0-9a-f]{64})\.h5\.(\d+)\.[0-9a-f]+\.part$/;
const PIN_RE = /^([0-9a-f]{64})\.(\d+)\.[0-9a-f]+$/;

export interface CacheStats {
  /** Bytes of complete files in the cache. */
  bytes: number;
  files: number;
  /** Digests pinned by a live process (mapped somewhere on this machine). */
  pinned: string[];
}

export class BlobCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #waitMs: number;

  constructor(dir: string, maxBytes = Infinity, waitMs = 30 * 60_000) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.#waitMs = waitMs;
  }

  path(digest: string): string {
    return join(this.dir, 'blobs', `${digest}.h5`);
  }

  async init(): Promise<void> {
    try {
      for (const d of ['blobs', 'locks', 'pins', 'used']) await mkdir(join(this.dir, d), { recursive: true });
    } catch (e) {
      throw ioError(e, `cannot create the S3 cache directory '${this.dir}'`);
    }
  }

  /**
   * Marks `digest` as in use by this process until the returned function is
   * called. Taken before the file is looked up, so eviction (which reads pins
   * before unlinking) cannot remove it after we decided it was there.
   */
  pin(digest: string): () => void {
    const p = join(this.dir, 'pins', `${digest}.${process.pid}.${randomBytes(4).toString('hex')}`);
    writeFileSync(p, '');
    let done = false;
    return () => {
      if (done) return;
      done = true;
      try {
        unlinkSync(p);
      } catch {
        // Already gone (a cache wiped by hand): nothing holds it.
      }
    };
  }

  /** Records a use for LRU. */
  async touch(digest: string): Promise<void> {
    const p = join(this.dir, 'used', digest);
    const now = new Date();
    try {
      await utimes(p, now, now);
    } catch {
      await writeFile(p, '').catch(() => {}); // first use; a lost race with another creator is the same use
    }
  }

  async #lastUse(digest: string, fallback: number): Promise<number> {
    return stat(join(this.dir, 'used', digest)).then(
      (s) => s.mtimeMs,
      () => fallback,
    );
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /**
   * Makes `digest` present: returns at once if it is, else downloads it once
   * across processes with `fetch(tempPath)`, checks its SHA-256 (the one
   * `fetch` computed while writing, if it returns one, else hashed from the
   * file) and renames it in. Resolves to whether this call downloaded it.
   */
  async ensure(
    digest: string,
    fetch: (temp: string) => Promise<string | undefined> | Promise<void>,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if (await this.has(digest)) return false;
    const release = await acquireLock(join(this.dir, 'locks', `${digest}.lock`), {
      timeoutMs: this.#waitMs,
      staleMs: 24 * 3600_000,
    });
    try {
      if (await this.has(digest)) return false; // another process downloaded it while we waited
      await this.#cleanParts(digest);
      const temp = join(this.dir, 'blobs', `.${digest}.h5.${process.pid}.${randomBytes(4).toString('hex')}.part`);
      let streamed: Awaited<ReturnType<typeof fetch>>;
      // The one door out (lib/util/publish.ts): the download is the write, its
      // SHA-256 the check; a blob is content-addressed, so replacing is harmless.
      const staged = await stageFile(this.path(digest), {
        temp,
        faults: false,
        write: async (t) => {
          streamed = await fetch(t);
          checkAbort(signal, 'pull');
        },
        check: async (t) => {
          const hex = streamed ?? (await sha256Of(t));
          if (hex !== digest) {
            throw new H5Error(
              `downloaded object does not match the SHA-256 its version record names (expected ${digest}, got ${hex}); it was changed or corrupted on the server: refusing to parse or cache it`,
              {
                code: 'H5_CHECKSUM_MISMATCH',
                expected: digest,
                actual: hex,
              },
            );
          }
        },
      }).catch((e) => {
        throw ioError(e, `cannot download into the cache '${this.dir}'`);
      });
      await commitStaged(staged.temp, this.path(digest), { overwrite: true, faults: false }).catch((e) => {
        throw ioError(e, `cannot download into the cache '${this.dir}'`);
      });
    } finally {
      await release();
    }
    await this.evict(new Set([digest]));
    return true;
  }

  /**
   * Moves a local, already verified file (a publisher's own upload) into the
   * cache under its digest, so the publisher never downloads what it wrote.
   */
  async adopt(digest: string, file: string): Promise<void> {
    try {
      await commitStaged(file, this.path(digest), { overwrite: true, faults: false });
    } catch (e) {
      await unlinkQuiet(file);
      if ((e as { errno?: string }).errno === 'EXDEV' || (e as NodeJS.ErrnoException).code === 'EXDEV') return; // another filesystem: pulled on first load instead
      throw ioError(e, `cannot move the published file into the cache '${this.dir}'`);
    }
    await this.evict(new Set([digest]));
  }

  /** Removes partial downloads of `digest` left by dead processes. */
  async #cleanParts(digest?: string): Promise<void> {
    for (const f of await readdir(join(this.dir, 'blobs')).catch(() => [] as string[])) {
      const m = PART_RE.exec(f);
      if (m && (digest === undefined || m[1] === digest) && !pidAlive(Number(m[2])))
        await unlinkQuiet(join(this.dir, 'blobs', f));
    }
  }

  /** Live pins by digest; removes the pins of dead processes. */
  async #pinned(): Promise<Set<string>> {
    const live = new Set<string>();
    for (const f of await readdir(join(this.dir, 'pins')).catch(() => [] as string[])) {
      const m = PIN_RE.exec(f);
      if (!m) continue;
      if (pidAlive(Number(m[2]))) live.add(m[1]!);
      else await unlinkQuiet(join(this.dir, 'pins', f));
    }
    return live;
  }

  async stats(): Promise<CacheStats> {
    let bytes = 0;
    let files = 0;
    for (const f of await readdir(join(this.dir, 'blobs')).catch(() => [] as string[])) {
      if (!BLOB_RE.test(f)) continue;
      const s = await stat(join(this.dir, 'blobs', f)).catch(() => undefined);
      if (s) {
        bytes += s.size;
        files++;
      }
    }
    return { bytes, files, pinned: [...(await this.#pinned())].sort() };
  }

  /**
   * Evicts least recently used files until the cache fits maxBytes. Never a
   * pinned digest (mapped by a live process) nor one in `keep`; if only those
   * are left the cache stays over its bound until they are released.
   * Resolves to the evicted digests.
   */
  async evict(keep: Set<string> = new Set()): Promise<string[]> {
    if (this.maxBytes === Infinity) return [];
    const release = await acquireLock(join(this.dir, 'locks', 'evict.lock'), { timeoutMs: 60_000 });
    try {
      await this.#cleanParts();
      const files: { digest: string; size: number; lastUse: number }[] = [];
      let total = 0;
      for (const f of await readdir(join(this.dir, 'blobs'))) {
        const m = BLOB_RE.exec(f);
        if (!m) continue;
        const s = await stat(join(this.dir, 'blobs', f)).catch(() => undefined);
        if (!s) continue;
        files.push({ digest: m[1]!, size: s.size, lastUse: await this.#lastUse(m[1]!, s.mtimeMs) });
        total += s.size;
      }
      if (total <= this.maxBytes) return [];
      const pinned = await this.#pinned();
      files.sort((a, b) => a.lastUse - b.lastUse);
      const out: string[] = [];
      for (const f of files) {
        if (total <= this.maxBytes) break;
        if (pinned.has(f.digest) || keep.has(f.digest)) continue;
        await unlink(this.path(f.digest)).catch(() => {});
        await unlinkQuiet(join(this.dir, 'used', f.digest));
        total -= f.size;
        out.push(f.digest);
      }
      return out;
    } finally {
      await release();
    }
  }
}
