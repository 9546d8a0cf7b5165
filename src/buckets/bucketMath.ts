import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import { waitingAbove, type Senders } from './senders.js';
import type { BucketConfig, DenyReason, Observation, ObserveResult, Penalty, PenaltyResult } from './types.js';

/**
 * The bucket algorithm in TypeScript, used by MemoryStore. `redis/bucket.lua` is the same algorithm in
 * Lua, with the same names; the shared store suite (test/storeSuite.ts) and the differential test
 * (test/storeDifferential.test.ts) hold both to one behaviour.
 *
 * A bucket combines
 *  - a window log: (time, weight) entries; an entry counts for `windowMs + marginMs` after it was admitted,
 *    so no server window can hold more than the limit wherever it starts (phase unknown). Once response
 *    headers have placed the server window's end in [wlo, whi], entries admitted before `wlo - marginMs`
 *    (surely charged to that window) stop counting at `whi` (phase known), unless the bucket's identity may
 *    stand for several server windows (`alignPhase: false`, or replies that contradicted each other lately);
 *  - hidden weight: what the server had charged that this bucket's entries do not explain (a web UI on the
 *    same UID), counted until the window's end;
 *  - a token bucket for pacing: `burst` capacity, refilled at `refillPerMs`;
 *  - a priority reserve that is used or released: a request of tier t may fill the bucket (and its tokens)
 *    only up to `limit - reserve`, where reserve = min(max(1 - share, 0.5) x limit, (reserveHeadroom x demand
 *    of the tiers above t in the last window + a hidden consumer's) x the part of the known server window
 *    still ahead). The demand is measured here, in the store (weight admitted per tier, this period and the
 *    last), so it holds across processes; a tier nobody above uses leaves no reserve, and the reserve falls to 0 as the server window's
 *    end comes (use it or lose it). The reserve never raises the limit: every tier's cap is <= the limit, so
 *    the window log's guarantee holds whatever it is (see `reserveShare`);
 *  - a pause (nothing admitted before `pausedUntil`) and a tightening factor;
 *  - the limit learned from `gw-ratelimit-limit` within the pool's bounds, which replaces the configured one
 *    (a raise only once a second, later reply confirms it);
 *  - settled requests: a reply places its request in a server window that ends by `now + reset`; a request the
 *    log would count past that end (admitted within the margin of a window's end, or any request while the phase
 *    is not known) stops counting at that end, so the next window does not pay for it (see `settle`).
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
const unsettled = (e: LogEntry): number => e[1] - (e[2] ?? 0);

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

/** Where a reply's server window lies against the known one (see placeWindow). */
type WindowPlacement = 'current' | 'older' | 'conflict' | 'unplaced';

