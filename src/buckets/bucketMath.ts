import type { BucketConfig, DenyReason } from './types.js';

/**
 * The bucket algorithm in TypeScript, used by MemoryStore. `redis/acquire.lua` is the same algorithm in
 * Lua; the shared store suite (test/storeSuite.ts) holds both to one behaviour.
 *
 * A bucket combines
 *  - a window log: (time, weight) entries; an entry counts for `windowMs + marginMs` after it was admitted,
 *    and the sum of counting entries never exceeds `limit x factor x share`;
 *  - a token bucket for pacing: `burst` capacity, refilled at `refillPerMs`; a tier may not take tokens
 *    below `(1 - share)` of the capacity;
 *  - a pause: nothing admitted before `pausedUntil`.
 */
export interface BucketData {
  /** Entries [admittedAt, weight], oldest first. Entries in one granule are merged (latest time kept). */
  log: [number, number][];
  head: number;
  used: number;
  tokens: number;
  tokensAt: number;
  pausedUntil: number;
  factor: number;
}

/** Float slack for token sums (10 x 0.3 is 3.0000000000000004); far below any weight. */
const TOKEN_EPSILON = 1e-9;

export function newBucketData(config: BucketConfig, now: number): BucketData {
  return { log: [], head: 0, used: 0, tokens: config.burst, tokensAt: now, pausedUntil: 0, factor: 1 };
}

/** Entries admitted within one granule are merged into one; this bounds the log's length. */
export function granuleMs(windowMs: number): number {
  return Math.max(1, Math.min(25, Math.floor(windowMs / 1000)));
}

export function spanMs(config: BucketConfig): number {
  return config.windowMs + config.marginMs;
}

/** Drops entries that no longer count, and refills tokens up to `now`. */
export function advance(data: BucketData, config: BucketConfig, now: number): void {
  const span = spanMs(config);
  while (data.head < data.log.length && data.log[data.head]![0] + span <= now) {
    data.used -= data.log[data.head]![1];
    data.head++;
  }
  if (data.head > 64 && data.head * 2 > data.log.length) {
    data.log = data.log.slice(data.head);
    data.head = 0;
  }
  if (data.head === data.log.length) data.used = 0; // no drift from float sums
  if (now > data.tokensAt) {
    const capacity = config.burst * data.factor;
    data.tokens = Math.min(capacity, data.tokens + (now - data.tokensAt) * config.refillPerMs);
    data.tokensAt = now;
  }
}

export function effectiveLimit(config: BucketConfig, data: BucketData): number {
  return Math.floor(config.limit * data.factor);
}

/** Tokens a request needs: its weight, capped at what its tier may ever hold (so a heavy request is not stuck). */
function tokensNeeded(config: BucketConfig, data: BucketData, weight: number, share: number): { need: number; floor: number } {
  const capacity = config.burst * data.factor;
  return { need: Math.min(weight, capacity * share), floor: capacity * (1 - share) };
}

/** Milliseconds until this bucket admits `weight` for a tier with `share` (0 = now), and why not now. */
export function waitFor(
  data: BucketData,
  config: BucketConfig,
  weight: number,
  share: number,
  now: number,
): { waitMs: number; reason: DenyReason | undefined } {
  let waitMs = 0;
  let reason: DenyReason | undefined;
  if (data.pausedUntil > now) {
    waitMs = data.pausedUntil - now;
    reason = 'paused';
  }
  if (weight > 0) {
    const cap = effectiveLimit(config, data) * share;
    if (data.used + weight > cap) {
      let windowWait: number;
      if (weight > cap) {
        windowWait = config.windowMs; // cannot fit under the current factor: look again after a window
      } else {
        let freed = 0;
        windowWait = spanMs(config);
        for (let i = data.head; i < data.log.length; i++) {
          const [at, w] = data.log[i]!;
          freed += w;
          if (data.used - freed + weight <= cap) {
            windowWait = at + spanMs(config) - now;
            break;
          }
        }
      }
      if (windowWait > waitMs) {
        waitMs = windowWait;
        reason = 'window';
      }
    }
    if (config.burst > 0) {
      const { need, floor } = tokensNeeded(config, data, weight, share);
      const available = data.tokens - floor + TOKEN_EPSILON;
      if (available < need) {
        const pacingWait = config.refillPerMs > 0 ? Math.ceil((need - available) / config.refillPerMs) : config.windowMs;
        if (pacingWait > waitMs) {
          waitMs = pacingWait;
          reason = 'pacing';
        }
      }
    }
  }
  return { waitMs: Math.max(0, Math.ceil(waitMs)), reason };
}

/** Charges an admitted request. Call only after `waitFor` returned 0 for every bucket of the request. */
export function charge(data: BucketData, config: BucketConfig, weight: number, share: number, now: number): void {
  if (weight <= 0) return;
  const last = data.log[data.log.length - 1];
  const g = granuleMs(config.windowMs);
  if (last && data.head < data.log.length && Math.floor(last[0] / g) === Math.floor(now / g)) {
    last[0] = Math.max(last[0], now);
    last[1] += weight;
  } else {
    data.log.push([now, weight]);
  }
  data.used += weight;
  if (config.burst > 0) data.tokens = Math.max(0, data.tokens - tokensNeeded(config, data, weight, share).need);
}
