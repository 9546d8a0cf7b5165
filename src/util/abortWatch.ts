const callbacks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` when `signal` aborts; returns a function that stops watching. Many requests commonly
 * share one signal: they share one listener on it too, so thousands of waiting requests add one listener,
 * not thousands (and no MaxListenersExceededWarning).
 */
export function watchAbort(signal: AbortSignal, callback: () => void): () => void {
  let set = callbacks.get(signal);
  if (!set) {
    const created = new Set<() => void>();
    callbacks.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        callbacks.delete(signal);
        for (const cb of [...created]) cb();
      },
      { once: true },
    );
    set = created;
  }
  set.add(callback);
  const watched = set;
  return () => void watched.delete(callback);
}
