import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { spanMs } from './bucketMath.js';
import { MemoryStore } from './memoryStore.js';
import type { RedisStore } from './redis/redisStore.js';
import type { AcquireRequest, AcquireResult, BucketConfig, BucketState, Observation, Penalty, PenaltyResult, Store } from './types.js';

/** healthy: Redis decides. degraded: Redis is unreachable, this process admits under its local share.
 * recovering: Redis is back; for one span both Redis and the local share must admit. */
export type StoreHealth = 'healthy' | 'degraded' | 'recovering';

export interface ResilientStoreOptions {
  readonly primary: RedisStore;
  /** Live processes assumed when heartbeats never answered (Redis unreachable from the start). @default 4 */
  readonly fallbackProcesses?: number;
  /** Heartbeat period; also how often an unreachable Redis is probed. @default 1000 */
  readonly heartbeatMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

export type HealthListener = (health: StoreHealth, error: Error | undefined) => void;

interface Absorbed {
  readonly bucket: BucketConfig;
  readonly weight: number;
  readonly at: number;
}

/**
 * A RedisStore that keeps working when Redis does not: on a Redis error or timeout each process admits under
 * a conservative local share of every bucket (its limit, burst and refill divided by the live processes it
 * last counted from heartbeats), its own recent admissions included (they are mirrored locally all along).
 * When Redis answers again, the weight admitted meanwhile is charged to Redis at the current time (an
 * over-count), and for one span both Redis and the local share must admit, so processes reconnecting at
 * different moments cannot burst over the quota together.
 *
 * A window straddling the failure: each process counts at least its fair part of what Redis last said the
 * whole fleet had used (and its own admissions), so together they stay within what was left, up to what
 * others admitted in the few milliseconds after this process's last Redis reply.
 */
export class ResilientStore implements Store {
  readonly #primary: RedisStore;
  readonly #local: MemoryStore;
  readonly #clock: () => number;
  readonly #fallbackProcesses: number;
  readonly #heartbeatMs: number;
  readonly #id = randomUUID();
  readonly #groups = new Set<string>();
  /** Live processes per group: the latest count, and the highest one with when it was last seen. */
  readonly #live = new Map<string, { n: number; peak: number; peakAt: number }>();
  readonly #listeners = new Set<HealthListener>();
  readonly #scaled = new Map<string, BucketConfig>();
  #absorbed: Absorbed[] = [];
  /** What Redis counted in each bucket at this process's last acquisition: the fleet's use, not only ours. */
  readonly #lastCounted = new Map<string, { bucket: BucketConfig; counted: number }>();
  /** Buckets whose local share was brought up to the fleet's known use since the failure. */
  readonly #seeded = new Set<string>();
  #health: StoreHealth = 'healthy';
  #recoveringUntil = 0;
  #maxSpan = 0;
  #timer: NodeJS.Timeout | undefined;
  #beating = false;
  #closed = false;

