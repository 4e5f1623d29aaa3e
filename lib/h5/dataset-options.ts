/**
 * The per-call options every Dataset read and write shares: the hyperslab
 * selection, the thread count, and the AbortSignal bridged to a native
 * cancel token (one listener per signal).
 */
import { native, type CancelToken, type NativeSelection } from '../addon/binding.js';
import { H5Error } from '../errors.js';
import { checkInteger, checkIntegers, checkSignal } from '../util/validate.js';
import type { Selection } from './dataset-types.js';

/** Validates a selection's types here; bounds are checked natively against the shape. */
export function selectionOf(o: Partial<Selection>, shape: number[]): NativeSelection | null {
  const { start, count, step } = o;
  if (start === undefined && count === undefined && step === undefined) return null;
  const s = start ?? shape.map(() => 0);
  checkIntegers(s, 'selection.start');
  const c = count ?? shape.map((n, i) => Math.max(0, n - (s[i] ?? 0)));
  checkIntegers(c, 'selection.count');
  if (step !== undefined) checkIntegers(step, 'selection.step', 1);
  if (s.length !== shape.length || c.length !== shape.length || (step && step.length !== shape.length))
    throw new RangeError(`selection rank must be ${shape.length}`);
  return step ? { start: s, count: c, step } : { start: s, count: c };
}

export function threadsOf(t: number | undefined): number {
  if (t === undefined) return 0;
  checkInteger(t, 'options.threads', 1, 1024);
  return t;
}

export function cancelOf(signal: AbortSignal | undefined): { token?: CancelToken; cleanup: () => void } {
  if (signal === undefined) return { cleanup: () => {} };
  checkSignal(signal);
  if (signal.aborted) {
    throw new H5Error('operation aborted before it started', { code: 'H5_ABORTED' });
  }
  const token = native.cancelToken();
  // One listener per signal, however many calls share it (a listener per call
  // made Node warn about a leak past 10 concurrent reads); it is removed when
  // the last call using the signal settles.
  let tokens = pendingBySignal.get(signal);
  if (!tokens) {
    const set = new Set<CancelToken>();
    tokens = set;
    pendingBySignal.set(signal, set);
    const on = () => {
      for (const t of set) native.cancelTrigger(t);
    };
    listenerBySignal.set(signal, on);
    signal.addEventListener('abort', on, { once: true });
  }
  tokens.add(token);
  return {
    token,
    cleanup: () => {
      const set = pendingBySignal.get(signal);
      if (!set) return;
      set.delete(token);
      if (set.size > 0) return;
      pendingBySignal.delete(signal);
      const on = listenerBySignal.get(signal);
      listenerBySignal.delete(signal);
      if (on) signal.removeEventListener('abort', on);
    },
  };
}

const pendingBySignal = new WeakMap<AbortSignal, Set<CancelToken>>();
const listenerBySignal = new WeakMap<AbortSignal, () => void>();
