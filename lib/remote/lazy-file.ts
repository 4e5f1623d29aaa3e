/**
 * Lazy remote reads: File.open('s3://bucket/key') opens an object read-only and
 * fetches only the byte ranges libhdf5 asks for. h5vault's own read-only file
 * driver (native/h5/range_vfd.h) does the reading: one ranged GET per libhdf5
 * read over a loopback connection to a block cache on a worker thread
 * (lib/remote/cache-worker.ts) that fills itself with ranged GETs through the
 * AWS SDK. libhdf5's ROS3 driver (and the libcurl/OpenSSL it needs) is not used.
 * docs/object-storage.md ("Lazy remote reads") has the measurements behind this
 * design, and the costs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { native, nativeErrors, type FileHandle, type ObjHandle } from '../addon/binding.js';
import { PACKAGE_ROOT } from '../addon/locate.js';
import { H5Error } from '../errors.js';
import type { ClientConfig, ObjectStats, RemoteError, Request } from './cache-worker.js';
import { toH5Error } from './errors.js';
import type { S3ConnectOptions, S3Credentials } from './options.js';
import { resolveConfig } from './sdk.js';
import { parseS3Url } from './url.js';
import { integerOption } from '../util/validate.js';

export type { ObjectStats as RemoteStats } from './cache-worker.js';

/** Where and how to reach the object store (File.open options for s3:// URLs): S3ConnectOptions with static credentials only. */
export interface RemoteOpenOptions extends Omit<S3ConnectOptions, 'credentials' | 'clientConfig'> {
  /**
   * Static credentials. Default: the AWS SDK's standard chain (env
   * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, ~/.aws shared
   * config and credentials, SSO, web identity, instance metadata).
   * Never logged, never passed to libhdf5.
   */
  credentials?: S3Credentials;
  /** Bytes per cached block (default 64 KiB); reads of a block or more bypass the cache. */
  blockSize?: number;
  /** Upper bound of the block cache per open file (default 64 MiB); least recently used blocks go first. */
  cacheBytes?: number;
}

export const DEFAULT_BLOCK_SIZE = 64 * 1024;
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

function clientConfig(o: RemoteOpenOptions): ClientConfig {
  if (typeof o.credentials === 'function')
    throw new TypeError('credentials of an s3:// file must be { accessKeyId, secretAccessKey, sessionToken? } strings');
  return {
    ...resolveConfig(o),
    env: Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('AWS_') && e[1] !== undefined),
    ),
  };
}

// --- the worker: one per process, started on the first remote open ---

interface Cache {
  worker: Worker;
  port: number;
  token: string;
}
let cache: Cache | undefined;

function workerPath(): string {
  // Tests run lib/*.ts directly; the worker runs the compiled module (as walk-child does).
  return join(PACKAGE_ROOT, 'dist', 'remote', 'cache-worker.js');
}

// Atomics.waitAsync (ES2024; in Node since 16) is not in this project's TypeScript lib.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      i: number,
      v: number,
      t: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

let starting: { worker: Worker; token: string; state: Int32Array } | undefined;
/** Int32 [failures]: every failed S3 request of the worker bumps it (see translate below). */
const failures = new Int32Array(new SharedArrayBuffer(4));

function spawnCache(): { worker: Worker; token: string; state: Int32Array } {
  if (starting) return starting;
  const path = workerPath();
  if (!existsSync(path))
    throw new H5Error(`the block cache worker ${path} is missing (run npm run build:ts)`, { code: 'H5_ERROR' });
  const token = randomBytes(16).toString('hex');
  const ready = new SharedArrayBuffer(8);
  const worker = new Worker(path, { workerData: { token, ready, failures: failures.buffer } });
  worker.unref();
  starting = { worker, token, state: new Int32Array(ready) };
  return starting;
}

// A pending Atomics.waitAsync does not keep Node running, and the worker is
// unref'd (it must not keep a finished program alive): hold a reference on it
// while an asynchronous call waits for its answer.
let waiting = 0;
async function awaitAnswer(worker: Worker, state: Int32Array, timeoutMs: number): Promise<void> {
  const w = waitAsync(state, 0, 0, timeoutMs);
  if (!w.async) return;
  if (waiting++ === 0) worker.ref();
  try {
    await w.value;
  } finally {
    if (--waiting === 0) worker.unref();
  }
}

/** The worker, started and listening; openAsync waits for it without blocking the event loop. */
async function startCacheAsync(): Promise<Cache> {
  if (cache) return cache;
  const { worker, state } = spawnCache();
  await awaitAnswer(worker, state, 30_000);
  return startCache();
}

function startCache(): Cache {
  if (cache) return cache;
  const { worker, token, state } = spawnCache();
  // File.open is synchronous; the worker needs nothing from this thread to start.
  Atomics.wait(state, 0, 0, 30_000);
  starting = undefined;
  if (Atomics.load(state, 0) !== 1) {
    void worker.terminate();
    throw new H5Error('the block cache for remote reads could not start listening on 127.0.0.1', {
      code: 'H5_S3_NETWORK',
    });
  }
  worker.on('exit', () => {
    if (cache?.worker === worker) cache = undefined;
  });
  cache = { worker, port: state[1]!, token };
  return cache;
}

