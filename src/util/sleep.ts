import { AbortError } from '../errors.js';
import { watchAbort } from './abortWatch.js';
import { setLongTimeout } from './longTimeout.js';

/** Resolves after `ms` (any length: see setLongTimeout); rejects with AbortError at once if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError(signal.reason));
    const unwatch = signal ? watchAbort(signal, () => (timer.clear(), reject(new AbortError(signal.reason)))) : undefined;
    const timer = setLongTimeout(() => (unwatch?.(), resolve()), ms);
  });
}
