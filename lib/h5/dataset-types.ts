import type { ArrayFor, DType, TypedArray } from './dtypes.js';
import type { H5Value, StringMode } from './types.js';

export interface Selection {
  /** First index in each dimension. */
  start: number[];
  /** Number of elements to take in each dimension. */
  count: number[];
  /** Stride in each dimension (default 1). */
  step?: number[];
}

export interface ReadOptions extends Partial<Selection> {
  /** Decoder threads for this call (default: the pool size = CPU cores). */
  threads?: number;
  /** Strings as JS text (default) or as their exact bytes (Uint8Array[]); docs/types.md. */
  strings?: StringMode;
  /** An enum dataset's values as member names (string[]) instead of integers. */
  enumNames?: boolean;
  /** Stops between chunks; the promise rejects with H5_ABORTED. */
  signal?: AbortSignal;
  /**
   * Read into this array instead of a new one, and resolve to it: the typed
   * array of the dataset's dtype (`float32` → Float32Array, float16/bfloat16 →
   * Uint16Array, bool → Uint8Array), exactly as long as the selection. A
   * reused buffer costs no page faults, so reads run at memory speed. Like
   * fs.read's buffer, do not transfer or detach it while the read runs.
   */
  into?: TypedArray;
}

/** The options of readSync(): read()'s without the signal. */
export type SyncReadOptions = Partial<Selection> & {
  threads?: number;
  strings?: StringMode;
  enumNames?: boolean;
  into?: TypedArray;
};

export interface WriteOptions extends Partial<Selection> {
  threads?: number;
  signal?: AbortSignal;
}

export interface ViewOptions {
  /** When the dataset cannot be viewed, return an owned copy instead of throwing. */
  copy?: boolean;
}

export interface FilterInfo {
  id: number;
  name: string;
  optional: boolean;
  available: boolean;
  cdValues: number[];
}

export type ViewableReason =
  | 'chunked'
  | 'filtered'
  | 'big-endian'
  | 'unaligned'
  | 'compact'
  | 'external'
  | 'not-allocated'
  | 'read-write-file'
  | 'unsupported-type'
  | 'truncated'
  | 'external-buffers-disallowed'
  /** Reached through an external link: its bytes are in another file. */
  | 'external-link'
  /** Over 4 GiB: more than one ArrayBuffer can hold on Node 20 (read it, or view hyperslabs of a chunked copy). */
  | 'too-large'
  /** An s3:// file: read on demand, nothing to map. */
  | 'remote';

export type DatasetData = TypedArray | string[];

/**
 * What `view()` gives on a `Dataset<D>`: the dtype's array when D is one
 * known dtype (`group.dataset(p, 'float32')`, `createDataset` with a literal
 * dtype), any TypedArray on a plain `Dataset`.
 */
export type ViewFor<D extends DType> = ArrayFor<Exclude<D, 'string'>>;
/** What `read()` / `readSync()` give by default on a `Dataset<D>` (as ViewFor; string[] for 'string'). */
export type DataFor<D extends DType> = ArrayFor<D>;
/** The options of `read(dtype, options)`: a checked dtype says the result, so no strings/enumNames. */
export type DTypeReadOptions = Omit<ReadOptions, 'strings' | 'enumNames'>;
/** What a read gives: DatasetData for flat dtypes, any H5Value for other types (docs/types.md). */
export type ReadData = DatasetData | H5Value | (string | number | bigint)[];

/** One dimension of a dataset: its label and the dimension scales attached to it. */
export interface DimensionInfo {
  label: string;
  scales: { path: string; name: string }[];
}
