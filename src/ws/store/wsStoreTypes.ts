/**
 * Where the WebSocket budgets of an account live: session leases and the connect window of one subject
 * (`uid:<uid>` for private connections, `ip:<ip>` for public ones), and what the fleet learned from the
 * server's 509s, shared by every process that uses the same store. WsMemoryStore serves one process;
 * WsRedisStore every process of the fleet.
 */
export interface WsBudgetStore {
  /**
   * Holds a session slot for `sessionId` (or renews the one it holds) for `leaseMs`. Denied with reason
   * `sessions` while the subject holds as many live leases as the limit in force (the configured one, or lower:
   * learned from a 509, or the cap after one).
   */
  acquireSession(subject: WsSubjectLimits, sessionId: string): Promise<WsGrant>;
  /**
   * Charges one connect to the subject's window, for a session that holds its lease, and extends the lease.
   * Denied with `paused` during a shared pause, `connects` while the window is full, `lease` when the other
   * leases already fill the limit in force (a held lease is then given up: it was taken under a higher limit).
   */
  acquireConnect(subject: WsSubjectLimits, sessionId: string): Promise<WsGrant>;
  /** Extends the leases of `sessionIds`: the ids whose lease had lapsed and could not be taken again are `lost`. */
  renew(subject: WsSubjectLimits, sessionIds: readonly string[]): Promise<WsRenewal>;
  /** Frees a session slot, at once (`holdMs` 0) or after `holdMs` (the server may still count a session it did not see close). */
  release(subject: WsSubjectLimits, sessionId: string, holdMs: number): Promise<void>;
  /** A reaction every process shares: for `sessions` the refused lease goes, a stated limit is learned and a cap set; for `busy` a pause. */
  penalize(subject: WsSubjectLimits, penalty: WsPenalty): Promise<WsPenaltyResult>;
  /** A topic limit the server stated in a 509, kept for every process for `learnForMs` (the lower of it and one in force). */
  learn(subject: WsSubjectLimits, what: WsLearnable, value: number, learnForMs: number): Promise<WsLearned>;
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

/** Why a WebSocket budget refused: sessions full, connects spent in their span, paused, or no lease slot free for this session. */
export type WsDenyReason = 'sessions' | 'connects' | 'paused' | 'lease';

/** What the fleet learned from the server's 509s and still believes (undefined: nothing in force). */
export interface WsLearned {
  /** "exceed max session count limitation of N" */
  readonly sessionLimit: number | undefined;
  /** "exceed max subscription count limitation of N per time" */
  readonly topicsPerMessage: number | undefined;
  /** "exceed max subscription count limitation of N per session" */
  readonly topicsPerSession: number | undefined;
}

/** A WebSocket limit the fleet learns from the server's 509 texts. */
export type WsLearnable = 'topicsPerMessage' | 'topicsPerSession';

/** A WebSocket budget's answer: granted, or refused with why and how long to wait; with what the fleet has learned. */
export type WsGrant =
  | { readonly granted: true; readonly now: number; readonly learned: WsLearned }
  | { readonly granted: false; readonly now: number; readonly reason: WsDenyReason; readonly waitMs: number; readonly learned: WsLearned };

/** What renewing this process's session leases found: the sessions lost, and what the fleet has learned. */
export interface WsRenewal {
  readonly lost: string[];
  readonly learned: WsLearned;
}

/** What a WebSocket refusal does to the shared budget: a session cap, or a shared backoff. */
export type WsPenalty =
  /**
   * 509 "exceed max session count limitation of N": `sessionId`'s lease goes; N (when given) holds for
   * `learnForMs`; the fleet may hold no more sessions than it holds now, one more every `pauseMs` (0: no cap).
   */
  | {
      readonly kind: 'sessions';
      readonly sessionId: string;
      readonly learnedLimit: number | undefined;
      readonly learnForMs: number;
      readonly pauseMs: number;
    }
  /** 509 busy and the like: a shared exponential backoff, one step per round (not per process that saw it). */
  | { readonly kind: 'busy'; readonly baseMs: number; readonly maxMs: number; readonly jitter: number; readonly resetAfterMs: number; readonly random: number };

/** What a WebSocket penalty left in force: the pause end (store clock). */
export interface WsPenaltyResult {
  readonly pausedUntil: number;
  readonly now: number;
}

/** A WebSocket budget as the store sees it now: sessions, recent connects, pause, learned limits. */
export interface WsBudgetState {
  readonly now: number;
  /** Live leases (sessions held, by every process). */
  readonly sessions: number;
  /** Connects in the last `connectSpanMs`. */
  readonly connects: number;
  readonly pausedUntil: number;
  /** The session limit in force: the configured one, or lower (learned from the server, or the cap after a 509). */
  readonly sessionLimit: number;
  readonly backoffLevel: number;
  readonly learned: WsLearned;
}
