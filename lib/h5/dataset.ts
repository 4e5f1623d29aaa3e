/**
 * Dataset: an n-dimensional array of one dtype in an HDF5 file.
 * `read()`/`write()` run off the event loop (compressed chunks decode in
 * parallel); `readSync()`/`writeSync()` are for scripts; `view()` is a
 * zero-copy typed array over the file mapping.
 *
 * This file is the Dataset class; dataset-types.ts holds the public types,
 * dataset-options.ts the selection, thread and AbortSignal options of each call.
 */
import { native, type NativeDatasetInfo, type NativeSelection, type ObjHandle } from '../addon/binding.js';
import { Attributes } from './attrs.js';
import {
  ARRAY_TYPES,
  checkDataType,
  isDType,
  checkExtent,
  itemSize,
  typedTensor,
  type ArrayFor,
  type DType,
  type NumericDType,
  type StringTensor,
  type TypedArray,
  type TypedTensor,
} from './dtypes.js';
import { H5Error, withSite } from '../errors.js';
import {
  enumNames,
  toRecords,
  type ElementOptions,
  type H5Element,
  type H5Type,
  type H5Value,
  type StringMode,
} from './types.js';
import { checkInteger, checkIntegers, invalid } from '../util/validate.js';
import type {
  DataFor,
  DatasetData,
  DimensionInfo,
  DTypeReadOptions,
  FilterInfo,
  ReadData,
  ReadOptions,
  Selection,
  SyncReadOptions,
  ViewableReason,
  ViewFor,
  ViewOptions,
  WriteOptions,
} from './dataset-types.js';
import { cancelOf, selectionOf, threadsOf } from './dataset-options.js';

// Every name this module exported stays importable from its path.
export type * from './dataset-types.js';
export { selectionOf } from './dataset-options.js';

/**
 * A dataset. `D` is its dtype when the code knows it (checked when the
 * object was obtained: `group.dataset(path, dtype)`, `createDataset`); it
 * types `view()` and `read()`. Plain `Dataset` is any dtype.
 */
export class Dataset<D extends DType = DType> {
  readonly kind = 'dataset' as const;
  /** Absolute path in the file, e.g. '/dense/kernel'. */
  readonly path: string;
  readonly attrs: Attributes;
  /** @internal */
  readonly handle: ObjHandle;
  #info: NativeDatasetInfo | undefined;
  #type: H5Type | undefined;

  /** @internal */
  constructor(handle: ObjHandle, path: string, info?: NativeDatasetInfo) {
    this.handle = handle;
    this.path = path;
    this.#info = info;
    this.attrs = new Attributes(() => this.handle);
  }

