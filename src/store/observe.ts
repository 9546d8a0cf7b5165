import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import { settle } from './settle.js';
import { baseLimit, entryExpiry, spanMs, unsettled, type BucketData, type BucketFields } from './state.js';
import type { BucketConfig, Observation, ObserveResult } from './types.js';

/**
 * What a reply's `gw-ratelimit-*` headers teach (twin: redis/lib/observe.lua): the limit in force within the pool's
 * bounds, the server window's phase (docs/window-mirroring.md) and the spread of transit delays, hidden weight, and
 * where the request itself landed (settle.ts).
 */

/**
 * Our weight admitted after `sentAt` (possibly still in flight, not in the reply's L - R): a suffix of the log, whose
 * times never decrease (charge in admit.ts), read from the newest entry back.
 */
export function weightAfter(data: BucketData, sentAt: number): number {
  let after = 0;
  for (let i = data.log.length - 1; i >= data.head && data.log[i]![0] > sentAt; i--) after += data.log[i]![1];
  return after;
}

/**
 * Our unsettled log weight that keeps counting until `until` or later. Entries expire in log order (their times
 * never decrease, and entryExpiry grows with the time), so it is a suffix of the log: read K.logChunk entries at a
 * time from the front and from the back until one end meets the boundary. From the front, it is the log's whole
 * unsettled weight (`used` less the settled groups) less what expires before; from the back, what was read. A known
 * window's reply meets it at the front (the window before's leftovers), an unplaced one at the back.
 */
export function lastingWeight(data: BucketData, config: BucketConfig, until: number, now: number): number {
  let front = data.head;
  let back = data.log.length - 1;
  let prefix = 0;
  let suffix = 0;
  while (front <= back) {
    for (const last = Math.min(back, front + K.logChunk - 1); front <= last; front++) {
      const entry = data.log[front]!;
      if (entryExpiry(data, config, entry[0], now) >= until) {
        let logWeight = data.used;
        for (const [, weight] of data.settles) logWeight -= weight;
        return Math.max(0, logWeight - prefix);
      }
      prefix += unsettled(entry);
    }
    for (const last = Math.max(front, back - K.logChunk + 1); back >= last; back--) {
      const entry = data.log[back]!;
      if (entryExpiry(data, config, entry[0], now) < until) return suffix;
      suffix += unsettled(entry);
    }
  }
  return suffix;
}

/** Where a reply's server window lies against the known one (see placeWindow). */
type WindowPlacement = 'current' | 'older' | 'conflict' | 'unplaced';

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
  // else at most every K.hiddenEveryMs and from a new window's first reply
  const reckon = data.hidden > 0 || data.hiddenAt === 0 || now - data.hiddenAt >= K.hiddenEveryMs;
  if (reckon && o.remaining >= 0 && serverLimit > 0 && placement !== 'older' && until > now) {
    data.hiddenAt = now;
    const after = weightAfter(data, sentAt);
    let lasting = lastingWeight(data, config, until, now); // our weight that keeps counting until the window ends
    // settled weight lasts when it leaves at this window's end (not a later window's: that is not in L - R)
    for (const [end, weight] of data.settles) if (end >= until && end < until + config.windowMs / 2) lasting += weight;
    const serverUsed = Math.max(0, serverLimit - o.remaining) + after;
    data.hidden = Math.max(0, serverUsed - lasting);
    data.hiddenUntil = data.hidden > 0 ? until : 0;
    data.hiddenNow = data.hidden;
  }
  return { applied: true, limit, limitInForce: baseLimit(config, data), phaseConflict, freed: freed() };
}
