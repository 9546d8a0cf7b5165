import type { DenyReason, Priority } from '../store/types.js';
import type { RateLimitSignal, SignalScope } from '../kucoin/errorFeedback.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import type { PoolName } from '../kucoin/pools.js';

/** Every event the scheduler emits, by name. */
export interface SchedulerEvents {
  /** A request was admitted by every bucket it needs and is being run. */
  admitted: { priority: Priority; pool: PoolName; weight: number; waitedMs: number; endpoint: string | undefined };
  /** A lane could not admit its next request and sleeps until the store says capacity returns. */
  waited: {
    lane: string;
    priority: Priority;
    bucketId: string;
    reason: DenyReason;
    waitMs: number;
    /** The key (short hash) whose circuit guard held the request back; undefined when another bucket did. */
    keyId?: string | undefined;
  };
  /** A request ended without being admitted (aborted, timed out, queue full, closed, invalid). */
  rejected: { priority: Priority | undefined; code: string; endpoint: string | undefined };
  /** An endpoint the table does not know (or knows without a weight) was charged the default weight. */
  unknownEndpoint: { endpoint: string; host: string; pool: PoolName; weight: number };
  /** The gateway pushed back and the scheduler reacted, for every process (see FEEDBACK_RULES). */
  feedback: {
    signal: RateLimitSignal;
    scope: SignalScope;
    bucketId: string | undefined;
    pausedUntil: number;
    factor: number | undefined;
    tightened: boolean;
    localDelayMs: number;
    /** Why: the signal, the reply, and the rule applied. */
    reason: string;
    endpoint: string | undefined;
  };
  /**
   * A reply's `gw-ratelimit-limit` was learned, is waiting for a second reply to confirm a raise, or was
   * refused (outside KuCoin's VIP range for the pool, widened to the configured limit).
   */
  limit: { bucketId: string; offered: number; outcome: 'learned' | 'pending' | 'refused'; limitInForce: number };
  /**
   * Replies of one bucket described two server windows (several egress IPs behind one `ip` identity, or a
   * hostile network): the bucket stops aligning to the server's phase for a while (conservative).
   */
  phaseConflict: { bucketId: string };
  /** Redis became unreachable: every process admits under its local share of each quota. */
  degraded: { error: Error | undefined };
  /** Redis answers again: what was admitted meanwhile was charged to it; shared admission resumes. */
  recovered: Record<string, never>;
  /** The store failed; the lane retries after `retryInMs`. Queued requests keep their place and deadline. */
  storeError: { lane: string; error: Error; retryInMs: number };
  /** A key's circuit opened (an auth failure), went half-open (a probe is sent) or closed (the probe succeeded). */
  keyCircuit: { keyId: string; state: 'open' | 'half-open' | 'closed'; openUntil: number; kucoinCode: string | undefined };
  /** A host's guard was paused for every process: a 501000 (service stopping) or a retry-later backoff. */
  hostPaused: { host: HostName; category: 'service-stopping' | 'retry-later'; pausedUntil: number; kucoinCode: string };
}

/** A listener of one event: `scheduler.on(name, listener)` returns the function that removes it. */
export type Listener<T> = (event: T) => void;

/**
 * A small typed emitter. `on` returns a function that removes the listener. Emitting to nobody costs one
 * map lookup: callers check `has()` before they build an event object.
 */
export class TypedEmitter<E extends object> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>();

  on<K extends keyof E>(name: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
      if (set.size === 0) this.#listeners.delete(name);
    };
  }

  has(name: keyof E): boolean {
    return this.#listeners.has(name);
  }

  emit<K extends keyof E>(name: K, event: E[K]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(event);
      } catch {
        // a listener's fault must not break scheduling
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
