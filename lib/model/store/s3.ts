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
 */
import { hostname, tmpdir } from 'node:os';
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { File } from '../../h5/file.js';
import { libraryInfo } from '../../h5/runtime.js';
import { H5Error, withSite } from '../../errors.js';
import { ATTR, TENSOR_SHA_ATTR, type JsonValue, type TensorsInput } from '../schema.js';
import { SHA256_HEX } from '../digest.js';
import { ioError, unlinkQuiet } from '../../util/publish.js';
import { acquireLock, type LockOptions } from './lock.js';
import { prepareSave, writeTemp, type SaveOptions } from '../save.js';
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
  NAME_RE,
  versionFile,
  type StoreLoadOptions,
  type VersionInfo,
  type WatchOptions,
} from './common.js';
import { BlobCache, type CacheStats } from './cache.js';
import {
  BLOB_ROOT,
  blobOfCondemned,
  casTestHooks,
  CONDEMNED_ROOT,
  condemnedKey,
  ensureTensorObjects,
  isBlobKey,
  listAll,
  newStats,
  rebuildInto,
  uploadItems,
  type CasContext,
  type CasTensor,
  type RebuildRecipe,
  type TransferStats,
} from './cas.js';
import { performance } from 'node:perf_hooks';
import { isDType, itemSize, type NumericDType, type TypedArray } from '../../h5/dtypes.js';
import { loadS3, loadStorage, makeClient, resolveConfig } from '../../remote/sdk.js';
import type { S3ClientLike, S3ConnectOptions } from '../../remote/options.js';
import { s3Status } from '../../remote/errors.js';
import { withRetry as retryCall, type RetryOptions } from '../../remote/retry.js';
import { parseS3Url } from '../../remote/url.js';
import { parseStoredJson } from '../../safety/budget.js';
import {
  checkObject,
  checkString,
  functionOption,
  integerOption,
  numberOption,
  oneOfOption,
} from '../../util/validate.js';

export interface S3StoreOptions extends S3ConnectOptions {
  /** Create the store (its marker object) if the prefix is not one yet. The bucket must exist. Default false. */
  create?: boolean;
  /** Local cache directory, shared by every process on the machine that names it. Default: $TMPDIR/h5vault-s3-cache. */
  cacheDir?: string;
  /** Size bound of the cache in bytes (LRU eviction; mapped versions are never evicted). Default: unbounded. */
  cacheMaxBytes?: number;
  /**
   * The server supports conditional writes (If-None-Match: * on PutObject):
   * AWS S3 (since August 2024), MinIO, Ceph RGW. Default true. With false,
   * publishers serialise on a lock file in `lockDir`: safe only among
   * publishers that share that directory (docs/object-storage.md#servers-without-conditional-writes).
   */
  conditionalWrites?: boolean;
  /** Where the fallback lock lives (default: cacheDir). */
  lockDir?: string;
  lock?: LockOptions;
  /** Bytes per multipart part and per ranged GET (default 16 MiB; S3's minimum part is 5 MiB). */
  partBytes?: number;
  /** Parts uploaded / ranges downloaded at once (default 8). Memory held: about partBytes × concurrency on upload. */
  concurrency?: number;
  /**
   * Retries of a failed request or range on top of the SDK's own (which
   * give up within about a second): attempts in all (default 8) and the first
   * backoff (default 100 ms, doubling up to 5 s, with jitter). The defaults
   * ride out a gateway restart of ~10 s.
   */
  retry?: { attempts?: number; baseMs?: number };
  /**
   * A version record that cannot be read as one (not JSON, not a format-1 record
   * of its version, over RECORD_MAX_BYTES) is skipped by `versions`, `latest`,
   * `load` of the latest, `prune`, `gc` and `watch`, and reported here. Default:
   * process.emitWarning (type 'H5VaultWarning', code 'H5_CORRUPT'). Asked for
   * by number (`load(name, v)`, `record`), it is H5_CORRUPT.
   */
  onBadRecord?: (bad: BadRecord) => void;
  /**
   * How `save` stores a version: 'file' (default: one whole .h5 object, format-1
   * record, readable by every h5vault release with the S3 store) or 'tensors'
   * (content-addressed: one object per distinct tensor, shared by every version
   * and model of the store, and a format-2 manifest; publish uploads and pull
   * downloads only the tensors the other side lacks). A store reads both.
   * docs/object-storage.md#content-addressed-layout
   */
  layout?: 'file' | 'tensors';
  /**
   * Grace period of tensor objects (default 1 h): `gc` marks an unreferenced
   * object older than this, and deletes it once the mark is older than this; a
   * publisher must create its manifest within half of it from checking the
   * objects it reuses (it checks again otherwise). Every publisher and gc of a
   * store must use the same value, far above clock skew and request retries.
   */
  blobGraceMs?: number;
}

/** A version record skipped because it is not one (docs/object-storage.md#bad-records). */
export interface BadRecord {
  name: string;
  version: number;
  /** Its key in the bucket. */
  key: string;
  /** Why (H5_CORRUPT). */
  error: H5Error;
}

