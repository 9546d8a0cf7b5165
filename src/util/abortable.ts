import { AbortError, MaxWaitExceededError } from '../errors.js';
import { watchAbort } from './abortWatch.js';
import { setLongTimeout } from './longTimeout.js';

/**
 * Waits for `promise`, but no longer than the caller does: rejects with AbortError as soon as `signal` aborts,
 * with MaxWaitExceededError once `ms` have passed (Infinity: never). The promise itself goes on (it may be
 * shared with other callers); its own rejection is handled, never left unhandled.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, ms = Number.POSITIVE_INFINITY): Promise<T> {
  if (!signal && !(ms < Number.POSITIVE_INFINITY)) return promise;
  return new Promise<T>((resolve, reject) => {
    const end = (): void => {
      unwatch?.();
      timer.clear();
    };
    const unwatch = signal ? watchAbort(signal, () => (end(), reject(new AbortError(signal.reason)))) : undefined;
    const timer = setLongTimeout(() => (end(), reject(new MaxWaitExceededError(ms))), Math.max(0, ms));
    promise.then(
      (value) => (end(), resolve(value)),
      (error: unknown) => (end(), reject(error)),
    );
    if (signal?.aborted) {
      end();
      reject(new AbortError(signal.reason));
    }
  });
}