/** The tiers whose demand is measured (the lowest, low, holds no reserve for anyone below it). */
const DEMAND_TIERS = 3;
type DemandField = 'demand0' | 'demand1' | 'demand2';
type PriorField = 'prior0' | 'prior1' | 'prior2';
const demandField = (tier: number): DemandField => `demand${tier}` as DemandField;
const priorField = (tier: number): PriorField => `prior${tier}` as PriorField;

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
function pacingScale(config: BucketConfig, data: BucketFields): number {
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

/**
 * The index of the log entry that holds the admissions of `at`'s granule, or -1 when none counts any more (the
 * log is in time order, one entry per granule: a binary search).
 */
function entryOf(data: BucketData, config: BucketConfig, at: number): number {
  const g = granuleMs(config.windowMs);
  const target = Math.floor(at / g);
  let lo = data.head;
  let hi = data.log.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const granule = Math.floor(data.log[mid]![0] / g);
    if (granule === target) return mid;
    if (granule < target) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * A reply says where its request landed: in a server window that ends by `end` (`now + reset`: the reply left the
 * server before that window ended). A request the log would count past `end` (one admitted within the margin of a
 * window's end may have landed in either window, so the log counts it into the next; without a known phase every
 * entry counts a whole span) stops counting at `end`: at once when that is now, else when `end` comes (its weight
 * moves from its entry to the group of `end` in `settles`, at most K.maxSettles groups; past that the log counts it
 * longer, the safe side). Sound whatever the phase: a request charged to one server window is never charged to a
 * later one. Call once per request (`weight` is its charge in this bucket), with `end` from a usable reset.
 */
export function settle(data: BucketData, config: BucketConfig, sentAt: number, weight: number, end: number, now: number): void {
  if (!(weight > 0)) return;
  const i = entryOf(data, config, sentAt);
  if (i < 0) return;
  const entry = data.log[i]!;
  if (entryExpiry(data, config, entry[0], now) <= end) return;
  const take = Math.min(unsettled(entry), weight);
  if (!(take > 0)) return;
  if (end <= now) {
    entry[1] -= take;
    data.used = Math.max(0, data.used - take);
    return;
  }
  const g = granuleMs(config.windowMs);
  const at = Math.ceil(end / g) * g; // a group per granule, rounded up: a little later, the safe side
  let j = data.settles.length;
  while (j > 0 && data.settles[j - 1]![0] > at) j--;
  if (j > 0 && data.settles[j - 1]![0] === at) data.settles[j - 1]![1] += take;
  else if (data.settles.length < K.maxSettles) data.settles.splice(j, 0, [at, take]);
  else return;
  entry[2] = (entry[2] ?? 0) + take;
  data.settleNext = data.settles[0]![0];
}

/** Settled weight whose window has ended stops counting (see `settle`). */
function applySettles(data: BucketData, now: number): void {
  if (data.settleNext === 0 || data.settleNext > now) return;
  while (data.settles.length > 0 && data.settles[0]![0] <= now) data.used = Math.max(0, data.used - data.settles.shift()![1]);
  data.settleNext = data.settles[0]?.[0] ?? 0;
}

/** Drops entries that no longer count, ends hidden weight past its window, and refills tokens up to `now`. */
export function advance(data: BucketData, config: BucketConfig, now: number): void {
  while (data.head < data.log.length && entryExpiry(data, config, data.log[data.head]![0], now) <= now) {
    data.used -= unsettled(data.log[data.head]!);
    data.head++;
  }
  applySettles(data, now);
  if (data.head > 64 && data.head * 2 > data.log.length) {
    data.log = data.log.slice(data.head);
    data.head = 0;
  }
  if (data.head === data.log.length && data.settles.length === 0) data.used = 0; // no drift from float sums
  if (data.hidden > 0 && data.hiddenUntil <= now) data.hidden = 0;
  rollDemand(data, config, now);
  if (now > data.tokensAt) {
    const scale = pacingScale(config, data);
    data.tokens = Math.min(config.burst * scale, data.tokens + (now - data.tokensAt) * config.refillPerMs * scale);
    data.tokensAt = now;
  }
}

/** Starts a new demand period when `now` left the current one: this period becomes the prior (or both clear). */
function rollDemand(data: BucketFields, config: BucketConfig, now: number): void {
  const from = Math.floor(now / config.windowMs) * config.windowMs;
  if (from <= data.demandFrom) return;
  const next = from === data.demandFrom + config.windowMs;
  for (let t = 0; t < DEMAND_TIERS; t++) {
    data[priorField(t)] = next ? data[demandField(t)] : 0;
    data[demandField(t)] = 0;
  }
  data.demandFrom = from;
}

/**
 * Weight per window the tiers above `tier` are using: this period's, plus the last period's scaled by the part
 * of it that is still within one window of now (a sliding estimate).
 */
export function demandAbove(data: BucketFields, config: BucketConfig, tier: number, now: number): number {
  const fade = Math.max(0, 1 - (now - data.demandFrom) / config.windowMs);
  let sum = 0;
  for (let t = 0; t < Math.min(tier, DEMAND_TIERS); t++) sum += data[demandField(t)] + data[priorField(t)] * fade;
  return sum;
}

/**
 * Weight per window a hidden consumer (a web UI on the same UID) is expected to spend: what it spent in the last
 * server window, or, when more, its spending so far in this one over the part of the window gone (at least
 * hiddenMinElapsed of it), so a consumer first seen in this window is given room at once, not a window later.
 * `left` is windowLeft.
 */
function hiddenPerWindow(data: BucketFields, left: number): number {
  if (left >= 1 || data.hiddenNow <= 0) return data.hiddenLast;
  return Math.max(data.hiddenLast, data.hiddenNow / Math.max(K.hiddenMinElapsed, 1 - left));
}

/**
 * The reserve a whole window ahead would need: reserveHeadroom x the demand above the tier, plus what a hidden
 * consumer spends per window, `hidden` (it will spend again in this one, and our own weight must not take its
 * room, or the next request gets a 429000).
 */
function reservePerWindow(data: BucketFields, config: BucketConfig, tier: number, now: number, hidden: number): number {
  return K.reserveHeadroom * demandAbove(data, config, tier, now) + hidden;
}

/** The part of a window still ahead of the known server window's end (1 when the phase is not known). */
function windowLeft(data: BucketFields, config: BucketConfig, now: number): number {
  if (!phaseAligned(data, config, now) || data.whi <= now) return 1;
  return Math.min(1, (data.whi - now) / config.windowMs);
}

/**
 * The share of the bucket a request of `tier` may fill now: 1 - reserve / limit, where the reserve is
 * (reserveHeadroom x the demand above the tier + a hidden consumer's weight per window) x windowLeft (+ a
 * slack for hidden weight not reconciled yet), at most max(1 - share, reserveMaxShare) x limit. Without a tier (a
 * caller of the Store interface that does not say), the fixed share. The result is always in [share, 1], so
 * the cap it gives is <= the limit: the reserve only decides which tier may use the limit, never how much
 * of it is used in a span, and the window log's guarantee is untouched by it.
 */
export function reserveShare(data: BucketFields, config: BucketConfig, share: number, tier: number | undefined, now: number): number {
  if (tier === undefined || tier < 0 || share >= 1) return share;
  const limit = effectiveLimit(config, data);
  if (limit <= 0) return share;
  const left = windowLeft(data, config, now);
  const hidden = hiddenPerWindow(data, left);
  const cold = coldReserve(data, config, now);
  if (left < 1) {
    // a known window: headroom over the demand above, released as the window's end comes
    const ahead = Math.max(reservePerWindow(data, config, tier, now, hidden), cold * limit) * left + hiddenSlack(data, config, hidden, now);
    return 1 - Math.min(Math.max(1 - share, K.reserveMaxShare, cold) * limit, ahead) / limit;
  }
  // no window known: nothing releases a reserve, but the log frees room as its entries expire, so what critical
  // needs held for it is room for a burst (twice the largest seen); the rest, headroom over the demand, within 1 - share
  const burst = (K.reserveHeadroom * criticalBurst(data, config, now)) / limit;
  const bound = Math.max(1 - share, Math.min(K.reserveMaxShare, burst), cold);
  const ahead = Math.max(reservePerWindow(data, config, tier, now, hidden), cold * limit, burst * limit) + hiddenSlack(data, config, hidden, now);
  return 1 - Math.min(bound * limit, ahead) / limit;
}

/**
 * Room for what a hidden consumer spent since the newest reply's request reached the server (a reply tells its count
 * as of that request's arrival): twice its rate over that age, at most K.hiddenSlack of what it spends per window.
 */
function hiddenSlack(data: BucketFields, config: BucketConfig, hidden: number, now: number): number {
  if (hidden <= 0) return 0;
  const age = Math.max(0, now - data.observedAt) / config.windowMs;
  return hidden * Math.min(K.hiddenSlack, 2 * age);
}

/** Counts critical weight admitted now in the current burst span (a new span keeps the largest so far as the peak). */
function countBurst(data: BucketFields, config: BucketConfig, weight: number, now: number): void {
  if (now >= data.burstFrom + K.burstSpanMs) {
    data.burstPeak = criticalBurst(data, config, now);
    data.burstAt = now;
    data.burstFrom = now;
    data.burstNow = 0;
  }
  data.burstNow += weight;
}

/** The largest critical burst seen lately, each halved once per window since it was seen (the current span's as it is). */
function criticalBurst(data: BucketFields, config: BucketConfig, now: number): number {
  const fade = (since: number): number => 0.5 ** (Math.max(0, now - since) / config.windowMs);
  const current = now < data.burstFrom + K.burstSpanMs ? data.burstNow : data.burstNow * fade(data.burstFrom);
  return Math.max(data.burstPeak * fade(data.burstAt), current);
}

/**
 * The share of the limit held for critical while a bucket that carries cancels (BucketConfig.coldStart) is in its
 * first window: before any cancel was seen, the
 * demand above is unknown, and lower tiers would fill the window (a sliding one never frees anything before its
 * first window has passed). After that, the measured demand sizes the reserve. 0 after the first window.
 */
function coldReserve(data: BucketFields, config: BucketConfig, now: number): number {
  return config.coldStart === true && (data.createdAt === 0 || now < data.createdAt + config.windowMs) ? K.coldReserveShare : 0;
}

/**
 * Milliseconds until the reserve above `tier` has shrunk enough (the server window's end coming) for
 * `counted + weight` to fit; Infinity when it will not shrink (phase unknown, nobody above, or the bucket is
 * full whatever the reserve).
 */
function reserveWait(data: BucketFields, config: BucketConfig, counted: number, weight: number, tier: number | undefined, now: number): number {
  if (tier === undefined || tier < 0) return Number.POSITIVE_INFINITY;
  if (!phaseAligned(data, config, now) || data.whi <= now) return Number.POSITIVE_INFINITY;
  const hidden = hiddenPerWindow(data, windowLeft(data, config, now));
  const limit = effectiveLimit(config, data);
  const room = limit - counted - weight - hiddenSlack(data, config, hidden, now);
  const rate = Math.max(reservePerWindow(data, config, tier, now, hidden), coldReserve(data, config, now) * limit);
  if (room < 0 || rate <= 0) return Number.POSITIVE_INFINITY;
  // reserve(t) = rate x (whi - t) / windowMs fits `room` from t = whi - room x windowMs / rate on
  return Math.max(1, data.whi - (room * config.windowMs) / rate - now);
}

/**
 * What a tier may use now: its share of the bucket (see reserveShare) less the weight waiting in the tiers above
 * (senders.ts: it goes first), the tokens it must leave (the reserve's part of the capacity, plus that waiting
 * weight), and when the earliest of those waits ends (Infinity: none).
 */
interface TierRoom {
  readonly share: number;
  readonly floor: number;
  readonly waiting: number;
  readonly waitingUntil: number;
}

function tierRoom(data: BucketData, config: BucketConfig, share: number, tier: number | undefined, now: number): TierRoom {
  const reserved = reserveShare(data, config, share, tier, now);
  const capacity = tokenCapacity(config, data);
  // critical may overdraw the token bucket by one capacity: a burst of cancels is not paced behind what the lower
  // tiers took (the window log still holds the quota; ResilientStore's fleet-use bound counts the overdraft)
  if (tier === 0) return { share: reserved, floor: -capacity, waiting: 0, waitingUntil: Number.POSITIVE_INFINITY };
  const waiting = tier === undefined || tier <= 0 ? undefined : waitingAbove(data.senders, tier, now);
  if (!waiting || waiting.weight <= 0) return { share: reserved, floor: capacity * (1 - reserved), waiting: 0, waitingUntil: Number.POSITIVE_INFINITY };
  const limit = effectiveLimit(config, data);
  return {
    share: limit > 0 ? Math.max(0, reserved - waiting.weight / limit) : reserved,
    floor: Math.min(capacity, capacity * (1 - reserved) + waiting.weight),
    waiting: waiting.weight,
    waitingUntil: waiting.until,
  };
}

/** Tokens a request needs: its weight, capped at what its tier may ever hold (so a heavy request is not stuck). */
function tokensNeeded(config: BucketConfig, data: BucketFields, weight: number, floor: number): number {
  return Math.min(weight, Math.max(0, tokenCapacity(config, data) - floor));
}

/** Milliseconds until `excess` weight stops counting (entries and hidden weight, earliest first). */
function windowWait(data: BucketData, config: BucketConfig, excess: number, now: number): number {
  let freed = 0;
  let hiddenLeft = data.hidden > 0;
  /** Frees `weight` at `at` (hidden weight first when it ends by then); the time `excess` is freed by, if it is. */
  const free = (at: number, weight: number): number | undefined => {
    if (hiddenLeft && data.hiddenUntil <= at) {
      freed += data.hidden;
      hiddenLeft = false;
      if (freed >= excess) return data.hiddenUntil;
    }
    freed += weight;
    return freed >= excess ? at : undefined;
  };
  let s = 0; // settled groups, merged in by their end
  for (let i = data.head; i < data.log.length; i++) {
    const entry = data.log[i]!;
    const expiry = entryExpiry(data, config, entry[0], now);
    for (; s < data.settles.length && data.settles[s]![0] <= expiry; s++) {
      const t = free(data.settles[s]![0], data.settles[s]![1]);
      if (t !== undefined) return t - now;
    }
    const t = free(expiry, unsettled(entry));
    if (t !== undefined) return t - now;
  }
  for (; s < data.settles.length; s++) {
    const t = free(data.settles[s]![0], data.settles[s]![1]);
    if (t !== undefined) return t - now;
  }
  if (hiddenLeft && freed + data.hidden >= excess) return data.hiddenUntil - now;
  return liveSpanMs(data, config);
}

/** Milliseconds until this bucket admits `weight` for a tier with `share` (0 = now), and why not now. */
export function waitFor(
  data: BucketData,
  config: BucketConfig,
  weight: number,
  share: number,
  now: number,
  tier?: number,
): { waitMs: number; reason: DenyReason | undefined } {
  const room = tierRoom(data, config, share, tier, now);
  share = room.share;
  let waitMs = 0;
  let reason: DenyReason | undefined;
  if (data.pausedUntil > now) {
    waitMs = data.pausedUntil - now;
    reason = 'paused';
  }
  if (weight > 0) {
    const cap = effectiveLimit(config, data) * share + K.tokenEpsilon; // 100 x (1 - 0.8) is 19.999999999999996
    const counted = data.used + data.hidden;
    if (counted + weight > cap) {
      // a request that cannot fit under the current factor looks again after a window
      let wWait = weight > cap ? config.windowMs : windowWait(data, config, counted + weight - cap, now);
      // the reserve above this tier shrinks as the server window's end comes: it may fit before anything expires;
      // what waits above it goes first, or stops holding room when its lane does not come back
      wWait = Math.min(wWait, reserveWait(data, config, counted + room.waiting, weight, tier, now), room.waitingUntil - now);
      if (wWait > waitMs) {
        waitMs = wWait;
        reason = 'window';
      }
    }
    if (config.burst > 0) {
      const need = tokensNeeded(config, data, weight, room.floor);
      const available = data.tokens - room.floor + K.tokenEpsilon;
      if (available < need) {
        const rate = config.refillPerMs * pacingScale(config, data);
        const refill = rate > 0 ? Math.ceil((need - available) / rate) : config.windowMs;
        const pacingWait = Math.min(refill, room.waitingUntil - now);
        if (pacingWait > waitMs) {
          waitMs = pacingWait;
          reason = 'pacing';
        }
      }
    }
  }
  return { waitMs: Math.max(0, Math.ceil(waitMs)), reason };
}

/**
 * Charges an admitted request. Call only after `waitFor` returned 0 for every bucket of the request (with the
 * same `tier`); its weight counts in the demand of its tier.
 */
export function charge(data: BucketData, config: BucketConfig, weight: number, share: number, now: number, tier?: number): void {
  if (weight <= 0) return;
  const room = tierRoom(data, config, share, tier, now);
  if (tier !== undefined && tier >= 0 && tier < DEMAND_TIERS) data[demandField(tier)] += weight;
  if (tier === 0) countBurst(data, config, weight, now);
  if (data.createdAt === 0) data.createdAt = now;
  const last = data.log[data.log.length - 1];
  const g = granuleMs(config.windowMs);
  if (last && data.head < data.log.length && Math.floor(last[0] / g) === Math.floor(now / g)) {
    last[0] = Math.max(last[0], now);
    last[1] += weight;
  } else {
    data.log.push([now, weight]);
  }
  data.used += weight;
  if (config.burst > 0) data.tokens = Math.max(Math.min(0, room.floor), data.tokens - tokensNeeded(config, data, weight, room.floor));
}

/**
 * Gives back what `count` admissions of `weight` charged at `at` (see Store.release): the log entry of `at`'s
 * granule loses up to weight x count (never below 0), and the pacing tokens they took come back (up to the
 * capacity). When that entry no longer counts, nothing is given back.
 */
export function release(data: BucketData, config: BucketConfig, weight: number, share: number, count: number, at: number): void {
  if (weight <= 0 || count <= 0) return;
  const g = granuleMs(config.windowMs);
  const granule = Math.floor(at / g);
  for (let i = data.log.length - 1; i >= data.head; i--) {
    const entry = data.log[i]!;
    const eg = Math.floor(entry[0] / g);
    if (eg < granule) return;
    if (eg === granule) {
      const back = Math.min(unsettled(entry), weight * count);
      entry[1] -= back;
      data.used = Math.max(0, data.used - back);
      if (config.burst > 0) {
        const need = tokensNeeded(config, data, weight, tokenCapacity(config, data) * (1 - share));
        data.tokens = Math.min(tokenCapacity(config, data), data.tokens + need * count);
      }
      return;
    }
  }
}

/** Clears the pause, the spent marking (hidden weight), the backoff level and the tightening (see Store.resume). */
export function resume(data: BucketFields): void {
  data.factor = 1;
  data.tightenedUntil = 0;
  data.pausedUntil = 0;
  data.hidden = 0;
  data.hiddenUntil = 0;
  data.backoffLevel = 0;
  data.backoffAt = 0;
}

/** Sets the tightening factor; tokens above the new capacity are dropped. */
export function setFactor(data: BucketFields, config: BucketConfig, factor: number): void {
  data.factor = factor;
  data.tokens = Math.min(data.tokens, tokenCapacity(config, data));
}

/**
 * What a reply's `gw-ratelimit-limit` does to the limit in force: garbage or missing teaches nothing, a value
 * outside the pool's bounds is refused, a value at or below the limit in force is learned at once (that is
 * conservative), and a raise only when a second reply, sent later, offers the same value.
 */
function learnLimit(data: BucketFields, config: BucketConfig, o: Observation, sentAt: number): ObserveResult['limit'] {
  const offered = o.limit;
  if (!(offered > 0)) return 'none';
  if (Math.floor(offered) !== offered || offered < o.minLimit || offered > o.maxLimit) return 'refused';
  const inForce = baseLimit(config, data);
  if (offered <= inForce || (data.pendingLimit === offered && sentAt > data.pendingAt)) {
    data.pendingLimit = 0;
    data.pendingAt = 0;
    if (offered === inForce) return 'same';
    data.learnedLimit = offered;
    return 'learned';
  }
  if (data.pendingLimit !== offered) {
    data.pendingLimit = offered;
    data.pendingAt = sentAt;
  }
  return 'pending';
}

/** Whether a reply's reset can place a window: within [0, windowMs + span] (a larger one is garbage). */
function resetUsable(o: Observation, config: BucketConfig): boolean {
  return o.resetMs >= 0 && o.resetMs <= config.windowMs + spanMs(config);
}

/**
 * When a reply's bounds [lo, hi] of its window's end meet the known window's: narrows them, and measures the
 * transit spread (lo = the window's end - this request's transit delay); false when they do not meet.
 */
function narrowKnownWindow(data: BucketFields, lo: number, hi: number): boolean {
  if (!(data.whi > 0 && lo <= data.whi && hi >= data.wlo)) return false;
  data.wlo = Math.max(data.wlo, lo);
  data.whi = Math.min(data.whi, hi);
  data.spreadLo = Math.min(data.spreadLo, lo);
  data.spreadNow = Math.max(data.spreadNow, data.wlo - data.spreadLo);
  data.samplesNow++;
  return true;
}

/**
 * Places the server window from a reply's reset (docs/window-mirroring.md, fact 2). Returns where the reply's
 * window lies: 'current' (the known window, or a later one that becomes known), 'older' (the window before the
 * known one), 'conflict' (it contradicts the window already known: two server windows behind one identity), or
 * 'unplaced' (no usable reset).
 *
 * `[lo, hi]` bounds the end of the window the request arrived in. One sequence of server windows allows only:
 * the known window again (the bounds intersect: narrow them), a later window (it ends at least a window after
 * the known one's earliest end), or the window before the known one (a request sent later that arrived
 * earlier, across the boundary: older news, ignored). Anything else is a conflict.
 */
function placeWindow(data: BucketFields, config: BucketConfig, o: Observation, sentAt: number, now: number): WindowPlacement {
  if (!resetUsable(o, config)) return 'unplaced';
  const lo = sentAt + o.resetMs;
  const hi = now + o.resetMs;
  const w = config.windowMs;
  if (data.whi === 0) {
    data.wlo = lo;
    data.whi = hi;
    data.spreadLo = lo;
    data.samplesNow = 1;
  } else if (narrowKnownWindow(data, lo, hi)) {
    // the same window seen again
  } else if (lo > data.whi && hi >= data.wlo + w) {
    // a new window: the one before it was clean if no penalty reached into it
    if (data.factor < 1 && data.tightenedUntil < data.wlo) {
      data.factor = Math.min(1, data.factor + (o.recoverStep ?? K.defaultRecoverStep));
    }
    data.prevWlo = data.wlo;
    data.prevWhi = data.whi;
    data.wlo = lo;
    data.whi = hi;
    // a rare slow request (a retransmit, a pause) must not be forgotten a window later: the older spread fades
    data.spreadLast = Math.max(data.spreadNow, data.spreadLast * K.spreadFade);
    data.samplesLast = data.samplesNow;
    data.hiddenLast = data.hiddenNow;
    data.hiddenNow = 0;
    data.hiddenAt = 0;
    data.spreadLo = lo;
    data.spreadNow = 0;
    data.samplesNow = 1;
  } else if (lo <= data.whi - w && hi >= data.wlo - w) {
    return 'older';
  } else {
    return 'conflict';
  }
  return 'current';
}

/**
 * Applies what one response's headers say (docs/window-mirroring.md, facts 2 and 3). `now` is the store time the
 * response is applied at, so `now + reset` bounds the window end from above and `sentAt + reset` from below.
 * A response older than the newest one applied changes nothing but nothing is lost: it can only be staler.
 * The observation must be normalized (validate.ts: finite numbers, -1 for unknown).
 */
export function observe(data: BucketData, config: BucketConfig, o: Observation, now: number): ObserveResult {
  const sentAt = Math.min(o.sentAt, now); // never sent after it is applied
  const before = data.used + data.hidden;
  const freed = (): number => Math.max(0, before - data.used - data.hidden);
  // where the request landed holds whatever the order replies come back in
  if (resetUsable(o, config)) settle(data, config, sentAt, o.weight ?? 0, now + o.resetMs, now);
  if (sentAt < data.observedAt) {
    // older than what is known: its limit and remaining are stale, but its bounds of the window's end still hold,
    // and its transit delay is a sample of the spread (a slow request answered after a fast one sent later is
    // exactly the sample the margin needs; dropping it left the margin at 10 ms against a 100 ms spread)
    if (resetUsable(o, config)) narrowKnownWindow(data, sentAt + o.resetMs, now + o.resetMs);
    return { applied: false, limit: 'none', limitInForce: baseLimit(config, data), phaseConflict: false, freed: freed() };
  }
  data.observedAt = sentAt;
  const limit = learnLimit(data, config, o, sentAt);
  let phaseConflict = false;
  const placement = placeWindow(data, config, o, sentAt, now);
  if (placement === 'conflict' && config.alignPhase !== false) {
    data.conflictUntil = Math.max(data.conflictUntil, now + K.conflictWindows * config.windowMs);
    phaseConflict = true;
  }
  // L - R is the server's count in the reply's own terms: its limit when that is a plausible one
  const serverLimit = limit === 'none' || limit === 'refused' ? baseLimit(config, data) : o.limit;
  // The hidden weight counts until the end of the reply's own window. A reply of the known window that is
  // applied after that window surely ended (whi <= now), or of the window before it (sent later, arrived
  // earlier, across the boundary), counts a window that is over: held longer, its L - R would block a whole
  // window for weight already gone. Without a placed window, until a window from now (the safe side).
  const until = placement === 'unplaced' || placement === 'conflict' ? (data.whi > now ? data.whi : now + config.windowMs) : data.whi;
  // hidden weight is reckoned from every reply while there is some (a consumer beside us: precision matters),
  // else at most every K.hiddenEveryMs and from a new window's first reply (reckoning reads the whole log)
  const reckon = data.hidden > 0 || data.hiddenAt === 0 || now - data.hiddenAt >= K.hiddenEveryMs;
  if (reckon && o.remaining >= 0 && serverLimit > 0 && placement !== 'older' && until > now) {
    data.hiddenAt = now;
    let after = 0; // admitted after the observed request: possibly still in flight, not in L - R
    let lasting = 0; // our weight that keeps counting until the window ends
    for (let i = data.head; i < data.log.length; i++) {
      const entry = data.log[i]!;
      if (entry[0] > sentAt) after += entry[1];
      if (entryExpiry(data, config, entry[0], now) >= until) lasting += unsettled(entry);
    }
    // settled weight lasts when it leaves at this window's end (not a later window's: that is not in L - R)
    for (const [end, weight] of data.settles) if (end >= until && end < until + config.windowMs / 2) lasting += weight;
    const serverUsed = Math.max(0, serverLimit - o.remaining) + after;
    data.hidden = Math.max(0, serverUsed - lasting);
    data.hiddenUntil = data.hidden > 0 ? until : 0;
    data.hiddenNow = data.hidden;
  }
  return { applied: true, limit, limitInForce: baseLimit(config, data), phaseConflict, freed: freed() };
}

/** Applies a penalty (see Penalty); `now` is the store's time. */
export function penalize(data: BucketFields, config: BucketConfig, p: Penalty, now: number): PenaltyResult {
  let until = now + Math.max(0, p.pauseMs ?? 0);
  // replies to requests sent before a backoff began land while it is in force: they do not raise it again
  if (p.backoff && !(data.backoffAt > 0 && data.pausedUntil > now)) {
    const b = p.backoff;
    const level = now - data.backoffAt > b.resetAfterMs ? 0 : data.backoffLevel;
    const ms = Math.min(b.maxMs, b.baseMs * 2 ** level) * (1 - b.jitter / 2 + b.jitter * b.random);
    data.backoffLevel = Math.min(level + 1, K.maxBackoffLevel);
    data.backoffAt = now;
    until = Math.max(until, now + Math.ceil(ms));
  }
  data.pausedUntil = Math.max(data.pausedUntil, until);
  if (p.spent) {
    data.hidden = Math.max(data.hidden, effectiveLimit(config, data));
    data.hiddenUntil = Math.max(data.hiddenUntil, until);
  }
  let tightened = false;
  if (p.tighten && now >= data.tightenedUntil) {
    data.factor = Math.max(p.tighten.min, data.factor * p.tighten.by);
    data.tightenedUntil = Math.max(until, now + 1);
    tightened = true;
  }
  return { pausedUntil: data.pausedUntil, factor: data.factor, tightened, now };
}
