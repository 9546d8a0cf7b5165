/**
 * Where the WebSocket budgets of an account live: session leases and the connect window of one subject
 * (`uid:<uid>` for private connections, `ip:<ip>` for public ones), shared by every process that uses the
 * same store. WsMemoryStore serves one process; WsRedisStore every process of the fleet.
 */
export interface WsBudgetStore {
  /**
   * Holds a session slot for `sessionId` (or renews the one it holds) for `leaseMs`. Denied with reason
   * `sessions` while the subject holds `sessionLimit` (or the limit learned from a 509) live leases.
   */
  acquireSession(subject: WsSubjectLimits, sessionId: string): Promise<WsGrant>;
  /**
   * Charges one connect to the subject's window, for a session that holds its lease (a lapsed lease is taken
   * again when a slot is free). Denied with `paused` during a shared pause, `connects` while the window is
   * full, `lease` when the lease lapsed and every slot is taken.
   */
  acquireConnect(subject: WsSubjectLimits, sessionId: string): Promise<WsGrant>;
  /** Extends the leases of `sessionIds`; returns the ids whose lease had lapsed and could not be taken again. */
  renew(subject: WsSubjectLimits, sessionIds: readonly string[]): Promise<string[]>;
  /** Frees a session slot, at once (`holdMs` 0) or after `holdMs` (the server may still count a session it did not see close). */
  release(subject: WsSubjectLimits, sessionId: string, holdMs: number): Promise<void>;
  /** A reaction every process shares: a pause of new connects, and for `sessions` a lower limit learned from the server. */
  penalize(subject: WsSubjectLimits, penalty: WsPenalty): Promise<WsPenaltyResult>;
  inspect(subject: WsSubjectLimits): Promise<WsBudgetState>;
}

/** One subject and its limits, as the manager configures them (every call passes them: the store keeps no config). */
export interface WsSubjectLimits {
  /** `uid:<uid>` or `ip:<ip>`: no braces. */
  readonly subject: string;
  readonly sessionLimit: number;
  readonly leaseMs: number;
  /** New connections allowed in any span of `connectSpanMs`. */
  readonly connectLimit: number;
  /** The connect window plus its transit margin. */
  readonly connectSpanMs: number;
}

export type WsDenyReason = 'sessions' | 'connects' | 'paused' | 'lease';

export type WsGrant =
  { readonly granted: true; readonly now: number } | { readonly granted: false; readonly now: number; readonly reason: WsDenyReason; readonly waitMs: number };

export type WsPenalty =
  /** 509 "exceed max session count limitation of N": learn N (when given) for `learnForMs`, pause new connects `pauseMs`. */
  | { readonly kind: 'sessions'; readonly learnedLimit: number | undefined; readonly learnForMs: number; readonly pauseMs: number }
  /** 509 busy and the like: a shared exponential backoff, one step per round (not per process that saw it). */
  | { readonly kind: 'busy'; readonly baseMs: number; readonly maxMs: number; readonly jitter: number; readonly resetAfterMs: number; readonly random: number };

export interface WsPenaltyResult {
  readonly pausedUntil: number;
  readonly now: number;
}

export interface WsBudgetState {
  readonly now: number;
  /** Live leases (sessions held, by every process). */
  readonly sessions: number;
  /** Connects in the last `connectSpanMs`. */
  readonly connects: number;
  readonly pausedUntil: number;
  /** The session limit in force: the configured one, or a lower one learned from the server. */
  readonly sessionLimit: number;
  readonly backoffLevel: number;
}
