/**
 * ModelStore: a directory of named models, each a series of immutable
 * versions (v000001.h5, v000002.h5, ...) and an index.json that lists them
 * and names the latest. Layout and the publish protocol are documented in
 * docs/model-storage.md#modelstore.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { link, mkdir, open, readdir, stat } from 'node:fs/promises';
import { openRegular } from '../fsopen.js';
import { join, resolve } from 'node:path';
import { File } from '../file.js';
import { H5Error, withSite } from '../errors.js';
import { ATTR, type JsonValue, type TensorsInput } from './schema.js';
import { fileSha256, SHA256_HEX } from './digest.js';
import { cleanStaleTemps, faultPoint, fsyncDir, ioError, unlinkQuiet, writeFileAtomic } from './fsutil.js';
import { acquireLock, type LockOptions } from './lock.js';
import { prepareSave, writeTemp, type SaveOptions } from './save.js';
import { loadModel, type LoadedModel, type LoadOptions } from './load.js';

export interface VersionInfo {
  version: number;
  /** File name inside the model's directory, e.g. 'v000003.h5'. */
  file: string;
  /** SHA-256 of the file bytes, checked before libhdf5 parses it on load. */
  digest: string;
  modelDigest: string;
  /** File size in bytes. */
  bytes: number;
  /** When the version was published (ISO 8601, UTC). Kept in the index, not the file, so files stay reproducible. */
  createdAt: string;
  metadata: Record<string, JsonValue>;
}

interface Index {
  format: 1;
  name: string;
  latest: number | null;
  versions: VersionInfo[];
}

/** loadModel's options minus what the index decides: the digest (and so trust: no untrusted walk is needed). */
export interface StoreLoadOptions extends Omit<LoadOptions, 'expectDigest' | 'untrusted' | 'limits'> {}

export interface WatchOptions {
  /** Polling period, the fallback for filesystems without change events (NFS, some containers). Default 1000 ms. */
  intervalMs?: number;
  /** Keep the process alive while watching (default true, like fs.watch). */
  persistent?: boolean;
  /** Receives errors thrown by the callback or hit while reading the index (default: rethrown asynchronously). */
  onError?: (err: unknown) => void;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VERSION_FILE_RE = /^v(\d{6,})\.h5$/;
const INDEX = 'index.json';
const MARKER = '.h5vault-store.json';

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new TypeError(`model name must match ${NAME_RE} (letters, digits, '.', '_', '-'), got ${JSON.stringify(name)}`);
}

function checkVersion(v: unknown): asserts v is number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new TypeError('version must be a positive integer');
}

export function versionFile(v: number): string {
  return `v${String(v).padStart(6, '0')}.h5`;
}

