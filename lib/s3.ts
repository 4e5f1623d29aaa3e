/**
 * Lazy remote reads: File.open('s3://bucket/key') opens an object read-only and
 * fetches only the byte ranges libhdf5 asks for. libhdf5's ROS3 driver does the
 * reading; its requests go to a block cache on a worker thread
 * (lib/s3-cache-worker.ts) that fills itself with ranged GETs through the AWS SDK.
 * docs/object-storage.md ("Lazy remote reads") has the measurements behind this
 * design, and the costs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { native, type FileHandle } from './binding.js';
import { H5Error, errorHooks, type H5ErrorDetails } from './errors.js';
import type { ClientConfig, ObjectStats, RemoteError, Request } from './s3-cache-worker.js';

export type { ObjectStats as RemoteStats } from './s3-cache-worker.js';

/** Where and how to reach the object store (File.open options for s3:// URLs). */
export interface RemoteOpenOptions {
  /**
   * The S3 endpoint, e.g. 'http://127.0.0.1:7480' for Ceph RGW or MinIO. Default:
   * env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or S3_ENDPOINT, else AWS S3 itself.
   * With an endpoint, requests are path-style (bucket in the path).
   */
  endpoint?: string;
  /** Default: env AWS_REGION, AWS_DEFAULT_REGION, else 'us-east-1'. */
  region?: string;
  /**
   * Static credentials. Default: the AWS SDK's standard chain (env
   * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, ~/.aws shared
   * config and credentials, SSO, web identity, instance metadata).
   * Never logged, never passed to libhdf5.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Bytes per cached block (default 64 KiB); reads of a block or more bypass the cache. */
  blockSize?: number;
  /** Upper bound of the block cache per open file (default 64 MiB); least recently used blocks go first. */
  cacheBytes?: number;
  /** Attempts per request, retried with backoff by the SDK (default: env AWS_MAX_ATTEMPTS, else 3). */
  maxAttempts?: number;
}

export const DEFAULT_BLOCK_SIZE = 64 * 1024;
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/** Whether `path` names an object (s3://bucket/key) rather than a local file. */
export function isS3Url(path: string): boolean {
  return typeof path === 'string' && /^s3:\/\//i.test(path);
}

/** s3://bucket/key -> { bucket, key }; H5_INVALID_ARGUMENT when it is not one. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/i.exec(url);
  if (!m || m[1]!.length < 3 || m[2]!.endsWith('/'))
    throw new H5Error(`'${url}' is not an S3 object URL: expected s3://bucket/key (bucket of 3 or more characters)`, {
      code: 'H5_INVALID_ARGUMENT',
    });
  return { bucket: m[1]!, key: m[2]! };
}

function env(...names: string[]): string | undefined {
  for (const n of names) if (process.env[n]) return process.env[n];
  return undefined;
}

function clientConfig(o: RemoteOpenOptions): ClientConfig {
  const endpoint = o.endpoint ?? env('AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'S3_ENDPOINT');
  if (endpoint !== undefined && (typeof endpoint !== 'string' || !/^https?:\/\/[^/]+/.test(endpoint)))
    throw new TypeError('endpoint must be an http:// or https:// URL');
  const region = o.region ?? env('AWS_REGION', 'AWS_DEFAULT_REGION') ?? 'us-east-1';
  if (typeof region !== 'string' || region === '') throw new TypeError('region must be a non-empty string');
  const c = o.credentials;
  if (c !== undefined && (typeof c !== 'object' || c === null || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string'))
    throw new TypeError('credentials must be { accessKeyId, secretAccessKey, sessionToken? } strings');
  return {
    ...(endpoint ? { endpoint } : {}),
    region,
    forcePathStyle: endpoint !== undefined,
    ...(c ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) } } : {}),
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('AWS_') && e[1] !== undefined)),
  };
}

function positiveInt(v: unknown, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`);
  return v;
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
  const here = dirname(fileURLToPath(import.meta.url));
  return basename(here) === 'dist' ? join(here, 's3-cache-worker.js') : join(here, '..', 'dist', 's3-cache-worker.js');
}

function startCache(): Cache {
  if (cache) return cache;
  const path = workerPath();
  if (!existsSync(path)) throw new H5Error(`the block cache worker ${path} is missing (run npm run build:ts)`, { code: 'H5_ERROR' });
  const token = randomBytes(16).toString('hex');
  const ready = new SharedArrayBuffer(8);
  const worker = new Worker(path, { workerData: { token, ready } });
  worker.unref();
  const state = new Int32Array(ready);
  // Synchronous by design: File.open is synchronous. The worker needs nothing from this thread.
  Atomics.wait(state, 0, 0, 30_000);
  if (Atomics.load(state, 0) !== 1) {
    void worker.terminate();
    throw new H5Error('the block cache for remote reads could not start listening on 127.0.0.1', { code: 'H5_S3_NETWORK' });
  }
  worker.on('exit', () => {
    if (cache?.worker === worker) cache = undefined;
  });
  cache = { worker, port: state[1]!, token };
  return cache;
}

/** A request to the worker, answered synchronously through a SharedArrayBuffer. */
function call(c: Cache, q: Request, timeoutMs = 120_000): Record<string, unknown> {
  const sab = new SharedArrayBuffer(8 + 64 * 1024);
  const hdr = new Int32Array(sab, 0, 2);
  c.worker.postMessage({ q, sab });
  if (Atomics.wait(hdr, 0, 0, timeoutMs) === 'timed-out')
    throw new H5Error(`no answer from the block cache within ${timeoutMs / 1000} s`, { code: 'H5_S3_NETWORK' });
  return JSON.parse(Buffer.from(new Uint8Array(sab, 8, hdr[1]!)).toString('utf8')) as Record<string, unknown>;
}