/** Records are a few KiB (one line per tensor): anything larger is not one of ours. */
export const RECORD_MAX_BYTES = 16 * 1024 * 1024;

export interface S3SaveOptions extends SaveOptions {
  /** Upload progress: bytes of the file sent so far, and its size. */
  onUploadProgress?: (sent: number, total: number) => void;
}

export interface S3LoadOptions extends StoreLoadOptions {
  /** Download progress: bytes received so far, and the file size. */
  onDownloadProgress?: (received: number, total: number) => void;
}

/** What a load did to get the file: whether this process downloaded it, or found it in the cache. */
export interface PullInfo {
  downloaded: boolean;
  /** Local file the model is mapped from. */
  path: string;
}

/**
 * The version record (manifest) stored at NAME/versions/vNNNNNN.json: format 1
 * names one whole-file object; format 2 (layout 'tensors') names one object
 * per tensor and how to rebuild the file byte for byte.
 */
export interface S3VersionRecord extends VersionInfo {
  format: 1 | 2;
  name: string;
  /** Format 1: key of the version's object, relative to the store prefix. */
  object?: string;
  /** Format 2 adds each tensor's `bytes` and `object` (key relative to the store prefix). */
  tensors: ({ name: string; dtype: string; shape: number[]; sha256: string } & Partial<
    Pick<CasTensor, 'bytes' | 'object'>
  >)[];
  /** Format 2: the save options and writer provenance the file was written with. */
  rebuild?: RebuildRecipe;
  provenance: Record<string, JsonValue>;
  publisher: { host: string; pid: number; nonce: string };
}

export interface GcOptions {
  /** Objects and multipart uploads younger than this are left alone (a publish may be in flight). Default 1 h. */
  graceMs?: number;
}

export interface GcResult {
  /** Keys of unreferenced objects removed (whole-file objects of this model, and tensor objects of the store). */
  objects: string[];
  /** Keys of tensor objects referenced by no version, marked now: deleted by a gc at least blobGraceMs later. */
  condemned: string[];
  /** Keys of abandoned multipart uploads aborted. */
  uploads: string[];
  /** Version records skipped because they are not records (left in place: a person should look at them). */
  badRecords: BadRecord[];
}

const RECORD_RE = /^v(\d{6,})\.json$/;
const MIN_PART = 5 * 1024 * 1024;

const recordName = (v: number): string => versionFile(v).replace(/\.h5$/, '.json');

function isManifest(r: S3VersionRecord): boolean {
  const b = r.rebuild;
  return (
    Array.isArray(r.tensors) &&
    r.tensors.every(
      (t) =>
        typeof t === 'object' &&
        t !== null &&
        typeof t.name === 'string' &&
        isDType(t.dtype) &&
        t.dtype !== 'string' &&
        Array.isArray(t.shape) &&
        t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
        // Its size follows from dtype and shape: a manifest cannot make a pull allocate more than the tensor.
        t.bytes === t.shape.reduce((a, d) => a * d, itemSize(t.dtype)) &&
        isBlobKey(t.object, t.sha256),
    ) &&
    typeof b === 'object' &&
    b !== null &&
    typeof b.metadataJson === 'string' &&
    typeof b.shuffle === 'boolean' &&
    typeof b.writer === 'object' &&
    b.writer !== null &&
    ['version', 'hdf5', 'node', 'platform'].every((k) => typeof b.writer[k as keyof typeof b.writer] === 'string')
  );
}

function isRecord(x: unknown, name: string, v: number): x is S3VersionRecord {
  const r = x as S3VersionRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.format === 1 ? typeof r.object === 'string' : r.format === 2 && isManifest(r)) &&
    r.name === name &&
    r.version === v &&
    typeof r.digest === 'string' &&
    SHA256_HEX.test(r.digest) &&
    Number.isSafeInteger(r.bytes) &&
    typeof r.publisher?.nonce === 'string'
  );
}

