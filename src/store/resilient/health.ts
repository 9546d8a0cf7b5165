/**
 * A ResilientStore's health, as a tagged union in the manner of cockatiel's CircuitBreakerPolicy: each state carries
 * only the fields that mean something in it.
 *
 * - connecting: Redis was never reached; nothing is admitted (acquire rejects with a StoreError, so a lane keeps the
 *   request's place and retries) and every heartbeat and acquisition probes Redis.
 * - healthy: Redis decides.
 * - degraded (cut off `since`): Redis was reached before and is unreachable now; this process admits under its local
 *   share while its last heartbeat's lease could still be live, then critical requests only (see lease.ts).
 * - recovering (`until`): Redis is back; until then both Redis and the local share must admit, so processes that
 *   reconnect at different moments cannot burst together.
 */
export type StoreHealth = 'connecting' | 'healthy' | 'degraded' | 'recovering';

export type Health =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'healthy' }
  | { readonly kind: 'degraded'; readonly since: number }
  | { readonly kind: 'recovering'; readonly until: number };

export type HealthListener = (health: StoreHealth, error: Error | undefined) => void;

/** The current health, its last error, and the listeners told of every change of kind. */
export class HealthState {
  #state: Health = { kind: 'connecting' };
  readonly #listeners = new Set<HealthListener>();
  /** The last Redis failure (the cause of the StoreErrors thrown while connecting). */
  lastError: Error | undefined;

  get state(): Health {
    return this.#state;
  }

  get kind(): StoreHealth {
    return this.#state.kind;
  }

  set(next: Health, error?: Error): void {
    const changed = next.kind !== this.#state.kind;
    this.#state = next;
    if (!changed) return;
    for (const l of [...this.#listeners]) {
      try {
        l(next.kind, error);
      } catch {
        // a listener's fault must not break admission
      }
    }
  }

  /** Calls `listener` on every change of health; returns a function that removes it. */
  onChange(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
}