  /**
   * @internal metadata is immutable once created, except storage size and,
   * for chunked datasets in writable files, the shape (resize() through any
   * handle): those are described afresh on every use.
   */
  private info(fresh = false): NativeDatasetInfo {
    const i = this.#info;
    if (!i || fresh || (i.layout === 'chunked' && i.viewable === 'read-write-file'))
      this.#info = native.datasetInfo(this.handle);
    return this.#info!;
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

  /**
   * The datatype as h5vault reads it (every class; docs/types.md). For flat
   * dtypes `dtype` says the same more briefly.
   */
  get type(): H5Type {
    if (!this.#type) this.#type = native.valueType(this.handle, null);
    return this.#type;
  }
  /** An enum dataset's members ({ name: value }); undefined for other types. */
  get enumMembers(): Record<string, number | bigint> | undefined {
    const t = this.type;
    return t.class === 'enum' ? { ...t.members } : undefined;
  }

  /** Maximum dimensions, `null` for unlimited ones; equal to `shape` unless the dataset is resizable. */
  get maxshape(): (number | null)[] {
    return native.datasetExtent(this.handle).maxshape;
  }

  /**
   * Changes the dataset's shape, within `maxshape` (grown regions read as the
   * fill value, 0; shrinking discards data). Chunked datasets created with a
   * maxshape only: H5_NOT_RESIZABLE otherwise.
   */
  resize(shape: number[]): void {
    checkIntegers(shape, 'shape');
    const d = this.dtype;
    if (d !== 'unsupported') checkExtent(shape, d, `cannot resize '${this.path}'`);
    native.datasetResize(this.handle, shape);
    this.#info = undefined;
  }

  /**
   * Grows the dataset along `axis` (default 0) by `data`, which holds whole
   * slices: its length must be a multiple of the product of the other
   * dimensions. The usual way to log metrics or weights over training.
   */
  async append(data: DatasetData, options: { axis?: number } = {}): Promise<void> {
    const sel = this.#growFor(data, options.axis ?? 0);
    await this.write(data, sel);
  }

  /** append() without the event loop hand-off. */
  appendSync(data: DatasetData, options: { axis?: number } = {}): void {
    this.writeSync(data, this.#growFor(data, options.axis ?? 0));
  }

  #growFor(data: DatasetData, axis: number): Selection {
    const shape = this.shape;
    checkInteger(axis, `axis of '${this.path}'`, 0, shape.length - 1);
    const d = this.dtype;
    if (d === 'unsupported')
      throw new H5Error(`dataset '${this.path}' has an unsupported type`, { code: 'H5_UNSUPPORTED_TYPE' });
    checkDataType(d, data);
    const slice = shape.reduce((a, n, k) => (k === axis ? a : a * n), 1);
    if (slice === 0 || data.length % slice !== 0)
      throw new RangeError(
        `data has ${data.length} elements, not a whole number of slices of ${slice} along axis ${axis}`,
      );
    const rows = data.length / slice;
    const start = shape.map((n, k) => (k === axis ? n : 0));
    const count = shape.map((n, k) => (k === axis ? rows : n));
    const grown = shape.map((n, k) => (k === axis ? n + rows : n));
    this.resize(grown);
    return { start, count };
  }

  /** True if this dataset is a dimension scale (CLASS="DIMENSION_SCALE"). */
  get isScale(): boolean {
    return native.dsInfo(this.handle).isScale;
  }

  /**
   * Per dimension: its label and the dimension scales attached to it (path
   * and scale name), read through libhdf5's H5DS (netCDF-4 coordinate
   * variables are such scales).
   */
  get dims(): DimensionInfo[] {
    const i = native.dsInfo(this.handle);
    return i.scales.map((scales, k) => ({ label: i.labels[k] ?? '', scales }));
  }

  /** Makes this dataset a dimension scale, optionally named (H5DSset_scale). */
  makeScale(name = ''): void {
    if (typeof name !== 'string') throw invalid('scale name', 'a string', name);
    native.dsMakeScale(this.handle, name);
  }

  /** Attaches the dimension scale `scale` (a Dataset of the same file) to dimension `dim`. */
  attachScale(scale: Dataset, dim: number): void {
    if (!(scale instanceof Dataset)) throw new TypeError('scale must be a Dataset');
    native.dsAttach(this.handle, scale.handle, dim, true);
  }

  /** Detaches `scale` from dimension `dim` (H5_NOT_FOUND if it is not attached there). */
  detachScale(scale: Dataset, dim: number): void {
    if (!(scale instanceof Dataset)) throw new TypeError('scale must be a Dataset');
    native.dsAttach(this.handle, scale.handle, dim, false);
  }

  /** Sets the label of dimension `dim` (h5py's `ds.dims[dim].label = ...`). */
  setDimensionLabel(dim: number, label: string): void {
    if (typeof label !== 'string') throw invalid('label', 'a string', label);
    native.dsSetLabel(this.handle, dim, label);
  }

  /**
   * Reads the whole dataset (or a hyperslab) off the event loop. Flat dtypes
   * give DatasetData; other classes give their H5Value (docs/types.md): say
   * which with the type parameter (`read<CompoundColumns>()`) or use readValue().
   */
  read<E extends DType>(dtype: E, options?: DTypeReadOptions): Promise<ArrayFor<E>>;
  read<T extends ReadData = DataFor<D>>(options?: ReadOptions): Promise<NoInfer<T>>;
  async read(first?: DType | ReadOptions, second?: ReadOptions): Promise<ReadData> {
    const site = new Error();
    const options = this.#expectArgs(first, second);
    if (this.#generic(options)) {
      this.#noInto(options.into);
      const sel = selectionOf(options, this.shape);
      return withSite(site, async () =>
        this.#finish(await native.valueReadAsync(this.handle, null, sel, options.strings ?? 'text'), options),
      );
    }
    const sel = selectionOf(options, this.shape);
    const threads = threadsOf(options.threads);
    const into = this.#checkInto(options.into, sel);
    const { token, cleanup } = cancelOf(options.signal);
    return withSite(site, async () => {
      try {
        const out = await native.datasetReadAsync(this.handle, sel, threads, token, into);
        return into ?? this.#wrap(out!);
      } finally {
        cleanup();
      }
    });
  }

  /** Synchronous read (blocks the thread; use read() in servers). */
  readSync<E extends DType>(dtype: E, selection?: Omit<SyncReadOptions, 'strings' | 'enumNames'>): ArrayFor<E>;
  readSync<T extends ReadData = DataFor<D>>(selection?: SyncReadOptions): NoInfer<T>;
  readSync(first?: DType | SyncReadOptions, second?: SyncReadOptions): ReadData {
    const selection = this.#expectArgs(first, second);
    if (this.#generic(selection ?? {})) {
      this.#noInto(selection?.into);
      const sel = selectionOf(selection ?? {}, this.shape);
      return this.#finish(native.valueRead(this.handle, null, sel, selection?.strings ?? 'text'), selection ?? {});
    }
    const sel = selectionOf(selection ?? {}, this.shape);
    const into = this.#checkInto(selection?.into, sel);
    const out = native.datasetRead(this.handle, sel, threadsOf(selection?.threads), into);
    return into ?? this.#wrap(out!);
  }

  /**
   * The options of read(dtype?, options?) / readSync(...): with a dtype
   * first, checks that it is this dataset's (a TypeError otherwise, as for
   * view(dtype)), and that nothing asks for another representation.
   */
  #expectArgs<O extends { strings?: StringMode; enumNames?: boolean }>(
    first: DType | O | undefined,
    second: O | undefined,
  ): O {
    if (typeof first !== 'string') return first ?? ({} as O);
    if (!isDType(first)) throw new TypeError(`unknown dtype '${first}'`);
    if (first !== this.dtype) throw new TypeError(`dataset '${this.path}' is ${this.dtype}, not ${first}`);
    if (second?.strings === 'bytes' || second?.enumNames) {
      throw new TypeError(
        `read('${first}') gives the dtype's array: 'strings' and 'enumNames' take read() without a dtype`,
      );
    }
    return second ?? ({} as O);
  }

  #noInto(into: unknown): void {
    if (into !== undefined) {
      throw new TypeError(
        `'into' takes numeric reads only ('${this.path}' is read here as ${this.dtype === 'unsupported' ? 'a generic value' : 'strings as bytes or enum names'})`,
      );
    }
  }

