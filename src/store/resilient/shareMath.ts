/**
 * The share math of a ResilientStore, as pure functions (no Redis, no clock of their own): what one process may
 * admit of a bucket while Redis is unreachable, and how much of the bucket the fleet may have used when it failed.
 *
 * With n live processes and the limit in force L (learned, else configured), a process's local share of a bucket is
 * limit floor(L / n), burst and refill scaled by L / limit and divided by n. When Redis fails at tF, the share first
 * counts this process's part of what the fleet may have used by the time the others hold back its share:
 *
 *     U = min(E, C + 2 x burst x s + refill x s x (tF - tR + tH))   with E = floor(L x f), s = L x f / limit
 *
 * where C is the fleet's counted weight Redis reported at tR and f its factor: a full token bucket, the overdraft of
 * one more that critical requests may take, and the refill bound what pacing let the fleet admit since, and until
 * tH after the failure (a lease and a heartbeat, lease.ts: the others may still reach Redis and admit until they see
 * this process overdue). Without pacing, a reading, or after a charge heavier than burst x share (paced by fewer
 * tokens than it weighs), U = E.
 */
import type { BucketConfig } from '../types.js';

/** What Redis last said about a bucket, as the share math reads it. Times are this process's clock. */
export interface FleetReading {
  /** The fleet's counted weight (used + hidden); undefined before Redis reported it. */
  readonly counted: number | undefined;
  /** When the call that reported `counted` began. */
  readonly countedAt: number;
  /** Limit in force before the factor (learned, else configured); undefined before read. */
  readonly limit: number | undefined;
  readonly factor: number | undefined;
  /** A charge seen here may have taken fewer tokens than its weight: pacing bounds nothing. */
  readonly heavy: boolean;
}

/**
 * The local share of `bucket` among `n` processes, `limit` being the limit in force before the factor. A share never
 * rounds up: n shares add up to at most the limit, and a share of 0 (n > limit) admits nothing.
 */
export function localShare(bucket: BucketConfig, n: number, limit: number = bucket.limit): BucketConfig {
  const scale = limit / bucket.limit / n;
  return { ...bucket, limit: Math.floor(limit / n), burst: bucket.burst * scale, refillPerMs: bucket.refillPerMs * scale };
}

/**
 * The most weight the whole fleet can have counted in `bucket` when Redis failed at `failedAt`, or `holdDelayMs` later
 * (U above).
 */
export function fleetUseBound(bucket: BucketConfig, reading: FleetReading | undefined, failedAt: number, holdDelayMs = 0): number {
  const limit = reading?.limit ?? bucket.limit;
  const factor = reading?.factor ?? 1;
  const inForce = Math.floor(limit * factor);
  if (reading?.counted === undefined || reading.heavy || !(bucket.burst > 0) || !(bucket.refillPerMs > 0)) return inForce;
  const scale = (limit * factor) / bucket.limit; // pacing scales with the limit in force (state.ts)
  const since = Math.max(0, failedAt - reading.countedAt) + holdDelayMs;
  // a full token bucket, the overdraft critical may take (a second burst, reserve.ts's tierRoom), and the refill
  return Math.min(inForce, reading.counted + 2 * bucket.burst * scale + bucket.refillPerMs * scale * since);
}

/**
 * The weight to record in a process's local share when Redis failed, so it counts its part of the fleet's use:
 * ceil(U / n) less what the share already counts (its own admissions), at least 0.
 */
export function seedWeight(
  bucket: BucketConfig,
  reading: FleetReading | undefined,
  failure: { readonly at: number; readonly holdDelayMs: number },
  n: number,
  counted: number,
): number {
  return Math.max(0, Math.ceil(fleetUseBound(bucket, reading, failure.at, failure.holdDelayMs) / n) - counted);
}

/**
 * Whether a charge of `weight` may take fewer tokens than it weighs (admit.ts tokensNeeded caps it at capacity x
 * share, the capacity scaled down by a factor < 1): then pacing bounds nothing for its bucket.
 */
export function isHeavy(weight: number, bucket: BucketConfig, share: number, factor: number | undefined): boolean {
  return weight > bucket.burst * share * Math.min(1, factor ?? 1);
}

/** Live processes of one group as counted: the latest count, and the highest one with when it was last seen. */
export interface LiveCount {
  readonly n: number;
  readonly peak: number;
  readonly peakAt: number;
}

/**
 * The count after a heartbeat counted `n` at `now`. A restarted Redis has lost every heartbeat: a lower count is
 * trusted only once the higher one could have expired (`ttlMs` after it was last seen).
 */
export function nextLiveCount(prev: LiveCount | undefined, n: number, now: number, ttlMs: number): LiveCount {
  if (!prev || n >= prev.peak || now - prev.peakAt > ttlMs) return { n, peak: n, peakAt: now };
  return { ...prev, n };
}

/** The live processes to divide by at `now` (see nextLiveCount). */
export function liveProcessesOf(count: LiveCount, now: number, ttlMs: number): number {
  return now - count.peakAt > ttlMs ? count.n : Math.max(count.n, count.peak);
}
