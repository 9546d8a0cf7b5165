import type { WsBudgetState, WsBudgetStore, WsGrant, WsPenalty, WsPenaltyResult, WsSubjectLimits } from './wsStoreTypes.js';
import { busyPause, effectiveSessionLimit } from './wsBudgetMath.js';

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
  learnedLimit: number;
  learnedUntil: number;
  backoffLevel: number;
  backoffAt: number;
}

/** WebSocket budgets of the processes that share this object (one process). Same rules as WsRedisStore. */
export class WsMemoryStore implements WsBudgetStore {
  readonly #clock: () => number;
  readonly #subjects = new Map<string, SubjectState>();

  constructor(options: WsMemoryStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  #state(limits: WsSubjectLimits, now: number): SubjectState {
    let s = this.#subjects.get(limits.subject);
    if (!s)
      this.#subjects.set(
        limits.subject,
        (s = { leases: new Map(), connects: [], pausedUntil: 0, learnedLimit: 0, learnedUntil: 0, backoffLevel: 0, backoffAt: 0 }),
      );
    for (const [id, until] of s.leases) if (until <= now) s.leases.delete(id);
    const from = now - limits.connectSpanMs;
    if (s.connects.length > 0 && s.connects[0]! <= from) s.connects = s.connects.filter((t) => t > from);
    return s;
  }

  #limit(s: SubjectState, limits: WsSubjectLimits, now: number): number {
    return effectiveSessionLimit(limits.sessionLimit, s.learnedLimit, s.learnedUntil, now);
  }

  /** When the earliest lease ends: a hint for how long a slot may take. */
  #slotWait(s: SubjectState, now: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (const until of s.leases.values()) min = Math.min(min, until);
    return Number.isFinite(min) ? Math.max(1, min - now) : 1;
  }

  async acquireSession(limits: WsSubjectLimits, sessionId: string): Promise<WsGrant> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (!s.leases.has(sessionId) && s.leases.size >= this.#limit(s, limits, now)) {
      return { granted: false, now, reason: 'sessions', waitMs: this.#slotWait(s, now) };
    }
    s.leases.set(sessionId, now + limits.leaseMs);
    return { granted: true, now };
  }

  async acquireConnect(limits: WsSubjectLimits, sessionId: string): Promise<WsGrant> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (!s.leases.has(sessionId) && s.leases.size >= this.#limit(s, limits, now)) {
      return { granted: false, now, reason: 'lease', waitMs: this.#slotWait(s, now) };
    }
    if (s.pausedUntil > now) return { granted: false, now, reason: 'paused', waitMs: s.pausedUntil - now };
    if (s.connects.length >= limits.connectLimit) {
      const oldest = s.connects[s.connects.length - limits.connectLimit]!;
      return { granted: false, now, reason: 'connects', waitMs: Math.max(1, oldest + limits.connectSpanMs - now) };
    }
    s.connects.push(now);
    s.leases.set(sessionId, now + limits.leaseMs);
    return { granted: true, now };
  }

  async renew(limits: WsSubjectLimits, sessionIds: readonly string[]): Promise<string[]> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    const lost: string[] = [];
    for (const id of sessionIds) {
      if (s.leases.has(id) || s.leases.size < this.#limit(s, limits, now)) s.leases.set(id, now + limits.leaseMs);
      else lost.push(id);
    }
    return lost;
  }

  async release(limits: WsSubjectLimits, sessionId: string, holdMs: number): Promise<void> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (holdMs > 0 && s.leases.has(sessionId)) s.leases.set(sessionId, now + holdMs);
    else s.leases.delete(sessionId);
  }

  async penalize(limits: WsSubjectLimits, penalty: WsPenalty): Promise<WsPenaltyResult> {
    const now = this.#clock();
    const s = this.#state(limits, now);
    if (penalty.kind === 'sessions') {
      if (penalty.learnedLimit !== undefined) {
        const current = s.learnedUntil > now ? s.learnedLimit : Number.POSITIVE_INFINITY;
        s.learnedLimit = Math.min(current, penalty.learnedLimit);
        s.learnedUntil = now + penalty.learnForMs;
      }
      s.pausedUntil = Math.max(s.pausedUntil, now + penalty.pauseMs);
    } else {
      const step = busyPause(penalty, { level: s.backoffLevel, at: s.backoffAt, pausedUntil: s.pausedUntil }, now);
      s.backoffLevel = step.level;
      s.backoffAt = step.at;
      s.pausedUntil = step.pausedUntil;
    }
    return { pausedUntil: s.pausedUntil, now };
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
    };
  }
}
