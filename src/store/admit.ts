import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import { countBurst, reserveWait, rollDemand, tierRoom } from './reserve.js';
import { applySettles } from './settle.js';
import { weightAhead, type Sender } from './senders.js';
import {
  DEMAND_TIERS,
  demandField,
  effectiveLimit,
  entryExpiry,
  granuleMs,
  liveSpanMs,
  pacingScale,
  tokenCapacity,
  unsettled,
  type BucketData,
  type BucketFields,
} from './state.js';
import type { BucketConfig, DenyReason } from './types.js';

/**
 * Admission (twin: redis/lib/admit.lua): a bucket brought to now, the wait before a request fits (the window log,
 * the reserve above its tier, the pacing tokens, a pause), and charging or giving back an admitted request.
 */

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

/** Tokens a request needs: its weight, capped at what its tier may ever hold (so a heavy request is not stuck). */
export function tokensNeeded(config: BucketConfig, data: BucketFields, weight: number, floor: number): number {
  return Math.min(weight, Math.max(0, tokenCapacity(config, data) - floor));
}

/**
 * Milliseconds until `excess` weight stops counting (entries and hidden weight, earliest first), reckoned from the
 * first `maxEntries` entries of the log (past them: the expiry of the last one read, a lower bound).
 */
export function windowWait(data: BucketData, config: BucketConfig, excess: number, now: number, maxEntries: number = K.waitEntries): number {
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
  const read = Math.min(data.log.length, data.head + maxEntries);
  let expiry = now;
  for (let i = data.head; i < read; i++) {
    const entry = data.log[i]!;
    expiry = entryExpiry(data, config, entry[0], now);
    for (; s < data.settles.length && data.settles[s]![0] <= expiry; s++) {
      const t = free(data.settles[s]![0], data.settles[s]![1]);
      if (t !== undefined) return t - now;
    }
    const t = free(expiry, unsettled(entry));
    if (t !== undefined) return t - now;
  }
  // entries left unread: nothing frees `excess` before the last one read expires (a lower bound, asked again then)
  if (read < data.log.length) return expiry - now;
  for (; s < data.settles.length; s++) {
    const t = free(data.settles[s]![0], data.settles[s]![1]);
    if (t !== undefined) return t - now;
  }
  if (hiddenLeft && freed + data.hidden >= excess) return data.hiddenUntil - now;
  return liveSpanMs(data, config);
}

/**
 * Milliseconds until this bucket admits `weight` for a tier with `share` (0 = now), and why not now. With a
 * `sender` (and a tier), a wait for pacing tokens takes its turn behind the other senders waiting for them
 * (pacingTurnWait).
 */
export function waitFor(
  data: BucketData,
  config: BucketConfig,
  weight: number,
  share: number,
  now: number,
  tier?: number,
  sender?: Sender,
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
          const turns = sender !== undefined && tier !== undefined && tier >= 0;
          waitMs = turns ? pacingTurnWait(data, config, pacingWait, weightAhead(data.senders, sender, tier, weight, now)) : pacingWait;
          reason = 'pacing';
        }
      }
    }
  }
  return { waitMs: Math.max(0, Math.ceil(waitMs)), reason };
}

/**
 * A pacing refusal's wait when `ahead` weight of other senders waits for tokens in the same tier (weightAhead in
 * senders.ts): the lane comes back once the tokens for theirs have come too, by turns, rather than every few
 * milliseconds for a token another process takes first; never after the bucket's tokens would be full.
 */
export function pacingTurnWait(data: BucketFields, config: BucketConfig, waitMs: number, ahead: number): number {
  if (!(ahead > 0)) return waitMs;
  const rate = config.refillPerMs * pacingScale(config, data);
  if (!(rate > 0)) return waitMs;
  const full = (tokenCapacity(config, data) - data.tokens) / rate;
  return Math.ceil(Math.max(waitMs, Math.min(waitMs + ahead / rate, full)));
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
  // an entry never starts before the newest (a clock that steps back merges into it): entries stay in time order,
  // so they expire in log order (entryExpiry grows with the time)
  if (last && data.head < data.log.length && (Math.floor(last[0] / g) === Math.floor(now / g) || now < last[0])) {
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
