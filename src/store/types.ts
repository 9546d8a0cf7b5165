import type { Sender } from './senders.js';

/** Priority tiers, most urgent first. */
export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
/** A request's priority, best first: `critical` (cancels), `high`, `normal`, `low`. */
export type Priority = (typeof PRIORITIES)[number];

/**
 * One bucket's configuration, sent with every acquisition (the store keeps only state, so a config change
 * takes effect on the next request of any process that has it).
 */
export interface BucketConfig {
  /**
   * The quota group: buckets of one group can be acquired together atomically (in Redis they share one
   * hash tag, so one Cluster slot). Default: the account's UID.
   */
  readonly group: string;
  /** Unique within the group, e.g. `uid:123:Spot`, `ip:default:Public`, `ip:default:cloudflare`. */
  readonly id: string;
  /** Weight the server admits per window (before the tightening factor). */
  readonly limit: number;
  readonly windowMs: number;
  /**
   * Guard for transit-time spread (dmax - dmin): every span of `windowMs + marginMs` in admission time
   * holds at most the limit, so no server window can exceed it wherever it starts.
   */
  readonly marginMs: number;
  /**
   * Measure the margin instead of trusting `marginMs`: the spread of admission-to-arrival delays (dmax - dmin),
   * read from replies (each reply's `sentAt + reset` is the window's end minus that request's delay, so
   * their spread within one server window is the delays' spread). `marginMs` then only holds until enough
   * replies measured it. @default false
   */
  readonly measureMargin?: boolean;
  /** Token-bucket capacity for pacing, in weight; 0 disables pacing. */
  readonly burst: number;
  /** Token refill rate, in weight per millisecond. */
  readonly refillPerMs: number;
  /**
   * Whether reply headers may place the server window's end (phase alignment). False for an identity that
   * may stand for several egress IPs (the default `ip`), whose replies describe several server windows:
   * every span of `windowMs + marginMs` then holds the limit, whatever the phase. @default true
   */
  readonly alignPhase?: boolean;
  /**
   * A pool that carries cancels (the account's pools, the egress IP's request limit): in its first window, before
   * any critical request was seen to size a reserve from, the tiers below critical leave it coldReserveShare of the
   * limit (reserve.ts's coldReserve). False for a pool of market data only (Public). @default false
   */
  readonly coldStart?: boolean;
}

/** One bucket a request needs, and what it costs there. */
export interface BucketCharge {
  readonly bucket: BucketConfig;
  /** Weight charged to this bucket; 0 is allowed (charged nothing, still subject to pauses). */
  readonly weight: number;
}

/** What a lane asks of a store: charge every bucket of the request (up to `count` alike), or say how long to wait. */
export interface AcquireRequest {
  readonly charges: readonly BucketCharge[];
  /**
   * Fraction (0..1] of each bucket this request's tier may fill at most; 1 for critical. With `tier`, this is
   * the floor of a reserve that is used or released (see `tier`); without it, a fixed share.
   */
  readonly share: number;
  /**
   * The request's tier, 0 (critical) to 3 (low). When given, its weight counts in the bucket's demand measure
   * (kept in the store, shared by every process), and the reserve it must leave to the tiers above is sized
   * from their demand: reserveHeadroom x their weight in the last window x the part of the known server
   * window still ahead, at most (1 - share) x limit. So a tier nobody above uses leaves no reserve, and the
   * reserve is released as the server window's end comes. @default none: the fixed share
   */
  readonly tier?: number;
  /**
   * Up to this many identical requests, admitted in order in one call, each all-or-nothing; stops at the
   * first that does not fit. @default 1
   */
  readonly count?: number;
  /**
   * The bot the requests are for (see senders.ts), with `tier`: when refused, their weight waits above the lower
   * tiers of every sender (it goes first, fleet-wide); within the tiers high, normal and low, each sender gets
   * at least its weighted share of what the waiting senders are admitted. @default none
   */
  readonly sender?: Sender;
}

/** What one response's `gw-ratelimit-*` headers said about the bucket of its pool. */
export interface Observation {
  /** Store time (ms) the request was admitted at: `AcquireResult.now` of its acquisition. */
  readonly sentAt: number;
  /** `gw-ratelimit-limit`; -1 when missing. */
  readonly limit: number;
  /** `gw-ratelimit-remaining`; -1 when missing. */
  readonly remaining: number;
  /** `gw-ratelimit-reset` in ms (relative); -1 when missing. */
  readonly resetMs: number;
  /** Factor regained when a new window begins after a clean one (no penalty). @default 0.1 */
  readonly recoverStep?: number;
  /**
   * The weight this request charged the bucket, given once per request (its first reply): the reply's reset says
   * which server window it landed in, so it stops counting when that window ends (see `settle` in
   * settle.ts). Only for a request this store admitted at `sentAt`. @default 0 (nothing settled)
   */
  readonly weight?: number;
  /**
   * Bounds a `gw-ratelimit-limit` must fall within to be learned: KuCoin's VIP table for the pool, widened
   * to include the configured limit. A value outside is refused; a raise above the limit in force is
   * learned only when a second, later reply confirms the same value.
   */
  readonly minLimit: number;
  readonly maxLimit: number;
}

