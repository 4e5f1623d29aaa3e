/** Group: a container of named groups and datasets. File is the root Group. */
import { native, type NativeCreateSpec, type NativeLink, type ObjHandle } from '../addon/binding.js';
import { Attributes } from './attrs.js';
import { Dataset, type DatasetData } from './dataset.js';
import { NamedDatatype } from './datatype.js';
import { checkDataType, checkDataValues, checkExtent, isDType, itemSize, type DType } from './dtypes.js';
import { checkObjectPath } from '../util/names.js';
import { H5Error, isErrorCode } from '../errors.js';
import { typedValue, type H5Element, type Reference, type TypeLike } from './types.js';
import {
  booleanOption,
  checkInteger,
  checkIntegers,
  checkObject,
  checkOneOf,
  checkPath,
  functionOption,
  invalid,
} from '../util/validate.js';

export type CompressionName = 'none' | 'gzip' | 'lzf' | 'lz4' | 'zstd' | 'blosc' | 'bitshuffle' | 'szip';

/** Blosc's inner compressors (its codes 0, 1, 2, 4, 5 in the filter's cd_values). */
export type BloscCompressor = 'blosclz' | 'lz4' | 'lz4hc' | 'zlib' | 'zstd';
const BLOSC_CODES: Record<BloscCompressor, number> = { blosclz: 0, lz4: 1, lz4hc: 2, zlib: 4, zstd: 5 };
const BLOSC_SHUFFLES = { none: 0, byte: 1, bit: 2 } as const;
/** Bitshuffle's compressors after the bit transpose (its codes 0, 2, 3 in cd_values[4]). */
export type BitshuffleCompressor = 'lz4' | 'zstd' | 'none';
const BITSHUFFLE_CODES: Record<BitshuffleCompressor, number> = { none: 0, lz4: 2, zstd: 3 };
export type Compression =
  | CompressionName
  | { name: 'gzip'; level?: number }
  | { name: 'szip'; coding?: 'nn' | 'ec'; pixelsPerBlock?: number }
  | { name: 'lz4'; blockSize?: number }
  /** Zstandard, HDF5 filter 32015 as hdf5plugin writes it; level 1-22, default 3. */
  | { name: 'zstd'; level?: number }
  /**
   * Blosc 1, HDF5 filter 32001 as hdf5-blosc writes it (Debian's
   * hdf5-filter-plugin-blosc-serial, PyTables, hdf5plugin.Blosc). Defaults: lz4,
   * level 5, byte shuffle (Blosc's own, inside the filter).
   */
  | { name: 'blosc'; compressor?: BloscCompressor; level?: number; shuffle?: 'none' | 'byte' | 'bit' }
  /**
   * Bitshuffle, HDF5 filter 32008 as kiyo-masui/bitshuffle writes it (Debian's
   * bitshuffle, hdf5plugin.Bitshuffle): a bit transpose per block, then LZ4
   * (default) or zstd (level 1-22, default 3) per block, or 'none'. blockSize:
   * elements per block, a multiple of 8; 0 (default) means 8 KiB of elements.
   */
  | { name: 'bitshuffle'; compressor?: BitshuffleCompressor; level?: number; blockSize?: number }
  | { name: 'lzf' }
  | { name: 'none' };

export interface CreateDatasetOptions {
  dtype: DType;
  /** Dimensions; [] makes a scalar dataset. */
  shape: number[];
  /** Initial contents (typed array matching dtype, or string[]). */
  data?: DatasetData;
  /** Chunk shape; required by filters, chosen automatically (~1 MiB) if omitted. */
  chunks?: number[];
  compression?: Compression;
  shuffle?: boolean;
  fletcher32?: boolean;
  /**
   * Maximum dimensions, `null` for unlimited: makes the dataset resizable
   * (`resize()`, `append()`). Resizable datasets are chunked; chunks are
   * chosen (about 1 MiB, at least 1024 entries along growing dimensions)
   * when not given.
   */
  maxshape?: (number | null)[];
}

export interface CreateGroupOptions {
  /** Track and index the creation order of links and attributes (h5py's track_order=True): keys() lists in creation order. */
  trackOrder?: boolean;
}

export interface GetOptions {
  /**
   * Follow an external link at `path` (its last component) into the file it
   * names, opened read-only (default false: H5_UNSUPPORTED). Always refused in
   * files opened with { untrusted } or { expectDigest }.
   */
  followExternal?: boolean;
}

