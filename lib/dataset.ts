/**
 * Dataset: an n-dimensional array of one dtype in an HDF5 file.
 * `read()`/`write()` run off the event loop (compressed chunks decode in
 * parallel); `readSync()`/`writeSync()` are for scripts; `view()` is a
 * zero-copy typed array over the file mapping.
 */
import { native, type CancelToken, type NativeDatasetInfo, type NativeSelection, type ObjHandle } from './binding.js';
import { Attributes } from './attrs.js';
import { ARRAY_TYPES, checkDataType, itemSize, typedTensor, type DType, type NumericDType, type StringTensor, type TypedArray, type TypedTensor } from './dtypes.js';
import { H5Error, withSite } from './errors.js';

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
  /** Stops between chunks; the promise rejects with H5_ABORTED. */
  signal?: AbortSignal;
}

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
  | 'chunked' | 'filtered' | 'big-endian' | 'unaligned' | 'compact' | 'external'
  | 'not-allocated' | 'read-write-file' | 'unsupported-type' | 'truncated' | 'external-buffers-disallowed'
  /** An s3:// file: read on demand, nothing to map. */
  | 'remote';

export type DatasetData = TypedArray | string[];

export class Dataset {
  readonly kind = 'dataset' as const;
  /** Absolute path in the file, e.g. '/dense/kernel'. */
  readonly path: string;
  readonly attrs: Attributes;
  /** @internal */
  readonly handle: ObjHandle;
  #info: NativeDatasetInfo | undefined;

  /** @internal */
  constructor(handle: ObjHandle, path: string, info?: NativeDatasetInfo) {
    this.handle = handle;
    this.path = path;
    this.#info = info;
    this.attrs = new Attributes(() => this.handle);
  }

  /** @internal metadata is immutable once created, except storage size. */
  private info(fresh = false): NativeDatasetInfo {
    if (!this.#info || fresh) this.#info = native.datasetInfo(this.handle);
    return this.#info;
  }

  get name(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }
  /** dtype, or 'unsupported' for types h5vault cannot represent (compound, ...). */
  get dtype(): DType | 'unsupported' {
    return this.info().dtype as DType | 'unsupported';
  }
  /** Dimensions; [] for a scalar dataset. */
  get shape(): number[] {
    return [...this.info().shape];
  }
  get size(): number {
    return this.info().size;
  }
  get layout(): NativeDatasetInfo['layout'] {
    return this.info().layout;
  }
  get chunks(): number[] | null {
    const c = this.info().chunks;
    return c ? [...c] : null;
  }
  get filters(): FilterInfo[] {
    return this.info().filters.map((f) => ({ ...f, cdValues: [...f.cdValues] }));
  }
  /** Logical size in bytes (elements x item size). */
  get byteLength(): number {
    const d = this.info().dtype;
    return d === 'string' || d === 'unsupported' ? 0 : this.info().size * itemSize(d as DType);
  }
  /** Bytes allocated in the file (after compression). */
  get storageSize(): number {
    return this.info(true).storageSize;
  }
  get bigEndian(): boolean {
    return this.info().bigEndian;
  }
  /** Data offset in the file for contiguous datasets, else null. */
  get offset(): number | null {
    return this.info().offset;
  }
  /** true, or why `view()` is impossible. */
  get viewable(): true | ViewableReason {
    return this.info(true).viewable as true | ViewableReason;
  }

  /** Reads the whole dataset (or a hyperslab) off the event loop. */
  async read(options: ReadOptions = {}): Promise<DatasetData> {
    const site = new Error();
    const sel = selectionOf(options, this.shape);
    const threads = threadsOf(options.threads);
    const { token, cleanup } = cancelOf(options.signal);
    return withSite(site, async () => {
      try {
        const out = await native.datasetReadAsync(this.handle, sel, threads, token);
        return this.#wrap(out);
      } finally {
        cleanup();
      }
    });
  }

  /** Synchronous read (blocks the thread; use read() in servers). */
  readSync(selection?: Partial<Selection> & { threads?: number }): DatasetData {
    const sel = selectionOf(selection ?? {}, this.shape);
    return this.#wrap(native.datasetRead(this.handle, sel, threadsOf(selection?.threads)));
  }

  /** Writes the whole dataset (or a hyperslab) off the event loop. File must be writable. */
  async write(data: DatasetData, options: WriteOptions = {}): Promise<void> {
    const site = new Error();
    this.#checkWrite(data, options);
    const sel = selectionOf(options, this.shape);
    const { token, cleanup } = cancelOf(options.signal);
    return withSite(site, async () => {
      try {
        await native.datasetWriteAsync(this.handle, data, sel, threadsOf(options.threads), token);
      } finally {
        cleanup();
      }
    });
  }

  writeSync(data: DatasetData, options: Partial<Selection> & { threads?: number } = {}): void {
    this.#checkWrite(data, options);
    native.datasetWrite(this.handle, data, selectionOf(options, this.shape), threadsOf(options.threads));
  }

  /**
   * A typed array whose memory is the file mapping: no read, no copy.
   * Throws H5Error H5_NOT_VIEWABLE (with `reason`) unless { copy: true }.
   */
  view(options: ViewOptions = {}): TypedArray {
    try {
      // Every view of a file is a typed array into one ArrayBuffer over the
      // whole mapping: cheap to make, and V8 accounts the mapping once. The
      // native call also says the dtype, so a view needs no other metadata call.
      const { buffer, offset, dtype, length } = native.datasetView(this.handle);
      return new ARRAY_TYPES[dtype as NumericDType](buffer, offset, length);
    } catch (e) {
      if (options.copy && e instanceof H5Error && e.code === 'H5_NOT_VIEWABLE' && e.reason !== 'unsupported-type') {
        return this.readSync() as TypedArray;
      }
      throw e;
    }
  }

  /** Like view({ copy: true }) but says which one you got. */
  viewOrCopy(): { data: TypedArray; viewed: boolean; reason?: ViewableReason } {
    const v = this.viewable;
    if (v === true) {
      try {
        return { data: this.view(), viewed: true };
      } catch (e) {
        if (!(e instanceof H5Error && e.code === 'H5_NOT_VIEWABLE')) throw e;
        return { data: this.readSync() as TypedArray, viewed: false, reason: e.reason as ViewableReason };
      }
    }
    return { data: this.readSync() as TypedArray, viewed: false, reason: v };
  }

  /**
   * view() as a record whose `dtype` narrows `data` (no casts in user code):
   * `const t = ds.viewTensor(); if (t.dtype === 'float32') t.data // Float32Array`.
   */
  viewTensor(options: ViewOptions = {}): TypedTensor {
    const data = this.view(options);
    return typedTensor(this.dtype as NumericDType, this.shape, data);
  }

  /** read() as a record whose `dtype` narrows `data` (string datasets give a StringTensor). */
  async readTensor(options: ReadOptions = {}): Promise<TypedTensor | StringTensor> {
    const data = await this.read(options);
    const shape = selectionOf(options, this.shape)?.count ?? this.shape;
    if (Array.isArray(data)) return { dtype: 'string', shape, data };
    return typedTensor(this.dtype as NumericDType, shape, data);
  }

  /** Faults the dataset's mapped pages in off the event loop (no-op if not viewable). */
  async prefetch(): Promise<void> {
    const site = new Error();
    return withSite(site, () => native.prefetch(this.handle, false));
  }

  #wrap(out: ArrayBuffer | string[]): DatasetData {
    if (Array.isArray(out)) return out;
    const d = this.dtype;
    if (d === 'string' || d === 'unsupported') throw new TypeError('unexpected numeric result');
    return new ARRAY_TYPES[d as NumericDType](out);
  }

