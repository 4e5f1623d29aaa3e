/**
 * The only module that loads the .node file. Everything native is reached
 * through `native`, typed here; handles are branded so a Dataset handle can't
 * be passed where a File handle is expected (the addon re-checks type tags).
 */
import { createRequire } from 'node:module';
import { locateAddon, loadAddon, type AddonLocation } from './locate.js';
import { H5Error } from '../errors.js';
import type { H5Type, H5Value } from '../h5/types.js';

declare const brand: unique symbol;
export type FileHandle = { readonly [brand]: 'file' };
export type ObjHandle = { readonly [brand]: 'object' };
export type CancelToken = { readonly [brand]: 'cancel' };

export interface NativeSelection {
  start: number[];
  count: number[];
  step?: number[];
}

export interface NativeFilter {
  id: number;
  name: string;
  optional: boolean;
  available: boolean;
  cdValues: number[];
}

export interface NativeDatasetInfo {
  dtype: string;
  typeDescription: string;
  bigEndian: boolean;
  scalar: boolean;
  shape: number[];
  chunks: number[] | null;
  layout: 'contiguous' | 'chunked' | 'compact' | 'virtual' | 'unknown';
  filters: NativeFilter[];
  storageSize: number;
  offset: number | null;
  allocated: boolean;
  external: boolean;
  size: number;
  viewable: true | string;
}

export interface NativeCreateSpec {
  dtype: string;
  shape: number[];
  scalar: boolean;
  chunks?: number[];
  compression?: string;
  level?: number;
  szipCoding?: 'nn' | 'ec';
  szipPixelsPerBlock?: number;
  lz4BlockSize?: number;
  zstdLevel?: number;
  bloscLevel?: number;
  bloscShuffle?: number;
  bloscCompressor?: number;
  /** Bitshuffle: cd_values[4] (0 none, 2 LZ4, 3 zstd; zstd level in zstdLevel) and block size in elements. */
  bitshuffleCompression?: number;
  bitshuffleBlockSize?: number;
  shuffle?: boolean;
  fletcher32?: boolean;
  /** Maximum dimensions, null = unlimited (resizable datasets). */
  maxshape?: (number | null)[];
}

export interface NativeLink {
  name: string;
  kind: 'group' | 'dataset' | 'datatype' | 'dangling' | 'external' | 'other';
  link: 'hard' | 'soft' | 'external' | 'other';
}

export interface NativeAttr {
  dtype: string;
  scalar: boolean;
  /** A null dataspace: the attribute has a type and no value. */
  empty?: boolean;
  shape: number[];
  data: ArrayBuffer | string[];
}

type Data = ArrayBufferView | string[];

export type ModelLayoutRow = [
  path: string,
  dtype: string,
  shape: number[],
  offset: number | null,
  bytes: number,
  layout: string,
  bigEndian: boolean,
  external: boolean,
  allocated: boolean,
  sha256: string | null,
];

/** A read through the generic path (lib/h5/types.ts): any datatype class. */
export interface NativeValue {
  type: H5Type;
  scalar: boolean;
  empty: boolean;
  shape: number[];
  data: H5Value | null;
}

