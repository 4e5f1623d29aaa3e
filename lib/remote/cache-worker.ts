/**
 * The block cache behind lazy remote reads (lib/remote/lazy-file.ts), on a worker thread of its
 * own. h5vault's range driver (native/h5/range_vfd.h) reads a remote file with one
 * HTTP request per read libhdf5 makes, many of them a few hundred bytes of
 * metadata. It is pointed at
 * an HTTP server on 127.0.0.1 that answers those requests from a block cache
 * filled by ranged GETs through the AWS SDK: one GET per block instead of one per
 * read, with the SDK's credential chain, retries and TLS. A worker thread, because
 * libhdf5 blocks the thread that calls it (the JS thread for synchronous calls)
 * until the request is answered; this thread is never that one.
 *
 * The server only answers paths that start with a random token the parent chose,
 * so another local user cannot read an object through it with our credentials.
 * Every block is fetched with If-Match on the ETag seen at open: an object
 * replaced on the server while open is an error (H5_S3_CHANGED), never a file
 * made of two versions.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { H5Error } from '../errors.js';
import { classifyS3, type S3Failure } from './errors.js';
import { loadS3, makeClient } from './sdk.js';
import type { S3Config } from './options.js';
import type { GetObjectCommandOutput, HeadObjectCommandOutput } from '@aws-sdk/client-s3';

type S3ClientLike = ReturnType<typeof makeClient>;

export interface WorkerInit {
  token: string;
  /** Int32 [state, port]: state 1 = listening, 2 = failed. */
  ready: SharedArrayBuffer;
  /** Int32 [failures]: bumped on every failed S3 request of any file, read by the parent around native calls. */
  failures: SharedArrayBuffer;
}

export interface ClientConfig extends S3Config {
  /** The caller's AWS_* environment: the SDK's credential chain reads it, and a worker's env is a copy made at its start. */
  env: Record<string, string>;
}

export type Request =
  | {
      op: 'open';
      id: number;
      bucket: string;
      key: string;
      client: ClientConfig;
      blockSize: number;
      cacheBytes: number;
      errors: SharedArrayBuffer;
    }
  | { op: 'stats'; id: number }
  | { op: 'signature'; id: number }
  | { op: 'close'; id: number };

export type RemoteError = S3Failure;

export interface ObjectStats {
  /** Requests libhdf5 made (HEAD and ranged GETs to the cache). */
  driverRequests: number;
  /** Bytes libhdf5 asked for. */
  bytesRead: number;
  /** Requests sent to the object store (HEAD at open included). */
  s3Requests: number;
  /** Bytes received from the object store. */
  bytesFetched: number;
  /** Block lookups answered from the cache. */
  cacheHits: number;
  /** Bytes held by the cache now. */
  cachedBytes: number;
}

interface Remote {
  id: number;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  blockSize: number;
  cacheBytes: number;
  client: S3ClientLike;
  blocks: Map<number, Promise<Uint8Array>>;
  sizes: Map<number, number>;
  cached: number;
  stats: ObjectStats;
  /** Int32 [sequence, unused]: bumped on every failure, read by the parent. */
  errors: Int32Array;
  lastError?: RemoteError;
}

const clients = new Map<string, S3ClientLike>();
const remotes = new Map<number, Remote>();

function clientFor(c: ClientConfig): S3ClientLike {
  const k = JSON.stringify(c);
  let cl = clients.get(k);
  if (!cl) {
    const { env, ...config } = c;
    for (const v of Object.keys(process.env)) if (v.startsWith('AWS_')) delete process.env[v];
    Object.assign(process.env, env);
    cl = makeClient(config);
    clients.set(k, cl);
  }
  return cl;
}

let failures: Int32Array | undefined;

function fail(r: Remote, e: RemoteError): RemoteError {
  r.lastError = e;
  Atomics.add(r.errors, 0, 1);
  if (failures) Atomics.add(failures, 0, 1);
  return e;
}

