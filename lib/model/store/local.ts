/**
 * ModelStore: a directory of named models, each a series of immutable
 * versions (v000001.h5, v000002.h5, ...) and an index.json that lists them
 * and names the latest. Layout and the publish protocol are documented in
 * docs/model-storage.md#modelstore.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { openRegular } from '../../safety/open.js';
import { join, resolve } from 'node:path';
import { File } from '../../h5/file.js';
import { H5Error, withSite } from '../../errors.js';
import { ATTR, type JsonValue, type TensorsInput } from '../schema.js';
import { fileSha256, SHA256_HEX } from '../digest.js';
import {
  cleanStaleTemps,
  faultPoint,
  fsyncDir,
  ioError,
  linkNoReplace,
  pidAlive,
  unlinkQuiet,
  writeFileAtomic,
} from '../../util/publish.js';
import { acquireLock, type LockOptions } from './lock.js';
import { prepareSave, writeTemp, type SaveOptions } from '../save.js';
import { loadModelAt, type Vouch } from '../load.js';
import { readRecord, removeRecord, sameStamp, writeRecord } from './verified.js';
import { serveModel, type ModelServer, type ServedModel, type ServeOptions } from './serve.js';
import type { S3ModelStore, S3StoreOptions } from './s3.js';
import {
  checkKeep,
  checkName,
  checkStoreLoad,
  checkStoreOpen,
  checkVersion,
  checkWatch,
  MARKER,
  NAME_RE,
  versionFile,
  type StoreLoadedModel,
  type StoreLoadOptions,
  type VersionInfo,
  type WatchOptions,
} from './common.js';
import { isS3Url } from '../../remote/url.js';

export {
  versionFile,
  type StoreLoadedModel,
  type StoreLoadOptions,
  type VersionInfo,
  type WatchOptions,
} from './common.js';
import { parseStoredJson } from '../../safety/budget.js';
import { booleanOption, checkPath } from '../../util/validate.js';

interface Index {
  format: 1;
  name: string;
  latest: number | null;
  versions: VersionInfo[];
}

export interface StoreOpenOptions {
  /** Create the store (directory and marker) if `root` is not one yet. Default false: a missing store is H5_NOT_FOUND. */
  create?: boolean;
  lock?: LockOptions;
}

const VERSION_FILE_RE = /^v(\d{6,})\.h5$/;
const PENDING_RE = /^\.v(\d{6,})\.h5\.pending$/;
/** Marks a claimed version number whose index entry is not written yet (docs/model-storage.md#modelstore). */
const pendingFile = (v: number): string => `.${versionFile(v)}.pending`;
const INDEX = 'index.json';

function isVersionInfo(x: unknown): x is VersionInfo {
  const v = x as VersionInfo;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(v.version) &&
    v.version > 0 &&
    v.file === versionFile(v.version) &&
    typeof v.digest === 'string' &&
    SHA256_HEX.test(v.digest) &&
    typeof v.bytes === 'number' &&
    typeof v.createdAt === 'string'
  );
}

export class ModelStore {
  /** Absolute path of the store's root directory. */
  readonly root: string;
  readonly #lock: LockOptions;

  private constructor(root: string, lock: LockOptions) {
    this.root = root;
    this.#lock = lock;
  }