/** A request to the worker, answered through a SharedArrayBuffer: Int32 [state, length], then JSON. */
function post(c: Cache, q: Request): Int32Array {
  const sab = new SharedArrayBuffer(8 + 64 * 1024);
  c.worker.postMessage({ q, sab });
  return new Int32Array(sab, 0, 2);
}

function answer(hdr: Int32Array, timeoutMs: number): Record<string, unknown> {
  if (Atomics.load(hdr, 0) !== 1)
    throw new H5Error(`no answer from the block cache within ${timeoutMs / 1000} s`, { code: 'H5_S3_NETWORK' });
  return JSON.parse(Buffer.from(new Uint8Array(hdr.buffer, 8, hdr[1]!)).toString('utf8')) as Record<string, unknown>;
}

function call(c: Cache, q: Request, timeoutMs = 120_000): Record<string, unknown> {
  const hdr = post(c, q);
  Atomics.wait(hdr, 0, 0, timeoutMs);
  return answer(hdr, timeoutMs);
}

async function callAsync(c: Cache, q: Request, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const hdr = post(c, q);
  await awaitAnswer(c.worker, hdr, timeoutMs);
  return answer(hdr, timeoutMs);
}

function remoteError(e: RemoteError): H5Error {
  return toH5Error(e);
}

// --- open remote files ---

interface OpenRemote {
  id: number;
  url: string;
  size: number;
  etag: string;
  errors: Int32Array;
  seen: number;
  /** libhdf5's number for the open file (the first part of objIdentity), to tell its objects from other files'. */
  fileno?: string;
}
const byHandle = new WeakMap<FileHandle, OpenRemote>();
const open = new Map<number, OpenRemote>();
let nextId = 1;

const release = new FinalizationRegistry<number>((id) => {
  open.delete(id);
  watchNativeErrors();
  if (cache) cache.worker.postMessage({ q: { op: 'close', id }, sab: new SharedArrayBuffer(8 + 1024) });
});

/** Everything an open checks before any request: the URL, the options, the driver. */
function prepare(url: string, options: RemoteOpenOptions) {
  const { bucket, key } = parseS3Url(url, 'object');
  const client = clientConfig(options);
  const blockSize = integerOption(options, 'blockSize', 4096, undefined, DEFAULT_BLOCK_SIZE);
  const cacheBytes = integerOption(options, 'cacheBytes', 0, undefined, DEFAULT_CACHE_BYTES);
  const id = nextId++;
  const errors = new SharedArrayBuffer(8);
  return { key, id, errors, q: { op: 'open', id, bucket, key, client, blockSize, cacheBytes, errors } as Request };
}

/** The worker's answer to 'open' (the object's HEAD) as a record, or its typed error. */
function registered(url: string, id: number, errors: SharedArrayBuffer, r: Record<string, unknown>): OpenRemote {
  if (r.error) throw remoteError(r.error as RemoteError);
  const rec: OpenRemote = {
    id,
    url,
    size: r.size as number,
    etag: r.etag as string,
    errors: new Int32Array(errors),
    seen: 0,
  };
  open.set(id, rec);
  watchNativeErrors();
  return rec;
}

function adopt(c: Cache, rec: OpenRemote, open_: () => FileHandle): FileHandle;
function adopt(c: Cache, rec: OpenRemote, open_: () => Promise<FileHandle>): Promise<FileHandle>;
function adopt(
  c: Cache,
  rec: OpenRemote,
  open_: () => FileHandle | Promise<FileHandle>,
): FileHandle | Promise<FileHandle> {
  const ok = (handle: FileHandle) => {
    byHandle.set(handle, rec);
    rec.fileno = native.objIdentity(native.fileRoot(handle)).split(':')[0];
    release.register(handle, rec.id, handle);
    return handle;
  };
  const fail = (e: unknown): never => {
    // A failed read during libhdf5's search for its signature ends in an open
    // error, not "not HDF5": when the bytes are there, look for it ourselves.
    if (e instanceof H5Error && e.code === 'H5_OPEN_FAILED') {
      const r = call(c, { op: 'signature', id: rec.id }, 30_000);
      if (r.found === false)
        e = new H5Error(
          `open '${rec.url}': not an HDF5 file (no HDF5 signature at offset 0 or any power of two from 512)`,
          { code: 'H5_NOT_HDF5' },
        );
    }
    open.delete(rec.id);
    watchNativeErrors();
    c.worker.postMessage({ q: { op: 'close', id: rec.id }, sab: new SharedArrayBuffer(8 + 1024) });
    throw e;
  };
  let r: FileHandle | Promise<FileHandle>;
  try {
    r = open_();
  } catch (e) {
    return fail(e);
  }
  return r instanceof Promise ? r.then(ok, fail) : ok(r);
}

