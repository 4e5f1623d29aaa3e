/**
 * h5vault's retries of S3 requests, on top of the SDK's own per-request retries
 * (S3ConnectOptions.maxAttempts): those give up within a second, which a
 * restarting gateway outlasts. The S3 model store runs every request through
 * withRetry; the lazy-read block cache relies on the SDK's alone (libhdf5 is
 * waiting on the other end of each read).
 */
import { H5Error } from '../errors.js';
import { s3Error, s3Transient } from './errors.js';

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
 * exponential backoff and jitter; the last failure is thrown as an H5Error
 * (lib/remote/errors.ts) naming `what`.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  what: string,
  o: RetryOptions = {},
): Promise<T> {
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