/** Identity of the file a descriptor names: decimal strings, so 64-bit values stay exact. */
export interface FileStamp {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** What untrustedWalk reports (the walk child prints it as JSON; lib/safety/untrusted.ts reads it). */
export interface NativeWalkReport {
  ok: boolean;
  reason?: string;
  detail?: string;
  object?: string;
  code?: string;
  stats: Record<string, number>;
  stamp?: FileStamp;
}

/**
 * Every function native/napi exports, and nothing else: scripts/check/sources.mjs
 * fails when a name here and an `exports.Set("name"` there differ.
 */
export interface Native {
  setErrorClass(cls: typeof H5Error): void;
  versions(): { hdf5: string; threadsafe: boolean; threads: number };
  fileOpen(path: string, writable: boolean, openPath?: string): FileHandle;
  fileCreate(path: string, overwrite: boolean, trackOrder?: boolean): FileHandle;
  /**
   * Opens a remote file read-only through h5vault's range driver (native/h5/range_vfd.h): `url` is
   * the block cache's http://127.0.0.1:PORT/... address, `size` the object's, `timeoutMs` the longest
   * wait for any progress of one request (default 120 s); `name` names it in messages.
   */
  fileOpenRemote(name: string, url: string, opts: { size: number; timeoutMs?: number }): FileHandle;
  fileOpenRemoteAsync(name: string, url: string, opts: { size: number; timeoutMs?: number }): Promise<FileHandle>;
  fileClose(f: FileHandle): void;
  fileCloseAsync(f: FileHandle): Promise<void>;
  fileState(f: FileHandle): { path: string; writable: boolean; closed: boolean };
  fileFlush(f: FileHandle): void;
  fileRoot(f: FileHandle): ObjHandle;
  objOpen(parent: ObjHandle, path: string, followExternal?: boolean): { handle: ObjHandle; kind: string; path: string };
  objExists(parent: ObjHandle, path: string): boolean;
  objIdentity(o: ObjHandle): string;
  groupCreate(parent: ObjHandle, path: string, trackOrder?: boolean): ObjHandle;
  groupList(g: ObjHandle): NativeLink[];
  groupWalk(
    g: ObjHandle,
    datatypes?: boolean,
  ): (
    | { path: string; kind: 'group' | 'dataset' | 'datatype'; handle: ObjHandle }
    | { path: string; kind: 'error'; error: Error }
  )[];
  datasetCreate(parent: ObjHandle, name: string, spec: NativeCreateSpec): ObjHandle;
  datasetInfo(d: ObjHandle): NativeDatasetInfo;
  /** With `into`, reads into that array's memory and returns undefined. */
  datasetRead(
    d: ObjHandle,
    sel: NativeSelection | null,
    threads: number,
    into?: ArrayBufferView,
  ): ArrayBuffer | string[] | undefined;
  datasetReadAsync(
    d: ObjHandle,
    sel: NativeSelection | null,
    threads: number,
    cancel?: CancelToken,
    into?: ArrayBufferView,
  ): Promise<ArrayBuffer | string[] | undefined>;
  datasetWrite(d: ObjHandle, data: Data, sel: NativeSelection | null, threads: number): void;
  datasetWriteAsync(
    d: ObjHandle,
    data: Data,
    sel: NativeSelection | null,
    threads: number,
    cancel?: CancelToken,
  ): Promise<void>;
  datasetView(d: ObjHandle): { buffer: ArrayBuffer; offset: number; dtype: string; length: number };
  prefetch(h: ObjHandle | FileHandle, isFile: boolean): Promise<void>;
  cancelToken(): CancelToken;
  cancelTrigger(t: CancelToken): void;
  mappingStats(): { mappings: number; bytes: number; handles: number };
  /** Maps a whole regular file read-only (MAP_PRIVATE); the buffer keeps the mapping alive. */
  mapFile(path: string): Promise<{ buffer: ArrayBuffer; size: number }>;
  /** Copies `length` bytes between two open files in the kernel (copy_file_range, else pread/pwrite); both fds stay open until it settles. */
  copyRange(srcFd: number, srcOffset: number, dstFd: number, dstOffset: number, length: number): Promise<void>;
  /**
   * Every dataset of a file, in walk order, as [path, dtype, shape, offset | null,
   * bytes, layout, bigEndian, external, allocated, value of the string attribute
   * `shaAttr` | null]; null when an object cannot be read (walk it instead).
   */
  /** engine: 'auto' (default), or one engine for tests (see native/napi/wrap_model.cc). */
  modelLayout(
    f: FileHandle,
    shaAttr: string,
    engine?: 'auto' | 'libhdf5' | 'parser' | 'parser-strict',
  ): ModelLayoutRow[] | null;
  setThreads(n: number): number;
  attrList(o: ObjHandle): string[];
  attrHas(o: ObjHandle, name: string): boolean;
  attrGet(o: ObjHandle, name: string): NativeAttr;
  attrSet(o: ObjHandle, name: string, dtype: string, shape: number[] | null, data: Data): void;
  attrDelete(o: ObjHandle, name: string): void;
  valueType(o: ObjHandle, attrName: string | null): H5Type;
  valueRead(o: ObjHandle, attrName: string | null, sel: NativeSelection | null, strings: 'text' | 'bytes'): NativeValue;
  valueReadAsync(
    o: ObjHandle,
    attrName: string | null,
    sel: NativeSelection | null,
    strings: 'text' | 'bytes',
  ): Promise<NativeValue>;
  valueCreateDataset(parent: ObjHandle, name: string, type: H5Type, shape: number[] | null, data: H5Value): ObjHandle;
  valueSetAttr(o: ObjHandle, name: string, type: H5Type, shape: number[] | null, data: H5Value): void;
  linkCreate(g: ObjHandle, type: 'soft' | 'hard' | 'external', name: string, target: string, file?: string): void;
  linkDelete(g: ObjHandle, name: string): void;
  linkMove(g: ObjHandle, from: string, to: string): void;
  linkValue(g: ObjHandle, name: string): { type: 'hard' | 'soft' | 'external'; target?: string; file?: string };
  objCopy(src: ObjHandle, srcPath: string, dst: ObjHandle, dstPath: string): void;
  datasetExtent(d: ObjHandle): { shape: number[]; maxshape: (number | null)[] };
  datasetResize(d: ObjHandle, shape: number[]): void;
  groupTracksOrder(g: ObjHandle): boolean;
  dsInfo(d: ObjHandle): {
    isScale: boolean;
    scaleName: string;
    scales: { path: string; name: string }[][];
    labels: string[];
  };
  dsMakeScale(d: ObjHandle, name: string): void;
  dsAttach(d: ObjHandle, scale: ObjHandle, dim: number, attach: boolean): void;
  dsSetLabel(d: ObjHandle, dim: number, label: string): void;
  fileOpenImage(bytes: Uint8Array, name: string): FileHandle;
  fileCreateInMemory(trackOrder: boolean): FileHandle;
  fileImage(f: FileHandle): ArrayBuffer;
  fileInMemory(f: FileHandle): boolean;
  fileRefuseExternal(f: FileHandle): void;
  /** Walks a file under the untrusted limits (native/napi/wrap_untrusted.cc); run only in the walk child. */
  untrustedWalk(path: string, limits: object): NativeWalkReport;
  /** Caps this process's address space and CPU time (the walk child); returns what was applied. */
  limitProcess(memoryBytes: number, cpuSeconds: number): { vsize: number; addressSpace: number; cpuSeconds: number };
  /** Identity of the descriptor libhdf5 has open for the file. */
  fileStamp(f: FileHandle): FileStamp;
  /** The descriptor libhdf5 reads the file through (hashed in place by loadModel). */
  fileDescriptor(f: FileHandle): number;
}

/** Which addon file this process loaded, and whether it is the prebuilt or a local build. */
export const addon: AddonLocation = locateAddon();
const require = createRequire(import.meta.url);
const raw: Native = loadAddon(addon, (p) => require(p) as Native);
raw.setErrorClass(H5Error);

/**
 * @internal The remote boundary: while an s3:// file is open, lib/remote/lazy-file.ts
 * sets `watch`, and an error of a native call during which a remote read failed
 * on that file (`target`: the call's first argument) becomes that S3 failure
 * (libhdf5 itself only sees an I/O error). H5Error's
 * constructor stays free of side effects; only the error path of a call looks here.
 */
export const nativeErrors: {
  watch?: { epoch(): number; translate(e: unknown, epoch: number, target: unknown): unknown };
} = {};

function guarded<F extends (...args: never[]) => unknown>(f: F): F {
  return function (this: unknown, ...args: Parameters<F>) {
    const w = nativeErrors.watch;
    if (!w) return f.apply(raw, args);
    const epoch = w.epoch();
    let r: unknown;
    try {
      r = f.apply(raw, args);
    } catch (e) {
      throw w.translate(e, epoch, args[0]);
    }
    return r instanceof Promise
      ? r.catch((e: unknown) => {
          throw w.translate(e, epoch, args[0]);
        })
      : r;
  } as F;
}

/** The addon's functions, each through the remote boundary above. */
export const native: Native = Object.fromEntries(
  Object.entries(raw).map(([k, v]) => [k, typeof v === 'function' ? guarded(v as (...args: never[]) => unknown) : v]),
) as unknown as Native;