  constructor(options: ResilientStoreOptions) {
    if (!options?.primary) throw new InvalidArgumentError('Expected options.primary (a RedisStore)');
    this.#primary = options.primary;
    this.#clock = options.clock ?? Date.now;
    this.#local = new MemoryStore({ clock: this.#clock });
    this.#fallbackProcesses = options.fallbackProcesses ?? 4;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    if (!Number.isInteger(this.#fallbackProcesses) || this.#fallbackProcesses < 1) throw new InvalidArgumentError(`Expected fallbackProcesses to be an integer >= 1, got ${String(options.fallbackProcesses)}`);
    if (!(this.#heartbeatMs > 0)) throw new InvalidArgumentError(`Expected heartbeatMs to be a number > 0, got ${String(options.heartbeatMs)}`);
  }

  get health(): StoreHealth {
    return this.#health;
  }

  /** Live processes last counted in a quota group (undefined before the first heartbeat answered). */
  liveProcesses(group: string): number | undefined {
    const l = this.#live.get(group);
    if (!l) return undefined;
    // a restarted Redis has lost every heartbeat: trust a lower count only once the higher one could expire
    return this.#clock() - l.peakAt > this.#heartbeatMs * 3 ? l.n : Math.max(l.n, l.peak);
  }

  #count(group: string, n: number): void {
    const now = this.#clock();
    const l = this.#live.get(group);
    if (!l || n >= l.peak || now - l.peakAt > this.#heartbeatMs * 3) this.#live.set(group, { n, peak: n, peakAt: now });
    else l.n = n;
  }

  /** Calls `listener` on every change of health; returns a function that removes it. */
  onHealthChange(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #setHealth(health: StoreHealth, error?: Error): void {
    if (this.#health === health) return;
    this.#health = health;
    for (const l of [...this.#listeners]) {
      try {
        l(health, error);
      } catch {
        // a listener's fault must not break admission
      }
    }
  }

  /** The local share of a bucket: limit, burst and refill divided by the live processes of its group. */
  #share(bucket: BucketConfig): BucketConfig {
    const n = this.liveProcesses(bucket.group) ?? this.#fallbackProcesses;
    const key = `${bucket.group}\u0000${bucket.id}\u0000${n}\u0000${bucket.limit}`;
    let scaled = this.#scaled.get(key);
    if (!scaled) {
      scaled = { ...bucket, limit: Math.max(1, Math.floor(bucket.limit / n)), burst: bucket.burst / n, refillPerMs: bucket.refillPerMs / n };
      if (this.#scaled.size > 10_000) this.#scaled.clear();
      this.#scaled.set(key, scaled);
    }
    return scaled;
  }

  #localRequest(request: AcquireRequest): AcquireRequest {
    return { ...request, charges: request.charges.map((c) => ({ bucket: this.#share(c.bucket), weight: c.weight })) };
  }

  #watch(request: AcquireRequest): void {
    for (const c of request.charges) {
      this.#groups.add(c.bucket.group);
      this.#maxSpan = Math.max(this.#maxSpan, spanMs(c.bucket));
    }
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => void this.#beat(), this.#heartbeatMs);
      this.#timer.unref();
      void this.#beat();
    }
  }

  #degradedAt = 0;

  #degrade(error: unknown): void {
    if (this.#health !== 'degraded') this.#degradedAt = this.#clock();
    this.#setHealth('degraded', error instanceof Error ? error : new Error(String(error)));
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#watch(request);
    const local = this.#localRequest(request);
    if (this.#health === 'degraded') return this.#acquireLocally(local);
    if (this.#health === 'recovering' && this.#clock() >= this.#recoveringUntil) this.#setHealth('healthy');
    let count = request.count ?? 1;
    if (this.#health === 'recovering') {
      const l = await this.#local.acquire(local);
      if (!l.admitted) return l;
      count = l.count; // the local share admitted these; Redis must admit them too
    }
    let result: AcquireResult;
    try {
      result = await this.#primary.acquire({ ...request, count });
    } catch (error) {
      this.#degrade(error);
      return this.#acquireLocally(local);
    }
    // keep this process's own admissions in the local share, so a failure finds them counted
    if (result.admitted && this.#health === 'healthy') {
      this.#local.record(local, result.count);
      result.counted?.forEach((counted, i) => {
        const bucket = request.charges[i]!.bucket;
        if (request.charges[i]!.weight > 0) this.#lastCounted.set(`${bucket.group}\u0000${bucket.id}`, { bucket, counted });
      });
    }
    return result;
  }

  /**
   * On the first local acquisition of a bucket after a failure: count at least this process's fair part of
   * what the whole fleet had used (Redis's last word / live processes), not only its own admissions, so the
   * shares of all processes together stay within what was left of the window.
   */
  async #seed(local: AcquireRequest): Promise<void> {
    for (const c of local.charges) {
      const key = `${c.bucket.group}\u0000${c.bucket.id}`;
      if (c.weight === 0 || this.#seeded.has(key)) continue;
      this.#seeded.add(key);
      const last = this.#lastCounted.get(key);
      if (!last) continue;
      const n = this.liveProcesses(c.bucket.group) ?? this.#fallbackProcesses;
      const [state] = await this.#local.inspect([c.bucket]);
      const missing = Math.ceil(last.counted / n - state!.used);
      if (missing > 0) this.#local.record({ charges: [{ bucket: c.bucket, weight: missing }], share: 1 });
    }
  }

  async #acquireLocally(local: AcquireRequest): Promise<AcquireResult> {
    await this.#seed(local);
    const result = await this.#local.acquire(local);
    if (result.admitted) {
      for (const c of local.charges) if (c.weight > 0) this.#absorbed.push({ bucket: c.bucket, weight: c.weight * result.count, at: result.now });
    }
    return result;
  }

  /** Heartbeat; while degraded, also the probe that brings Redis back. */
  async #beat(): Promise<void> {
    if (this.#beating || this.#closed) return;
    this.#beating = true;
    const startedAt = this.#clock();
    try {
      for (const group of this.#groups) this.#count(group, Math.max(1, await this.#primary.heartbeat(group, this.#id, this.#heartbeatMs * 3)));
      // only a heartbeat sent after the failure proves that Redis is back
      if (this.#health === 'degraded' && startedAt > this.#degradedAt) await this.#recover();
    } catch (error) {
      if (this.#health !== 'degraded') this.#degrade(error);
    } finally {
      this.#beating = false;
    }
  }

  /** Charges Redis with what was admitted locally and still counts, then holds both checks for a span. */
  async #recover(): Promise<void> {
    const now = this.#clock();
    const byBucket = new Map<string, { bucket: BucketConfig; weight: number }>();
    for (const a of this.#absorbed) {
      if (a.at + spanMs(a.bucket) <= now) continue;
      const key = `${a.bucket.group}\u0000${a.bucket.id}`;
      const e = byBucket.get(key) ?? { bucket: a.bucket, weight: 0 };
      e.weight += a.weight;
      byBucket.set(key, e);
    }
    // the keys and the span are the full bucket's (only limit, burst and refill were scaled locally)
    for (const { bucket, weight } of byBucket.values()) await this.#primary.absorb(bucket, weight);
    this.#absorbed = [];
    this.#seeded.clear();
    this.#recoveringUntil = now + this.#maxSpan;
    this.#setHealth('recovering');
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    await this.#local.pause(this.#share(bucket), untilMs);
    if (this.#health === 'degraded') return;
    await this.#primary.pause(bucket, untilMs).catch((e) => this.#degrade(e));
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    await this.#local.setFactor(this.#share(bucket), factor);
    if (this.#health === 'degraded') return;
    await this.#primary.setFactor(bucket, factor).catch((e) => this.#degrade(e));
  }

  async observe(bucket: BucketConfig, observation: Observation): Promise<void> {
    if (this.#health === 'degraded') return;
    await this.#primary.observe(bucket, observation).catch((e) => this.#degrade(e));
  }

  async penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult> {
    const local = await this.#local.penalize(this.#share(bucket), penalty);
    if (this.#health === 'degraded') return local;
    try {
      return await this.#primary.penalize(bucket, penalty);
    } catch (error) {
      this.#degrade(error);
      return local;
    }
  }

  async inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]> {
    if (this.#health !== 'degraded') {
      try {
        return await this.#primary.inspect(buckets);
      } catch (error) {
        this.#degrade(error);
      }
    }
    return this.#local.inspect(buckets.map((b) => this.#share(b)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#local.close();
    await this.#primary.close();
  }
}