  /** Checks a read's `into` array: the dtype's array type, as long as the selection. */
  #checkInto(into: TypedArray | undefined, sel: NativeSelection | null): TypedArray | undefined {
    if (into === undefined) return undefined;
    const d = this.dtype;
    if (d === 'string' || d === 'unsupported') {
      throw new TypeError(`'into' takes numeric datasets only; '${this.path}' is ${d}`);
    }
    const Want = ARRAY_TYPES[d as NumericDType];
    if (!(into instanceof Want)) {
      const got = ArrayBuffer.isView(into) ? into.constructor.name : typeof into;
      throw new TypeError(`'into' for '${this.path}' (${d}) must be a ${Want.name}, not ${got}`);
    }
    const n = (sel?.count ?? this.shape).reduce((a, b) => a * b, 1);
    if (into.length !== n) {
      throw new RangeError(`'into' has ${into.length} elements but the selection of '${this.path}' holds ${n}`);
    }
    return into;
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
   * With a dtype first (`view('float32')`), the result is typed as that
   * dtype's array (Float32Array) and a dataset of another dtype is a TypeError.
   */
  view(options?: ViewOptions): ViewFor<D>;
  view<E extends NumericDType>(dtype: E, options?: ViewOptions): ArrayFor<E>;
  view(first?: NumericDType | ViewOptions, second?: ViewOptions): TypedArray {
    const expect = typeof first === 'string' ? first : undefined;
    const options = (typeof first === 'string' ? second : first) ?? {};
    const checked = (dtype: string, a: TypedArray): TypedArray => {
      if (expect !== undefined && dtype !== expect)
        throw new TypeError(`dataset '${this.path}' is ${dtype}, not ${expect}`);
      return a;
    };
    try {
      // Every view of a file is a typed array into one ArrayBuffer over the
      // whole mapping: cheap to make, and V8 accounts the mapping once. The
      // native call also says the dtype, so a view needs no other metadata call.
      const { buffer, offset, dtype, length } = native.datasetView(this.handle);
      return checked(dtype, new ARRAY_TYPES[dtype as NumericDType](buffer, offset, length));
    } catch (e) {
      if (options.copy && e instanceof H5Error && e.code === 'H5_NOT_VIEWABLE' && e.reason !== 'unsupported-type') {
        return checked(this.dtype, this.readSync() as TypedArray);
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

  /** read() typed for any class: the H5Value of docs/types.md (flat dtypes too). */
  async readValue(options: ReadOptions = {}): Promise<ReadData> {
    return this.read<ReadData>(options);
  }

  readValueSync(
    options: Partial<Selection> & { threads?: number; strings?: StringMode; enumNames?: boolean } = {},
  ): ReadData {
    return this.readSync<ReadData>(options);
  }

  /**
   * Every element as a plain JS value: compounds as objects, complex as
   * [re, im], enums as numbers (names with `enumNames`), bool as boolean.
   */
  async readRecords(options: ReadOptions = {}): Promise<H5Element[]> {
    const site = new Error();
    const sel = selectionOf(options, this.shape);
    return withSite(site, async () => {
      const v = await native.valueReadAsync(this.handle, null, sel, options.strings ?? 'text');
      return toRecords(v.type, v.data!, options);
    });
  }

  readRecordsSync(options: Partial<Selection> & ElementOptions & { strings?: StringMode } = {}): H5Element[] {
    const v = native.valueRead(this.handle, null, selectionOf(options, this.shape), options.strings ?? 'text');
    return toRecords(v.type, v.data!, options);
  }

  // Flat numeric and string datasets keep the fast path; everything else,
  // and the options only the generic path has, go through lib/h5/types.ts.
  #generic(o: { strings?: StringMode; enumNames?: boolean }): boolean {
    return this.info().dtype === 'unsupported' || o.strings === 'bytes' || o.enumNames === true;
  }

  #finish(v: { type: H5Type; data: H5Value | null }, o: { enumNames?: boolean }): ReadData {
    if (o.enumNames && v.type.class === 'enum') return enumNames(v.type, v.data as TypedArray);
    return v.data as H5Value;
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
      throw new RangeError(
        `data has ${data.length} elements but ${sel.count ? 'the selection' : `'${this.path}'`} holds ${n}`,
      );
    }
  }

  toString(): string {
    return `<Dataset ${this.path} ${this.dtype}[${this.shape.join(',')}]>`;
  }
}