async function fetchRange(r: Remote, start: number, end: number): Promise<Uint8Array> {
  const { GetObjectCommand } = loadS3();
  r.stats.s3Requests++;
  let res: GetObjectCommandOutput;
  try {
    res = await r.client.send(
      new GetObjectCommand({ Bucket: r.bucket, Key: r.key, Range: `bytes=${start}-${end - 1}`, IfMatch: r.etag }),
    );
  } catch (e) {
    throw fail(r, classifyS3(e, `read bytes ${start}-${end - 1} of s3://${r.bucket}/${r.key}`));
  }
  let body: Uint8Array;
  try {
    body = await res.Body!.transformToByteArray();
  } catch (e) {
    throw fail(r, classifyS3(e, `read bytes ${start}-${end - 1} of s3://${r.bucket}/${r.key}`));
  }
  r.stats.bytesFetched += body.length;
  if (body.length !== end - start)
    throw fail(r, {
      code: 'H5_S3_NETWORK',
      message: `read bytes ${start}-${end - 1} of s3://${r.bucket}/${r.key}: got ${body.length} bytes`,
    });
  return body;
}

function block(r: Remote, i: number): Promise<Uint8Array> {
  const hit = r.blocks.get(i);
  if (hit) {
    r.stats.cacheHits++;
    r.blocks.delete(i); // re-insert: Map order is the LRU order
    r.blocks.set(i, hit);
    return hit;
  }
  const start = i * r.blockSize;
  const end = Math.min(r.size, start + r.blockSize);
  const p = fetchRange(r, start, end);
  r.blocks.set(i, p);
  r.sizes.set(i, end - start);
  r.cached += end - start;
  p.catch(() => {
    if (r.blocks.get(i) === p) drop(r, i); // a failed fetch is not cached
  });
  for (const [j] of r.blocks) {
    if (r.cached <= r.cacheBytes || j === i) break;
    drop(r, j);
  }
  return p;
}

function drop(r: Remote, i: number): void {
  if (!r.blocks.delete(i)) return;
  r.cached -= r.sizes.get(i) ?? 0;
  r.sizes.delete(i);
}

/** Bytes [start, end) of the object: small reads through the cache, large ones straight through. */
async function readRange(r: Remote, start: number, end: number): Promise<Uint8Array[]> {
  // A read of a block or more is tensor data: fetch exactly it, and leave the
  // cache to the metadata around it.
  if (end - start >= r.blockSize) return [await fetchRange(r, start, end)];
  const first = Math.floor(start / r.blockSize);
  const last = Math.floor((end - 1) / r.blockSize);
  const parts: Promise<Uint8Array>[] = [];
  for (let i = first; i <= last; i++) parts.push(block(r, i));
  const got = await Promise.all(parts);
  return got.map((b, k) => {
    const base = (first + k) * r.blockSize;
    return b.subarray(Math.max(0, start - base), Math.min(b.length, end - base));
  });
}

function httpStatus(e: RemoteError): number {
  return e.code === 'H5_S3_NOT_FOUND'
    ? 404
    : e.code === 'H5_S3_ACCESS_DENIED'
      ? 403
      : e.code === 'H5_S3_CHANGED'
        ? 412
        : 502;
}

async function serve(init: WorkerInit, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const m = /^\/([0-9a-f]+)\/(\d+)(?:\/|$)/.exec(req.url ?? '');
  const r = m && m[1] === init.token ? remotes.get(Number(m[2])) : undefined;
  if (!r) {
    res.writeHead(m && m[1] === init.token ? 404 : 403).end();
    return;
  }
  r.stats.driverRequests++;
  if (req.method === 'HEAD') {
    res.writeHead(200, { 'Content-Length': r.size, 'Accept-Ranges': 'bytes', ETag: r.etag }).end();
    return;
  }
  if (req.method !== 'GET') {
    res.writeHead(405).end();
    return;
  }
  let start = 0;
  let end = r.size;
  const range = req.headers.range;
  if (range !== undefined) {
    const rm = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (!rm) {
      res.writeHead(416).end();
      return;
    }
    start = Number(rm[1]);
    end = rm[2] === '' ? r.size : Math.min(r.size, Number(rm[2]) + 1);
  }
  if (start >= end) {
    res.writeHead(416, { 'content-range': `bytes */${r.size}` }).end();
    return;
  }
  r.stats.bytesRead += end - start;
  try {
    const parts = await readRange(r, start, end);
    res.writeHead(range === undefined ? 200 : 206, {
      'Content-Length': end - start,
      ...(range === undefined ? {} : { 'Content-Range': `bytes ${start}-${end - 1}/${r.size}` }),
    });
    for (const p of parts) res.write(p);
    res.end();
  } catch (e) {
    const re = (e as RemoteError).code ? (e as RemoteError) : fail(r, classifyS3(e, `read s3://${r.bucket}/${r.key}`));
    res.writeHead(httpStatus(re)).end();
  }
}

