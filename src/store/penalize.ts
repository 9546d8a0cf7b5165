import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import { effectiveLimit, tokenCapacity, type BucketFields } from './state.js';
import type { BucketConfig, Penalty, PenaltyResult } from './types.js';

/** What the feedback layer does to a bucket (twin: redis/lib/penalize.lua): pauses, shared backoff, tightening, resume. */

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