function isVersionInfo(x: unknown): x is VersionInfo {
  const v = x as VersionInfo;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(v.version) && v.version > 0 && v.file === versionFile(v.version) &&
    typeof v.digest === 'string' && SHA256_HEX.test(v.digest) && typeof v.bytes === 'number' && typeof v.createdAt === 'string';
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
   * Opens (creating if absent) the store rooted at `root`.
   * @example const store = await ModelStore.open('/var/models');
   */
  static async open(root: string, options: { lock?: LockOptions } = {}): Promise<ModelStore> {
    if (typeof root !== 'string' || root === '') throw new TypeError('root must be a non-empty string');
    const abs = resolve(root);
    try {
      await mkdir(abs, { recursive: true });
      const marker = join(abs, MARKER);
      const exists = await stat(marker).then(() => true, () => false);
      if (!exists) await writeFileAtomic(marker, `${JSON.stringify({ format: 1 })}\n`);
    } catch (e) {
      throw ioError(e, `cannot open model store '${abs}'`);
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
      if (d.isDirectory() && NAME_RE.test(d.name) && (await stat(join(this.root, d.name, INDEX)).then(() => true, () => false))) out.push(d.name);
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
      if (e instanceof H5Error && e.code === 'H5_FILE_NOT_FOUND') return { format: 1, name, latest: null, versions: [] };
      if (e instanceof H5Error) throw e;
      throw ioError(e, `cannot read '${p}'`);
    }
    let idx: Index;
    try {
      idx = JSON.parse(text) as Index;
    } catch {
      throw new H5Error(`'${p}' is not valid JSON`, { code: 'H5_CORRUPT' });
    }
    if (idx?.format !== 1 || !Array.isArray(idx.versions) || !idx.versions.every(isVersionInfo))
      throw new H5Error(`'${p}' is not a ModelStore index (format 1)`, { code: 'H5_CORRUPT' });
    return idx;
  }

  /**
   * Under the lock: makes the index agree with the directory. A version file
   * missing from the index was linked by a publisher that died (or lost a
   * lock race) before rewriting the index; it is complete (linked only after
   * fsync), so it is adopted. An index entry whose file is gone was being
   * pruned; it is dropped.
   */
  async #repair(name: string, idx: Index): Promise<boolean> {
    const dir = this.dir(name);
    const files = new Map<number, string>();
    for (const f of await readdir(dir)) {
      const m = VERSION_FILE_RE.exec(f);
      if (m) files.set(Number(m[1]), f);
    }
    let changed = false;
    const known = new Set(idx.versions.map((v) => v.version));
    const kept = idx.versions.filter((v) => files.has(v.version));
    if (kept.length !== idx.versions.length) changed = true;
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
   * Saves a new immutable version of `name`; resolves to its number (1, 2, ...).
   * The tensors are written and fsynced outside the lock; only claiming the
   * number (link(), which never overwrites) and rewriting the index hold it.
   * @example const v = await store.save('resnet', tensors, { compression: 'gzip', metadata: { run: 'r42' } });
   */
  async save(name: string, tensors: TensorsInput, options: SaveOptions = {}): Promise<number> {
    const site = new Error();
    checkName(name);
    const p = prepareSave(tensors, options);
    return withSite(site, async () => {
      const dir = this.dir(name);
      await mkdir(dir, { recursive: true }).catch((e) => { throw ioError(e, `cannot create '${dir}'`); });
      await fsyncDir(this.root).catch((e) => { throw ioError(e, `cannot fsync '${this.root}'`); });
      await cleanStaleTemps(dir);
      const w = await writeTemp(join(dir, 'incoming.h5'), p);
      let release: (() => Promise<void>) | undefined;
      try {
        release = await acquireLock(join(dir, '.lock'), this.#lock);
        const idx = await this.#readIndex(name);
        await this.#repair(name, idx);
        let version = (idx.latest ?? 0) + 1;
        for (;;) {
          const target = join(dir, versionFile(version));
          await faultPoint('rename', { path: target, temp: w.temp });
          try {
            await link(w.temp, target);
            break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
            version++;
          }
        }
        await unlinkQuiet(w.temp);
        await faultPoint('fsync-dir', { path: join(dir, versionFile(version)), temp: w.temp });
        await fsyncDir(dir);
        const meta = JSON.parse(p.metadataJson) as Record<string, JsonValue>;
        idx.versions.push({
          version, file: versionFile(version), digest: w.digest, modelDigest: w.modelDigest, bytes: w.bytes,
          createdAt: new Date().toISOString(), metadata: meta,
        });
        idx.latest = version;
        await writeFileAtomic(join(dir, INDEX), `${JSON.stringify(idx, null, 1)}\n`);
        return version;
      } catch (e) {
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
  async load(name: string, version?: number, options: StoreLoadOptions = {}): Promise<LoadedModel & { version: number }> {
    const site = new Error();
    checkName(name);
    if (version !== undefined) checkVersion(version);
    if ((options as LoadOptions).expectDigest !== undefined) throw new TypeError('ModelStore.load takes the expected digest from its index');
    return withSite(site, async () => {
      for (let attempt = 0; ; attempt++) {
        const idx = await this.#readIndex(name);
        const v = version ?? idx.latest;
        if (v === null) throw new H5Error(`model '${name}' has no versions in '${this.root}'`, { code: 'H5_NOT_FOUND' });
        const rec = idx.versions.find((x) => x.version === v);
        if (!rec) throw new H5Error(`model '${name}' has no version ${v} (it was never saved or was pruned)`, { code: 'H5_NOT_FOUND' });
        try {
          const m = await loadModel(join(this.dir(name), rec.file), { ...options, expectDigest: rec.digest });
          return Object.assign(m, { version: v });
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
    const keep = options?.keep;
    if (!Number.isSafeInteger(keep) || keep < 1) throw new RangeError('keep must be an integer >= 1 (the latest version is never pruned)');
    return withSite(site, async () => {
      const dir = this.dir(name);
      if (!(await stat(dir).then(() => true, () => false))) return [];
      const release = await acquireLock(join(dir, '.lock'), this.#lock);
      try {
        const idx = await this.#readIndex(name);
        await this.#repair(name, idx);
        const drop = idx.versions.slice(0, Math.max(0, idx.versions.length - keep));
        // Files first, then the index: a crash in between leaves index entries
        // without files (dropped by the next repair), never files that a
        // repair would adopt back.
        for (const v of drop) await unlinkQuiet(join(dir, v.file));
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
   * Calls `cb(version)` each time the latest version of `name` changes
   * (not for the version current when watching starts). Uses fs.watch on
   * the model directory, plus polling every `intervalMs` as a fallback.
   * Returns a function that stops watching.
   * @example const stop = store.watch('resnet', (v) => swapTo(v)); ... stop();
   */
  watch(name: string, cb: (version: number) => void | Promise<void>, options: WatchOptions = {}): () => void {
    checkName(name);
    if (typeof cb !== 'function') throw new TypeError('watch callback must be a function');
    const intervalMs = options.intervalMs ?? 1000;
    if (!Number.isFinite(intervalMs) || intervalMs < 10) throw new RangeError('intervalMs must be a number >= 10');
    const persistent = options.persistent ?? true;
    const report = (e: unknown): void => {
      if (options.onError) options.onError(e);
      else queueMicrotask(() => { throw e; });
    };
    const dir = this.dir(name);
    let current: number | null | undefined;
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
      metadata = JSON.parse(String(raw)) as Record<string, JsonValue>;
    } catch {
      // Left as {}: load() will report the corrupt attribute.
    }
    return {
      version, file: versionFile(version), digest: hashed.hex, modelDigest: String(md), bytes: hashed.size,
      createdAt: mtime.toISOString(), metadata,
    };
  } finally {
    f.close();
  }
}