async function open(q: Extract<Request, { op: 'open' }>): Promise<unknown> {
  const client = clientFor(q.client);
  const { HeadObjectCommand } = loadS3();
  const what = `open s3://${q.bucket}/${q.key}`;
  let head: HeadObjectCommandOutput;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket: q.bucket, Key: q.key }));
  } catch (e) {
    return { error: classifyS3(e, what) };
  }
  const r: Remote = {
    id: q.id,
    bucket: q.bucket,
    key: q.key,
    size: Number(head.ContentLength ?? 0),
    etag: String(head.ETag ?? ''),
    blockSize: q.blockSize,
    cacheBytes: q.cacheBytes,
    client,
    blocks: new Map(),
    sizes: new Map(),
    cached: 0,
    stats: { driverRequests: 0, bytesRead: 0, s3Requests: 1, bytesFetched: 0, cacheHits: 0, cachedBytes: 0 },
    errors: new Int32Array(q.errors),
  };
  remotes.set(q.id, r);
  return { size: r.size, etag: r.etag };
}

async function handle(q: Request): Promise<unknown> {
  if (q.op === 'open') {
    try {
      return await open(q);
    } catch (e) {
      // The SDK missing (H5_MISSING_PEER, with `peer`), or a failure of the table's.
      if (e instanceof H5Error) return { error: { ...e, message: e.message } };
      return { error: classifyS3(e, `open s3://${q.bucket}/${q.key}`) };
    }
  }
  const r = remotes.get(q.id);
  if (q.op === 'close') {
    remotes.delete(q.id);
    return {};
  }
  if (!r) return { error: { code: 'H5_CLOSED', message: 'remote file is closed' } };
  if (q.op === 'signature') {
    // Where libhdf5 looks for its superblock: offset 0, then 512, 1024, 2048, ...
    const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
    for (let at = 0; at + 8 <= r.size; at = at === 0 ? 512 : at * 2) {
      const got = Buffer.concat(await readRange(r, at, at + 8));
      if (sig.every((b, i) => got[i] === b)) return { found: true };
    }
    return { found: false };
  }
  return { stats: { ...r.stats, cachedBytes: r.cached }, lastError: r.lastError, size: r.size, etag: r.etag };
}

/** Replies through the caller's SharedArrayBuffer: Int32 [state, length], then UTF-8 JSON. */
function reply(sab: SharedArrayBuffer, value: unknown): void {
  const hdr = new Int32Array(sab, 0, 2);
  let bytes = new TextEncoder().encode(JSON.stringify(value));
  if (bytes.length > sab.byteLength - 8)
    bytes = new TextEncoder().encode(JSON.stringify({ error: { code: 'H5_ERROR', message: 'reply too large' } }));
  new Uint8Array(sab, 8).set(bytes);
  hdr[1] = bytes.length;
  Atomics.store(hdr, 0, 1);
  Atomics.notify(hdr, 0);
}

if (parentPort) {
  const init = workerData as WorkerInit;
  const ready = new Int32Array(init.ready);
  failures = new Int32Array(init.failures);
  const server = createServer((req, res) => {
    serve(init, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('error', () => {
    Atomics.store(ready, 0, 2);
    Atomics.notify(ready, 0);
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    ready[1] = typeof a === 'object' && a ? a.port : 0;
    Atomics.store(ready, 0, 1);
    Atomics.notify(ready, 0);
  });
  parentPort.on('message', (msg: { q: Request; sab: SharedArrayBuffer }) => {
    handle(msg.q).then(
      (v) => reply(msg.sab, v),
      (e) => reply(msg.sab, { error: { code: 'H5_ERROR', message: String((e as Error)?.message ?? e) } }),
    );
  });
}