async function bodyText(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

export class S3ModelStore {
  /** The store's URL, s3://bucket/prefix. */
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  /** The local cache versions are pulled into. */
  readonly cache: BlobCache;
  readonly #s3: S3Client;
  readonly #o: S3StoreOptions;
  readonly #partBytes: number;
  readonly #concurrency: number;
  /** Version records are immutable once written: read each once per store object. */
  readonly #records = new Map<string, S3VersionRecord>();
  readonly #stats: TransferStats = newStats();
  readonly #blobGraceMs: number;

  private constructor(url: string, client: S3Client, o: S3StoreOptions) {
    const { bucket, key: prefix } = parseS3Url(url, 'prefix');
    this.bucket = bucket;
    this.prefix = prefix;
    this.root = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.#s3 = client;
    this.#o = o;
    this.cache = new BlobCache(o.cacheDir ?? join(tmpdir(), 'h5vault-s3-cache'), o.cacheMaxBytes ?? Infinity);
    this.#partBytes = o.partBytes ?? 16 * 1024 * 1024;
    this.#concurrency = o.concurrency ?? 8;
    this.#blobGraceMs = o.blobGraceMs ?? 3600_000;
  }

  /** What cas.ts needs of this store. */
  get #cas(): CasContext {
    return {
      s3: this.#s3,
      bucket: this.bucket,
      key: (rel) => this.#key(rel),
      retry: (fn, what, o) => this.#retry(fn, what, o),
      stats: this.#stats,
      concurrency: this.#concurrency,
      partBytes: this.#partBytes,
      graceMs: this.#blobGraceMs,
    };
  }

  /** Requests and payload bytes this store object sent and received (a copy). */
  stats(): TransferStats {
    return { ...this.#stats };
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
    const store = new S3ModelStore(url, makeClient(resolveConfig(options), options), options);
    await store.cache.init();
    const { HeadObjectCommand, PutObjectCommand } = loadS3();
    const marker = store.#key(MARKER);
    try {
      await store.#retry(
        () => store.#s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: marker })),
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
      await store.#retry(
        () =>
          store.#s3.send(
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

  #retry<T>(fn: (attempt: number) => Promise<T>, what: string, o: RetryOptions = {}): Promise<T> {
    return retryCall(fn, what, { ...this.#o.retry, ...o });
  }

  #key(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  /** The model's key prefix (s3://bucket/prefix/name). Validates the name. */
  dir(name: string): string {
    checkName(name);
    return `${this.root}/${name}`;
  }

  /** Names of the models with at least one version record, sorted. */
  async names(): Promise<string[]> {
    const { ListObjectsV2Command } = loadS3();
    const out = new Set<string>();
    const base = this.#key('');
    let token: string | undefined;
    do {
      const r = await this.#retry(
        () =>
          this.#s3.send(
            new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, Delimiter: '/', ContinuationToken: token }),
          ),
        `cannot list '${this.root}'`,
      );
      for (const p of r.CommonPrefixes ?? []) {
        const n = p.Prefix!.slice(base.length).replace(/\/$/, '');
        if (NAME_RE.test(n)) out.add(n);
      }
      token = r.NextContinuationToken;
    } while (token);
    const names: string[] = [];
    for (const n of [...out].sort()) if ((await this.#list(n)).length) names.push(n);
    return names;
  }

  /** Version numbers with a record, ascending (one LIST request per 1000 versions). */
  async #list(name: string): Promise<number[]> {
    const { ListObjectsV2Command } = loadS3();
    const base = this.#key(`${name}/versions/`);
    const out: number[] = [];
    let token: string | undefined;
    do {
      const r = await this.#retry(
        () => this.#s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token })),
        `cannot list the versions of '${this.dir(name)}'`,
      );
      for (const o of r.Contents ?? []) {
        const m = RECORD_RE.exec(o.Key!.slice(base.length));
        if (m) out.push(Number(m[1]));
      }
      token = r.NextContinuationToken;
    } while (token);
    return out.sort((a, b) => a - b);
  }

  /** One version's record (undefined if there is none). */
  async record(name: string, version: number): Promise<S3VersionRecord | undefined> {
    checkName(name);
    checkVersion(version);
    const key = this.#key(`${name}/versions/${recordName(version)}`);
    const known = this.#records.get(key);
    if (known) return known;
    const { GetObjectCommand } = loadS3();
    let text: string;
    try {
      text = await this.#retry(async () => {
        const r = await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        if (!(Number(r.ContentLength) <= RECORD_MAX_BYTES)) {
          (r.Body as { destroy?(): void } | undefined)?.destroy?.();
          throw new H5Error(
            `s3://${this.bucket}/${key} is ${r.ContentLength} bytes: not an h5vault version record (at most ${RECORD_MAX_BYTES})`,
            { code: 'H5_CORRUPT' },
          );
        }
        return bodyText(r.Body);
      }, `s3://${this.bucket}/${key}`);
    } catch (e) {
      if (e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND') return undefined;
      throw e;
    }
    let r: unknown;
    try {
      r = parseStoredJson(text);
    } catch {
      throw new H5Error(`s3://${this.bucket}/${key} is not valid JSON`, { code: 'H5_CORRUPT' });
    }
    if (!isRecord(r, name, version))
      throw new H5Error(`s3://${this.bucket}/${key} is not an h5vault version record (format 1)`, {
        code: 'H5_CORRUPT',
      });
    this.#records.set(key, r);
    return r;
  }

  /** The published versions of `name`, oldest first ([] if none). */
  async versions(name: string): Promise<VersionInfo[]> {
    checkName(name);
    return (await this.#readableRecords(name)).map(info);
  }

  /**
   * The readable records of `name`, oldest first; the others are reported
   * (onBadRecord) and collected in `bad`. `newest` stops at the newest readable one.
   */
  async #readableRecords(name: string, o: { bad?: BadRecord[]; newest?: boolean } = {}): Promise<S3VersionRecord[]> {
    const vs = await this.#list(name);
    if (o.newest) vs.reverse();
    const out: S3VersionRecord[] = [];
    for (const v of vs) {
      const r = await this.#readable(name, v, o.bad);
      if (!r) continue;
      out.push(r);
      if (o.newest) break;
    }
    return out;
  }

  /** record(), with a record that is not one reported and skipped (undefined) instead of thrown. */
  async #readable(name: string, v: number, bad?: BadRecord[]): Promise<S3VersionRecord | undefined> {
    try {
      return await this.record(name, v);
    } catch (e) {
      if (!(e instanceof H5Error && e.code === 'H5_CORRUPT')) throw e;
      const b: BadRecord = { name, version: v, key: this.#key(`${name}/versions/${recordName(v)}`), error: e };
      bad?.push(b);
      if (this.#o.onBadRecord) this.#o.onBadRecord(b);
      else
        process.emitWarning(`${this.root}: skipping the version record ${b.key}: ${e.message}`, {
          type: 'H5VaultWarning',
          code: 'H5_CORRUPT',
        });
      return undefined;
    }
  }

  /** The latest version number, or null if `name` has none (one LIST request). */
  async latest(name: string): Promise<number | null> {
    checkName(name);
    const [r] = await this.#readableRecords(name, { newest: true });
    return r ? r.version : null;
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
        if (this.#o.layout === 'tensors') {
          const version = await this.#saveTensors(common, p, tensorsList, options);
          await this.cache.adopt(w.digest, w.temp).catch(() => {});
          return version;
        }
        const object = `${name}/objects/${w.digest}-${nonce}.h5`;
        await this.#upload(w.temp, this.#key(object), w.bytes, options);
        this.#stats.puts++;
        this.#stats.bytesUploaded += w.bytes;
        const base = { ...common, format: 1 as const, object, tensors: tensorsList.tensors };
        const version = await this.#commit(name, base, options.signal);
        // Published. Keeping our copy only saves a download later: a failure here is not the save's.
        await this.cache.adopt(w.digest, w.temp).catch(() => {});
        return version;
      } finally {
        await unlinkQuiet(w.temp);
      }
    });
  }

  /**
   * Delta publish: uploads the tensors the bucket lacks (or holds only in
   * copies gc has marked), then creates the manifest as #commit does. The
   * manifest must be created within blobGraceMs / 2 of the check of the
   * objects it reuses (docs/object-storage.md#gc-racing-publish): past that,
   * they are checked again first.
   */
  async #saveTensors(
    common: Omit<S3VersionRecord, 'version' | 'format' | 'tensors'>,
    p: ReturnType<typeof prepareSave>,
    list: ReturnType<typeof readTensorList>,
    options: S3SaveOptions,
  ): Promise<number> {
    const name = common.name;
    const shaByName = new Map(list.tensors.map((t) => [t.name, t.sha256]));
    const items = uploadItems(p.entries, shaByName);
    const check = () =>
      ensureTensorObjects(this.#cas, items, options.signal, (s, t) => options.onUploadProgress?.(s, t));
    let checked = await check();
    const tensors = (): S3VersionRecord['tensors'] =>
      items.map((i) => ({
        name: i.entry.name,
        dtype: i.entry.tensor.dtype,
        shape: [...i.entry.tensor.shape],
        sha256: i.sha256,
        bytes: i.bytes,
        object: checked.keys.get(i.sha256)!,
      }));
    const prov = list.provenance;
    const base: Omit<S3VersionRecord, 'version'> = {
      ...common,
      format: 2,
      tensors: tensors(),
      rebuild: {
        compression: p.compression,
        shuffle: p.shuffle,
        metadataJson: p.metadataJson,
        writer: {
          version: String(prov.version),
          hdf5: String(prov.hdf5),
          node: String(prov.node),
          platform: String(prov.platform),
        },
      },
    };
    return this.#commit(name, base, options.signal, async () => {
      await casTestHooks.beforeCommit?.();
      for (let n = 0; performance.now() - checked.checkedAt > this.#blobGraceMs / 2; n++) {
        if (n === 3)
          throw new H5Error(
            `cannot publish '${this.dir(name)}': checking its tensor objects takes longer than half the grace period (blobGraceMs ${this.#blobGraceMs} ms)`,
            { code: 'H5_S3_ERROR' },
          );
        checked = await check();
        base.tensors = tensors();
      }
    });
  }

  async #upload(file: string, key: string, bytes: number, o: S3SaveOptions): Promise<void> {
    const { Upload } = loadStorage();
    const what = `cannot upload s3://${this.bucket}/${key}`;
    await this.#retry(
      async () => {
        const body = createReadStream(file, { highWaterMark: 1024 * 1024 });
        const up = new Upload({
          client: this.#s3,
          params: { Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/x-hdf5' },
          queueSize: this.#concurrency,
          partSize: this.#partBytes,
          leavePartsOnError: false,
        });
        up.on('httpUploadProgress', (e) => o.onUploadProgress?.(e.loaded ?? 0, bytes));
        const abort = (): void => void up.abort().catch(() => {});
        o.signal?.addEventListener('abort', abort, { once: true });
        try {
          if (o.signal?.aborted) throw new H5Error('save aborted', { code: 'H5_ABORTED' });
          await up.done();
        } catch (e) {
          if (o.signal?.aborted) {
            await this.#settleAborted(up, key);
            throw new H5Error('save aborted', { code: 'H5_ABORTED' });
          }
          throw e;
        } finally {
          o.signal?.removeEventListener('abort', abort);
          body.destroy();
        }
      },
      what,
      { signal: o.signal },
    );
  }

  /**
   * After an abort, Upload.done() rejects at once, while lib-storage is still
   * finishing the parts in flight and then aborting the upload on the server.
   * A save that rejected must have nothing left running: wait for the parts,
   * then abort the upload ourselves (NoSuchUpload: lib-storage got there first).
   * Without this, a gc right after the rejected save raced lib-storage's abort
   * and failed with NoSuchUpload.
   */
  async #settleAborted(up: InstanceType<ReturnType<typeof loadStorage>['Upload']>, key: string): Promise<void> {
    const internals = up as unknown as { concurrentUploaders?: Promise<unknown>[]; uploadId?: string };
    await Promise.allSettled(internals.concurrentUploaders ?? []);
    if (!internals.uploadId) return;
    const { AbortMultipartUploadCommand } = loadS3();
    await this.#retry(
      () =>
        this.#s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: internals.uploadId })),
      `cannot abort the upload of s3://${this.bucket}/${key}`,
    ).catch((e: unknown) => {
      if (!(e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND')) throw e;
    });
  }

  /** Creates the version record under the next free number. */
  async #commit(
    name: string,
    base: Omit<S3VersionRecord, 'version'>,
    signal?: AbortSignal,
    beforePut?: () => Promise<void>,
  ): Promise<number> {
    const { PutObjectCommand, HeadObjectCommand } = loadS3();
    const conditional = this.#o.conditionalWrites ?? true;
    let release: (() => Promise<void>) | undefined;
    if (!conditional) {
      const dir = join(this.#o.lockDir ?? this.cache.dir, 'publish-locks');
      await mkdir(dir, { recursive: true });
      const id = `${this.bucket}/${this.prefix}/${name}`.replace(/[^A-Za-z0-9._-]/g, '_');
      release = await acquireLock(join(dir, `${id}.lock`), this.#o.lock);
    }
    try {
      let version = ((await this.latest(name)) ?? 0) + 1;
      for (; ; version++) {
        if (signal?.aborted) throw new H5Error('save aborted', { code: 'H5_ABORTED' });
        await beforePut?.();
        const key = this.#key(`${name}/versions/${recordName(version)}`);
        const record: S3VersionRecord = {
          ...base,
          version,
          file: versionFile(version),
          createdAt: new Date().toISOString(),
        };
        const body = `${JSON.stringify(record, null, 1)}\n`;
        if (!conditional) {
          // Under the shared lock: a number is free if no record exists.
          const exists = await this.#retry(
            () => this.#s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
            `s3://${this.bucket}/${key}`,
          ).then(
            () => true,
            (e) => {
              if (e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND') return false;
              throw e;
            },
          );
          if (exists) continue;
        }
        try {
          await this.#retry(
            () =>
              this.#s3.send(
                new PutObjectCommand({
                  Bucket: this.bucket,
                  Key: key,
                  Body: body,
                  ContentType: 'application/json',
                  ...(conditional ? { IfNoneMatch: '*' } : {}),
                }),
              ),
            `cannot publish version ${version} of '${this.dir(name)}'`,
            { signal },
          );
          this.#records.set(key, record);
          return version;
        } catch (e) {
          const st = (e as { status?: number }).status ?? s3Status(e);
          if (!(conditional && (st === 412 || st === 409))) throw e;
          // Taken. By us, if a retried request had already succeeded: then it is our record.
          this.#records.delete(key);
          const theirs = await this.#readable(name, version);
          if (theirs?.publisher.nonce === base.publisher.nonce) return version;
        }
      }
    } finally {
      await release?.();
    }
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
            (temp) => this.#fetchVersion(rec, temp, options.signal, onDownloadProgress),
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
      const rec = await this.record(name, v);
      if (!rec)
        throw new H5Error(`model '${name}' has no version ${v} (it was never saved or was pruned)`, {
          code: 'H5_NOT_FOUND',
        });
      const downloaded = await this.cache.ensure(
        rec.digest,
        (temp) => this.#fetchVersion(rec, temp, options.signal, options.onDownloadProgress),
        options.signal,
      );
      await this.cache.touch(rec.digest);
      return { version: v, downloaded, path: this.cache.path(rec.digest) };
    });
  }

  /** Writes the version's file into `temp` (a cache temp): downloaded whole (format 1) or rebuilt from tensor objects (format 2). */
  #fetchVersion(
    rec: S3VersionRecord,
    temp: string,
    signal?: AbortSignal,
    onProgress?: (n: number, total: number) => void,
  ): Promise<string> {
    return rec.format === 2
      ? this.#rebuild(rec, temp, signal, onProgress)
      : this.#download(rec, temp, signal, onProgress);
  }

  /**
   * Delta pull of a format-2 version: takes the tensors it shares with the
   * cached version of `rec.name` that shares the most bytes (mapped, pinned
   * while used, each re-hashed), fetches the others, rebuilds the file with
   * the reproducible writer. The cache then checks the file's SHA-256 against
   * the manifest before renaming it in.
   */
  async #rebuild(
    rec: S3VersionRecord,
    temp: string,
    signal?: AbortSignal,
    onProgress?: (n: number, total: number) => void,
  ): Promise<string> {
    const want = new Set(rec.tensors.map((t) => t.sha256));
    let best: { rec: S3VersionRecord; shared: number } | undefined;
    for (const v of await this.#list(rec.name)) {
      if (v === rec.version) continue;
      const r = await this.record(rec.name, v).catch(() => undefined);
      if (!r || r.digest === rec.digest || !(await this.cache.has(r.digest))) continue;
      let shared = 0;
      for (const t of r.tensors)
        if (want.has(t.sha256)) shared += t.bytes ?? t.shape.reduce((a, d) => a * d, itemSize(t.dtype as NumericDType)); // format 1 has no sizes
      if (shared > 0 && (!best || shared > best.shared)) best = { rec: r, shared };
    }
    const manifest = { tensors: rec.tensors as CasTensor[], rebuild: rec.rebuild! };
    const checked = (hex: string): string => {
      // The cache checks it too; this says why a rebuilt file can differ (every tensor matched already).
      if (hex !== rec.digest) {
        const here = libraryInfo().hdf5;
        throw new H5Error(
          `version ${rec.version} of '${this.dir(rec.name)}' rebuilt from its verified tensors has SHA-256 ${hex}, its manifest says ${rec.digest}${rec.rebuild!.writer.hdf5 !== here ? ` (written with libhdf5 ${rec.rebuild!.writer.hdf5}, rebuilt with ${here})` : ''}: nothing was cached`,
          { code: 'H5_CHECKSUM_MISMATCH', expected: rec.digest, actual: hex },
        );
      }
      return hex;
    };
    if (!best) return checked(await rebuildInto(this.#cas, temp, manifest, undefined, signal, onProgress));
    const unpin = this.cache.pin(best.rec.digest);
    let m: LoadedModel | undefined;
    try {
      // Not verified here: each tensor taken from it is re-hashed by rebuildInto, the rest is not used.
      // Evicted since has(), or unreadable: rebuild without it (H5Errors only; anything else is a bug to see).
      m = await loadModel(this.cache.path(best.rec.digest), { verify: false }).catch((e: unknown) => {
        if (e instanceof H5Error) return undefined;
        throw e;
      });
      let base: Map<string, TypedArray> | undefined;
      if (m) {
        base = new Map();
        const shaOf = new Map(best.rec.tensors.map((t) => [t.name, t.sha256]));
        for (const [n, t] of m.tensors) {
          const sha = shaOf.get(n);
          if (sha && want.has(sha)) base.set(sha, t.data as TypedArray);
        }
      }
      return checked(await rebuildInto(this.#cas, temp, manifest, base, signal, onProgress));
    } finally {
      m?.close();
      unpin();
    }
  }

  /**
   * Parallel ranged GETs into `temp`, resolving to the SHA-256 of what was
   * written. Each range is collected in memory, written with one call and
   * hashed in file order as soon as the ranges before it are in, so the hash
   * overlaps the download; a worker waits before running more than
   * 2 × concurrency ranges ahead of the hash, which bounds memory to that
   * many parts. A range whose connection drops resumes at the byte it stopped.
   */
  async #download(
    rec: S3VersionRecord,
    temp: string,
    signal?: AbortSignal,
    onProgress?: (n: number, total: number) => void,
  ): Promise<string> {
    const { GetObjectCommand, HeadObjectCommand } = loadS3();
    const key = this.#key(rec.object!);
    const what = `cannot download s3://${this.bucket}/${key}`;
    const head = await this.#retry(
      () => this.#s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal }),
      what,
      { signal },
    );
    if (head.ContentLength !== rec.bytes) {
      throw new H5Error(
        `s3://${this.bucket}/${key} is ${head.ContentLength} bytes, but its version record says ${rec.bytes}: it was changed on the server; refusing it`,
        {
          code: 'H5_CHECKSUM_MISMATCH',
          expected: rec.digest,
        },
      );
    }
    // Every range must come from the same object: a concurrent overwrite fails with 412 instead of mixing bytes.
    const etag = head.ETag;
    const fh = await open(temp, 'w');
    let received = 0;
    const hash = createHash('sha256');
    const parts = Math.ceil(rec.bytes / this.#partBytes);
    const ready = new Map<number, Buffer>();
    let hashed = 0;
    let wake: (() => void)[] = [];
    const feed = (): void => {
      for (let b = ready.get(hashed); b !== undefined; b = ready.get(++hashed)) {
        hash.update(b);
        ready.delete(hashed);
      }
      const w = wake;
      wake = [];
      for (const f of w) f();
    };
    try {
      let next = 0;
      let failure: { e: unknown } | undefined;
      const ahead = 2 * this.#concurrency;
      const worker = async (): Promise<void> => {
        while (next < parts && !failure) {
          if (next - hashed >= ahead) {
            await new Promise<void>((r) => wake.push(r));
            continue;
          }
          const i = next++;
          const start = i * this.#partBytes;
          const end = Math.min(rec.bytes, start + this.#partBytes);
          const buf = Buffer.allocUnsafe(end - start);
          let pos = start;
          try {
            await this.#retry(
              async () => {
                const r = await this.#s3.send(
                  new GetObjectCommand({
                    Bucket: this.bucket,
                    Key: key,
                    Range: `bytes=${pos}-${end - 1}`,
                    IfMatch: etag,
                  }),
                  { abortSignal: signal },
                );
                for await (const chunk of r.Body as AsyncIterable<Uint8Array>) {
                  if (pos + chunk.length > end)
                    throw new H5Error(`${what}: the server sent more bytes than the range asked for`, {
                      code: 'H5_S3_ERROR',
                    });
                  buf.set(chunk, pos - start);
                  pos += chunk.length;
                  received += chunk.length;
                  this.#stats.bytesDownloaded += chunk.length;
                  onProgress?.(received, rec.bytes);
                }
                if (pos !== end)
                  throw Object.assign(new Error(`premature close: range ended at ${pos} of ${end}`), {
                    code: 'ERR_STREAM_PREMATURE_CLOSE',
                  });
              },
              what,
              { signal },
            );
            await fh.write(buf, 0, buf.length, start);
            ready.set(i, buf);
            feed();
          } catch (e) {
            failure ??= { e }; // the other ranges stop; the file is closed only once they have
            feed();
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#concurrency, parts) }, worker));
      if (failure) throw failure.e;
      return hash.digest('hex');
    } catch (e) {
      if (s3Status(e) === 412 || (e instanceof H5Error && (e as H5Error & { status?: number }).status === 412)) {
        throw new H5Error(`s3://${this.bucket}/${key} changed on the server during the download; refusing it`, {
          code: 'H5_CHECKSUM_MISMATCH',
          expected: rec.digest,
        });
      }
      throw e;
    } finally {
      await fh.close();
    }
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
    return withSite(site, async () => {
      const { DeleteObjectCommand } = loadS3();
      // Only readable records count: a junk record must not make prune drop the real latest.
      const vs = (await this.#readableRecords(name)).map((r) => r.version);
      const drop = vs.slice(0, Math.max(0, vs.length - keep));
      for (const v of drop) {
        const rec = await this.record(name, v).catch(() => undefined);
        const key = this.#key(`${name}/versions/${recordName(v)}`);
        await this.#retry(
          () => this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
          `cannot prune s3://${this.bucket}/${key}`,
        );
        this.#records.delete(key);
        // A manifest's tensor objects may be shared: gc removes them once no version references them.
        const object = rec?.object;
        if (object)
          await this.#retry(
            () => this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(object) })),
            `cannot prune s3://${this.bucket}/${this.#key(object)}`,
          );
      }
      return drop;
    });
  }

  /**
   * Removes what interrupted publishes left: objects no version record names
   * and multipart uploads never completed, both older than `graceMs` (a
   * publish may still be uploading them).
   * @example const { objects, uploads } = await store.gc('resnet', { graceMs: 0 });
   */
  async gc(name: string, options: GcOptions = {}): Promise<GcResult> {
    checkName(name);
    checkObject(options);
    const graceMs = numberOption(options, 'graceMs', { min: 0 }, 3600_000);
    const { ListObjectsV2Command, DeleteObjectCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand } =
      loadS3();
    const now = Date.now();
    // Objects first listed, then records: a record committed in between names an object we already saw as young or as referenced.
    const base = this.#key(`${name}/objects/`);
    const objects: { key: string; age: number }[] = [];
    let token: string | undefined;
    do {
      const r = await this.#retry(
        () => this.#s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token })),
        `cannot list '${this.dir(name)}'`,
      );
      for (const o of r.Contents ?? []) objects.push({ key: o.Key!, age: now - (o.LastModified?.getTime() ?? now) });
      token = r.NextContinuationToken;
    } while (token);
    const referenced = new Set<string>();
    const out: GcResult = { objects: [], condemned: [], uploads: [], badRecords: [] };
    for (const r of await this.#readableRecords(name, { bad: out.badRecords }))
      if (r.object) referenced.add(this.#key(r.object));
    for (const o of objects) {
      if (referenced.has(o.key) || o.age < graceMs) continue;
      await this.#retry(
        () => this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.key })),
        `cannot delete s3://${this.bucket}/${o.key}`,
      );
      out.objects.push(o.key);
    }
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const r = await this.#retry(
        () =>
          this.#s3.send(
            new ListMultipartUploadsCommand({
              Bucket: this.bucket,
              Prefix: base,
              KeyMarker: keyMarker,
              UploadIdMarker: idMarker,
            }),
          ),
        `cannot list the multipart uploads of '${this.dir(name)}'`,
      );
      for (const u of r.Uploads ?? []) {
        if (now - (u.Initiated?.getTime() ?? now) < graceMs) continue;
        // NoSuchUpload: it completed or was aborted (by its publisher, another gc) since the listing: gone either way.
        const gone = await this.#retry(
          () =>
            this.#s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key!, UploadId: u.UploadId! })),
          `cannot abort an upload of s3://${this.bucket}/${u.Key}`,
        ).then(
          () => true,
          (e: unknown) => {
            if (e instanceof H5Error && e.code === 'H5_S3_NOT_FOUND') return false;
            throw e;
          },
        );
        if (gone) out.uploads.push(u.Key!);
      }
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      idMarker = r.NextUploadIdMarker;
    }
    await this.#sweepTensors(out);
    return out;
  }

  /**
   * Mark-then-sweep of the store's tensor objects (docs/object-storage.md#gc-racing-publish).
   * Order matters: marks, then objects, then every model's manifests are
   * listed. An object no manifest references is marked once it is older than
   * blobGraceMs, and deleted (then its mark) once its mark, listed before the
   * manifests, is older than blobGraceMs. A publisher never starts using a
   * marked copy, and one that checked a copy before its mark commits within
   * blobGraceMs / 2: its manifest is in the listing of any gc that may delete it.
   * A store with an unreadable record deletes no tensor object (it may be a
   * manifest referencing them).
   */
  async #sweepTensors(out: GcResult): Promise<void> {
    const ctx = this.#cas;
    const grace = this.#blobGraceMs;
    const now = Date.now();
    const marks = new Map((await listAll(ctx, CONDEMNED_ROOT)).map((m) => [blobOfCondemned(m.rel), m.lastModified]));
    const blobs = (await listAll(ctx, BLOB_ROOT)).filter((b) => isBlobKey(b.rel));
    if (blobs.length === 0 && marks.size === 0) return;
    const referenced = new Set<string>();
    const bad: BadRecord[] = [];
    for (const n of await this.names())
      for (const r of await this.#readableRecords(n, { bad }))
        if (r.format === 2) for (const t of r.tensors) referenced.add(t.object!);
    for (const b of bad) if (!out.badRecords.some((o) => o.key === b.key)) out.badRecords.push(b);
    if (bad.length) return;
    const { DeleteObjectCommand, PutObjectCommand } = loadS3();
    const del = async (rel: string): Promise<void> => {
      this.#stats.deletes++;
      await this.#retry(
        () => this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(rel) })),
        `cannot delete s3://${this.bucket}/${this.#key(rel)}`,
      );
    };
    const present = new Set(blobs.map((b) => b.rel));
    for (const b of blobs) {
      const mark = marks.get(b.rel);
      if (referenced.has(b.rel)) {
        // Referenced after all (its publisher checked it before the mark): publishers may use it again.
        if (mark !== undefined) await del(condemnedKey(b.rel));
      } else if (mark !== undefined) {
        if (now - mark <= grace) continue;
        await del(b.rel);
        await del(condemnedKey(b.rel));
        out.objects.push(this.#key(b.rel));
      } else if (now - b.lastModified > grace) {
        this.#stats.puts++;
        await this.#retry(
          () =>
            this.#s3.send(
              new PutObjectCommand({
                Bucket: this.bucket,
                Key: this.#key(condemnedKey(b.rel)),
                Body: '',
                ContentLength: 0,
              }),
            ),
          `cannot mark s3://${this.bucket}/${this.#key(b.rel)}`,
        );
        out.condemned.push(this.#key(b.rel));
      }
    }
    // Marks whose object is gone (a gc stopped between the two deletes).
    for (const [rel, at] of marks) if (!present.has(rel) && now - at > grace) await del(condemnedKey(rel));
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
    return this.#s3;
  }

  /** Releases the SDK's connections. */
  destroy(): void {
    this.#s3.destroy();
  }
}

