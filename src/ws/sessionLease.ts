import type { TypedEmitter } from '../scheduler/events.js';
import { pause } from './backoff.js';
import type { WsWaitReason } from './errors.js';
import type { WsGrant, WsLearned, WsPenalty, WsSubjectLimits } from './store/wsStoreTypes.js';
import type { WsManagerEvents } from './wsEvents.js';
import type { ResolvedWsOptions } from './wsOptions.js';

/** Longest sleep between two looks at a full session budget (another process may release any time). */
const SLOT_POLL_MS = 1_000;
/** Sleep after a store failure before the call is tried again. */
const STORE_RETRY_MS = 1_000;

export interface LeaseContext {
  readonly options: ResolvedWsOptions;
  readonly events: TypedEmitter<WsManagerEvents>;
  /** Names this process's leases. */
  readonly processId: string;
  /** The subject's limits now (the lease grows when a token says the server counts silent sessions longer). */
  limits(): WsSubjectLimits;
  /** What the fleet learned, as the store's last reply said. */
  learned(learned: WsLearned): void;
  /** Waits `ms`, or less when a slot of this process frees, or until `signal` aborts. */
  waitForSlot(ms: number, signal: AbortSignal): Promise<void>;
  /** A lease of this process ended: waiting connections look again. */
  slotFreed(): void;
}

/**
 * The session slot of one connection in the shared store: taken before the token is fetched, charged a
 * connect right before each dial, renewed by the manager's heartbeat, released (or held for the server's
 * ping timeout) when the connection ends. A store failure is an event and a retry, never a connect without
 * the store's grant.
 *
 * `safeUntil` is the earliest the lease can end, on this process's clock: the time a grant or renewal was
 * asked for plus the lease it set (the store set it later, by its own clock). Past it another process may
 * take the slot; the connection makes sure the server has dropped this session by then.
 */
export class SessionLease {
  #id: string | undefined;
  #gen = 0;
  #safeUntil = 0;

  constructor(
    private readonly ctx: LeaseContext,
    private readonly connectionId: number,
    /** Aborts when the connection stops. */
    private readonly signal: AbortSignal,
    /** False once the connection has no topic left: waits end. */
    private readonly wanted: () => boolean,
    private readonly phase: (reason: WsWaitReason) => void,
  ) {}

  /** The lease held, if any (the heartbeat renews it). */
  get id(): string | undefined {
    return this.#id;
  }

  /** Local time before which the lease surely holds (0 without one). */
  get safeUntil(): number {
    return this.#id ? this.#safeUntil : 0;
  }

  /** The heartbeat renewed it: asked at `askedAt` for `leaseMs`. */
  renewed(askedAt: number, leaseMs: number): void {
    if (this.#id) this.#safeUntil = Math.max(this.#safeUntil, askedAt + leaseMs);
  }

  /** Forgets the lease without releasing it (it lapsed and another process took the slot, or the store removed it). */
  drop(): void {
    this.#id = undefined;
    this.#safeUntil = 0;
  }

  /** Waits for a slot under a fresh id; false when the connection stopped or lost its topics first. */
  async acquire(): Promise<boolean> {
    const id = `${this.ctx.processId}.${this.connectionId}.${++this.#gen}`;
    this.phase('sessions');
    while (!this.signal.aborted && this.wanted()) {
      const limits = this.ctx.limits();
      const askedAt = Date.now();
      const grant = await this.#store(() => this.ctx.options.store.acquireSession(limits, id));
      if (!grant) continue;
      if (grant.granted) {
        this.#id = id;
        this.#safeUntil = askedAt + limits.leaseMs;
        return true;
      }
      const waitMs = Math.min(grant.waitMs, SLOT_POLL_MS) + Math.floor(Math.random() * 50);
      this.ctx.events.emit('waiting', { connectionId: this.connectionId, reason: grant.reason, waitMs });
      await this.ctx.waitForSlot(waitMs, this.signal);
    }
    return false;
  }

  /** Takes a connect from the shared window for this lease (and extends it): `lost` when the lease is gone. */
  async connect(): Promise<'granted' | 'lost' | 'stopped'> {
    while (!this.signal.aborted && this.wanted()) {
      const id = this.#id;
      if (!id) return 'lost';
      const limits = this.ctx.limits();
      const askedAt = Date.now();
      const grant = await this.#store(() => this.ctx.options.store.acquireConnect(limits, id));
      if (!grant) continue;
      if (grant.granted) {
        this.#safeUntil = askedAt + limits.leaseMs;
        return 'granted';
      }
      if (grant.reason === 'lease') {
        this.drop();
        return 'lost';
      }
      this.phase(grant.reason === 'paused' ? 'paused' : 'connects');
      const waitMs = grant.waitMs + Math.floor(Math.random() * 50);
      this.ctx.events.emit('waiting', { connectionId: this.connectionId, reason: grant.reason, waitMs });
      await pause(waitMs, this.signal);
    }
    return 'stopped';
  }

  /** Frees the slot now (`holdMs` 0) or after `holdMs`; the connection takes a new lease if it dials again. */
  async release(holdMs: number): Promise<void> {
    const id = this.#id;
    this.drop();
    if (!id) return;
    try {
      await this.ctx.options.store.release(this.ctx.limits(), id, holdMs);
    } catch (error) {
      // the lease ends on its own after leaseMs
      this.ctx.events.emit('storeError', { error: error as Error, retryInMs: 0 });
    }
    this.ctx.slotFreed();
  }

  /**
   * 509 session count: the server refused this lease's session. The store removes the lease, learns the
   * stated limit and caps the fleet's sessions (penalize 'sessions'); a store failure is only an event.
   */
  async refused(stated: number | undefined): Promise<void> {
    const id = this.#id;
    this.drop();
    if (!id) return;
    const { sessionRefusal, learnForMs } = this.ctx.options;
    await this.penalize({ kind: 'sessions', sessionId: id, learnedLimit: stated, learnForMs, pauseMs: sessionRefusal.pauseMs });
    this.ctx.slotFreed();
  }

  /** A reaction every process shares (a pause, a learned limit); a store failure is only an event. */
  async penalize(penalty: WsPenalty): Promise<void> {
    try {
      await this.ctx.options.store.penalize(this.ctx.limits(), penalty);
    } catch (error) {
      this.ctx.events.emit('storeError', { error: error as Error, retryInMs: 0 });
    }
  }

  async #store(call: () => Promise<WsGrant>): Promise<WsGrant | undefined> {
    try {
      const grant = await call();
      this.ctx.learned(grant.learned);
      return grant;
    } catch (error) {
      this.ctx.events.emit('storeError', { error: error as Error, retryInMs: STORE_RETRY_MS });
      await pause(STORE_RETRY_MS, this.signal);
      return undefined;
    }
  }
}
