import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import type { Senders } from './senders.js';
import type { BucketConfig } from './types.js';

/**
 * A bucket's state and what follows from it alone: the log, the limits in force, the transit margin, when an entry
 * stops counting. The bucket algorithm is split by concern into one TypeScript file per Lua twin (test/storeSuite.ts
 * and test/storeDifferential.test.ts hold each pair to one behaviour):
 *
 *   state.ts    redis/lib/state.lua     the fields, the log, margins, expiry, limits, persistence
 *   settle.ts   redis/lib/settle.lua    a reply's request stops counting when the window it landed in ends
 *   senders.ts  redis/lib/senders.lua   what waits above a tier, fair shares between bots
 *   reserve.ts  redis/lib/reserve.lua   the room a tier leaves to the tiers above it
 *   admit.ts    redis/lib/admit.lua     bringing a bucket to now, the wait for a request, charging it
 *   observe.ts  redis/lib/observe.lua   what a reply's headers teach: limit, window phase, hidden weight
 *   penalize.ts redis/lib/penalize.lua  pauses, backoff, the tightening factor, resume
 *
 * A bucket combines a window log (no span of `windowMs + margin` of admission time holds more than the limit, so
 * no server window can, wherever it starts; once replies place the server window's end, weight surely charged to
 * it stops counting at that end), hidden weight (what the server charged that the log does not explain), a token
 * bucket for pacing, a priority reserve, a pause and a tightening factor, and the limit learned from headers.
 */
export interface BucketData extends BucketFields {
  /**
   * Entries [admittedAt, weight, settled], oldest first. Entries in one granule are merged (latest time kept).
   * `settled` (absent = 0) is the part of the weight a settle took over: it leaves with its group in `settles`,
   * the rest leaves with the entry.
   */
  log: LogEntry[];
  head: number;
  /**
   * Settled weight waiting for its server window's end: [end, weight], earliest first, one group per granule of
   * `end` (rounded up). `used` is the unsettled weight of the entries plus these groups.
   */
  settles: [number, number][];
  /** The bots that acquire the bucket: what waits above each tier, and fair shares within it (senders.ts). */
  senders: Senders;
}

export type LogEntry = [at: number, weight: number, settled?: number];

/** The weight of an entry that leaves with the entry itself (what no settle took over). */
export const unsettled = (e: LogEntry): number => e[1] - (e[2] ?? 0);

/**
 * The bucket's scalar state: the fields of its Redis hash (`STATE_FIELDS` in redis/scriptLayout.ts lists
 * the same names, and the Lua scripts read and write them under these names).
 */
export interface BucketFields {
  /** Weight of the live log entries. */
  used: number;
  tokens: number;
  tokensAt: number;
  pausedUntil: number;
  factor: number;
  /** Limit learned from headers; 0 = none. */
  learnedLimit: number;
  /** A raise offered by one reply, waiting for a later one to confirm it (0 = none), and that reply's sentAt. */
  pendingLimit: number;
  pendingAt: number;
  /** Bounds of the latest known server window end; 0 = unknown. */
  wlo: number;
  whi: number;
  /** Admission time of the newest observation applied. */
  observedAt: number;
  hidden: number;
  hiddenUntil: number;
  /** End of the window the factor was last tightened for: tighten at most once per window. */
  tightenedUntil: number;
  backoffLevel: number;
  backoffAt: number;
  /** Until then phase alignment is off: replies showed two server windows behind this identity. */
  conflictUntil: number;
  /**
   * Demand of the tiers that may hold a reserve (critical, high, normal): weight admitted in the demand
   * period that began at `demandFrom` (a multiple of windowMs), and in the period before it.
   */
  demandFrom: number;
  demand0: number;
  demand1: number;
  demand2: number;
  prior0: number;
  prior1: number;
  prior2: number;
  /**
   * The transit spread measured from replies (see BucketConfig.measureMargin): the least `sentAt + reset` seen
   * in the current server window (the most is `wlo`), the largest spread `wlo - spreadLo` seen in this window
   * and in the last one, and how many replies measured each. A wider spread raises the margin at once; a
   * narrower one lowers it only once a whole server window went by without the wider one.
   */
  spreadLo: number;
  spreadNow: number;
  spreadLast: number;
  samplesNow: number;
  samplesLast: number;
  /**
   * Hidden weight (a web UI on the same UID) by the newest reply of the current server window, and by the last
   * reply of the window before. The newest, not the most: a reply whose granule merged weight admitted just
   * before it counts that weight twice (in L - R and as in flight), a spike the next reply corrects; kept as the
   * most, a burst at a window's start held its spike as a hidden consumer's room for the whole next window.
   */
  hiddenNow: number;
  hiddenLast: number;
  /**
   * Bounds of the server window before the known one (0 = none): weight surely charged to it still stops
   * counting at its end when a reply of the next window came before that end.
   */
  prevWlo: number;
  prevWhi: number;
  /** The earliest end of a settled group (0 = none): `settles[0]`'s, kept as a field so the check is cheap. */
  settleNext: number;
  /**
   * Bursts of critical weight (cancels on a risk event): what was admitted in the span of K.burstSpanMs that began at
   * `burstFrom`, and the largest such span seen lately (halving each window since `burstAt`). Where no server window
   * is known, room for critical must cover its bursts (see reserveShare).
   */
  burstFrom: number;
  burstNow: number;
  burstPeak: number;
  burstAt: number;
  /** Store time of the bucket's first admission (0: none yet): its first window is a cold start (see coldReserve). */
  createdAt: number;
  /**
   * Store time hidden weight was last reckoned from a reply (0: never in this window). Reckoning reads the whole
   * log, so while no hidden weight is seen it is done at most every K.hiddenEveryMs (see observe).
   */
  hiddenAt: number;
}

