/**
 * What every model store shares (issue 22: the store, the S3 store and serving
 * build on this module and import nothing of each other): the version record,
 * load and watch options, the name and version rules, the marker, version file
 * names, prune validation, and the ServableStore interface serving needs.
 */
import { checkStoreName, STORE_NAME_RE } from '../../util/names.js';
import type { LoadedModel, LoadOptions } from '../load.js';
import type { JsonValue } from '../schema.js';
import {
  booleanOption,
  checkFunction,
  checkInteger,
  checkObject,
  functionOption,
  invalid,
  numberOption,
} from '../../util/validate.js';

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

/** loadModel's options minus what the index decides: the digest (and so trust: no untrusted walk is needed). */
export interface StoreLoadOptions extends Omit<LoadOptions, 'expectDigest' | 'untrusted' | 'limits'> {
  /**
   * Hash the file and every tensor again even if this version was verified
   * before and its file is unchanged since (default false: a version verified
   * once is not re-hashed; docs/model-storage.md#verified-once).
   */
  reverify?: boolean;
}

/** A model loaded from a store: its version, and what the load had to hash (nothing for a version verified once and unchanged since). */
export interface StoreLoadedModel extends LoadedModel {
  version: number;
  hashed: { file: boolean; tensors: boolean };
}

export interface WatchOptions {
  /** Polling period, the fallback for filesystems without change events (NFS, some containers). Default 1000 ms. */
  intervalMs?: number;
  /** Keep the process alive while watching (default true, like fs.watch). */
  persistent?: boolean;
  /** Receives errors thrown by the callback or hit while reading the index (default: rethrown asynchronously). */
  onError?: (err: unknown) => void;
  /**
   * The latest version the caller already knows (null: none). `cb` then fires
   * for any other latest, including one published before the watch first
   * read the index. Default: whatever the first read finds, without a call.
   */
  from?: number | null;
}

/** Model names: letters, digits, '.', '_', '-'; a letter or digit first; 1-128 characters (a directory or key component on every filesystem and server). */
/** Store (model) names: the one name rule's pattern (lib/util/names.ts). */
export const NAME_RE = STORE_NAME_RE;
/** The marker file (object) that makes a directory (prefix) a store. */
export const MARKER = '.h5vault-store.json';

/** The one name rule (lib/util/names.ts) for store names. */
export const checkName: (name: unknown) => asserts name is string = checkStoreName;

/** A version number names a version: anything else is the wrong kind of argument (TypeError, as tests pin). */
export function checkVersion(v: unknown, name = 'version'): asserts v is number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw invalid(name, 'a positive integer', v);
}

/** load()'s arguments, the same for every store: the digest comes from the store's own index. */
export function checkStoreLoad(name: unknown, version: unknown, options: object): void {
  checkName(name);
  if (version !== undefined) checkVersion(version);
  checkObject(options);
  if ((options as LoadOptions).expectDigest !== undefined)
    throw new TypeError('ModelStore.load takes the expected digest from its index');
}

/**
 * watch()'s arguments, the same for every store: the poll interval in ms, and where errors go
 * (options.onError, else rethrown asynchronously so they are not lost).
 */
export function checkWatch(
  name: unknown,
  cb: unknown,
  options: WatchOptions,
): { intervalMs: number; report: (e: unknown) => void } {
  checkName(name);
  checkFunction(cb, 'watch callback');
  checkObject(options);
  booleanOption(options, 'persistent');
  const onError = functionOption<(e: unknown) => void>(options, 'onError');
  if (options.from !== undefined && options.from !== null) checkVersion(options.from, 'options.from');
  const report = (e: unknown): void => {
    if (onError) onError(e);
    else
      queueMicrotask(() => {
        throw e;
      });
  };
  return { intervalMs: numberOption(options, 'intervalMs', { min: 10 }, 1000), report };
}

/** open()'s options common to every store. */
export function checkStoreOpen(options: { create?: boolean }): void {
  checkObject(options);
  booleanOption(options, 'create');
}

export function versionFile(v: number): string {
  return `v${String(v).padStart(6, '0')}.h5`;
}

/** prune's `keep`: an integer >= 1 (the latest version is never pruned). */
export function checkKeep(options: { keep: number } | undefined): number {
  checkObject(options);
  const keep = options.keep;
  checkInteger(keep, 'options.keep', 1, undefined, 'a positive integer (the latest version is never pruned)');
  return keep;
}

/** What serving needs from a store; the local ModelStore and the S3 store both provide it. */
export interface ServableStore {
  readonly root: string;
  dir(name: string): string;
  versions(name: string): Promise<VersionInfo[]>;
  load(name: string, version?: number, options?: StoreLoadOptions): Promise<LoadedModel & { version: number }>;
  watch(name: string, cb: (version: number) => void | Promise<void>, options?: WatchOptions): () => void;
}
