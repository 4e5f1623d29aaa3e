/**
 * The S3 side of the S3 model store: the AWS SDK v3 loaded on first use (an
 * optional peer, like onnxruntime-node), s3:// URL parsing, and SDK failures
 * mapped onto typed H5Errors. Credentials come from the options or the SDK's
 * standard provider chain (env, shared config/credentials files, SSO, IMDS);
 * they are never put in a message or an error.
 */
import { createRequire } from 'node:module';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { H5Error } from '../errors.js';

type S3Module = typeof import('@aws-sdk/client-s3');
type StorageModule = typeof import('@aws-sdk/lib-storage');

let s3Module: S3Module | undefined;
let storageModule: StorageModule | undefined;

function requirePeer<T>(name: string): T {
  const require = createRequire(import.meta.url);
  try {
    return require(name) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new H5Error(`${name} is not installed: h5vault's S3 model store needs it (npm install @aws-sdk/client-s3 @aws-sdk/lib-storage)`, {
        code: 'H5_MISSING_PEER', peer: name,
      });
    }
    throw e;
  }
}

/** @aws-sdk/client-s3, loaded on first use; H5_MISSING_PEER when absent. */
export function loadS3(): S3Module {
  return (s3Module ??= requirePeer<S3Module>('@aws-sdk/client-s3'));
}

/** @aws-sdk/lib-storage (multipart Upload), loaded on first use; H5_MISSING_PEER when absent. */
export function loadStorage(): StorageModule {
  return (storageModule ??= requirePeer<StorageModule>('@aws-sdk/lib-storage'));
}

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing '/', '' for the bucket root. */
  prefix: string;
}

/** Parses 's3://bucket/some/prefix' (TypeError for anything else). */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new TypeError(`'${url}' is not an s3:// URL (s3://bucket/prefix)`);
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new TypeError(`'${bucket}' is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((s) => s === '.' || s === '..')) throw new TypeError(`'${url}': '.' and '..' are not allowed in the prefix`);
  return { bucket, prefix };
}

export interface S3ConnectOptions {
  /** Endpoint of an S3-compatible server (Ceph RGW, MinIO): 'http://host:port'. Default: AWS S3 (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). */
  endpoint?: string;
  /** Default: the SDK's (AWS_REGION, shared config), else 'us-east-1'. */
  region?: string;
  /** Static credentials. Default: the SDK's standard provider chain. */
  credentials?: S3ClientConfig['credentials'];
  /** Path-style addressing (http://host/bucket/key). Default true with `endpoint`, false for AWS. */
  forcePathStyle?: boolean;
  /** SDK retries per request (default 5, exponential backoff with jitter). */
  maxAttempts?: number;
  /** Passed to S3Client as is (advanced; overrides the options above). */
  clientConfig?: S3ClientConfig;
}

/** An S3Client for the options (SDK loaded here). */
export function makeClient(o: S3ConnectOptions): S3Client {
  const { S3Client } = loadS3();
  const endpoint = o.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const cfg: S3ClientConfig = {
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    maxAttempts: o.maxAttempts ?? 5,
    ...(endpoint ? { endpoint, forcePathStyle: o.forcePathStyle ?? true } : { forcePathStyle: o.forcePathStyle ?? false }),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    // Without timeouts a silently dead connection (a partition, not a crash) would hang a pull
    // forever. Idle time, not total time: a slow but moving range is fine, and a timed-out
    // range resumes where it stopped.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 60_000 },
    ...o.clientConfig,
  };
  return new S3Client(cfg);
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** HTTP status of an SDK error (undefined for network failures). */
export function s3Status(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

/** Is this a failure worth retrying (network, 5xx, throttling)? */
export function s3Transient(e: unknown): boolean {
  if (e instanceof H5Error) return e.code === 'H5_S3_NETWORK' || e.code === 'H5_S3_THROTTLED';
  const x = e as SdkError;
  const st = s3Status(e);
  if (st !== undefined) return st >= 500 || st === 429 || st === 408;
  if (x?.name === 'AbortError') return false;
  return NETWORK_CODES.has(x?.code ?? '') || x?.name === 'TimeoutError' || /socket hang up|ECONN|premature|network/i.test(x?.message ?? '');
}

/**
 * An SDK failure as an H5Error naming what was being done (bucket/key, never
 * credentials). 404 → H5_NOT_FOUND; 403 → H5_S3_ACCESS_DENIED; 429/503
 * SlowDown → H5_S3_THROTTLED; no HTTP answer → H5_S3_NETWORK; other
 * statuses → H5_S3_ERROR with `status`.
 */
export function s3Error(e: unknown, what: string): unknown {
  if (e instanceof H5Error || !(e instanceof Error)) return e;
  const x = e as SdkError;
  const name = x.name ?? x.Code ?? '';
  const status = s3Status(e);
  const base = { s3Code: name, status };
  if (name === 'AbortError') return new H5Error(`${what}: aborted`, { code: 'H5_ABORTED' });
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket')
    return new H5Error(`${what}: not found (${name || status})`, { code: 'H5_NOT_FOUND', ...base });
  if (status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch')
    return new H5Error(`${what}: access denied (${name || status}); check the credentials the AWS SDK found and the bucket policy`, { code: 'H5_S3_ACCESS_DENIED', ...base });
  if (status === 429 || status === 503 || name === 'SlowDown' || name === 'Throttling' || name === 'ThrottlingException')
    return new H5Error(`${what}: throttled by the server (${name || status}), retries exhausted`, { code: 'H5_S3_THROTTLED', ...base });
  if (status === undefined)
    return new H5Error(`${what}: network failure (${x.code ?? name}: ${x.message})`, { code: 'H5_S3_NETWORK', errno: x.code, ...base });
  return new H5Error(`${what}: server answered ${status} ${name}`, { code: 'H5_S3_ERROR', ...base });
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(t);
      reject(new H5Error('aborted', { code: 'H5_ABORTED' }));
    }
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface RetryOptions {
  /** Attempts in all (default 8). */
  attempts?: number;
  /** First backoff (default 100 ms), doubled each time up to 5 s, with full jitter. */
  baseMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs `fn` again on transient failures (network, 5xx, throttling) with
 * exponential backoff and jitter, on top of the SDK's own per-request
 * retries: those give up within a second, which a restarting gateway outlasts.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, what: string, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 8;
  const base = o.baseMs ?? 100;
  for (let i = 0; ; i++) {
    if (o.signal?.aborted) throw new H5Error(`${what}: aborted`, { code: 'H5_ABORTED' });
    try {
      return await fn(i);
    } catch (e) {
      if (o.signal?.aborted) throw new H5Error(`${what}: aborted`, { code: 'H5_ABORTED' });
      if (i + 1 >= attempts || !s3Transient(e)) throw s3Error(e, what);
      await sleep(Math.random() * Math.min(5000, base * 2 ** i), o.signal);
    }
  }
}
