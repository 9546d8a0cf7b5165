import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import { waitingAbove } from './senders.js';
import { DEMAND_TIERS, demandField, effectiveLimit, phaseAligned, priorField, tokenCapacity, type BucketData, type BucketFields } from './state.js';
import type { BucketConfig } from './types.js';

/**
 * The priority reserve (twin: redis/lib/reserve.lua): the room and tokens a tier leaves to the tiers above it, sized
 * from what they were admitted lately (fleet-wide demand kept in the store), what waits for them now (senders.ts), a
 * hidden consumer's spending, critical's bursts and a cold start, and released as a known server window's end comes.
 */

/** Starts a new demand period when `now` left the current one: this period becomes the prior (or both clear). */
export function rollDemand(data: BucketFields, config: BucketConfig, now: number): void {
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
 * Weight per window the tiers in [from, tier) are using: this period's, plus the last period's scaled by the part
 * of it that is still within one window of now (a sliding estimate).
 */
export function demandAbove(data: BucketFields, config: BucketConfig, tier: number, now: number, from = 0): number {
  const fade = Math.max(0, 1 - (now - data.demandFrom) / config.windowMs);
  let sum = 0;
  for (let t = from; t < Math.min(tier, DEMAND_TIERS); t++) sum += data[demandField(t)] + data[priorField(t)] * fade;
  return sum;
}

/**
 * Weight per window a hidden consumer (a web UI on the same UID) is expected to spend: what it spent in the last
 * server window, or, when more, its spending so far in this one over the part of the window gone (at least
 * hiddenMinElapsed of it), so a consumer first seen in this window is given room at once, not a window later.
 * `left` is windowLeft.
 */
export function hiddenPerWindow(data: BucketFields, left: number): number {
  if (left >= 1 || data.hiddenNow <= 0) return data.hiddenLast;
  return Math.max(data.hiddenLast, data.hiddenNow / Math.max(K.hiddenMinElapsed, 1 - left));
}

/**
 * The reserve a whole window ahead would need, in two parts released at different times (see windowLeft):
 * `late`, for critical (reserveHeadroom x its demand) and a hidden consumer (what it spends per window, `hidden`:
 * it will spend again in this one, and our own weight must not take its room, or the next request gets a 429000),
 * at least the cold start's share; and `early`, reserveHeadroom x the demand of the tiers between critical and
 * `tier` (high, for normal and low), part of `late` beside a hidden consumer.
 */
export function reservePerWindow(data: BucketFields, config: BucketConfig, tier: number, now: number, hidden: number): { late: number; early: number } {
  const limit = effectiveLimit(config, data);
  const late = Math.max(K.reserveHeadroom * demandAbove(data, config, Math.min(tier, 1), now) + hidden, coldReserve(data, config, now) * limit);
  const high = K.reserveHeadroom * demandAbove(data, config, tier, now, 1);
  // beside a hidden consumer high's room stays to the latest end too: the consumer's requests land there in lumps
  // its rate does not show, and high's room was what kept them from a 429000 (seed 4: 1 and 3 in a window without this)
  return hidden > 0 ? { late: late + high, early: 0 } : { late, early: high };
}

/**
 * The part of a window still ahead of the known server window's end (1 when the phase is not known): by its latest
 * end `whi` (`early` false), or by its earliest `wlo` (`early` true; 0 between the two). A reply bounds the end
 * from both sides: `sentAt + reset` (the request arrived after it was sent) and `now + reset` (before it was
 * answered); the round trip lies between. Critical and a hidden consumer keep their room until the latest end
 * (a cancel never waits for the window's end; a consumer's weight must never be taken). High's room goes at the
 * earliest: what is admitted after it may land in either window, and the tiers below would otherwise leave up
 * to a round trip of high's headroom unused in every window (2-3 % of a 3 s window on a 56-148 ms path). A high
 * request that then finds no room waits at most until the latest end, one round trip.
 */
export function windowLeft(data: BucketFields, config: BucketConfig, now: number, early = false): number {
  if (!phaseAligned(data, config, now) || data.whi <= now) return 1;
  return Math.max(0, Math.min(1, ((early ? data.wlo : data.whi) - now) / config.windowMs));
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
  const need = reservePerWindow(data, config, tier, now, hidden);
  if (left < 1) {
    // a known window: headroom over the demand above, released as the window's end comes (high's by its earliest end)
    const ahead = need.late * left + need.early * windowLeft(data, config, now, true) + hiddenSlack(data, config, hidden, now);
    return 1 - Math.min(Math.max(1 - share, K.reserveMaxShare, cold) * limit, ahead) / limit;
  }
  // no window known: nothing releases a reserve, but the log frees room as its entries expire, so what critical
  // needs held for it is room for a burst (twice the largest seen); the rest, headroom over the demand, within 1 - share
  const burst = (K.reserveHeadroom * criticalBurst(data, config, now)) / limit;
  const bound = Math.max(1 - share, Math.min(K.reserveMaxShare, burst), cold);
  const ahead = Math.max(need.late + need.early, burst * limit) + hiddenSlack(data, config, hidden, now);
  return 1 - Math.min(bound * limit, ahead) / limit;
}

/**
 * Room for what a hidden consumer spent since the newest reply's request reached the server (a reply tells its count
 * as of that request's arrival): twice its rate over that age, at most K.hiddenSlack of what it spends per window.
 */
export function hiddenSlack(data: BucketFields, config: BucketConfig, hidden: number, now: number): number {
  if (hidden <= 0) return 0;
  const age = Math.max(0, now - data.observedAt) / config.windowMs;
  return hidden * Math.min(K.hiddenSlack, 2 * age);
}

/** Counts critical weight admitted now in the current burst span (a new span keeps the largest so far as the peak). */
export function countBurst(data: BucketFields, config: BucketConfig, weight: number, now: number): void {
  if (now >= data.burstFrom + K.burstSpanMs) {
    data.burstPeak = criticalBurst(data, config, now);
    data.burstAt = now;
    data.burstFrom = now;
    data.burstNow = 0;
  }
  data.burstNow += weight;
}

/** The largest critical burst seen lately, each halved once per window since it was seen (the current span's as it is). */
export function criticalBurst(data: BucketFields, config: BucketConfig, now: number): number {
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
export function coldReserve(data: BucketFields, config: BucketConfig, now: number): number {
  return config.coldStart === true && (data.createdAt === 0 || now < data.createdAt + config.windowMs) ? K.coldReserveShare : 0;
}

/**
 * Milliseconds until the reserve above `tier` has shrunk enough (the server window's end coming) for
 * `counted + weight` to fit; Infinity when it will not shrink (phase unknown, nobody above, or the bucket is
 * full whatever the reserve).
 */
export function reserveWait(data: BucketFields, config: BucketConfig, counted: number, weight: number, tier: number | undefined, now: number): number {
  if (tier === undefined || tier < 0) return Number.POSITIVE_INFINITY;
  if (!phaseAligned(data, config, now) || data.whi <= now) return Number.POSITIVE_INFINITY;
  const hidden = hiddenPerWindow(data, windowLeft(data, config, now));
  const limit = effectiveLimit(config, data);
  const room = limit - counted - weight - hiddenSlack(data, config, hidden, now);
  const { late, early } = reservePerWindow(data, config, tier, now, hidden);
  if (room < 0 || late + early <= 0) return Number.POSITIVE_INFINITY;
  // reserve(t) = (late x (whi - t) + early x max(0, wlo - t)) / windowMs, falling to `room`: before wlo both parts
  // fall, after it only the late one
  const W = config.windowMs;
  const lo = Math.max(now, data.wlo);
  const before = (late * data.whi + early * lo - room * W) / (late + early);
  const at = before <= lo ? before : late > 0 ? data.whi - (room * W) / late : lo;
  return Math.max(1, at - now);
}

/**
 * What a tier may use now: its share of the bucket (see reserveShare) less the weight waiting in the tiers above
 * (senders.ts: it goes first), the tokens it must leave (the reserve's part of the capacity, plus that waiting
 * weight), and when the earliest of those waits ends (Infinity: none).
 */
export interface TierRoom {
  readonly share: number;
  readonly floor: number;
  readonly waiting: number;
  readonly waitingUntil: number;
}

export function tierRoom(data: BucketData, config: BucketConfig, share: number, tier: number | undefined, now: number): TierRoom {
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