  #checkWrite(data: DatasetData, sel: Partial<Selection>): void {
    const d = this.dtype;
    if (d === 'unsupported') {
      throw new H5Error(`dataset '${this.path}' has an unsupported type`, { code: 'H5_UNSUPPORTED_TYPE' });
    }
    checkDataType(d, data);
    const count = sel.count ?? this.shape;
    const n = count.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new RangeError(`data has ${data.length} elements but ${sel.count ? 'the selection' : `'${this.path}'`} holds ${n}`);
    }
  }

  toString(): string {
    return `<Dataset ${this.path} ${this.dtype}[${this.shape.join(',')}]>`;
  }
}

function isIntArray(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => Number.isSafeInteger(v) && v >= 0);
}

/** Validates a selection's types here; bounds are checked natively against the shape. */
export function selectionOf(o: Partial<Selection>, shape: number[]): NativeSelection | null {
  const { start, count, step } = o;
  if (start === undefined && count === undefined && step === undefined) return null;
  const s = start ?? shape.map(() => 0);
  if (!isIntArray(s)) throw new TypeError('selection.start must be an array of non-negative integers');
  const c = count ?? shape.map((n, i) => Math.max(0, n - (s[i] ?? 0)));
  if (!isIntArray(c)) throw new TypeError('selection.count must be an array of non-negative integers');
  if (step !== undefined && (!isIntArray(step) || step.some((v) => v < 1)))
    throw new TypeError('selection.step must be an array of positive integers');
  if (s.length !== shape.length || c.length !== shape.length || (step && step.length !== shape.length))
    throw new RangeError(`selection rank must be ${shape.length}`);
  return step ? { start: s, count: c, step } : { start: s, count: c };
}

function threadsOf(t: number | undefined): number {
  if (t === undefined) return 0;
  if (!Number.isInteger(t) || t < 1 || t > 1024) throw new RangeError('threads must be an integer from 1 to 1024');
  return t;
}

function cancelOf(signal: AbortSignal | undefined): { token?: CancelToken; cleanup: () => void } {
  if (!signal) return { cleanup: () => {} };
  if (signal.aborted) {
    throw new H5Error('operation aborted before it started', { code: 'H5_ABORTED' });
  }
  const token = native.cancelToken();
  // One listener per signal, however many calls share it (a listener per call
  // made Node warn about a leak past 10 concurrent reads); it is removed when
  // the last call using the signal settles.
  let tokens = pendingBySignal.get(signal);
  if (!tokens) {
    const set = new Set<CancelToken>();
    tokens = set;
    pendingBySignal.set(signal, set);
    const on = () => {
      for (const t of set) native.cancelTrigger(t);
    };
    listenerBySignal.set(signal, on);
    signal.addEventListener('abort', on, { once: true });
  }
  tokens.add(token);
  return {
    token,
    cleanup: () => {
      const set = pendingBySignal.get(signal);
      if (!set) return;
      set.delete(token);
      if (set.size > 0) return;
      pendingBySignal.delete(signal);
      const on = listenerBySignal.get(signal);
      listenerBySignal.delete(signal);
      if (on) signal.removeEventListener('abort', on);
    },
  };
}

const pendingBySignal = new WeakMap<AbortSignal, Set<CancelToken>>();
const listenerBySignal = new WeakMap<AbortSignal, () => void>();
