/**
 * Reconciliation of a ResilientStore with Redis: what this process did while it could not reach Redis, told to Redis
 * when it can again.
 *
 * - absorb and drain: weight admitted under the local share is charged to Redis once it answers (absorb.lua: an
 *   over-count, it expires later than it would have), including what is admitted while those calls run; what was
 *   released before it was charged is not charged at all.
 * - journal and replay: pauses and factors taken while cut off are replayed to Redis before recovering (a longer pause
 *   and a lower factor win), so a 1015 received during an outage holds fleet-wide; a resume is not replayed.
 * - mirror times: the local time each Redis admission was mirrored at, so a release finds its local charge.
 */
import { longestSpanMs } from '../state.js';
import type { RedisStore } from '../redis/redisStore.js';
import type { AcquireRequest, AcquireResult, BucketConfig } from '../types.js';
import { bucketKey } from './bucketKey.js';
import type { LocalShares } from './localShares.js';
import type { Readings } from './readings.js';

type Admitted = Extract<AcquireResult, { admitted: true }>;

/** Weight admitted under the local share, to charge to Redis when it is back. */
interface Absorbed {
  readonly bucket: BucketConfig;
  weight: number;
  /** Local store time of the admission (its `AcquireResult.now`). */
  readonly at: number;
}

/** What this process applied to a bucket's pause and factor while cut off, replayed to Redis on recovery. */
interface Journaled {
  readonly bucket: BucketConfig;
  pausedUntil: number;
  factor: number | undefined;
}

export class Reconciliation {
  #absorbed: Absorbed[] = [];
  #draining: Promise<void> = Promise.resolve();
  readonly #journal = new Map<string, Journaled>();
  /** Admissions Redis made, by their `now`: the local time their mirror was charged at (for release). */
  readonly #mirroredAt = new Map<number, number>();

  constructor(
    private readonly primary: RedisStore,
    private readonly shares: LocalShares,
    private readonly readings: Readings,
    private readonly clock: () => number,
  ) {}

  /** Notes that Redis's admission at `redisNow` was mirrored locally at `localAt`. */
  mirrored(redisNow: number, localAt: number): void {
    this.#mirroredAt.set(redisNow, localAt);
    for (const [at, mirroredAt] of this.#mirroredAt) {
      if (mirroredAt + this.readings.maxSpan > localAt && this.#mirroredAt.size <= 10_000) break;
      this.#mirroredAt.delete(at);
    }
  }

  /** The local time Redis's admission at `redisNow` was mirrored at; undefined for a local admission. */
  mirroredAt(redisNow: number): number | undefined {
    return this.#mirroredAt.get(redisNow);
  }

  /** Keeps weight admitted under the local share, for `drain`. */
  absorb(request: AcquireRequest, result: Admitted): void {
    for (const c of request.charges) if (c.weight > 0) this.#absorbed.push({ bucket: c.bucket, weight: c.weight * result.count, at: result.now });
  }

  /** A local admission released before Redis was charged with it: it is not charged at all. */
  unabsorb(request: AcquireRequest, count: number, at: number): void {
    for (const c of request.charges) {
      let left = c.weight * count;
      for (const a of this.#absorbed) {
        if (left <= 0) break;
        if (a.at !== at || bucketKey(a.bucket) !== bucketKey(c.bucket)) continue;
        const taken = Math.min(a.weight, left);
        a.weight -= taken;
        left -= taken;
      }
    }
  }

  /** Charges Redis with what was admitted locally and still counts, until nothing is left (even what came meanwhile). */
  drain(): Promise<void> {
    const next = this.#draining.catch(() => undefined).then(() => this.#drainOnce());
    this.#draining = next;
    return next;
  }

  async #drainOnce(): Promise<void> {
    while (this.#absorbed.length > 0) {
      const batch = this.#absorbed;
      this.#absorbed = [];
      const now = this.clock();
      const byBucket = new Map<string, Absorbed[]>();
      for (const a of batch)
        if (a.weight > 0 && a.at + longestSpanMs(a.bucket) > now) byBucket.set(bucketKey(a.bucket), [...(byBucket.get(bucketKey(a.bucket)) ?? []), a]);
      const pending = [...byBucket.values()];
      try {
        for (; pending.length > 0; pending.shift()) {
          const entries = pending[0]!;
          // the keys and the span are the full bucket's (only limit, burst and refill were scaled locally)
          await this.primary.absorb(
            entries[0]!.bucket,
            entries.reduce((x, a) => x + a.weight, 0),
          );
        }
      } catch (error) {
        this.#absorbed = [...pending.flat(), ...this.#absorbed]; // charged again later: at worst an over-count
        throw error;
      }
    }
  }

  /** Replays the journal, then charges Redis with everything admitted locally, even what comes meanwhile. */
  async reconcile(): Promise<void> {
    await this.#replay();
    do await this.drain();
    while (this.#absorbed.length > 0);
  }

  /** Keeps what a change made while cut off did to the local share, for the replay. */
  async journal(bucket: BucketConfig): Promise<void> {
    const [state] = await this.shares.store.inspect([this.shares.mirror(bucket)]);
    if (!state) return;
    const e = this.#journal.get(bucketKey(bucket)) ?? { bucket, pausedUntil: 0, factor: undefined };
    e.pausedUntil = state.pausedUntil > state.now ? state.pausedUntil : 0;
    e.factor = state.factor;
    this.#journal.set(bucketKey(bucket), e);
  }

  /** Applies to Redis the pauses and factors taken while cut off (a longer pause and a lower factor win). */
  async #replay(): Promise<void> {
    const entries = [...this.#journal.values()];
    if (entries.length === 0) return;
    const states = await this.primary.inspect(entries.map((e) => e.bucket));
    for (const [i, e] of entries.entries()) {
      if (e.pausedUntil > this.clock()) await this.primary.pause(e.bucket, e.pausedUntil);
      if (e.factor !== undefined && e.factor < states[i]!.factor) await this.primary.setFactor(e.bucket, e.factor);
      this.#journal.delete(bucketKey(e.bucket));
      this.readings.changed(e.bucket);
    }
  }
}
