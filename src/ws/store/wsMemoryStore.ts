import type { WsBudgetState, WsBudgetStore, WsGrant, WsLearnable, WsLearned, WsPenalty, WsPenaltyResult, WsRenewal, WsSubjectLimits } from './wsStoreTypes.js';
import { busyPause, checkHold, checkLearned, effectiveSessionLimit, learnedValue, sessionCap, type Learned, type SessionCap } from './wsBudgetMath.js';

/** Options of `new WsMemoryStore(...)` (one process). */
export interface WsMemoryStoreOptions {
  /** Clock in epoch ms. @default Date.now */
  readonly clock?: () => number;
}

interface SubjectState {
  /** sessionId -> lease expiry */
  readonly leases: Map<string, number>;
  /** connect times, oldest first */
  connects: number[];
  pausedUntil: number;
  readonly learned: { sessionLimit?: Learned; topicsPerMessage?: Learned; topicsPerSession?: Learned };
  cap: SessionCap | undefined;
  backoffLevel: number;
  backoffAt: number;
}

type Denied = Extract<WsGrant, { granted: false }>;

/** WebSocket budgets of the processes that share this object (one process). Same rules as WsRedisStore. */
export class WsMemoryStore implements WsBudgetStore {
  readonly #clock: () => number;
  readonly #subjects = new Map<string, SubjectState>();

  constructor(options: WsMemoryStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  #state(limits: WsSubjectLimits, now: number): SubjectState {
    let s = this.#subjects.get(limits.subject);
    if (!s) {
      s = { leases: new Map(), connects: [], pausedUntil: 0, learned: {}, cap: undefined, backoffLevel: 0, backoffAt: 0 };
      this.#subjects.set(limits.subject, s);
    }
    for (const [id, until] of s.leases) if (until <= now) s.leases.delete(id);
    const from = now - limits.connectSpanMs;
    if (s.connects.length > 0 && s.connects[0]! <= from) s.connects = s.connects.filter((t) => t > from);
    return s;
  }

  #limit(s: SubjectState, limits: WsSubjectLimits, now: number): number {
    return effectiveSessionLimit(limits.sessionLimit, s.learned.sessionLimit, s.cap, now);
  }

  #learned(s: SubjectState, now: number): WsLearned {
    return {
      sessionLimit: learnedValue(s.learned.sessionLimit, now),
      topicsPerMessage: learnedValue(s.learned.topicsPerMessage, now),
      topicsPerSession: learnedValue(s.learned.topicsPerSession, now),
    };
  }

  /** When the earliest lease ends: a hint for how long a slot may take. */
  #slotWait(s: SubjectState, now: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (const until of s.leases.values()) min = Math.min(min, until);
    return Number.isFinite(min) ? Math.max(1, min - now) : 1;
  }

  #deny(s: SubjectState, now: number, reason: Denied['reason'], waitMs: number): WsGrant {
    return { granted: false, now, reason, waitMs, learned: this.#learned(s, now) };
  }

  async acquireSession(limits: WsSubjectLimits, sessionId: string): Promise<WsGrant> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (!s.leases.has(sessionId) && s.leases.size >= this.#limit(s, limits, now)) return this.#deny(s, now, 'sessions', this.#slotWait(s, now));
    s.leases.set(sessionId, now + limits.leaseMs);
    return { granted: true, now, learned: this.#learned(s, now) };
  }

  async acquireConnect(limits: WsSubjectLimits, sessionId: string): Promise<WsGrant> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    const others = s.leases.size - (s.leases.has(sessionId) ? 1 : 0);
    if (others >= this.#limit(s, limits, now)) {
      s.leases.delete(sessionId);
      return this.#deny(s, now, 'lease', this.#slotWait(s, now));
    }
    if (s.pausedUntil > now) return this.#deny(s, now, 'paused', s.pausedUntil - now);
    if (s.connects.length >= limits.connectLimit) {
      const oldest = s.connects[s.connects.length - limits.connectLimit]!;
      return this.#deny(s, now, 'connects', Math.max(1, oldest + limits.connectSpanMs - now));
    }
    s.connects.push(now);
    s.leases.set(sessionId, now + limits.leaseMs);
    return { granted: true, now, learned: this.#learned(s, now) };
  }

  async renew(limits: WsSubjectLimits, sessionIds: readonly string[]): Promise<WsRenewal> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    const limit = this.#limit(s, limits, now);
    const lost: string[] = [];
    for (const id of sessionIds) {
      if (s.leases.has(id) || s.leases.size < limit) s.leases.set(id, now + limits.leaseMs);
      else lost.push(id);
    }
    return { lost, learned: this.#learned(s, now) };
  }

  async release(limits: WsSubjectLimits, sessionId: string, holdMs: number): Promise<void> {
    checkHold(holdMs);
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (holdMs > 0 && s.leases.has(sessionId)) s.leases.set(sessionId, now + holdMs);
    else s.leases.delete(sessionId);
  }

  async penalize(limits: WsSubjectLimits, penalty: WsPenalty): Promise<WsPenaltyResult> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (penalty.kind === 'sessions') {
      if (penalty.learnedLimit !== undefined && penalty.learnedLimit >= 1) {
        const current = learnedValue(s.learned.sessionLimit, now) ?? Number.POSITIVE_INFINITY;
        s.learned.sessionLimit = { value: Math.min(current, penalty.learnedLimit), until: now + penalty.learnForMs };
      }
      s.leases.delete(penalty.sessionId);
      if (penalty.pauseMs > 0) {
        const value = Math.min(s.leases.size, sessionCap(s.cap, now) ?? Number.POSITIVE_INFINITY);
        s.cap = { value, at: now, stepMs: penalty.pauseMs };
      }
    } else {
      const step = busyPause(penalty, { level: s.backoffLevel, at: s.backoffAt, pausedUntil: s.pausedUntil }, now);
      s.backoffLevel = step.level;
      s.backoffAt = step.at;
      s.pausedUntil = step.pausedUntil;
    }
    return { pausedUntil: s.pausedUntil, now };
  }

  async learn(limits: WsSubjectLimits, what: WsLearnable, value: number, learnForMs: number): Promise<WsLearned> {
    checkLearned(value, learnForMs);
    const now = this.#clock();
    const s = this.#state(limits, now);
    const current = learnedValue(s.learned[what], now) ?? Number.POSITIVE_INFINITY;
    s.learned[what] = { value: Math.min(current, value), until: now + learnForMs };
    return this.#learned(s, now);
  }

  async inspect(limits: WsSubjectLimits): Promise<WsBudgetState> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    return {
      now,
      sessions: s.leases.size,
      connects: s.connects.length,
      pausedUntil: s.pausedUntil,
      sessionLimit: this.#limit(s, limits, now),
      backoffLevel: s.backoffLevel,
      learned: this.#learned(s, now),
    };
  }
}
