/**
 * S3ModelStore: ModelStore's API over S3-compatible object storage (AWS S3,
 * Ceph RGW, MinIO), with a local cache the versions are pulled into, verified
 * and mapped from. Protocol and costs: docs/object-storage.md.
 *
 *   PREFIX/.h5vault-store.json                 marker (as a local store's)
 *   PREFIX/NAME/objects/<sha256>-<nonce>.h5    a version's file: immutable, uploaded first
 *   PREFIX/NAME/versions/v000042.json          its version record (manifest): written once,
 *                                              with If-None-Match: *, and that write publishes it
 *
 * The set of version records is the index (one LIST reads it): a record is
 * created only after its object is complete, and creating it either succeeds
 * for exactly one publisher (the server refuses the second with 412) or,
 * without conditional writes, under a lock the publishers share.
 *
 * This file is the store object and its public API; the work is in
 * s3-versions.ts (listing, reading and committing records), s3-file.ts (the
 * whole-file layout), s3-tensors.ts (the content-addressed layout), s3-gc.ts
 * (prune, gc), s3-record.ts (the record format) and s3-options.ts (types).
 */
import { hostname, tmpdir } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { H5Error, withSite } from '../../errors.js';
import type { JsonValue, TensorsInput } from '../schema.js';
import { ioError, unlinkQuiet } from '../../util/publish.js';
import { prepareSave, writeTemp } from '../save.js';
import { loadModel, type LoadedModel } from '../load.js';
import { serveModel, type ModelServer, type ServedModel, type ServeOptions } from './serve.js';
import {
  checkKeep,
  checkName,
  checkStoreLoad,
  checkStoreOpen,
  checkVersion,
  checkWatch,
  MARKER,
  type VersionInfo,
  type WatchOptions,
} from './common.js';
import { BlobCache, type CacheStats } from './cache.js';
import { CHUNK_BYTES, MIN_CHUNK_BYTES, newStats, type TransferStats } from './cas.js';
import { loadS3, makeClient, resolveConfig } from '../../remote/sdk.js';
import type { S3ClientLike } from '../../remote/options.js';
import { withRetry as retryCall } from '../../remote/retry.js';
import { parseS3Url } from '../../remote/url.js';
import {
  checkObject,
  checkString,
  functionOption,
  integerOption,
  numberOption,
  oneOfOption,
} from '../../util/validate.js';
import type { S3StoreContext } from './s3-context.js';
import type { GcOptions, GcResult, PullInfo, S3LoadOptions, S3SaveOptions, S3StoreOptions } from './s3-options.js';
import { info, readTensorList, type S3VersionRecord } from './s3-record.js';
import { latestVersion, listNames, type NearRecords, nearRecords, readableRecords, readRecord } from './s3-versions.js';
import { downloadFile, saveFile } from './s3-file.js';
import { rebuildVersion, saveTensors } from './s3-tensors.js';
import { collectGarbage, pruneVersions } from './s3-gc.js';

export type { GcOptions, GcResult, PullInfo, S3LoadOptions, S3SaveOptions, S3StoreOptions } from './s3-options.js';
export { RECORD_MAX_BYTES, type BadRecord, type S3VersionRecord } from './s3-record.js';

const MIN_PART = 5 * 1024 * 1024;

export class S3ModelStore {
  /** The store's URL, s3://bucket/prefix. */
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  /** The local cache versions are pulled into. */
  readonly cache: BlobCache;
  /** What the s3-*.ts modules and cas.ts need of this store. */
  readonly #ctx: S3StoreContext;

