/**
 * The only module that loads the .node file. Everything native is reached
 * through `native`, typed here; handles are branded so a Dataset handle can't
 * be passed where a File handle is expected (the addon re-checks type tags).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { H5Error } from './errors.js';

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
  shuffle?: boolean;
  fletcher32?: boolean;
}

export interface NativeLink {
  name: string;
  kind: 'group' | 'dataset' | 'datatype' | 'dangling' | 'external' | 'other';
  link: 'hard' | 'soft' | 'external' | 'other';
}

export interface NativeAttr {
  dtype: string;
  scalar: boolean;
  shape: number[];
  data: ArrayBuffer | string[];
}

type Data = ArrayBufferView | string[];

export interface Native {
  setErrorClass(cls: typeof H5Error): void;
  versions(): { hdf5: string; threadsafe: boolean; threads: number };
  fileOpen(path: string, writable: boolean, openPath?: string): FileHandle;
  fileCreate(path: string, overwrite: boolean): FileHandle;
  fileClose(f: FileHandle): void;
  fileCloseAsync(f: FileHandle): Promise<void>;
  fileState(f: FileHandle): { path: string; writable: boolean; closed: boolean };
  fileFlush(f: FileHandle): void;
  fileRoot(f: FileHandle): ObjHandle;
  objOpen(parent: ObjHandle, path: string): { handle: ObjHandle; kind: string; path: string };
  objExists(parent: ObjHandle, path: string): boolean;
  objIdentity(o: ObjHandle): string;
  groupCreate(parent: ObjHandle, path: string): ObjHandle;
  groupList(g: ObjHandle): NativeLink[];
  groupWalk(g: ObjHandle): ({ path: string; kind: 'group' | 'dataset'; handle: ObjHandle } | { path: string; kind: 'error'; error: Error })[];
  datasetCreate(parent: ObjHandle, name: string, spec: NativeCreateSpec): ObjHandle;
  datasetInfo(d: ObjHandle): NativeDatasetInfo;
  datasetRead(d: ObjHandle, sel: NativeSelection | null, threads: number): ArrayBuffer | string[];
  datasetReadAsync(d: ObjHandle, sel: NativeSelection | null, threads: number, cancel?: CancelToken): Promise<ArrayBuffer | string[]>;
  datasetWrite(d: ObjHandle, data: Data, sel: NativeSelection | null, threads: number): void;
  datasetWriteAsync(d: ObjHandle, data: Data, sel: NativeSelection | null, threads: number, cancel?: CancelToken): Promise<void>;
  datasetView(d: ObjHandle): { buffer: ArrayBuffer; offset: number; dtype: string; length: number };
  prefetch(h: ObjHandle | FileHandle, isFile: boolean): Promise<void>;
  cancelToken(): CancelToken;
  cancelTrigger(t: CancelToken): void;
  mappingStats(): { mappings: number; bytes: number; handles: number };
  /** Maps a whole regular file read-only (MAP_PRIVATE); the buffer keeps the mapping alive. */
  mapFile(path: string): Promise<{ buffer: ArrayBuffer; size: number }>;
  setThreads(n: number): number;
  attrList(o: ObjHandle): string[];
  attrHas(o: ObjHandle, name: string): boolean;
  attrGet(o: ObjHandle, name: string): NativeAttr;
  attrSet(o: ObjHandle, name: string, dtype: string, shape: number[] | null, data: Data): void;
  attrDelete(o: ObjHandle, name: string): void;
}

function locate(): string {
  const override = process.env.H5VAULT_BINDING;
  if (override) return override;
  const candidates = ['../build/Release/h5vault.node', '../build-cmake/Release/h5vault.node', '../build/Debug/h5vault.node'];
  for (const c of candidates) {
    const p = fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error(
    "h5vault: the native addon is not built. Run 'npm install' (or 'npm run build') in the h5vault package; " +
      "see README.md for the system libraries it needs.",
  );
}

const require = createRequire(import.meta.url);
export const native: Native = require(locate()) as Native;
native.setErrorClass(H5Error);
