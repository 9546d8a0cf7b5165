import { AbortError } from '../errors.js';
import { watchAbort } from './abortWatch.js';

/** Resolves after `ms`; rejects with AbortError at once if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError(signal.reason));
    const unwatch = signal ? watchAbort(signal, () => (clearTimeout(timer), reject(new AbortError(signal.reason)))) : undefined;
    const timer = setTimeout(() => (unwatch?.(), resolve()), ms);
  });
}