function info(r: S3VersionRecord): VersionInfo {
  return {
    version: r.version,
    file: r.file,
    digest: r.digest,
    modelDigest: r.modelDigest,
    bytes: r.bytes,
    createdAt: r.createdAt,
    metadata: r.metadata,
  };
}

/** The manifest's tensor list and provenance, read back from the written file's attributes. */
function readTensorList(path: string): { tensors: S3VersionRecord['tensors']; provenance: Record<string, JsonValue> } {
  const f = File.open(path);
  try {
    const tensors: S3VersionRecord['tensors'] = [];
    const walk = (g: ReturnType<File['group']> | File, prefix: string): void => {
      for (const k of g.keys()) {
        const child = g.get(k);
        const full = prefix ? `${prefix}/${k}` : k;
        if ('shape' in child) {
          const ds = child as unknown as { dtype: string; shape: number[]; attrs: { get(n: string): unknown } };
          tensors.push({
            name: full,
            dtype: String(ds.dtype),
            shape: [...ds.shape],
            sha256: String(ds.attrs.get(TENSOR_SHA_ATTR)),
          });
        } else walk(child as ReturnType<File['group']>, full);
      }
    };
    walk(f, '');
    const provenance: Record<string, JsonValue> = {};
    for (const [k, a] of Object.entries(ATTR)) {
      if (k !== 'metadata' && f.attrs.has(a)) provenance[k] = f.attrs.get(a) as JsonValue;
    }
    return { tensors, provenance };
  } finally {
    f.close();
  }
}
