/**
 * A circuit per API key, shared by every process: an auth failure pauses the key's guard bucket
 * (`key:<keyId>:circuit`, in every request signed with it) in the store, so no process sends with the key any
 * more; this process fails such requests at once with KeyCircuitOpenError instead of queueing them. Other
 * processes learn it from their first request the guard holds back (a `waited` event on the guard) and fail
 * theirs too. Once the open time is over, one request per process goes as the probe: success closes the
 * circuit for every process, an auth failure opens it again, longer (the store's shared backoff level).
 * `keyId` is a short hash of the key, never the key.
 */
import { KeyCircuitOpenError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import type { Scheduler } from '../scheduler.js';
import type { ResolvedErrorActions } from './errorActions.js';

declare module '../events.js' {
  interface SchedulerEvents {
    /** A key's circuit opened (an auth failure), went half-open (a probe is sent) or closed (the probe succeeded). */
    keyCircuit: { keyId: string; state: 'open' | 'half-open' | 'closed'; openUntil: number; kucoinCode: string | undefined };
    /** A host's guard was paused for every process: a 501000 (service stopping) or a retry-later backoff. */
    hostPaused: { host: HostName; category: 'service-stopping' | 'retry-later'; pausedUntil: number; kucoinCode: string };
  }
}

interface Circuit {
  /** Epoch ms until which nothing is sent with the key; 0 when closed. */
  openUntil: number;
  probing: boolean;
  kucoinCode: string | undefined;
  /** Requests of this process queued with the key: aborted when the circuit is found open. */
  readonly queued: Set<AbortController>;
}

/** This process's view of every key's circuit, one per scheduler. */
export class KeyCircuits {
  readonly #circuits = new Map<string, Circuit>();

  constructor(private readonly scheduler: Scheduler) {
    scheduler.on('waited', (e) => {
      const m = /^key:([A-Za-z0-9_-]+):circuit$/.exec(e.bucketId);
      if (m && e.reason === 'paused') this.#opened(m[1]!, Date.now() + e.waitMs, undefined, false);
    });
  }

  #circuit(keyId: string): Circuit {
    let c = this.#circuits.get(keyId);
    if (!c) this.#circuits.set(keyId, (c = { openUntil: 0, probing: false, kucoinCode: undefined, queued: new Set() }));
    return c;
  }

  /**
   * Before a send with the key: throws KeyCircuitOpenError while open (or while this process's probe is in flight);
   * returns true when this request is the probe.
   */
  admit(keyId: string): boolean {
    const c = this.#circuits.get(keyId);
    if (!c || c.openUntil === 0) return false;
    if (Date.now() < c.openUntil) throw new KeyCircuitOpenError(keyId, c.openUntil, c.kucoinCode);
    if (c.probing) throw new KeyCircuitOpenError(keyId, 0, c.kucoinCode);
    c.probing = true;
    this.scheduler.notify('keyCircuit', { keyId, state: 'half-open', openUntil: c.openUntil, kucoinCode: c.kucoinCode });
    return true;
  }

  /** Registers a queued request; aborting `controller` with a KeyCircuitOpenError when the circuit opens. */
  watch(keyId: string, controller: AbortController): () => void {
    const c = this.#circuit(keyId);
    c.queued.add(controller);
    return () => c.queued.delete(controller);
  }

  /**
   * A request with the key was not admitted in time (the guard may have been paused by another process before this
   * one queued anything): reads the guard; open -> the KeyCircuitOpenError to throw instead.
   */
  async check(keyId: string): Promise<KeyCircuitOpenError | undefined> {
    let pausedUntil = 0;
    try {
      pausedUntil = (await this.scheduler.inspectTarget(`key:${keyId}`))?.pausedUntil ?? 0;
    } catch {
      return undefined; // the store failed: the scheduler's own error stands
    }
    if (pausedUntil <= Date.now()) return undefined;
    this.#opened(keyId, pausedUntil, undefined, false);
    return new KeyCircuitOpenError(keyId, pausedUntil, this.#circuits.get(keyId)?.kucoinCode);
  }

  /** An auth failure: opens the circuit for every process (longer after a failed probe). */
  async fail(keyId: string, kucoinCode: string, options: ResolvedErrorActions): Promise<number> {
    let openUntil = Date.now() + options.keyCircuitOpenMs;
    try {
      const result = await this.scheduler.penalizeTarget(`key:${keyId}`, {
        backoff: {
          baseMs: options.keyCircuitOpenMs,
          maxMs: options.keyCircuitMaxOpenMs,
          jitter: 0,
          random: 0.5,
          resetAfterMs: options.keyCircuitMaxOpenMs * 4,
        },
      });
      openUntil = Math.max(result.pausedUntil, Date.now() + 1);
    } catch {
      // the store failed: this process still stops sending with the key
    }
    this.#opened(keyId, openUntil, kucoinCode, true);
    return openUntil;
  }

  /** A reply that was not an auth failure, to a request signed with the key: a probe's success closes the circuit. */
  async succeed(keyId: string, probe: boolean): Promise<void> {
    const c = this.#circuits.get(keyId);
    if (!probe || !c) return;
    c.probing = false;
    c.openUntil = 0;
    try {
      await this.scheduler.resume(`key:${keyId}`);
    } catch {
      // the store failed: the pause ends by itself
    }
    this.scheduler.notify('keyCircuit', { keyId, state: 'closed', openUntil: 0, kucoinCode: c.kucoinCode });
  }

  /** A probe that got no answer (transport failure, abort): another request may probe. */
  release(keyId: string, probe: boolean): void {
    const c = this.#circuits.get(keyId);
    if (probe && c) c.probing = false;
  }

  #opened(keyId: string, openUntil: number, kucoinCode: string | undefined, seen: boolean): void {
    const c = this.#circuit(keyId);
    const wasOpen = c.openUntil > Date.now();
    c.openUntil = Math.max(c.openUntil, openUntil);
    c.probing = false;
    if (kucoinCode) c.kucoinCode = kucoinCode;
    const error = new KeyCircuitOpenError(keyId, c.openUntil, c.kucoinCode);
    for (const controller of c.queued) controller.abort(error);
    c.queued.clear();
    if (!wasOpen || seen) this.scheduler.notify('keyCircuit', { keyId, state: 'open', openUntil: c.openUntil, kucoinCode: c.kucoinCode });
  }
}

const bySchedulers = new WeakMap<Scheduler, KeyCircuits>();

/** The key circuits of a scheduler (one per scheduler, made on first use). */
export function keyCircuitsOf(scheduler: Scheduler): KeyCircuits {
  let k = bySchedulers.get(scheduler);
  if (!k) bySchedulers.set(scheduler, (k = new KeyCircuits(scheduler)));
  return k;
}
