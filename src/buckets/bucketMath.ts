import type { BucketConfig, DenyReason, Observation, Penalty, PenaltyResult } from './types.js';

/**
 * The bucket algorithm in TypeScript, used by MemoryStore. `redis/bucket.lua` is the same algorithm in
 * Lua; the shared store suite (test/storeSuite.ts) holds both to one behaviour.
 *
 * A bucket combines
 *  - a window log: (time, weight) entries; an entry counts for `windowMs + marginMs` after it was admitted,
 *    so no server window can hold more than the limit wherever it starts (phase unknown). Once response
 *    headers have placed the server window's end in [wlo, whi], entries admitted before `wlo - marginMs`
 *    (surely charged to that window) stop counting at `whi` (phase known);
 *  - hidden weight: what the server had charged that this bucket's entries do not explain (a web UI on the
 *    same UID), counted until the window's end;
 *  - a token bucket for pacing: `burst` capacity, refilled at `refillPerMs`; a tier may not take tokens
 *    below `(1 - share)` of the capacity;
 *  - a pause (nothing admitted before `pausedUntil`) and a tightening factor;
 *  - the limit learned from `gw-ratelimit-limit`, which replaces the configured one.
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
  /** Limit learned from headers; 0 = none. */
  learnedLimit: number;
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
}

/** Float slack for token sums (10 x 0.3 is 3.0000000000000004); far below any weight. */
const TOKEN_EPSILON = 1e-9;

export function newBucketData(config: BucketConfig, now: number): BucketData {
  return { log: [], head: 0, used: 0, tokens: config.burst, tokensAt: now, pausedUntil: 0, factor: 1, learnedLimit: 0, wlo: 0, whi: 0, observedAt: 0, hidden: 0, hiddenUntil: 0, tightenedUntil: 0, backoffLevel: 0, backoffAt: 0 };
}

/** Entries admitted within one granule are merged into one; this bounds the log's length. */
export function granuleMs(windowMs: number): number {
  return Math.max(1, Math.min(25, Math.floor(windowMs / 1000)));
}

export function spanMs(config: BucketConfig): number {
  return config.windowMs + config.marginMs;
}

/** When an entry admitted at `at` stops counting. */
export function entryExpiry(data: BucketData, config: BucketConfig, at: number): number {
  const slide = at + spanMs(config);
  if (data.whi > 0 && at + config.marginMs <= data.wlo) return Math.min(slide, data.whi);
  return slide;
}

/** The limit in force before the factor: learned from headers when known, else configured. */
export function baseLimit(config: BucketConfig, data: BucketData): number {
  return data.learnedLimit > 0 ? data.learnedLimit : config.limit;
}

export function effectiveLimit(config: BucketConfig, data: BucketData): number {
  return Math.floor(baseLimit(config, data) * data.factor);
}

/** Pacing scales with the learned limit, so a VIP3 account's burst and refill grow with its quota. */
function pacingScale(config: BucketConfig, data: BucketData): number {
  return (baseLimit(config, data) / config.limit) * data.factor;
}

/** Drops entries that no longer count, ends hidden weight past its window, and refills tokens up to `now`. */
export function advance(data: BucketData, config: BucketConfig, now: number): void {
  while (data.head < data.log.length && entryExpiry(data, config, data.log[data.head]![0]) <= now) {
    data.used -= data.log[data.head]![1];
    data.head++;
  }
  if (data.head > 64 && data.head * 2 > data.log.length) {
    data.log = data.log.slice(data.head);
    data.head = 0;
  }
  if (data.head === data.log.length) data.used = 0; // no drift from float sums
  if (data.hidden > 0 && data.hiddenUntil <= now) data.hidden = 0;
  if (now > data.tokensAt) {
    const scale = pacingScale(config, data);
    data.tokens = Math.min(config.burst * scale, data.tokens + (now - data.tokensAt) * config.refillPerMs * scale);
    data.tokensAt = now;
  }
}

/** Tokens a request needs: its weight, capped at what its tier may ever hold (so a heavy request is not stuck). */
function tokensNeeded(config: BucketConfig, data: BucketData, weight: number, share: number): { need: number; floor: number } {
  const capacity = config.burst * pacingScale(config, data);
  return { need: Math.min(weight, capacity * share), floor: capacity * (1 - share) };
}