/** What one observation did to its bucket. */
export interface ObserveResult {
  /** False when the reply was older than knowledge already applied (it then changed nothing). */
  readonly applied: boolean;
  /**
   * What became of `gw-ratelimit-limit`: `none` (absent or garbage), `same` (already in force), `learned`
   * (in force now), `pending` (a raise waiting for a second consistent reply), `refused` (out of bounds).
   */
  readonly limit: 'none' | 'same' | 'learned' | 'pending' | 'refused';
  /** The limit in force after this reply (learned, else configured). */
  readonly limitInForce: number;
  /**
   * True when this reply contradicted the server window already known (a later request placing the
   * window's end before it, or bounds that no longer intersect): two server windows behind one identity.
   * Phase alignment is then off for this bucket for a while (conservative).
   */
  readonly phaseConflict: boolean;
  /**
   * Weight that stopped counting because of this reply (its request settled in a window that is over, or less
   * hidden weight than thought): requests waiting on the bucket may fit now. 0 when none.
   */
  readonly freed: number;
}

/** What the feedback layer does to a bucket when the gateway pushes back. All parts optional. */
export interface Penalty {
  /** Pause for this long from the store's now; a longer pause already set is kept. */
  readonly pauseMs?: number;
  /** Count the bucket as full until the pause ends. */
  readonly spent?: boolean;
  /** Multiply the factor by `by`, at most once per server window (the pause's end), never below `min`. */
  readonly tighten?: { readonly by: number; readonly min: number };
  /**
   * Shared exponential backoff: pause min(maxMs, baseMs x 2^level) x (1 - jitter/2 + jitter x random);
   * the level grows with each penalty that comes after the previous backoff ended (replies landing during a
   * backoff were sent before it) and starts over after `resetAfterMs` without one.
   */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number; readonly jitter: number; readonly random: number; readonly resetAfterMs: number };
}

/** What a penalty left in force: the pause end and factor (store clock), and whether this one tightened the factor. */
export interface PenaltyResult {
  readonly pausedUntil: number;
  readonly factor: number;
  /** True when this penalty tightened the factor (false: already tightened for this window). */
  readonly tightened: boolean;
  readonly now: number;
}

/** Why a bucket refused. `fairShare`: another bot of the tier, below its weighted share, is about to ask. */
export type DenyReason = 'paused' | 'window' | 'pacing' | 'fairShare';

/** A store's answer to `acquire`: admitted (and how many), or refused with why and how long to wait. */
export type AcquireResult =
  | {
      readonly admitted: true;
      readonly now: number;
      /** How many of the `count` requests were admitted (the first ones); at least 1. */
      readonly count: number;
      /** Per charge, the weight the store counts in that bucket now (used + hidden), when it reports it. */
      readonly counted?: readonly number[];
    }
  | {
      readonly admitted: false;
      readonly now: number;
      /** Milliseconds until every bucket would admit the request, as far as the store can tell now. */
      readonly waitMs: number;
      /** The bucket that needs the longest wait. */
      readonly bucketId: string;
      readonly reason: DenyReason;
    };

/** What a store knows about one bucket now. */
export interface BucketState {
  readonly id: string;
  /** Weight admitted within the current span (`windowMs + marginMs`) back from now. */
  readonly used: number;
  readonly limit: number;
  /** `floor(limit x factor)`: what is admitted now (limit learned from headers when known). */
  readonly effectiveLimit: number;
  readonly factor: number;
  /** Tokens in the pacing bucket (equal to `burst` when pacing is off). */
  readonly tokens: number;
  /** Epoch ms before which nothing is admitted; 0 when not paused. */
  readonly pausedUntil: number;
  /** Weight the server had charged that this scheduler did not send (reconciled from headers). */
  readonly hidden: number;
  /** Latest known bounds of the server window's end (epoch ms, store clock); 0 when unknown. */
  readonly windowEndLow: number;
  readonly windowEndHigh: number;
  /** Store time the state was read at (epoch ms). */
  readonly now: number;
}

/** Where bucket state lives: in this process (`MemoryStore`) or shared by processes (`RedisStore`). */
export interface Store {
  /** All-or-nothing: every bucket admits and is charged, or none is charged and the wait is returned. */
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /** Nothing is admitted on the bucket before `untilMs` (epoch ms). A longer pause is never shortened. */
  pause(bucket: BucketConfig, untilMs: number): Promise<void>;
  /** Effective limit = floor(limit x factor), factor in (0, 1]. */
  setFactor(bucket: BucketConfig, factor: number): Promise<void>;
  /** Applies a response's rate-limit headers: learned limit, window phase, hidden weight. */
  observe(bucket: BucketConfig, observation: Observation): Promise<ObserveResult>;
  /**
   * Gives back what `count` admissions of `request` charged at store time `at` (their `AcquireResult.now`):
   * they were rejected before being sent (aborted or timed out while the store answered). Weight that no
   * longer counts is not given back twice.
   */
  release(request: AcquireRequest, count: number, at: number): Promise<void>;
  /**
   * Clears the bucket's pause, its spent marking, its backoff level and its tightening (factor back to 1), for
   * every process (an operator's override).
   */
  resume(bucket: BucketConfig): Promise<void>;
  /** Applies the feedback layer's reaction to a rate-limit signal, for every process at once. */
  penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult>;
  inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]>;
  close(): Promise<void>;
}
