import { H5Error } from '../errors.js';

/**
 * Throws `H5_ABORTED` ("`what` aborted") once `signal` has fired. Every long
 * operation (load, save, convert, publish, pull) checks between its steps
 * with this one function, so the code and the message read the same
 * everywhere (docs/errors.md, H5_ABORTED).
 */
export function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new H5Error(`${what} aborted`, { code: 'H5_ABORTED' });
}