function remoteError(e: RemoteError): H5Error {
  const { code, message, ...rest } = e;
  return new H5Error(message, { code, ...rest });
}

// --- open remote files ---

interface OpenRemote {
  id: number;
  url: string;
  size: number;
  etag: string;
  errors: Int32Array;
  seen: number;
}
const byHandle = new WeakMap<FileHandle, OpenRemote>();
const open = new Map<number, OpenRemote>();
let nextId = 1;

const release = new FinalizationRegistry<number>((id) => {
  open.delete(id);
  if (cache) cache.worker.postMessage({ q: { op: 'close', id }, sab: new SharedArrayBuffer(8 + 1024) });
});

/**
 * Opens s3://bucket/key read-only; `wrap` makes the File from the native handle.
 * Synchronous: the HEAD and libhdf5's reads of the superblock block this thread.
 */
export function openRemoteHandle(url: string, options: RemoteOpenOptions): { handle: FileHandle; size: number } {
  const { bucket, key } = parseS3Url(url);
  const client = clientConfig(options);
  const blockSize = positiveInt(options.blockSize, 'blockSize', DEFAULT_BLOCK_SIZE, 4096);
  const cacheBytes = positiveInt(options.cacheBytes, 'cacheBytes', DEFAULT_CACHE_BYTES, 0);
  if (!native.ros3Available())
    throw new H5Error(`cannot open '${url}': this libhdf5 was built without its read-only S3 driver (ROS3)`, { code: 'H5_UNSUPPORTED' });
  const c = startCache();
  const id = nextId++;
  const errors = new SharedArrayBuffer(8);
  const r = call(c, { op: 'open', id, bucket, key, client, blockSize, cacheBytes, errors });
  if (r.error) throw remoteError(r.error as RemoteError);
  const rec: OpenRemote = { id, url, size: r.size as number, etag: r.etag as string, errors: new Int32Array(errors), seen: 0 };
  open.set(id, rec);
  let handle: FileHandle;
  try {
    handle = native.fileOpenRemote(url, `http://127.0.0.1:${c.port}/${c.token}/${id}/${encodeURIComponent(key)}`);
  } catch (e) {
    open.delete(id);
    c.worker.postMessage({ q: { op: 'close', id }, sab: new SharedArrayBuffer(8 + 1024) });
    throw e;
  }
  byHandle.set(handle, rec);
  release.register(handle, id, handle);
  return { handle, size: rec.size };
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
    if (cache) cache.worker.postMessage({ q: { op: 'close', id: rec.id }, sab: new SharedArrayBuffer(8 + 1024) });
  };
  native.fileCloseAsync(handle).then(drop, drop);
}

/** What a remote file cost so far (requests, bytes), or undefined for a local file. */
export function remoteStats(handle: FileHandle): (ObjectStats & { size: number; etag: string; url: string }) | undefined {
  const rec = byHandle.get(handle);
  if (!rec || !cache) return undefined;
  const r = call(cache, { op: 'stats', id: rec.id });
  if (r.error) return undefined;
  return { ...(r.stats as ObjectStats), size: rec.size, etag: rec.etag, url: rec.url };
}

// libhdf5 reports a failed remote read as its own I/O error; the worker saw why.
// An error from libhdf5 while some remote file has a failure not yet reported
// is that failure, with its S3 code (the original message is kept as `cause`).
const TRANSLATABLE = new Set(['H5_IO', 'H5_ERROR', 'H5_OPEN_FAILED', 'H5_NOT_HDF5', 'H5_CORRUPT', 'H5_FILE_NOT_FOUND', 'H5_NOT_FOUND']);
errorHooks.translate = (message: string, details: H5ErrorDetails) => {
  if (open.size === 0 || !TRANSLATABLE.has(details.code)) return undefined;
  for (const rec of open.values()) {
    const seq = Atomics.load(rec.errors, 0);
    if (seq === rec.seen || !cache) continue;
    rec.seen = seq;
    const r = call(cache, { op: 'stats', id: rec.id }, 5_000);
    const e = r.lastError as RemoteError | undefined;
    if (e) return { ...e, url: rec.url, hdf5: message };
  }
  return undefined;
};
