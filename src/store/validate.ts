import { InvalidArgumentError } from '../errors.js';
import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import type { Sender } from './senders.js';
import type { AcquireRequest, BucketConfig, Observation, Penalty } from './types.js';

/**
 * Argument checks and normal forms shared by MemoryStore and RedisStore, so both stores see the very same
 * numbers (the Lua side never has to guess what NaN, Infinity or a fraction meant).
 */

const describe = (v: unknown): string => {
  try {
    return typeof v === 'string' || (typeof v === 'object' && v !== null) ? JSON.stringify(v) : String(v);
  } catch {
    return typeof v;
  }
};

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function validateFactor(factor: number): void {
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0 || factor > 1) {
    throw new InvalidArgumentError(`Expected factor to be a number in (0, 1], got ${describe(factor)}`);
  }
}

/** A pause's end as both stores keep it: a whole epoch millisecond. */
export function normalizeUntil(untilMs: number): number {
  if (!isFiniteNumber(untilMs)) throw new InvalidArgumentError(`Expected untilMs to be a finite epoch time, got ${describe(untilMs)}`);
  return Math.ceil(untilMs);
}

/**
 * An observation with finite numbers only: a header value that is not a finite number counts as missing
 * (-1); missing bounds refuse any raise (maxLimit = the configured limit). `sentAt` comes from the store
 * itself, so a bad one is a caller's bug.
 */
export function normalizeObservation(o: Observation, bucket: BucketConfig): Observation {
  if (!isFiniteNumber(o?.sentAt)) throw new InvalidArgumentError(`Expected observation.sentAt to be a finite epoch time, got ${describe(o?.sentAt)}`);
  const header = (v: unknown): number => (isFiniteNumber(v) && v >= 0 ? v : -1);
  const recover = isFiniteNumber(o.recoverStep) ? Math.min(1, Math.max(0, o.recoverStep)) : K.defaultRecoverStep;
  return {
    sentAt: o.sentAt,
    limit: header(o.limit),
    remaining: header(o.remaining),
    resetMs: header(o.resetMs),
    recoverStep: recover,
    minLimit: isFiniteNumber(o.minLimit) ? o.minLimit : 1,
    maxLimit: isFiniteNumber(o.maxLimit) ? o.maxLimit : bucket.limit,
    weight: isFiniteNumber(o.weight) && o.weight > 0 ? o.weight : 0,
  };
}

/** A penalty whose parts are checked: absent parts stay absent, present ones must be in range. */
export function normalizePenalty(p: Penalty): Penalty {
  if (p === null || typeof p !== 'object') throw new InvalidArgumentError(`Expected a penalty object, got ${describe(p)}`);
  const pauseMs = p.pauseMs ?? 0;
  if (!isFiniteNumber(pauseMs)) throw new InvalidArgumentError(`Expected penalty.pauseMs to be a finite number, got ${describe(p.pauseMs)}`);
  const out: { -readonly [k in keyof Penalty]: Penalty[k] } = { pauseMs: Math.max(0, pauseMs), spent: p.spent === true };
  if (p.tighten) {
    const { by, min } = p.tighten;
    if (!isFiniteNumber(by) || by <= 0 || by > 1 || !isFiniteNumber(min) || min <= 0 || min > 1) {
      throw new InvalidArgumentError(`Expected penalty.tighten { by, min } to be numbers in (0, 1], got by ${describe(by)}, min ${describe(min)}`);
    }
    out.tighten = { by, min };
  }
  if (p.backoff) {
    const b = p.backoff;
    const ok =
      isFiniteNumber(b.baseMs) &&
      b.baseMs > 0 &&
      isFiniteNumber(b.maxMs) &&
      b.maxMs >= 0 &&
      isFiniteNumber(b.jitter) &&
      b.jitter >= 0 &&
      b.jitter <= 1 &&
      isFiniteNumber(b.random) &&
      b.random >= 0 &&
      b.random <= 1 &&
      isFiniteNumber(b.resetAfterMs) &&
      b.resetAfterMs >= 0;
    if (!ok) {
      throw new InvalidArgumentError(`Expected penalty.backoff { baseMs > 0, maxMs >= 0, jitter and random in [0, 1], resetAfterMs >= 0 }, got ${describe(b)}`);
    }
    out.backoff = { baseMs: b.baseMs, maxMs: b.maxMs, jitter: b.jitter, random: b.random, resetAfterMs: b.resetAfterMs };
  }
  return out;
}

/** `count` and `at` of a release. */
export function validateRelease(request: AcquireRequest, count: number, at: number): void {
  if (!Array.isArray(request?.charges)) throw new InvalidArgumentError('Expected request.charges to be an array');
  if (!Number.isInteger(count) || count < 0) throw new InvalidArgumentError(`Expected count to be an integer >= 0, got ${describe(count)}`);
  if (!isFiniteNumber(at)) throw new InvalidArgumentError(`Expected at to be a finite store time (AcquireResult.now), got ${describe(at)}`);
}

/** A request's sender: an id of 1-64 characters of A-Z a-z 0-9 _ . : - and a weight in (0, 1e6]. */
export function validateSender(sender: Sender | undefined): Sender | undefined {
  if (sender === undefined) return undefined;
  if (typeof sender?.id !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(sender.id)) {
    throw new InvalidArgumentError(`Expected sender.id to be 1-64 characters of A-Z a-z 0-9 _ . : -, got ${describe(sender?.id)}`);
  }
  if (!isFiniteNumber(sender.weight) || sender.weight <= 0 || sender.weight > 1_000_000) {
    throw new InvalidArgumentError(`Expected sender.weight to be a number > 0 and <= 1000000, got ${describe(sender.weight)}`);
  }
  return sender;
}
