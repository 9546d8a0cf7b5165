import { advance, charge, release, waitFor } from './admit.js';
import { observe } from './observe.js';
import { penalize, resume, setFactor } from './penalize.js';
import { baseLimit, effectiveLimit, keepUntil, newBucketData, type BucketData } from './state.js';
import { fairShareWait, pruneSenders, recordAdmitted, recordWaiting } from './senders.js';
import type {
  AcquireRequest,
  AcquireResult,
  BucketConfig,
  BucketState,
  DenyReason,
  Observation,
  ObserveResult,
  Penalty,
  PenaltyResult,
  Store,
} from './types.js';
import { normalizeObservation, normalizePenalty, normalizeUntil, validateFactor, validateRelease, validateSender } from './validate.js';

/** Options of `new MemoryStore(...)` (one process, tests and single-bot deployments). */
export interface MemoryStoreOptions {
  /**
   * Clock in epoch milliseconds. Inject one to control time in tests.
   * @default Date.now
   */
  readonly clock?: () => number;
}

interface Entry {
  data: BucketData;
  /** After this time (epoch ms) the entry holds nothing worth keeping (as a Redis key would expire). */
  idleAfter: number;
}

/** Unambiguous whatever the group and id hold. */
const keyOf = (config: BucketConfig): string => JSON.stringify([config.group, config.id]);

/** Bucket state inside this process: the embedded default. Processes do not share it. */
export class MemoryStore implements Store {
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Entry>();
  #operations = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  #entry(config: BucketConfig, now: number): Entry {
    let entry = this.#buckets.get(keyOf(config));
    if (!entry) {
      entry = { data: newBucketData(config, now), idleAfter: 0 };
      this.#buckets.set(keyOf(config), entry);
    }
    advance(entry.data, config, now);
    return entry;
  }

  /** The bucket's data, advanced to `now`. */
  #get(config: BucketConfig, now: number): BucketData {
    const entry = this.#entry(config, now);
    entry.idleAfter = Math.max(entry.idleAfter, keepUntil(entry.data, config, now));
    return entry.data;
  }

  /** Runs a change on a bucket, then keeps it as long as what the change left in it matters. */
  #update<T>(config: BucketConfig, now: number, change: (data: BucketData) => T): T {
    const entry = this.#entry(config, now);
    const result = change(entry.data);
    entry.idleAfter = Math.max(entry.idleAfter, keepUntil(entry.data, config, now));
    return result;
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
    const sender = validateSender(request.sender);
    const { tier } = request;
    request.charges.forEach((c, i) => {
      if (c.weight > 0) pruneSenders(datas[i]!.senders, c.bucket.windowMs, now);
    });
    let admitted = 0;
    for (; admitted < count; admitted++) {
      let waitMs = 0;
      let bucketId = '';
      let reason: DenyReason | undefined;
      const waits = request.charges.map((c, i) => {
        const r = waitFor(datas[i]!, c.bucket, c.weight, request.share, now, tier, sender);
        if (r.reason !== undefined && r.waitMs >= waitMs) {
          waitMs = Math.max(r.waitMs, 1);
          bucketId = c.bucket.id;
          reason = r.reason;
        }
        return r.waitMs;
      });
      if (reason === undefined && sender && tier !== undefined) {
        // every bucket admits: hold back for a sender below its share that is about to ask (fair shares)
        request.charges.forEach((c, i) => {
          if (c.weight <= 0) return;
          const fair = fairShareWait(datas[i]!.senders, sender, tier, c.bucket.windowMs, now);
          waits[i] = fair;
          if (fair > 0 && fair >= waitMs) {
            waitMs = fair;
            bucketId = c.bucket.id;
            reason = 'fairShare';
          }
        });
      }
      if (reason !== undefined) {
        if (admitted > 0) break;
        // the refused weight waits in each bucket that refused it, until its lane comes back (senders.ts)
        if (sender && tier !== undefined)
          request.charges.forEach((c, i) => {
            if (c.weight > 0 && waits[i]! > 0) recordWaiting(datas[i]!.senders, sender, tier, c.weight, count, waits[i]!, c.bucket.windowMs, now);
          });
        return { admitted: false, now, waitMs, bucketId, reason };
      }
      request.charges.forEach((c, i) => charge(datas[i]!, c.bucket, c.weight, request.share, now, tier));
    }
    if (sender && tier !== undefined)
      request.charges.forEach((c, i) => {
        if (c.weight <= 0) return;
        recordAdmitted(datas[i]!.senders, sender, tier, c.weight, admitted, c.bucket.windowMs, now);
        // the rest of the batch waits: its lane asks again at once
        if (admitted < count) recordWaiting(datas[i]!.senders, sender, tier, c.weight, count - admitted, 0, c.bucket.windowMs, now);
      });
    const counted = request.charges.map((c, i) => (c.weight > 0 ? datas[i]!.used + datas[i]!.hidden : 0));
    return { admitted: true, now, count: admitted, counted };
  }

  /** Charges `count` admissions without any check: they were admitted elsewhere (see ResilientStore). */
  record(request: AcquireRequest, count = 1): void {
    const now = this.#clock();
    for (const c of request.charges) {
      const data = this.#get(c.bucket, now);
      for (let i = 0; i < count; i++) charge(data, c.bucket, c.weight, 1, now);
    }
  }

  async release(request: AcquireRequest, count: number, at: number): Promise<void> {
    validateRelease(request, count, at);
    const now = this.#clock();
    for (const c of request.charges) {
      if (c.weight > 0) release(this.#get(c.bucket, now), c.bucket, c.weight, request.share, count, at);
    }
  }

  async resume(bucket: BucketConfig): Promise<void> {
    resume(this.#get(bucket, this.#clock()));
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    const until = normalizeUntil(untilMs);
    this.#update(bucket, this.#clock(), (data) => void (data.pausedUntil = Math.max(data.pausedUntil, until)));
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    validateFactor(factor);
    setFactor(this.#get(bucket, this.#clock()), bucket, factor);
  }

  async observe(bucket: BucketConfig, observation: Observation): Promise<ObserveResult> {
    const o = normalizeObservation(observation, bucket);
    const now = this.#clock();
    return this.#update(bucket, now, (data) => observe(data, bucket, o, now));
  }

  async penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult> {
    const p = normalizePenalty(penalty);
    const now = this.#clock();
    return this.#update(bucket, now, (data) => penalize(data, bucket, p, now));
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