/** What a link points at: hard links name an object, soft links a path, external links a path in another file. */
export type LinkTarget =
  | { type: 'hard' }
  | { type: 'soft'; target: string }
  | { type: 'external'; file: string; target: string };

/** A dataset of any datatype class (docs/types.md). */
export interface CreateTypedDatasetOptions {
  /** The type: types.compound({...}), types.enum(...), types.vlen(...), ... or a dtype name. */
  type: TypeLike;
  /** An array of elements (records, sequences, references, ...) or a column (CompoundColumns, typed array). */
  data: unknown;
  /** Dimensions (default [number of elements]); [] makes a scalar dataset of one element. */
  shape?: number[];
}

export interface WalkOptions {
  /** Also yield committed (named) datatypes, as NamedDatatype objects (default false). */
  datatypes?: boolean;
  /**
   * Called for each object below the group that cannot be opened or
   * described (a corrupt object header, an unreadable dataspace), with its
   * path and typed error; the walk goes on with the next object. Without it,
   * walk() still yields every object it can and then throws one H5Error
   * listing the failures in `errors`.
   */
  onError?: (path: string, error: H5Error) => void;
}

/** One object a walk could not open: its path and the error's code and message. */
export interface WalkFailure {
  path: string;
  code: string;
  message: string;
}

export interface LinkInfo {
  name: string;
  kind: NativeLink['kind'];
  link: NativeLink['link'];
}

export class Group {
  readonly kind: 'group' | 'file' = 'group';
  readonly path: string;
  readonly attrs: Attributes;
  /** @internal */
  protected _handle: ObjHandle | undefined;

  /** @internal */
  constructor(handle: ObjHandle | undefined, path: string) {
    this._handle = handle;
    this.path = path;
    this.attrs = new Attributes(() => this.handle);
  }

  /** @internal */
  get handle(): ObjHandle {
    if (!this._handle) throw new TypeError('group is not open');
    return this._handle;
  }

  get name(): string {
    return this.path === '/' ? '/' : this.path.slice(this.path.lastIndexOf('/') + 1);
  }

  /**
   * Creates a group; intermediate groups in 'a/b/c' are created too. With
   * { trackOrder: true } the new group lists its links in creation order.
   */
  createGroup(path: string, options: CreateGroupOptions = {}): Group {
    checkObjectPath('group', path);
    checkObject(options);
    const trackOrder = booleanOption(options, 'trackOrder', false);
    this.#checkParents(path);
    const h = native.groupCreate(this.handle, path, trackOrder);
    return new Group(h, joinPath(this.path, path));
  }

  /**
   * Opens the group or dataset at `path` (relative or absolute). H5_NOT_FOUND
   * if absent, H5_DANGLING_LINK for a soft link to nothing, H5_UNSUPPORTED
   * for an external link unless { followExternal: true }.
   */
  get(path: string, options: GetOptions = {}): Dataset | Group {
    const o = this.#open(path, options);
    if (o instanceof NamedDatatype)
      throw new H5Error(`'${o.path}' is a committed datatype, not a group or dataset (use datatype())`, {
        code: 'H5_UNSUPPORTED',
      });
    return o;
  }

  /** Opens the committed (named) datatype at `path`: its attributes are reachable through `attrs`. */
  datatype(path: string): NamedDatatype {
    const o = this.#open(path, {});
    if (!(o instanceof NamedDatatype)) throw new TypeError(`'${o.path}' is a ${o.kind}, not a committed datatype`);
    return o;
  }

