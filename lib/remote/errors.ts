/**
 * S3 failures as h5vault's error codes: one table for every S3 path (the model
 * store, the lazy-read block cache worker, the CLI), so that a given failure has
 * one code wherever it happens. docs/errors.md describes each code.
 *
 *   no credentials anywhere the SDK looks   H5_S3_CREDENTIALS
 *   404, NoSuchKey, NoSuchBucket, NotFound  H5_S3_NOT_FOUND
 *   401, 403, AccessDenied, bad keys        H5_S3_ACCESS_DENIED
 *   412 PreconditionFailed (If-Match)       H5_S3_CHANGED
 *   429, 503, SlowDown, Throttling          H5_S3_THROTTLED
 *   no HTTP answer, other 5xx               H5_S3_NETWORK
 *   any other status                        H5_S3_ERROR
 *   the caller's AbortSignal                H5_ABORTED
 */
import { H5Error, type H5ErrorCode } from '../errors.js';

/** A classified failure as plain data (the worker sends it to the main thread as JSON). */
export interface S3Failure {
  [extra: string]: unknown;
  code: H5ErrorCode;
  message: string;
  /** HTTP status, when the server answered. */
  status?: number;
  /** The server's or SDK's error name (NoSuchKey, SlowDown, ...). */
  s3Code?: string;
  /** The system error code of a network failure (ECONNREFUSED, ...). */
  errno?: string;
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Where the AWS SDK's default chain looks for credentials (the H5_S3_CREDENTIALS message). */
export const CREDENTIAL_SOURCES =
  'the credentials option; env AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); ' +
  'the AWS_PROFILE (default: "default") profile in ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE); ' +
  'SSO; web identity (AWS_WEB_IDENTITY_TOKEN_FILE); container (AWS_CONTAINER_CREDENTIALS_*) and EC2 instance metadata';

/** HTTP status of an SDK error (undefined for network failures), or of an H5Error made from one. */
export function s3Status(e: unknown): number | undefined {
  if (e instanceof H5Error) return (e as H5Error & { status?: number }).status;
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

/** Is this a failure worth retrying (network, 5xx, throttling)? */
export function s3Transient(e: unknown): boolean {
  if (e instanceof H5Error) return e.code === 'H5_S3_NETWORK' || e.code === 'H5_S3_THROTTLED';
  const x = e as SdkError;
  if (x?.name === 'CredentialsProviderError') return false;
  const st = s3Status(e);
  if (st !== undefined) return st >= 500 || st === 429 || st === 408;
  if (x?.name === 'AbortError') return false;
  return (
    NETWORK_CODES.has(x?.code ?? '') ||
    x?.name === 'TimeoutError' ||
    /socket hang up|ECONN|premature|network/i.test(x?.message ?? '')
  );
}

/** The table: an SDK (or network) failure while doing `what` (bucket/key, never credentials). */
export function classifyS3(e: unknown, what: string): S3Failure {
  const x = (e ?? {}) as SdkError;
  const name = x.name ?? x.Code ?? '';
  const status = s3Status(e);
  const detail = `${name || status || ''}${x.message && x.message !== name ? `: ${x.message}` : ''}`;
  const base = { ...(status !== undefined ? { status } : {}), ...(name ? { s3Code: name } : {}) };
  if (name === 'AbortError') return { code: 'H5_ABORTED', message: `${what}: aborted`, ...base };
  if (name === 'CredentialsProviderError')
    return {
      code: 'H5_S3_CREDENTIALS',
      message: `${what}: no AWS credentials found; looked in ${CREDENTIAL_SOURCES}`,
      ...base,
    };
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket')
    return { code: 'H5_S3_NOT_FOUND', message: `${what}: not found (${name || status})`, ...base };
  if (status === 401 || status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden/.test(name))
    return {
      code: 'H5_S3_ACCESS_DENIED',
      message: `${what}: access denied (${name || status}); check the credentials the AWS SDK found and the bucket policy`,
      ...base,
    };
  if (status === 412 || name === 'PreconditionFailed')
    return {
      code: 'H5_S3_CHANGED',
      message: `${what}: the object was replaced on the server while it was being read`,
      ...base,
    };
  if (status === 429 || status === 503 || /SlowDown|Throttl/.test(name))
    return {
      code: 'H5_S3_THROTTLED',
      message: `${what}: throttled by the server (${name || status}), retries exhausted`,
      ...base,
    };
  if (status === undefined || status >= 500)
    return {
      code: 'H5_S3_NETWORK',
      message: `${what}: ${status ? `server error ${status}` : 'network failure'} (${x.code ?? detail})`,
      ...base,
      ...(x.code ? { errno: x.code } : {}),
    };
  return { code: 'H5_S3_ERROR', message: `${what}: server answered ${status} ${name}`, ...base };
}

/** An S3 failure as an H5Error (an H5Error, or a non-Error, is returned as it is). */
export function s3Error(e: unknown, what: string): unknown {
  if (e instanceof H5Error || !(e instanceof Error)) return e;
  return toH5Error(classifyS3(e, what));
}

/** The H5Error of a classified failure (its fields become the error's). */
export function toH5Error(f: S3Failure & { [extra: string]: unknown }): H5Error {
  const { message, ...details } = f;
  return new H5Error(message, details);
}