/** Milliseconds until `excess` weight stops counting (entries and hidden weight, earliest first). */
function windowWait(data: BucketData, config: BucketConfig, excess: number, now: number): number {
  let freed = 0;
  let hiddenLeft = data.hidden > 0;
  for (let i = data.head; i < data.log.length; i++) {
    const [at, w] = data.log[i]!;
    const expiry = entryExpiry(data, config, at);
    if (hiddenLeft && data.hiddenUntil <= expiry) {
      freed += data.hidden;
      hiddenLeft = false;
      if (freed >= excess) return data.hiddenUntil - now;
    }
    freed += w;
    if (freed >= excess) return expiry - now;
  }
  if (hiddenLeft && freed + data.hidden >= excess) return data.hiddenUntil - now;
  return spanMs(config);
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
    const counted = data.used + data.hidden;
    if (counted + weight > cap) {
      // a request that cannot fit under the current factor looks again after a window
      const wWait = weight > cap ? config.windowMs : windowWait(data, config, counted + weight - cap, now);
      if (wWait > waitMs) {
        waitMs = wWait;
        reason = 'window';
      }
    }
    if (config.burst > 0) {
      const { need, floor } = tokensNeeded(config, data, weight, share);
      const available = data.tokens - floor + TOKEN_EPSILON;
      if (available < need) {
        const rate = config.refillPerMs * pacingScale(config, data);
        const pacingWait = rate > 0 ? Math.ceil((need - available) / rate) : config.windowMs;
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

/**
 * Applies what one response's headers say (window-mirroring.md, facts 2 and 3). `now` is the store time the
 * response is applied at, so `now + reset` bounds the window end from above and `sentAt + reset` from below.
 * A response older than the newest one applied changes nothing but nothing is lost: it can only be staler.
 */
export function observe(data: BucketData, config: BucketConfig, observation: Observation, now: number): void {
  const o = { ...observation, sentAt: Math.min(observation.sentAt, now) }; // never sent after it is applied
  if (o.sentAt < data.observedAt) return;
  data.observedAt = o.sentAt;
  if (o.limit > 0) data.learnedLimit = o.limit;
  const limit = baseLimit(config, data);
  if (o.resetMs >= 0 && o.resetMs <= config.windowMs + spanMs(config)) {
    const lo = o.sentAt + o.resetMs;
    const hi = now + o.resetMs;
    if (data.whi > 0 && lo <= data.whi && hi >= data.wlo) {
      // the same window seen again: narrow its bounds
      data.wlo = Math.max(data.wlo, lo);
      data.whi = Math.min(data.whi, hi);
    } else if (data.whi === 0 || lo > data.whi) {
      // a new window: the one before it was clean if no penalty reached into it
      if (data.whi > 0 && data.factor < 1 && data.tightenedUntil < data.wlo) {
        data.factor = Math.min(1, data.factor + (o.recoverStep ?? 0.1));
      }
      data.wlo = lo;
      data.whi = hi;
    }
  }
  if (o.remaining >= 0 && limit > 0) {
    const until = data.whi > now ? data.whi : now + config.windowMs;
    let after = 0; // admitted after the observed request: possibly still in flight, not in L - R
    let lasting = 0; // our weight that keeps counting until the window ends
    for (let i = data.head; i < data.log.length; i++) {
      const [at, w] = data.log[i]!;
      if (at > o.sentAt) after += w;
      if (entryExpiry(data, config, at) >= until) lasting += w;
    }
    const serverUsed = Math.max(0, limit - o.remaining) + after;
    data.hidden = Math.max(0, serverUsed - lasting);
    data.hiddenUntil = data.hidden > 0 ? until : 0;
  }
}

/** Applies a penalty (see Penalty); `now` is the store's time. */
export function penalize(data: BucketData, config: BucketConfig, p: Penalty, now: number): PenaltyResult {
  let until = now + Math.max(0, p.pauseMs ?? 0);
  // replies to requests sent before a backoff began land while it is in force: they do not raise it again
  if (p.backoff && !(data.backoffAt > 0 && data.pausedUntil > now)) {
    const b = p.backoff;
    const level = now - data.backoffAt > b.resetAfterMs ? 0 : data.backoffLevel;
    const ms = Math.min(b.maxMs, b.baseMs * 2 ** level) * (1 - b.jitter / 2 + b.jitter * b.random);
    data.backoffLevel = Math.min(level + 1, 30);
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