  /**
   * Opens the store rooted at `root`. A directory that is not a store (no
   * marker file, or no directory at all: usually a typo) is H5Error
   * H5_NOT_FOUND unless `{ create: true }`, which creates it (and any missing
   * parents) and marks it as a store.
   * An `s3://bucket/prefix` root opens an S3ModelStore (docs/object-storage.md).
   * @example const store = await ModelStore.open('/var/models', { create: true });
   */
  static open(root: `s3://${string}`, options?: S3StoreOptions): Promise<S3ModelStore>;
  static open(root: string, options?: StoreOpenOptions): Promise<ModelStore>;
  static async open(root: string, options: StoreOpenOptions | S3StoreOptions = {}): Promise<ModelStore | S3ModelStore> {
    checkPath(root, 'root');
    // The one place a root picks its store: s3:// goes to the S3 store, loaded only then (its SDK is an optional peer).
    if (isS3Url(root)) return (await import('./s3.js')).S3ModelStore.open(root, options as S3StoreOptions);
    checkStoreOpen(options);
    const abs = resolve(root);
    const marker = join(abs, MARKER);
    const exists = await stat(marker).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!exists && !options.create) {
      const dirExists = await stat(abs).then(
        (s) => s.isDirectory(),
        () => false,
      );
      throw new H5Error(
        dirExists
          ? `'${abs}' is not a model store (it has no ${MARKER}); pass { create: true } to ModelStore.open to make it one`
          : `no model store at '${abs}' (no such directory); pass { create: true } to ModelStore.open to create one`,
        { code: 'H5_NOT_FOUND', path: abs },
      );
    }
    if (!exists) {
      try {
        await mkdir(abs, { recursive: true });
        await writeFileAtomic(marker, `${JSON.stringify({ format: 1 })}\n`);
      } catch (e) {
        throw ioError(e, `cannot create model store '${abs}'`);
      }
    }
    return new ModelStore(abs, options.lock ?? {});
  }

  /** Directory holding `name`'s versions. */
  dir(name: string): string {
    checkName(name);
    return join(this.root, name);
  }

  /** Path of one version's file (it may have been pruned). */
  path(name: string, version: number): string {
    checkVersion(version);
    return join(this.dir(name), versionFile(version));
  }

  /** Names of the models in the store, sorted. */
  async names(): Promise<string[]> {
    const out: string[] = [];
    for (const d of await readdir(this.root, { withFileTypes: true })) {
      if (
        d.isDirectory() &&
        NAME_RE.test(d.name) &&
        (await stat(join(this.root, d.name, INDEX)).then(
          () => true,
          () => false,
        ))
      )
        out.push(d.name);
    }
    return out.sort();
  }

  async #readIndex(name: string): Promise<Index> {
    const p = join(this.dir(name), INDEX);
    let text: string;
    try {
      const fh = await openRegular(p);
      try {
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof H5Error && e.code === 'H5_FILE_NOT_FOUND')
        return { format: 1, name, latest: null, versions: [] };
      if (e instanceof H5Error) throw e;
      throw ioError(e, `cannot read '${p}'`);
    }
    let idx: Index;
    try {
      idx = parseStoredJson(text) as Index;
    } catch {
      throw new H5Error(`'${p}' is not valid JSON`, { code: 'H5_CORRUPT' });
    }
    if (idx?.format !== 1 || !Array.isArray(idx.versions) || !idx.versions.every(isVersionInfo))
      throw new H5Error(`'${p}' is not a ModelStore index (format 1)`, { code: 'H5_CORRUPT' });
    return idx;
  }

  /**
   * Under the lock: makes the index agree with the directory. An index entry
   * whose file is gone was being pruned; it is dropped. A version file missing
   * from the index is one of two things. With its `.vNNNNNN.h5.pending` marker,
   * its publish never reached the index (the publisher failed or died): it was
   * never published, so it is removed once its publisher is gone, never
   * adopted. Without a marker, its publisher committed it, and its entry was
   * lost to a concurrent index write by a process that wrongly believed it
   * held the lock: it is complete (linked only after fsync), so it is adopted.
   */
  async #repair(name: string, idx: Index): Promise<boolean> {
    const dir = this.dir(name);
    const files = new Map<number, string>();
    const pending = new Set<number>();
    for (const f of await readdir(dir)) {
      const m = VERSION_FILE_RE.exec(f);
      if (m) files.set(Number(m[1]), f);
      const p = PENDING_RE.exec(f);
      if (p) pending.add(Number(p[1]));
    }
    let changed = false;
    const known = new Set(idx.versions.map((v) => v.version));
    const kept = idx.versions.filter((v) => files.has(v.version));
    if (kept.length !== idx.versions.length) changed = true;
    for (const v of pending) {
      if (known.has(v)) {
        await unlinkQuiet(join(dir, pendingFile(v))); // committed; only the marker's removal was lost
      } else if (await this.#abandoned(join(dir, pendingFile(v)))) {
        await unlinkQuiet(join(dir, versionFile(v)));
        await unlinkQuiet(join(dir, pendingFile(v)));
        files.delete(v);
      } else {
        files.delete(v); // a publish in progress elsewhere: neither ours to adopt nor to remove
      }
    }
    for (const [v, f] of files) {
      if (known.has(v)) continue;
      kept.push(await adopt(join(dir, f), v));
      changed = true;
    }
    kept.sort((a, b) => a.version - b.version);
    idx.versions = kept;
    const latest = kept.length ? kept[kept.length - 1]!.version : null;
    if (idx.latest !== latest) changed = true;
    idx.latest = latest;
    return changed;
  }

  /**
   * Is the publish that wrote this marker over? Called under the lock, so a
   * marker of this process is from a save that already failed; otherwise its
   * writer must be dead (same host) or the marker older than the lock's
   * staleness limit (the same rule that breaks a lock).
   */
  async #abandoned(marker: string): Promise<boolean> {
    let owner: { pid?: unknown; host?: unknown } = {};
    let mtime: number;
    try {
      mtime = (await stat(marker)).mtimeMs;
      owner = JSON.parse(await readFile(marker, 'utf8')) as typeof owner;
    } catch {
      mtime = 0; // unreadable: judged by age alone (0 when it vanished)
    }
    if (
      owner.host === hostname() &&
      typeof owner.pid === 'number' &&
      (owner.pid === process.pid || !pidAlive(owner.pid))
    )
      return true;
    return Date.now() - mtime > (this.#lock.staleMs ?? 60_000);
  }

  /**
   * Saves a new immutable version of `name`; resolves to its number (1, 2, ...).
   * The tensors are written and fsynced outside the lock; only claiming the
   * number (a pending marker and link(), which never overwrite) and rewriting
   * the index hold it. The index write publishes the version: if the save
   * fails before it, the version file and its marker are removed, and
   * whatever a crash leaves is removed by a later save or prune, never published.
   * @example const v = await store.save('resnet', tensors, { compression: 'gzip', metadata: { run: 'r42' } });
   */
  async save(name: string, tensors: TensorsInput, options: SaveOptions = {}): Promise<number> {
    const site = new Error();
    checkName(name);
    const p = prepareSave(tensors, options);
    return withSite(site, async () => {
      const dir = this.dir(name);
      await mkdir(dir, { recursive: true }).catch((e) => {
        throw ioError(e, `cannot create '${dir}'`);
      });
      await fsyncDir(this.root).catch((e) => {
        throw ioError(e, `cannot fsync '${this.root}'`);
      });
      await cleanStaleTemps(dir);
      // A new version keeps the mode and owner of the newest one (a private store stays private).
      const w = await writeTemp(join(dir, 'incoming.h5'), p, join(dir, versionFile(await newestVersionFile(dir))));
      let release: (() => Promise<void>) | undefined;
      let version = 0;
      let marker: string | undefined;
      let linked = false;
      let committed = false;
      try {
        release = await acquireLock(join(dir, '.lock'), this.#lock);
        const idx = await this.#readIndex(name);
        await this.#repair(name, idx);
        version = (idx.latest ?? 0) + 1;
        const owner = JSON.stringify({ pid: process.pid, host: hostname() });
        for (; ; version++) {
          // Claim the number: the marker first (durable before the version file
          // can exist), so a crash at any point leaves a version file that is
          // known to be unpublished.
          try {
            await writeFile(join(dir, pendingFile(version)), owner, { flag: 'wx' });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
            throw e;
          }
          marker = join(dir, pendingFile(version));
          await fsyncDir(dir);
          const target = join(dir, versionFile(version));
          await faultPoint('rename', { path: target, temp: w.temp });
          try {
            // Versions are immutable: the publisher's no-replace commit (a link).
            await linkNoReplace(w.temp, target, { role: 'version file' });
            linked = true;
            break;
          } catch (e) {
            await unlinkQuiet(marker);
            marker = undefined;
            if (!(e instanceof H5Error && e.code === 'H5_EXISTS')) throw e;
          }
        }
        await unlinkQuiet(w.temp);
        await faultPoint('fsync-dir', { path: join(dir, versionFile(version)), temp: w.temp });
        await fsyncDir(dir);
        const meta = JSON.parse(p.metadataJson) as Record<string, JsonValue>;
        idx.versions.push({
          version,
          file: versionFile(version),
          digest: w.digest,
          modelDigest: w.modelDigest,
          bytes: w.bytes,
          createdAt: new Date().toISOString(),
          metadata: meta,
        });
        idx.latest = version;
        await writeFileAtomic(join(dir, INDEX), `${JSON.stringify(idx, null, 1)}\n`, () => (committed = true));
        // Published. A leftover marker of an indexed version is removed by the next repair.
        await unlinkQuiet(marker!);
        return version;
      } catch (e) {
        if (committed) {
          // The index was renamed into place: the version is published; only durability is unknown.
          await unlinkQuiet(marker!);
          const x = e as H5Error & { errno?: string };
          throw new H5Error(`published version ${version} of '${name}', but ${x.message}`, {
            code: 'H5_IO',
            errno: x.errno,
            version,
          });
        }
        // Never published: take the version back, so a retry cannot publish it twice.
        if (linked) await unlinkQuiet(join(dir, versionFile(version)));
        if (marker) await unlinkQuiet(marker);
        await fsyncDir(dir).catch(() => {});
        throw ioError(e, `cannot publish a new version of '${name}'`);
      } finally {
        await unlinkQuiet(w.temp);
        await release?.();
      }
    });
  }

  /** The published versions of `name`, oldest first ([] if none). */
  async versions(name: string): Promise<VersionInfo[]> {
    return (await this.#readIndex(name)).versions;
  }

  /** The latest version number, or null if `name` has none. */
  async latest(name: string): Promise<number | null> {
    return (await this.#readIndex(name)).latest;
  }

  /**
   * Loads a version (default: the latest). Its file SHA-256 from the index is
   * checked before libhdf5 parses the file, then every tensor is verified
   * unless { verify: false }.
   * @example const m = await store.load('resnet'); const v2 = await store.load('resnet', 2);
   */
  async load(name: string, version?: number, options: StoreLoadOptions = {}): Promise<StoreLoadedModel> {
    const site = new Error();
    checkStoreLoad(name, version, options);
    booleanOption(options, 'reverify');
    return withSite(site, async () => {
      for (let attempt = 0; ; attempt++) {
        const idx = await this.#readIndex(name);
        const v = version ?? idx.latest;
        if (v === null)
          throw new H5Error(`model '${name}' has no versions in '${this.root}'`, { code: 'H5_NOT_FOUND' });
        const rec = idx.versions.find((x) => x.version === v);
        if (!rec)
          throw new H5Error(`model '${name}' has no version ${v} (it was never saved or was pruned)`, {
            code: 'H5_NOT_FOUND',
          });
        try {
          const dir = this.dir(name);
          const { reverify, ...loadOptions } = options;
          const known = reverify ? null : await readRecord(dir, rec.file);
          // A record for another digest describes another file that had this name (a version number reused after its file was removed).
          const vouch: Vouch =
            known && known.digest === rec.digest ? { stamp: known.stamp, tensorsVerified: true } : {};
          const out = await loadModelAt(join(dir, rec.file), { ...loadOptions, expectDigest: rec.digest }, vouch);
          if (out.verified && !(known && known.digest === rec.digest && sameStamp(known.stamp, out.stamp))) {
            await writeRecord(dir, rec.file, { digest: rec.digest, stamp: out.stamp });
          }
          return Object.assign(out.model, { version: v, hashed: out.hashed });
        } catch (e) {
          // The latest was pruned between reading the index and opening it: read the index again.
          if (version === undefined && attempt < 2 && e instanceof H5Error && e.code === 'H5_FILE_NOT_FOUND') continue;
          throw e;
        }
      }
    });
  }

  /**
   * Deletes all but the newest `keep` versions; resolves to the removed
   * numbers. Readers holding views of a removed version keep valid data
   * (unlinking a file does not affect existing mappings).
   * @example await store.prune('resnet', { keep: 3 });
   */
  async prune(name: string, options: { keep: number }): Promise<number[]> {
    const site = new Error();
    checkName(name);
    const keep = checkKeep(options);
    return withSite(site, async () => {
      const dir = this.dir(name);
      if (
        !(await stat(dir).then(
          () => true,
          () => false,
        ))
      )
        return [];
      const release = await acquireLock(join(dir, '.lock'), this.#lock);
      try {
        const idx = await this.#readIndex(name);
        await this.#repair(name, idx);
        const drop = idx.versions.slice(0, Math.max(0, idx.versions.length - keep));
        // Files first, then the index: a crash in between leaves index entries
        // without files (dropped by the next repair), never files that a
        // repair would adopt back.
        for (const v of drop) {
          await unlinkQuiet(join(dir, v.file));
          await removeRecord(dir, v.file);
        }
        await fsyncDir(dir);
        idx.versions = idx.versions.slice(drop.length);
        await writeFileAtomic(join(dir, INDEX), `${JSON.stringify(idx, null, 1)}\n`);
        return drop.map((v) => v.version);
      } catch (e) {
        throw ioError(e, `cannot prune '${name}'`);
      } finally {
        await release();
      }
    });
  }

  /**
   * Serves the latest version of `name` and swaps to each new one once it is
   * loaded and verified (docs/runtime.md#serving-and-hot-swap). Resolves
   * when a version is being served.
   * @example
   *   const server = await store.serve('resnet', { load: (m) => makeSession(m), dispose: (s) => s.release() });
   *   const y = await server.use((session) => session.run(feeds));
   */
  serve<R = ServedModel>(name: string, options: ServeOptions<R> = {}): Promise<ModelServer<R>> {
    return serveModel(this, name, options);
  }

  /**
   * Calls `cb(version)` each time the latest version of `name` changes
   * (not for the version current when watching starts). Uses fs.watch on
   * the model directory, plus polling every `intervalMs` as a fallback.
   * Returns a function that stops watching.
   * @example const stop = store.watch('resnet', (v) => swapTo(v)); ... stop();
   */
  watch(name: string, cb: (version: number) => void | Promise<void>, options: WatchOptions = {}): () => void {
    const { intervalMs, report } = checkWatch(name, cb, options);
    const persistent = options.persistent ?? true;
    const dir = this.dir(name);
    let current: number | null | undefined = options.from;
    let stopped = false;
    let checking: Promise<void> | undefined;
    let again = false;
    let watcher: FSWatcher | undefined;

    const check = async (): Promise<void> => {
      if (checking) {
        again = true; // coalesce events that arrive while the index is being read
        return;
      }
      checking = (async () => {
        do {
          again = false;
          let latest: number | null;
          try {
            latest = (await this.#readIndex(name)).latest;
          } catch (e) {
            report(e);
            continue;
          }
          if (stopped) return;
          if (current === undefined) current = latest;
          else if (latest !== current && latest !== null) {
            current = latest;
            try {
              await cb(latest);
            } catch (e) {
              report(e);
            }
          }
        } while (again && !stopped);
      })();
      await checking;
      checking = undefined;
    };
    const startWatcher = (): void => {
      if (watcher || stopped) return;
      try {
        watcher = fsWatch(dir, { persistent }, (_ev, file) => {
          if (file === null || file === INDEX) void check();
        });
        watcher.on('error', () => {
          watcher?.close();
          watcher = undefined; // the poll keeps going and retries the watcher
        });
      } catch {
        // No directory yet, or no inotify: polling covers it until a later tick succeeds.
      }
    };
    startWatcher();
    void check();
    const timer = setInterval(() => {
      startWatcher();
      void check();
    }, intervalMs);
    if (!persistent) timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
      watcher?.close();
    };
  }
}

/** The number of the newest version file in `dir` (0 if none), published or not. */
async function newestVersionFile(dir: string): Promise<number> {
  let newest = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const m = VERSION_FILE_RE.exec(f);
    if (m) newest = Math.max(newest, Number(m[1]));
  }
  return newest;
}

/** Builds the index record of an orphaned (complete but unindexed) version file. */
async function adopt(path: string, version: number): Promise<VersionInfo> {
  const fh = await openRegular(path);
  let hashed: { hex: string; size: number };
  let mtime: Date;
  try {
    hashed = await fileSha256(fh.fd);
    mtime = (await fh.stat()).mtime;
  } finally {
    await fh.close();
  }
  const f = File.open(path);
  try {
    const md = f.attrs.has(ATTR.modelDigest) ? f.attrs.get(ATTR.modelDigest) : '';
    let metadata: Record<string, JsonValue> = {};
    const raw = f.attrs.has(ATTR.metadata) ? f.attrs.get(ATTR.metadata) : '{}';
    try {
      metadata = parseStoredJson(String(raw)) as Record<string, JsonValue>;
    } catch {
      // Left as {}: load() will report the corrupt attribute.
    }
    return {
      version,
      file: versionFile(version),
      digest: hashed.hex,
      modelDigest: String(md),
      bytes: hashed.size,
      createdAt: mtime.toISOString(),
      metadata,
    };
  } finally {
    f.close();
  }
}