function driverUrl(c: Cache, id: number, key: string): string {
  return `http://127.0.0.1:${c.port}/${c.token}/${id}/${encodeURIComponent(key)}`;
}

/**
 * Opens s3://bucket/key read-only and returns libhdf5's handle. Synchronous:
 * the HEAD and libhdf5's first reads (superblock, root group) block this thread.
 */
export function openRemoteHandle(url: string, options: RemoteOpenOptions): FileHandle {
  const p = prepare(url, options);
  const c = startCache();
  const rec = registered(url, p.id, p.errors, call(c, p.q));
  return adopt(c, rec, () => native.fileOpenRemote(url, driverUrl(c, p.id, p.key), { size: rec.size }));
}

/** openRemoteHandle without blocking the event loop: the HEAD is awaited, libhdf5's open runs on the pool. */
export async function openRemoteHandleAsync(url: string, options: RemoteOpenOptions): Promise<FileHandle> {
  const p = prepare(url, options);
  const c = await startCacheAsync();
  const rec = registered(url, p.id, p.errors, await callAsync(c, p.q));
  return adopt(c, rec, () => native.fileOpenRemoteAsync(url, driverUrl(c, p.id, p.key), { size: rec.size }));
}

/** Drops the cache of a remote file (File.close); a no-op for local files. */
export function closeRemoteHandle(handle: FileHandle): void {
  const rec = byHandle.get(handle);
  if (!rec) return;
  byHandle.delete(handle);
  release.unregister(handle);
  // Reads still pending when close() was called complete first (libhdf5 closes
  // the file after them): drop the object's cache only once it has.
  const drop = () => {
    open.delete(rec.id);
    watchNativeErrors();
    if (cache) cache.worker.postMessage({ q: { op: 'close', id: rec.id }, sab: new SharedArrayBuffer(8 + 1024) });
  };
  native.fileCloseAsync(handle).then(drop, drop);
}

/** What a remote file cost so far (requests, bytes), or undefined for a local file. */
export function remoteStats(
  handle: FileHandle,
): (ObjectStats & { size: number; etag: string; url: string }) | undefined {
  const rec = byHandle.get(handle);
  if (!rec || !cache) return undefined;
  const r = call(cache, { op: 'stats', id: rec.id });
  if (r.error) return undefined;
  return { ...(r.stats as ObjectStats), size: rec.size, etag: rec.etag, url: rec.url };
}

// libhdf5 reports a failed remote read as its own I/O error; the worker saw why.
// The translation happens at the boundary, around native calls (lib/addon/binding.ts),
// never in H5Error's constructor: an error of a native call on a remote file (its
// handle, one of its objects, or its URL at open) during which one of that file's
// reads failed is that failure, with its S3 code and the file's url (libhdf5's
// message is kept as `hdf5`). Errors on other files, or of calls during which no
// remote read failed, are left as they are; while no remote file is open, a call
// pays nothing more than one property check.
const TRANSLATABLE = new Set([
  'H5_S3_NETWORK', // the range driver's own: the cache answered an error status (native/h5/range_vfd.h)
  'H5_IO',
  'H5_ERROR',
  'H5_OPEN_FAILED',
  'H5_NOT_HDF5',
  'H5_CORRUPT',
  'H5_FILE_NOT_FOUND',
  'H5_NOT_FOUND',
]);

/** The open remote file a native call's first argument belongs to, if any. */
function remoteOf(target: unknown): OpenRemote | undefined {
  if (typeof target === 'string') {
    for (const rec of open.values()) if (rec.url === target) return rec;
    return undefined;
  }
  if (typeof target !== 'object' || target === null) return undefined;
  const byFile = byHandle.get(target as FileHandle);
  if (byFile) return byFile;
  let fileno: string;
  try {
    fileno = native.objIdentity(target as ObjHandle).split(':')[0]!;
  } catch {
    return undefined; // not an object handle, or a closed one
  }
  for (const rec of open.values()) if (rec.fileno === fileno) return rec;
  return undefined;
}

function translate(e: unknown, before: number, target: unknown): unknown {
  if (!(e instanceof H5Error) || !TRANSLATABLE.has(e.code) || Atomics.load(failures, 0) === before || !cache) return e;
  const rec = remoteOf(target);
  if (rec) {
    const seq = Atomics.load(rec.errors, 0);
    if (seq === rec.seen) return e;
    rec.seen = seq;
    const r = call(cache, { op: 'stats', id: rec.id }, 5_000);
    const f = r.lastError as RemoteError | undefined;
    if (f) {
      const t = toH5Error({ ...f, url: rec.url, hdf5: e.message });
      t.stack = `${t.name}: ${t.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
      return t;
    }
  }
  return e;
}

function watchNativeErrors(): void {
  if (open.size > 0) nativeErrors.watch = { epoch: () => Atomics.load(failures, 0), translate };
  else nativeErrors.watch = undefined;
}