  #open(path: string, options: GetOptions): Dataset | Group | NamedDatatype {
    checkObjectPath('path', path);
    checkObject(options);
    const follow = booleanOption(options, 'followExternal', false);
    const r = native.objOpen(this.handle, path, follow);
    if (r.kind === 'dataset') return new Dataset(r.handle, r.path);
    if (r.kind === 'group') return new Group(r.handle, r.path);
    if (r.kind === 'datatype') return new NamedDatatype(r.handle, r.path);
    throw new H5Error(`'${r.path}' is a ${r.kind}, not a group or dataset`, { code: 'H5_UNSUPPORTED' });
  }

  /**
   * Like get() but requires a dataset. With a dtype (`dataset(p, 'float32')`)
   * it also requires that dtype (a TypeError otherwise), and the result's
   * view() and read() are typed as its array (Float32Array).
   */
  dataset(path: string): Dataset;
  dataset<D extends DType>(path: string, dtype: D): Dataset<D>;
  dataset(path: string, dtype?: DType): Dataset {
    if (dtype !== undefined && !isDType(dtype)) throw new TypeError(`unknown dtype '${String(dtype)}'`);
    const o = this.get(path);
    if (!(o instanceof Dataset)) throw new TypeError(`'${o.path}' is a group, not a dataset`);
    if (dtype !== undefined && o.dtype !== dtype)
      throw new TypeError(`dataset '${o.path}' is ${o.dtype}, not ${dtype}`);
    return o;
  }

  /** Like get() but requires a group. */
  group(path: string): Group {
    const o = this.get(path);
    if (o instanceof Dataset) throw new TypeError(`'${o.path}' is a dataset, not a group`);
    return o;
  }

  has(path: string): boolean {
    checkObjectPath('path', path);
    return native.objExists(this.handle, path);
  }

  /**
   * Names of this group's links: in creation order if the group tracks it
   * (created with { trackOrder: true }, or by h5py with track_order=True),
   * else in name order (byte order of the UTF-8 names) — the order h5py lists.
   */
  keys(): string[] {
    return native.groupList(this.handle).map((l) => l.name);
  }

  /** True if this group tracks and indexes link creation order (keys() lists in that order). */
  get tracksOrder(): boolean {
    return native.groupTracksOrder(this.handle);
  }

  /** Creates a soft link `name` holding the path `target` (which need not exist yet). */
  createSoftLink(name: string, target: string): void {
    checkObjectPath('link', name);
    checkObjectPath('path', target);
    this.#checkParents(name);
    native.linkCreate(this.handle, 'soft', name, target);
  }

  /** Creates a hard link `name` to the existing object at `target`: a second name for the same object. */
  createHardLink(name: string, target: string): void {
    checkObjectPath('link', name);
    checkObjectPath('path', target);
    this.#checkParents(name);
    native.linkCreate(this.handle, 'hard', name, target);
  }

  /** Creates an external link `name` to the object at `target` in the HDF5 file `file`. */
  createExternalLink(name: string, file: string, target: string): void {
    checkObjectPath('link', name);
    checkPath(file, 'file');
    checkObjectPath('path', target);
    this.#checkParents(name);
    native.linkCreate(this.handle, 'external', name, target, file);
  }

  /** What the link `name` points at (without following it). H5_NOT_FOUND if there is no such link. */
  readLink(name: string): LinkTarget {
    checkObjectPath('path', name);
    const v = native.linkValue(this.handle, name);
    if (v.type === 'soft') return { type: 'soft', target: v.target! };
    if (v.type === 'external') return { type: 'external', file: v.file!, target: v.target! };
    return { type: 'hard' };
  }

  /**
   * Removes the link `name` (h5py's `del group[name]`). The object itself is
   * freed when its last hard link goes; the file does not shrink (repack it).
   */
  delete(name: string): void {
    checkObjectPath('path', name);
    native.linkDelete(this.handle, name);
  }

  /** Renames or moves the link `from` to `to` (both relative to this group or absolute). */
  move(from: string, to: string): void {
    checkObjectPath('path', from);
    checkObjectPath('link', to);
    this.#checkParents(to);
    native.linkMove(this.handle, from, to);
  }

  /**
   * Copies the object at `source` (a group with everything below it, or a
   * dataset with its attributes) to `dest`: a path in this file, or a Group
   * of another writable file, where it is named `name` (default: the source's
   * last path component). libhdf5's H5Ocopy: chunks are copied as stored.
   */
  copy(source: string, dest: string | Group, name?: string): void {
    checkObjectPath('path', source);
    if (typeof dest === 'string') {
      if (name !== undefined) throw new TypeError('name is only used with a destination group');
      checkObjectPath('path', dest);
      this.#checkParents(dest);
      native.objCopy(this.handle, source, this.handle, dest);
      return;
    }
    if (!(dest instanceof Group)) throw new TypeError('dest must be a path or a Group');
    const target = name ?? source.slice(source.lastIndexOf('/') + 1);
    checkObjectPath('path', target);
    native.objCopy(this.handle, source, dest.handle, target);
  }

  /** Links with their kinds ('dangling' and 'external' links are listed, never followed). */
  links(): LinkInfo[] {
    return native.groupList(this.handle).map(({ name, kind, link }) => ({ name, kind, link }));
  }

  /**
   * Every [path, Dataset | Group] below this group, depth-first in name order,
   * each object once under its first hard-link path (the traversal of h5py's
   * visititems). Soft, dangling and external links are not followed. Objects
   * are opened and described in one native call, so walking a 300-tensor
   * model costs a few milliseconds. One object that cannot be opened never
   * hides the others: see `options.onError`.
   *
   * @example
   *   for (const [path, obj] of f.walk({ onError: (p, e) => console.warn(p, e.code) })) console.log(path, obj.kind);
   */
  walk(): Generator<[string, Dataset | Group]>;
  walk(options: WalkOptions & { datatypes?: false }): Generator<[string, Dataset | Group]>;
  walk(options: WalkOptions & { datatypes: true }): Generator<[string, Dataset | Group | NamedDatatype]>;
  walk(options?: WalkOptions): Generator<[string, Dataset | Group | NamedDatatype]>;
  *walk(options: WalkOptions = {}): Generator<[string, Dataset | Group | NamedDatatype]> {
    checkObject(options);
    const datatypes = booleanOption(options, 'datatypes', false);
    const onError = functionOption<WalkOptions['onError']>(options, 'onError');
    const failures: WalkFailure[] = [];
    for (const e of native.groupWalk(this.handle, datatypes)) {
      if (e.kind === 'error') {
        const err = asH5Error(e.error);
        if (onError) onError(e.path, err);
        else failures.push({ path: e.path, code: err.code, message: err.message });
        continue;
      }
      const o =
        e.kind === 'dataset'
          ? new Dataset(e.handle, e.path)
          : e.kind === 'datatype'
            ? new NamedDatatype(e.handle, e.path)
            : new Group(e.handle, e.path);
      yield [e.path, o];
    }
    if (failures.length) {
      const list = failures.map((f) => `'${f.path}' (${f.code}: ${f.message})`).join('; ');
      throw new H5Error(
        `${failures.length} object${failures.length > 1 ? 's' : ''} below '${this.path}' could not be read: ${list}`,
        {
          code: isErrorCode(failures[0]!.code) ? failures[0]!.code : 'H5_ERROR',
          errors: failures,
        },
      );
    }
  }

  /** A new dataset; typed by its dtype (`Dataset<'float32'>`) when that is a literal. */
  createDataset<D extends DType = DType>(name: string, options: CreateDatasetOptions & { dtype: D }): Dataset<D> {
    checkObjectPath('dataset', name);
    const spec = createSpec(options, name);
    this.#checkParents(name);
    const h = native.datasetCreate(this.handle, name, spec);
    const ds = new Dataset<D>(h, joinPath(this.path, name));
    if (options.data !== undefined) ds.writeSync(options.data);
    return ds;
  }

  /**
   * Every existing enclosing component of `path` must be a group: libhdf5
   * would otherwise fail deep inside with "message type not found".
   */
  #checkParents(path: string): void {
    const parts = path.split('/');
    let prefix = path.startsWith('/') ? '/' : '';
    for (const part of parts.slice(0, -1)) {
      if (part === '') continue;
      prefix += prefix === '' || prefix.endsWith('/') ? part : `/${part}`;
      if (!native.objExists(this.handle, prefix)) return;
      const o = native.objOpen(this.handle, prefix);
      if (o.kind !== 'group') throw new TypeError(`'${o.path}' is a ${o.kind}, not a group`);
    }
  }

  /**
   * Creates a dataset of any datatype class and writes `data` (docs/types.md):
   * compounds from records or columns, enums with their members, vlen
   * sequences, array types, complex numbers, object references ({ path }).
   * A value that cannot be stored is refused before anything is created.
   */
  createTypedDataset(name: string, options: CreateTypedDatasetOptions): Dataset {
    checkObjectPath('dataset', name);
    if (options === null || typeof options !== 'object' || options.type === undefined)
      throw new TypeError('options.type is required');
    const { type, shape, data } = typedValue(options.data, {
      type: options.type,
      shape: options.shape ?? (options.data !== null && typeof options.data === 'object' ? undefined : []),
    });
    this.#checkParents(name);
    const h = native.valueCreateDataset(this.handle, name, type, shape, data);
    return new Dataset(h, joinPath(this.path, name));
  }

  /**
   * The object a reference points at (a region reference gives its dataset;
   * the selection is on the reference). H5_NOT_FOUND for a null or dangling one.
   */
  /**
   * Takes any element of a read (`f.deref(refs[0])` after a plain `read()`
   * of a reference dataset compiles; what is not a reference is a TypeError).
   */
  deref(element: Reference | H5Element): Dataset | Group {
    const ref = element as Reference;
    if (ref === null || typeof ref !== 'object' || (ref.kind !== 'object' && ref.kind !== 'region'))
      throw new TypeError('deref() takes a reference read from a file ({ kind, path })');
    if (ref.path === null) throw new H5Error('a null or dangling reference names no object', { code: 'H5_NOT_FOUND' });
    return this.get(ref.path);
  }

  toString(): string {
    return `<Group ${this.path}>`;
  }
}

