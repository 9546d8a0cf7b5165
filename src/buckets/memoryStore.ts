import { InvalidArgumentError } from '../errors.js';
import { advance, baseLimit, charge, effectiveLimit, newBucketData, observe, penalize, spanMs, waitFor, type BucketData } from './bucketMath.js';
import type { AcquireRequest, AcquireResult, BucketConfig, BucketState, DenyReason, Observation, Penalty, PenaltyResult, Store } from './types.js';
import { validateFactor } from './validate.js';

export interface MemoryStoreOptions {
  /**
   * Clock in epoch milliseconds. Inject one to control time in tests.
   * @default Date.now
   */
  readonly clock?: () => number;
}

interface Entry {
  data: BucketData;
  /** After this time (epoch ms) the entry holds nothing worth keeping. */
  idleAfter: number;
}

const keyOf = (config: BucketConfig): string => `${config.group}\u0000${config.id}`;

/** Bucket state inside this process: the embedded default. Processes do not share it. */
export class MemoryStore implements Store {
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Entry>();
  #operations = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  #get(config: BucketConfig, now: number): BucketData {
    let entry = this.#buckets.get(keyOf(config));
    if (!entry) {
      entry = { data: newBucketData(config, now), idleAfter: 0 };
      this.#buckets.set(keyOf(config), entry);
    }
    advance(entry.data, config, now);
    entry.idleAfter = Math.max(entry.idleAfter, now + spanMs(config), entry.data.pausedUntil, entry.data.hiddenUntil);
    return entry.data;
  }

  #sweep(now: number): void {
    if (++this.#operations % 1024 !== 0) return;
    for (const [id, entry] of this.#buckets) if (entry.idleAfter < now) this.#buckets.delete(id);
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const now = this.#clock();
    this.#sweep(now);
    const datas = request.charges.map((c) => this.#get(c.bucket, now));
    const count = request.count ?? 1;
    let admitted = 0;
    for (; admitted < count; admitted++) {
      let waitMs = 0;
      let bucketId = '';
      let reason: DenyReason | undefined;
      request.charges.forEach((c, i) => {
        const r = waitFor(datas[i]!, c.bucket, c.weight, request.share, now);
        if (r.reason !== undefined && r.waitMs >= waitMs) {
          waitMs = Math.max(r.waitMs, 1);
          bucketId = c.bucket.id;
          reason = r.reason;
        }
      });
      if (reason !== undefined) {
        if (admitted > 0) break;
        return { admitted: false, now, waitMs, bucketId, reason };
      }
      request.charges.forEach((c, i) => charge(datas[i]!, c.bucket, c.weight, request.share, now));
    }
    return { admitted: true, now, count: admitted };
  }

  /** Charges `count` admissions without any check: they were admitted elsewhere (see ResilientStore). */
  record(request: AcquireRequest, count = 1): void {
    const now = this.#clock();
    for (const c of request.charges) {
      const data = this.#get(c.bucket, now);
      for (let i = 0; i < count; i++) charge(data, c.bucket, c.weight, 1, now);
    }
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    if (!Number.isFinite(untilMs)) throw new InvalidArgumentError(`Expected untilMs to be a finite epoch time, got ${untilMs}`);
    const now = this.#clock();
    const data = this.#get(bucket, now);
    data.pausedUntil = Math.max(data.pausedUntil, untilMs);
    const entry = this.#buckets.get(keyOf(bucket))!;
    entry.idleAfter = Math.max(entry.idleAfter, untilMs);
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    validateFactor(factor);
    const data = this.#get(bucket, this.#clock());
    data.factor = factor;
    data.tokens = Math.min(data.tokens, bucket.burst * factor);
  }

  async observe(bucket: BucketConfig, observation: Observation): Promise<void> {
    const now = this.#clock();
    observe(this.#get(bucket, now), bucket, observation, now);
  }

  async penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult> {
    const now = this.#clock();
    const result = penalize(this.#get(bucket, now), bucket, penalty, now);
    const entry = this.#buckets.get(keyOf(bucket))!;
    entry.idleAfter = Math.max(entry.idleAfter, result.pausedUntil + spanMs(bucket));
    return result;
  }

  async inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]> {
    const now = this.#clock();
    return buckets.map((config) => {
      const data = this.#get(config, now);
      return {
        id: config.id,
        used: data.used,
        limit: baseLimit(config, data),
        effectiveLimit: effectiveLimit(config, data),
        factor: data.factor,
        tokens: data.tokens,
        pausedUntil: data.pausedUntil > now ? data.pausedUntil : 0,
        hidden: data.hidden,
        windowEndLow: data.wlo,
        windowEndHigh: data.whi,
        now,
      };
    });
  }

  async close(): Promise<void> {
    this.#buckets.clear();
  }
}
