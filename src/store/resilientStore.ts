import { InvalidArgumentError, StoreError } from '../errors.js';
import type { RedisStore } from './redis/redisStore.js';
import { acquireLocally, acquireThroughRedis } from './resilient/acquisition.js';
import { Fleet } from './resilient/fleet.js';
import { HealthState, type HealthListener, type StoreHealth } from './resilient/health.js';
import { LocalShares } from './resilient/localShares.js';
import type { Parts } from './resilient/parts.js';
import { Readings } from './resilient/readings.js';
import { Reconciliation } from './resilient/reconciliation.js';
import { cutOff, endRecovery, heartbeat } from './resilient/transitions.js';
import type { AcquireRequest, AcquireResult, BucketConfig, BucketState, Observation, ObserveResult, Penalty, PenaltyResult, Store } from './types.js';
import { validateRelease } from './validate.js';

export type { HealthListener, StoreHealth } from './resilient/health.js';

export interface ResilientStoreOptions {
  readonly primary: RedisStore;
  /**
   * Heartbeat period: how often live processes are counted and the fleet's use of each bucket this process
   * uses is read from Redis, and how often an unreachable Redis is probed. A heartbeat is a lease of 2 periods: cut
   * off from Redis, this process admits under its local share for that long, then critical requests only; the others
   * hold back its share once its heartbeat is older (docs/redis-failures.md). @default 1000
   */
  readonly heartbeatMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

/**
 * A RedisStore that keeps working when Redis does not, once it has reached Redis: a facade over its parts in
 * resilient/ (health.ts: the states; fleet.ts: the heartbeat; readings.ts: what Redis last said; shareMath.ts and
 * localShares.ts: the local share; reconciliation.ts: telling Redis what happened meanwhile; acquisition.ts).
 * docs/redis-failures.md describes the behaviour for users.
 */
export class ResilientStore implements Store {
  readonly #health = new HealthState();
  readonly #parts: Parts;
  #beating: Promise<void> | undefined;
  #closed = false;

  constructor(options: ResilientStoreOptions) {
    if (!options?.primary) throw new InvalidArgumentError('Expected options.primary (a RedisStore)');
    if ('fallbackProcesses' in options) {
      throw new InvalidArgumentError(
        'Option fallbackProcesses was removed: a process that has never reached Redis now admits nothing until it does (health `connecting`) instead of guessing its share',
      );
    }
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (typeof heartbeatMs !== 'number' || !(heartbeatMs > 0) || !Number.isFinite(heartbeatMs)) {
      throw new InvalidArgumentError(`Expected heartbeatMs to be a finite number > 0, got ${String(options.heartbeatMs)}`);
    }
    const primary = options.primary;
    const clock = options.clock ?? Date.now;
    const fleet = new Fleet(heartbeatMs, clock);
    const readings = new Readings();
    const shares = new LocalShares(clock, fleet, readings);
    const reconciliation = new Reconciliation(primary, shares, readings, clock);
    this.#parts = {
      primary,
      clock,
      health: this.#health,
      fleet,
      readings,
      shares,
      reconciliation,
      outage: (e) => this.#outage(e),
      fail: (e) => cutOff(this.#parts, e),
    };
  }

  get health(): StoreHealth {
    return this.#health.kind;
  }

  /** Live processes last counted in a quota group (undefined before a heartbeat of that group answered). */
  liveProcesses(group: string): number | undefined {
    return this.#parts.fleet.liveProcesses(group);
  }

  /** Calls `listener` on every change of health; returns a function that removes it. */
  onHealthChange(listener: HealthListener): () => void {
    return this.#health.onChange(listener);
  }

  /** A caller-facing Redis call failed: an outage (StoreError) cuts off; anything else is the caller's to see. */
  #outage(error: unknown): void {
    if (!(error instanceof StoreError)) throw error;
    cutOff(this.#parts, error);
  }

