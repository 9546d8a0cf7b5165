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
import type { SchedulerPort } from './schedulerPort.js';

/** What the circuits need of the scheduler: the key guards in the store, and its events. */
export type KeyCircuitPort = Pick<SchedulerPort, 'penalize' | 'inspect' | 'resume' | 'notify' | 'on'>;

/** How long an auth failure opens a key's circuit (the send layer's `ErrorActionOptions` resolved). */
export interface KeyCircuitTimings {
  readonly keyCircuitOpenMs: number;
  readonly keyCircuitMaxOpenMs: number;
}

interface Circuit {
  /** Epoch ms until which nothing is sent with the key; 0 when closed. */
  openUntil: number;
  probing: boolean;
  kucoinCode: string | undefined;
  /** Requests of this process queued with the key: aborted when the circuit is found open. */
  readonly queued: Set<AbortController>;
}

/**
 * This process's view of every key's circuit, one per scheduler: the scheduler makes it on first use and hands it
 * to the send layer through its port (`SchedulerPort.keyCircuits`).
 */
export class KeyCircuits {
  readonly #circuits = new Map<string, Circuit>();

  constructor(private readonly scheduler: KeyCircuitPort) {
    // another process opened the circuit: this one learns it when the key's guard holds a request back
    scheduler.on('waited', (e) => {
      if (e.keyId !== undefined && e.reason === 'paused') this.#opened(e.keyId, Date.now() + e.waitMs, undefined, false);
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
      pausedUntil = (await this.scheduler.inspect(`key:${keyId}`))?.pausedUntil ?? 0;
    } catch {
      return undefined; // the store failed: the scheduler's own error stands
    }
    if (pausedUntil <= Date.now()) return undefined;
    this.#opened(keyId, pausedUntil, undefined, false);
    return new KeyCircuitOpenError(keyId, pausedUntil, this.#circuits.get(keyId)?.kucoinCode);
  }

  /** An auth failure: opens the circuit for every process (longer after a failed probe). */
  async fail(keyId: string, kucoinCode: string, options: KeyCircuitTimings): Promise<number> {
    let openUntil = Date.now() + options.keyCircuitOpenMs;
    try {
      const result = await this.scheduler.penalize(`key:${keyId}`, {
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