  private constructor(url: string, client: S3Client, o: S3StoreOptions) {
    const { bucket, key: prefix } = parseS3Url(url, 'prefix');
    this.bucket = bucket;
    this.prefix = prefix;
    this.root = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.cache = new BlobCache(o.cacheDir ?? join(tmpdir(), 'h5vault-s3-cache'), o.cacheMaxBytes ?? Infinity);
    this.#ctx = {
      s3: client,
      bucket,
      prefix,
      root: this.root,
      options: o,
      cache: this.cache,
      records: new Map(),
      key: (rel) => (prefix ? `${prefix}/${rel}` : rel),
      retry: (fn, what, ro = {}) => retryCall(fn, what, { ...o.retry, ...ro }),
      dir: (name) => this.dir(name),
      stats: newStats(),
      concurrency: o.concurrency ?? 8,
      partBytes: o.partBytes ?? 16 * 1024 * 1024,
      graceMs: o.blobGraceMs ?? 3600_000,
      chunkBytes: o.chunkBytes ?? CHUNK_BYTES,
    };
  }

  /** Requests and payload bytes this store object sent and received (a copy). */
  stats(): TransferStats {
    return { ...this.#ctx.stats };
  }

  /**
   * Opens the store at `url` (s3://bucket/prefix). A prefix without the
   * store's marker object is H5_NOT_FOUND unless `{ create: true }`.
   * @example const store = await S3ModelStore.open('s3://models/prod', { endpoint: 'http://127.0.0.1:7480', cacheDir: '/var/cache/h5vault' });
   */
  static async open(url: string, options: S3StoreOptions = {}): Promise<S3ModelStore> {
    checkString(url, 'url');
    checkStoreOpen(options);
    parseS3Url(url, 'prefix');
    // MIN_PART: S3's smallest multipart part.
    integerOption(options, 'partBytes', MIN_PART);
    integerOption(options, 'concurrency', 1, 64);
    numberOption(options, 'cacheMaxBytes', { above: 0, infinite: true });
    oneOfOption(options, 'layout', ['file', 'tensors'] as const);
    numberOption(options, 'blobGraceMs', { above: 0 });
    if (options.chunkBytes !== Infinity) integerOption(options, 'chunkBytes', MIN_CHUNK_BYTES);
    const store = new S3ModelStore(url, makeClient(resolveConfig(options), options), options);
    await store.cache.init();
    const { HeadObjectCommand, PutObjectCommand } = loadS3();
    const marker = store.#ctx.key(MARKER);
    try {
      await store.#ctx.retry(
        () => store.#ctx.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: marker })),
        `s3://${store.bucket}/${marker}`,
      );
    } catch (e) {
      if (!(e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND')) throw e;
      if (!options.create) {
        throw new H5Error(
          `no model store at '${store.root}' (no ${MARKER}); pass { create: true } to ModelStore.open to create one`,
          { code: 'H5_NOT_FOUND', path: store.root },
        );
      }
      await store.#ctx.retry(
        () =>
          store.#ctx.s3.send(
            new PutObjectCommand({
              Bucket: store.bucket,
              Key: marker,
              Body: `${JSON.stringify({ format: 1 })}\n`,
              ContentType: 'application/json',
            }),
          ),
        `cannot create the model store '${store.root}'`,
      );
    }
    return store;
  }

  /** The model's key prefix (s3://bucket/prefix/name). Validates the name. */
  dir(name: string): string {
    checkName(name);
    return `${this.root}/${name}`;
  }

  /** Names of the models with at least one version record, sorted. */
  names(): Promise<string[]> {
    return listNames(this.#ctx);
  }

  /** One version's record (undefined if there is none). */
  record(name: string, version: number): Promise<S3VersionRecord | undefined> {
    return readRecord(this.#ctx, name, version);
  }

  /** The published versions of `name`, oldest first ([] if none). */
  async versions(name: string): Promise<VersionInfo[]> {
    checkName(name);
    return (await readableRecords(this.#ctx, name)).map(info);
  }

  /** The latest version number, or null if `name` has none (one LIST request). */
  latest(name: string): Promise<number | null> {
    return latestVersion(this.#ctx, name);
  }

  /**
   * Publishes a new version of `name`: writes the file locally (as a local
   * store does), uploads it as an immutable object (multipart, parts in
   * parallel), then creates its version record, which makes it visible.
   * Resolves to its number. A failure before the record leaves no version,
   * only an object `gc` removes.
   * @example const v = await store.save('resnet', tensors, { metadata: { run: 'r42' }, onUploadProgress: (s, t) => log(s / t) });
   */
  async save(name: string, tensors: TensorsInput, options: S3SaveOptions = {}): Promise<number> {
    const site = new Error();
    checkName(name);
    const p = prepareSave(tensors, options);
    functionOption(options, 'onUploadProgress');
    return withSite(site, async () => {
      const staging = join(this.cache.dir, 'staging');
      await mkdir(staging, { recursive: true }).catch((e) => {
        throw ioError(e, `cannot create '${staging}'`);
      });
      const w = await writeTemp(join(staging, `${name}.h5`), p);
      try {
        const nonce = randomBytes(8).toString('hex');
        const tensorsList = readTensorList(w.temp);
        // What both layouts' records hold.
        const common = {
          name,
          file: '',
          digest: w.digest,
          modelDigest: w.modelDigest,
          bytes: w.bytes,
          createdAt: '',
          metadata: JSON.parse(p.metadataJson) as Record<string, JsonValue>,
          provenance: tensorsList.provenance,
          publisher: { host: hostname(), pid: process.pid, nonce },
        };
        if (this.#ctx.options.layout === 'tensors') {
          const version = await saveTensors(this.#ctx, common, p, tensorsList, options);
          await this.cache.adopt(w.digest, w.temp).catch(() => {});
          return version;
        }
        const version = await saveFile(this.#ctx, common, w.temp, tensorsList.tensors, options);
        // Published. Keeping our copy only saves a download later: a failure here is not the save's.
        await this.cache.adopt(w.digest, w.temp).catch(() => {});
        return version;
      } finally {
        await unlinkQuiet(w.temp);
      }
    });
  }

  /**
   * Loads a version (default: the latest): from the cache, else downloaded
   * into it with parallel ranged GETs, its SHA-256 checked before it is
   * renamed in and again (by loadModel) before libhdf5 parses it; then mapped
   * zero-copy. The version stays pinned in the cache until `close()`.
   * @example const m = await store.load('resnet'); m.pull.downloaded; m.close();
   */
  async load(
    name: string,
    version?: number,
    options: S3LoadOptions = {},
  ): Promise<LoadedModel & { version: number; pull: PullInfo }> {
    const site = new Error();
    checkStoreLoad(name, version, options);
    return withSite(site, async () => {
      const v = version ?? (await this.latest(name));
      if (v === null) throw new H5Error(`model '${name}' has no versions in '${this.root}'`, { code: 'H5_NOT_FOUND' });
      const near = this.#readAhead(name, v);
      const rec = await this.record(name, v);
      if (!rec)
        throw new H5Error(`model '${name}' has no version ${v} (it was never saved or was pruned)`, {
          code: 'H5_NOT_FOUND',
        });
      const { onDownloadProgress, ...loadOpts } = options;
      for (let attempt = 0; ; attempt++) {
        const unpin = this.cache.pin(rec.digest);
        try {
          const downloaded = await this.cache.ensure(
            rec.digest,
            (temp) => this.#fetchVersion(rec, temp, options.signal, onDownloadProgress, near),
            options.signal,
          );
          await this.cache.touch(rec.digest);
          const path = this.cache.path(rec.digest);
          const m = await loadModel(path, { ...loadOpts, expectDigest: rec.digest });
          const closeFile = m.close;
          const close = (): void => {
            closeFile();
            unpin();
          };
          return Object.assign(m, { version: v, pull: { downloaded, path }, close, [Symbol.dispose]: close });
        } catch (e) {
          unpin();
          // Evicted between the check and the open: pull again.
          if (attempt < 2 && e instanceof H5Error && e.code === 'H5_FILE_NOT_FOUND') continue;
          throw e;
        }
      }
    });
  }

  /**
   * Makes a version (default: the latest) present in the local cache without
   * loading it: downloaded once with parallel ranged GETs and SHA-256 checked,
   * or found there. Pre-warms a server's cache before a swap.
   * @example const { downloaded, path } = await store.pull('resnet');
   */
  async pull(
    name: string,
    version?: number,
    options: Pick<S3LoadOptions, 'signal' | 'onDownloadProgress'> = {},
  ): Promise<PullInfo & { version: number }> {
    const site = new Error();
    checkName(name);
    if (version !== undefined) checkVersion(version);
    return withSite(site, async () => {
      const v = version ?? (await this.latest(name));
      if (v === null) throw new H5Error(`model '${name}' has no versions in '${this.root}'`, { code: 'H5_NOT_FOUND' });
      const near = this.#readAhead(name, v);
      const rec = await this.record(name, v);
      if (!rec)
        throw new H5Error(`model '${name}' has no version ${v} (it was never saved or was pruned)`, {
          code: 'H5_NOT_FOUND',
        });
      const downloaded = await this.cache.ensure(
        rec.digest,
        (temp) => this.#fetchVersion(rec, temp, options.signal, options.onDownloadProgress, near),
        options.signal,
      );
      await this.cache.touch(rec.digest);
      return { version: v, downloaded, path: this.cache.path(rec.digest) };
    });
  }

  /**
   * A store of layout 'tensors' reads the neighbours' records of a version it
   * pulls in the same round as the version's own (they are the delta pull's
   * candidate bases: s3-tensors.ts), one round trip earlier than the pull
   * would read them (and the numbers never used are not read again). Their
   * GETs are wasted when the version is cached already.
   */
  #readAhead(name: string, version: number): NearRecords | undefined {
    return this.#ctx.options.layout === 'tensors' ? nearRecords(this.#ctx, name, version) : undefined;
  }

  /** Writes the version's file into `temp` (a cache temp): downloaded whole (format 1; the cache hashes it) or rebuilt from tensor objects (format 2; resolves to its SHA-256). */
  #fetchVersion(
    rec: S3VersionRecord,
    temp: string,
    signal?: AbortSignal,
    onProgress?: (n: number, total: number) => void,
    near?: NearRecords,
  ): Promise<string | undefined> {
    return rec.format === 2
      ? rebuildVersion(this.#ctx, rec, temp, signal, onProgress, near)
      : downloadFile(this.#ctx, rec, temp, signal, onProgress);
  }

  /**
   * Deletes all but the newest `keep` versions (records first, so a version
   * is never visible without its object), then their objects. Resolves to
   * the removed numbers. Cached copies stay until evicted, and mapped ones
   * keep serving.
   * @example await store.prune('resnet', { keep: 3 });
   */
  async prune(name: string, options: { keep: number }): Promise<number[]> {
    const site = new Error();
    checkName(name);
    const keep = checkKeep(options);
    return withSite(site, () => pruneVersions(this.#ctx, name, keep));
  }

  /**
   * Removes what interrupted publishes left: objects no version record names
   * and multipart uploads never completed, both older than `graceMs` (a
   * publish may still be uploading them).
   * @example const { objects, uploads } = await store.gc('resnet', { graceMs: 0 });
   */
  gc(name: string, options: GcOptions = {}): Promise<GcResult> {
    checkName(name);
    checkObject(options);
    const graceMs = numberOption(options, 'graceMs', { min: 0 }, 3600_000);
    return collectGarbage(this.#ctx, name, graceMs);
  }

  /** Size, file count and pinned digests of the local cache. */
  cacheStats(): Promise<CacheStats> {
    return this.cache.stats();
  }

  /**
   * Calls `cb(version)` each time the latest version of `name` changes, by
   * polling (one LIST request per `intervalMs`, default 1000 ms). Returns a
   * function that stops watching.
   * @example const stop = store.watch('resnet', (v) => swapTo(v), { intervalMs: 5000 });
   */
  watch(name: string, cb: (version: number) => void | Promise<void>, options: WatchOptions = {}): () => void {
    const { intervalMs, report } = checkWatch(name, cb, options);
    let current: number | null | undefined = options.from;
    let stopped = false;
    let checking = false;
    const check = async (): Promise<void> => {
      if (checking || stopped) return;
      checking = true;
      try {
        const latest = await this.latest(name);
        if (stopped) return;
        if (current === undefined) current = latest;
        else if (latest !== current && latest !== null) {
          current = latest;
          await Promise.resolve(cb(latest)).catch(report);
        }
      } catch (e) {
        report(e);
      } finally {
        checking = false;
      }
    };
    void check();
    const timer = setInterval(() => void check(), intervalMs);
    if (!(options.persistent ?? true)) timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  /**
   * Serves the latest version of `name` and swaps to each new one once it is
   * pulled, verified and loaded (as ModelStore.serve).
   * @example const server = await store.serve('resnet', { intervalMs: 2000 });
   */
  serve<R = ServedModel>(name: string, options: ServeOptions<R> = {}): Promise<ModelServer<R>> {
    return serveModel(this, name, options);
  }

  /** The AWS SDK client the store sends its requests with. */
  get client(): S3ClientLike {
    return this.#ctx.s3;
  }

  /** Releases the SDK's connections. */
  destroy(): void {
    this.#ctx.s3.destroy();
  }
}