  /** The heartbeat (joined when one is under way): counts processes, probes and recovers, reads the buckets. */
  #beat(): Promise<void> {
    this.#beating ??= (this.#closed ? Promise.resolve() : heartbeat(this.#parts)).finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /** Notes the request's groups and buckets, and starts the heartbeat. */
  #watch(request: AcquireRequest): void {
    const { fleet, readings, clock } = this.#parts;
    let newGroup = false;
    for (const c of request.charges) newGroup = fleet.join(c.bucket.group) || newGroup;
    readings.watch(request, clock());
    if (!this.#closed) fleet.start(() => void this.#beat());
    if (newGroup && this.#health.kind !== 'connecting') void this.#beat(); // count it soon (connecting: acquire probes)
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#watch(request);
    if (this.#health.kind === 'connecting') {
      await this.#beat();
      if (this.#health.kind === 'connecting') {
        throw new StoreError('Redis has not been reached yet: nothing is admitted before it has been once (store health `connecting`)', this.#health.lastError);
      }
    }
    endRecovery(this.#parts);
    const h = this.#health.state;
    if (h.kind === 'degraded') return acquireLocally(this.#parts, request, h.since);
    return acquireThroughRedis(this.#parts, request, h.kind === 'recovering');
  }

  /**
   * The template of the four mutators: apply to the local share; while cut off, journal it for the replay; else
   * apply to Redis, an outage answering with the local result.
   */
  async #mutate<T>(bucket: BucketConfig, onLocal: (share: BucketConfig) => Promise<T>, onRedis: () => Promise<T>): Promise<T> {
    const { readings, shares, reconciliation } = this.#parts;
    readings.changed(bucket);
    const local = await onLocal(shares.mirror(bucket));
    if (this.#health.kind === 'degraded') {
      await reconciliation.journal(bucket);
      return local;
    }
    try {
      return await onRedis();
    } catch (error) {
      this.#outage(error);
      return local;
    }
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    const { shares, primary } = this.#parts;
    return this.#mutate(
      bucket,
      (s) => shares.store.pause(s, untilMs),
      () => primary.pause(bucket, untilMs),
    );
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    const { shares, primary } = this.#parts;
    return this.#mutate(
      bucket,
      (s) => shares.store.setFactor(s, factor),
      () => primary.setFactor(bucket, factor),
    );
  }

  async resume(bucket: BucketConfig): Promise<void> {
    const { shares, primary } = this.#parts;
    return this.#mutate(
      bucket,
      (s) => shares.store.resume(s),
      () => primary.resume(bucket),
    );
  }

  async penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult> {
    const { shares, primary } = this.#parts;
    return this.#mutate(
      bucket,
      (s) => shares.store.penalize(s, penalty),
      () => primary.penalize(bucket, penalty),
    );
  }

  async observe(bucket: BucketConfig, observation: Observation): Promise<ObserveResult> {
    const { readings, reconciliation, primary } = this.#parts;
    const r = readings.get(bucket);
    const neutral: ObserveResult = { applied: false, limit: 'none', limitInForce: r?.limit ?? bucket.limit, phaseConflict: false, freed: 0 };
    if (this.#health.kind === 'degraded') return neutral;
    try {
      // only a request Redis admitted can settle there (one admitted under the local share has another clock)
      const weight = reconciliation.mirroredAt(observation.sentAt) !== undefined ? observation.weight : 0;
      const result = await primary.observe(bucket, { ...observation, weight });
      if (r) r.limit = result.limitInForce; // the share follows a learned limit at once
      return result;
    } catch (error) {
      this.#outage(error);
      return neutral;
    }
  }

  async release(request: AcquireRequest, count: number, at: number): Promise<void> {
    validateRelease(request, count, at);
    const { shares, reconciliation, primary } = this.#parts;
    const mirroredAt = reconciliation.mirroredAt(at);
    await shares.store.release(shares.mirrorRequest(request), count, mirroredAt ?? at);
    // admitted under the local share: what Redis has not been charged with yet is not charged at all
    if (mirroredAt === undefined) return reconciliation.unabsorb(request, count, at);
    if (this.#health.kind === 'degraded') return; // Redis keeps counting it: an over-count
    await primary.release(request, count, at).catch((e) => this.#outage(e));
  }

  async inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]> {
    const { shares, primary } = this.#parts;
    if (this.#health.kind !== 'degraded') {
      try {
        return await primary.inspect(buckets);
      } catch (error) {
        this.#outage(error);
        if (this.#health.kind === 'connecting') throw error;
      }
    }
    await shares.seeded();
    return shares.store.inspect(buckets.map((b) => shares.mirror(b)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#parts.fleet.stop();
    // a closed process admits nothing more: the others need not hold back its share (best effort)
    if (this.#health.kind === 'healthy' || this.#health.kind === 'recovering') await this.#parts.fleet.leave(this.#parts.primary).catch(() => undefined);
    await this.#parts.shares.store.close();
    await this.#parts.primary.close();
  }
}