/** Native failures are H5Errors; anything else (a TypeError) is wrapped so the code is always there. */
function asH5Error(e: Error): H5Error {
  return e instanceof H5Error ? e : new H5Error(e.message, { code: 'H5_ERROR' });
}

export function joinPath(parent: string, rel: string): string {
  if (rel.startsWith('/')) return rel;
  return parent === '/' ? `/${rel}` : `${parent}/${rel}`;
}

/** Validates options and turns them into the addon's plain spec. */
export function createSpec(o: CreateDatasetOptions, name?: string): NativeCreateSpec {
  checkObject(o, 'dataset options');
  if (!isDType(o.dtype)) throw new TypeError(`unknown dtype '${String(o.dtype)}'`);
  checkIntegers(o.shape, 'shape');
  const shape = o.shape;
  const n = shape.reduce((a, b) => a * b, 1);
  if (o.data !== undefined) {
    checkDataType(o.dtype, o.data);
    if (o.data.length !== n)
      throw new RangeError(`data has ${o.data.length} elements but shape [${shape.join(', ')}] holds ${n}`);
    checkDataValues(o.dtype, o.data);
  }
  const spec: NativeCreateSpec = { dtype: o.dtype, shape, scalar: shape.length === 0 };
  if (o.maxshape !== undefined) {
    if (!Array.isArray(o.maxshape) || !o.maxshape.every((v) => v === null || (Number.isSafeInteger(v) && v >= 0)))
      throw new TypeError('maxshape must be an array of non-negative integers or null (unlimited)');
    if (o.maxshape.length !== shape.length) throw new RangeError(`maxshape must have rank ${shape.length}`);
    const i = o.maxshape.findIndex((m, k) => m !== null && m < shape[k]!);
    if (i >= 0)
      throw new RangeError(
        `maxshape [${o.maxshape.join(', ')}] is smaller than shape [${shape.join(', ')}] in dimension ${i}`,
      );
    spec.maxshape = [...o.maxshape];
  }
  // Before any other check that multiplies dims (a wrapped count is how a
  // 2^93-element dataset came to have size 0).
  const what = `cannot create dataset${name === undefined ? '' : ` '${name}'`}`;
  checkExtent(shape, o.dtype, what);
  if (spec.maxshape) checkExtent(spec.maxshape, o.dtype, `${what} with this maxshape`);
  const resizable = spec.maxshape?.some((m, k) => m !== shape[k]) ?? false;
  let comp: Compression = o.compression ?? 'none';
  if (typeof comp === 'string') comp = { name: comp } as Compression;
  if (typeof comp !== 'object' || comp === null || !('name' in comp)) throw new TypeError('invalid compression option');
  switch (comp.name) {
    case 'none':
      break;
    case 'gzip': {
      const level = comp.level ?? 4;
      checkInteger(level, 'gzip level', 1, 9);
      spec.compression = 'gzip';
      spec.level = level;
      break;
    }
    case 'lzf':
      spec.compression = 'lzf';
      break;
    case 'lz4': {
      spec.compression = 'lz4';
      if (comp.blockSize !== undefined) {
        checkInteger(comp.blockSize, 'lz4 blockSize', 0, 0x7e000000);
        spec.lz4BlockSize = comp.blockSize;
      }
      break;
    }
    case 'zstd': {
      const level = comp.level ?? 3;
      checkInteger(level, 'zstd level', 1, 22);
      spec.compression = 'zstd';
      spec.zstdLevel = level;
      break;
    }
    case 'blosc': {
      const level = comp.level ?? 5;
      const compressor = comp.compressor ?? 'lz4';
      const shuffle = comp.shuffle ?? 'byte';
      checkInteger(level, 'blosc level', 0, 9);
      checkOneOf(compressor, 'blosc compressor', Object.keys(BLOSC_CODES) as (keyof typeof BLOSC_CODES)[]);
      checkOneOf(shuffle, 'blosc shuffle', Object.keys(BLOSC_SHUFFLES) as (keyof typeof BLOSC_SHUFFLES)[]);
      spec.compression = 'blosc';
      spec.bloscLevel = level;
      spec.bloscCompressor = BLOSC_CODES[compressor];
      spec.bloscShuffle = BLOSC_SHUFFLES[shuffle];
      break;
    }
    case 'bitshuffle': {
      const compressor = comp.compressor ?? 'lz4';
      const blockSize = comp.blockSize ?? 0;
      if (!Object.hasOwn(BITSHUFFLE_CODES, compressor))
        throw new TypeError("bitshuffle compressor must be 'lz4', 'zstd' or 'none'");
      if (comp.level !== undefined && compressor !== 'zstd')
        throw new TypeError('bitshuffle level applies to the zstd compressor only');
      const level = comp.level ?? 3;
      if (!Number.isInteger(level) || level < 1 || level > 22)
        throw new RangeError('bitshuffle zstd level must be an integer from 1 to 22');
      if (!Number.isInteger(blockSize) || blockSize < 0 || blockSize % 8 || blockSize > 0x7fffffff)
        throw new RangeError('bitshuffle blockSize must be 0 (default) or a multiple of 8 elements');
      spec.compression = 'bitshuffle';
      spec.bitshuffleCompression = BITSHUFFLE_CODES[compressor];
      spec.bitshuffleBlockSize = blockSize;
      if (compressor === 'zstd') spec.zstdLevel = level;
      break;
    }
    case 'szip': {
      const coding = comp.coding ?? 'nn';
      const ppb = comp.pixelsPerBlock ?? 32;
      checkOneOf(coding, 'szip coding', ['nn', 'ec'] as const);
      checkInteger(ppb, 'szip pixelsPerBlock', 2, 32, 'an even integer from 2 to 32');
      if (ppb % 2) throw invalid('szip pixelsPerBlock', 'an even integer from 2 to 32', ppb, RangeError);
      if (o.dtype === 'string' || o.dtype === 'bool') throw new TypeError(`szip cannot compress '${o.dtype}' data`);
      spec.compression = 'szip';
      spec.szipCoding = coding;
      spec.szipPixelsPerBlock = ppb;
      break;
    }
    default:
      throw new TypeError(`unknown compression '${String((comp as { name: unknown }).name)}'`);
  }
  spec.shuffle = booleanOption(o, 'shuffle', false);
  spec.fletcher32 = booleanOption(o, 'fletcher32', false);
  const filtered = !!spec.compression || spec.shuffle || spec.fletcher32;
  if (o.dtype === 'string' && filtered) throw new TypeError('filters are not supported on string datasets');
  if (o.chunks !== undefined) {
    checkIntegers(o.chunks, 'chunks', 1);
    spec.chunks = o.chunks;
    if (spec.chunks.length !== shape.length) throw new RangeError(`chunks must have rank ${shape.length}`);
    // libhdf5 refuses chunks larger than a fixed dimension (0-length dims
    // excepted); a dimension that may grow is bounded by its maximum.
    const bound = (k: number): number | null => (spec.maxshape ? spec.maxshape[k]! : shape[k]!);
    const i = spec.chunks.findIndex((c, k) => {
      const b = bound(k);
      return b !== null && b > 0 && c > b;
    });
    if (i >= 0)
      throw new RangeError(`chunks [${spec.chunks.join(', ')}] exceed shape [${shape.join(', ')}] in dimension ${i}`);
  }
  if (spec.scalar && (filtered || spec.chunks || resizable))
    throw new RangeError('a scalar dataset cannot be chunked, filtered or resizable');
  // Limits libhdf5 would report as an opaque failure deep inside H5Dcreate.
  const perChunk = (spec.chunks ?? shape).reduce((a, b) => a * b, 1);
  if (spec.chunks && o.dtype !== 'string' && perChunk * itemSize(o.dtype) >= 2 ** 32)
    throw new RangeError(`a chunk of ${perChunk * itemSize(o.dtype)} bytes exceeds libhdf5's 4 GiB chunk limit`);
  if (spec.compression === 'szip' && n > 0 && perChunk < spec.szipPixelsPerBlock!)
    throw new RangeError(`szip pixelsPerBlock ${spec.szipPixelsPerBlock} exceeds the ${perChunk} elements of a chunk`);
  return spec;
}
