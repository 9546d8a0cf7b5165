/**
 * The cache of Redis readings of a ResilientStore: for each bucket this process uses, what Redis last said (the
 * fleet's counted weight, the limit in force, the factor), refreshed by every heartbeat and acquisition. The share
 * math reads it when Redis fails; buckets unused for `READING_KEEP_SPANS` spans are dropped.
 */
import { longestSpanMs, spanMs } from '../state.js';
import type { RedisStore } from '../redis/redisStore.js';
import type { AcquireRequest, BucketConfig, BucketState } from '../types.js';
import { bucketKey } from './bucketKey.js';
import { isHeavy, type FleetReading } from './shareMath.js';

/** A bucket unused for this many spans is no longer read (a failure then assumes its limit spent). */
const READING_KEEP_SPANS = 10;

export interface Reading extends FleetReading {
  bucket: BucketConfig;
  counted: number | undefined;
  countedAt: number;
  limit: number | undefined;
  factor: number | undefined;
  heavy: boolean;
  /** Last acquisition by this process. */
  usedAt: number;
  /** Counts this process's own changes of the bucket's state, so a read that began before one does not undo it. */
  changes: number;
}

export class Readings {
  readonly #readings = new Map<string, Reading>();
  /** The longest span any bucket used here may count an entry (longestSpanMs): how long recovery holds both checks. */
  maxSpan = 0;

  get(bucket: BucketConfig): Reading | undefined {
    return this.#readings.get(bucketKey(bucket));
  }

  all(): Reading[] {
    return [...this.#readings.values()];
  }

  /** Notes the buckets a request charges (read from now on) and the longest span in use. */
  watch(request: AcquireRequest, now: number): void {
    for (const c of request.charges) {
      this.maxSpan = Math.max(this.maxSpan, longestSpanMs(c.bucket));
      if (c.weight <= 0) continue;
      const r = this.get(c.bucket);
      const heavy = isHeavy(c.weight, c.bucket, request.share, r?.factor);
      if (r) {
        r.bucket = c.bucket;
        r.usedAt = now;
        r.heavy ||= heavy;
      } else {
        const fresh = { bucket: c.bucket, counted: undefined, countedAt: 0, limit: undefined, factor: undefined, usedAt: now, changes: 0, heavy };
        this.#readings.set(bucketKey(c.bucket), fresh);
      }
    }
  }

  /** Takes the fleet's counted weight an acquisition that began at `startedAt` reported, per charge. */
  counted(request: AcquireRequest, counted: readonly number[] | undefined, startedAt: number): void {
    counted?.forEach((weight, i) => {
      const c = request.charges[i]!;
      const r = c.weight > 0 ? this.get(c.bucket) : undefined;
      if (r && startedAt >= r.countedAt) {
        r.counted = weight;
        r.countedAt = startedAt;
      }
    });
  }

  /** Marks a change of the bucket's state made by this process (see Reading.changes). */
  changed(bucket: BucketConfig): void {
    const r = this.get(bucket);
    if (r) r.changes++;
  }

  /**
   * Reads every bucket in use from Redis at `now`; `mirror` copies a state onto the local share (its pause and factor),
   * unless this process changed the bucket while the read ran.
   */
  async read(primary: RedisStore, now: number, mirror: (r: Reading, state: BucketState) => Promise<void>): Promise<void> {
    for (const [key, r] of this.#readings) if (now - r.usedAt > READING_KEEP_SPANS * spanMs(r.bucket)) this.#readings.delete(key);
    const readings = this.all();
    if (readings.length === 0) return;
    const changes = readings.map((r) => r.changes);
    const states = await primary.inspect(readings.map((r) => r.bucket));
    for (const [i, s] of states.entries()) {
      const r = readings[i]!;
      if (now >= r.countedAt) {
        r.counted = s.used + s.hidden;
        r.countedAt = now;
      }
      if (r.changes !== changes[i]) continue; // changed by this process meanwhile: this reply may predate it
      r.limit = s.limit;
      r.factor = s.factor;
      await mirror(r, s);
    }
  }
}
