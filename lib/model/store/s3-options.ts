/** The S3 store's public option and result types (re-exported by s3.ts). */
import type { S3ConnectOptions } from '../../remote/options.js';
import type { SaveOptions } from '../save.js';
import type { LockOptions } from './lock.js';
import type { StoreLoadOptions } from './common.js';
import type { BadRecord } from './s3-record.js';

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
   * (content-addressed: one object per distinct tensor, or per distinct
   * `chunkBytes` piece of a bigger one, shared by every version and model of
   * the store, and a format-2 manifest; publish uploads and pull downloads
   * only the objects the other side lacks). A store reads both.
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
  /**
   * Layout 'tensors': a tensor bigger than this is stored as pieces of this
   * many bytes, each an object of its own (default 1 MiB, at least 64 KiB;
   * `Infinity`: every tensor whole). Smaller pieces dedup changes spread
   * through a tensor better and cost more requests (docs/object-storage.md#chunks-of-big-tensors).
   * Each manifest records its pieces' size: stores with different values share objects only where they cut alike.
   */
  chunkBytes?: number;
}

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