/** The tiers whose demand is measured (the lowest, low, holds no reserve for anyone below it). */
export const DEMAND_TIERS = 3;
type DemandField = 'demand0' | 'demand1' | 'demand2';
type PriorField = 'prior0' | 'prior1' | 'prior2';
export const demandField = (tier: number): DemandField => `demand${tier}` as DemandField;
export const priorField = (tier: number): PriorField => `prior${tier}` as PriorField;

export function newBucketData(config: BucketConfig, now: number): BucketData {
  return {
    log: [],
    head: 0,
    used: 0,
    tokens: config.burst,
    tokensAt: now,
    pausedUntil: 0,
    factor: 1,
    learnedLimit: 0,
    pendingLimit: 0,
    pendingAt: 0,
    wlo: 0,
    whi: 0,
    observedAt: 0,
    hidden: 0,
    hiddenUntil: 0,
    tightenedUntil: 0,
    backoffLevel: 0,
    backoffAt: 0,
    conflictUntil: 0,
    demandFrom: 0,
    demand0: 0,
    demand1: 0,
    demand2: 0,
    prior0: 0,
    prior1: 0,
    prior2: 0,
    spreadLo: 0,
    spreadNow: 0,
    spreadLast: 0,
    samplesNow: 0,
    samplesLast: 0,
    hiddenNow: 0,
    hiddenLast: 0,
    prevWlo: 0,
    prevWhi: 0,
    settleNext: 0,
    burstFrom: 0,
    burstNow: 0,
    burstPeak: 0,
    burstAt: 0,
    createdAt: 0,
    hiddenAt: 0,
    settles: [],
    senders: new Map(),
  };
}

/** Entries admitted within one granule are merged into one; this bounds the log's length. */
export function granuleMs(windowMs: number): number {
  return Math.max(1, Math.min(K.granuleMaxMs, Math.floor(windowMs / K.granuleDivisor)));
}

/** The configured span (windowMs + marginMs): a measured margin starts from it. */
export function spanMs(config: BucketConfig): number {
  return config.windowMs + config.marginMs;
}

/**
 * The longest an entry may ever count: windowMs + the configured margin, or + the largest measured margin when
 * the margin is measured (a measured margin may grow past the configured one).
 */
export function longestSpanMs(config: BucketConfig): number {
  return config.windowMs + (config.measureMargin ? Math.max(config.marginMs, K.marginMaxMs) : config.marginMs);
}

/**
 * The transit margin in force: the configured one, or (measureMargin) the one measured from replies once
 * K.marginMinSamples replies measured it: 2 x the spread + 10 ms, within [100, 2000] ms.
 */
export function marginOf(data: BucketFields, config: BucketConfig): number {
  if (!config.measureMargin || data.samplesNow + data.samplesLast < K.marginMinSamples) return config.marginMs;
  const spread = Math.max(data.spreadNow, data.spreadLast);
  return Math.min(K.marginMaxMs, Math.max(K.marginMinMs, K.marginSpreadFactor * spread + K.marginPadMs));
}

/** windowMs + the margin in force: no span of admission time this long holds more than the limit. */
export function liveSpanMs(data: BucketFields, config: BucketConfig): number {
  return config.windowMs + marginOf(data, config);
}

/** Whether the known server window may shorten how long entries count (see BucketConfig.alignPhase). */
export function phaseAligned(data: BucketFields, config: BucketConfig, now: number): boolean {
  return config.alignPhase !== false && data.conflictUntil <= now && data.whi > 0;
}

/** When an entry admitted at `at` stops counting, as seen at `now`. */
export function entryExpiry(data: BucketFields, config: BucketConfig, at: number, now: number): number {
  const margin = marginOf(data, config);
  const slide = at + config.windowMs + margin;
  if (!phaseAligned(data, config, now) || at + margin > data.wlo) return slide;
  // surely charged to the window before the known one (its replies came before its end): that window's end
  if (data.prevWhi > 0 && at + margin < data.prevWlo) return Math.min(slide, data.prevWhi);
  return Math.min(slide, data.whi);
}

/** The limit in force before the factor: learned from headers when known, else configured. */
export function baseLimit(config: BucketConfig, data: BucketFields): number {
  return data.learnedLimit > 0 ? data.learnedLimit : config.limit;
}

export function effectiveLimit(config: BucketConfig, data: BucketFields): number {
  return Math.floor(baseLimit(config, data) * data.factor);
}

/** Pacing scales with the learned limit, so a VIP3 account's burst and refill grow with its quota. */
export function pacingScale(config: BucketConfig, data: BucketFields): number {
  return (baseLimit(config, data) / config.limit) * data.factor;
}

/**
 * Token capacity now (burst scaled with the limit in force and the factor). Tokens lie in [-capacity, capacity]:
 * below 0 only after critical overdrew them (see tierRoom).
 */
export function tokenCapacity(config: BucketConfig, data: BucketFields): number {
  return config.burst * pacingScale(config, data);
}

/** Until when the bucket's state is worth keeping when nothing touches it (the Redis keys' expiry). */
export function keepUntil(data: BucketFields, config: BucketConfig, now: number): number {
  const later = Math.max(data.pausedUntil, data.hiddenUntil, data.whi, data.tightenedUntil, data.conflictUntil);
  return now + liveSpanMs(data, config) + K.idleSlackMs + Math.max(0, later - now);
}
