/** Jittered exponential backoff for reconnects. */
export interface ReconnectBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  /** 0..1: the share of each delay taken off at random, so processes do not reconnect in step. */
  readonly jitter: number;
}

/** The delay before reconnect attempt `attempt` (1, 2, ...): base x 2^(attempt-1), capped, less jitter. */
export function reconnectDelay(b: ReconnectBackoff, attempt: number, random: number = Math.random()): number {
  const full = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.max(1, Math.round(full * (1 - b.jitter * random)));
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. Never rejects. */
export function pause(ms: number, signal: AbortSignal, unref = false): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), Math.min(2_147_483_647, Math.max(0, ms)));
    if (unref) timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
