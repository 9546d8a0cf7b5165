import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, StoreError } from '../errors.js';
import { longestSpanMs, spanMs } from './state.js';
import { MemoryStore } from './memoryStore.js';
import type { RedisStore } from './redis/redisStore.js';
import type { AcquireRequest, AcquireResult, BucketConfig, BucketState, Observation, ObserveResult, Penalty, PenaltyResult, Store } from './types.js';
import { validateRelease } from './validate.js';

/**
 * connecting: Redis was never reached; nothing is admitted (acquire rejects with a StoreError, so a lane keeps
 * the request's place and retries). healthy: Redis decides. degraded: Redis was reached before and is
 * unreachable now; this process admits under its local share. recovering: Redis is back; for one span both
 * Redis and the local share must admit.
 */
export type StoreHealth = 'connecting' | 'healthy' | 'degraded' | 'recovering';

export interface ResilientStoreOptions {
  readonly primary: RedisStore;
  /**
   * Heartbeat period: how often live processes are counted and the fleet's use of each bucket this process
   * uses is read from Redis, and how often an unreachable Redis is probed. @default 1000
   */
  readonly heartbeatMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

export type HealthListener = (health: StoreHealth, error: Error | undefined) => void;

/** Weight admitted under the local share, to charge to Redis when it is back. */
interface Absorbed {
  readonly bucket: BucketConfig;
  weight: number;
  /** Local store time of the admission (its `AcquireResult.now`). */
  readonly at: number;
}

/** What Redis last said about a bucket this process uses. Times are this process's clock. */
interface Reading {
  bucket: BucketConfig;
  /** The fleet's counted weight (used + hidden); undefined before Redis reported it. */
  counted: number | undefined;
  /** When the call that reported `counted` began (the reading is at least that fresh). */
  countedAt: number;
  /** Limit in force before the factor (learned, else configured) and the factor; undefined before read. */
  limit: number | undefined;
  factor: number | undefined;
  /** Last acquisition by this process: readings of buckets unused for `READING_KEEP_SPANS` spans are dropped. */
  usedAt: number;
  /** Counts this process's own changes of the bucket's state, so a read that began before one does not undo it. */
  changes: number;
  /** A charge seen here may have taken fewer tokens than its weight (heavier than burst x share): pacing bounds nothing. */
  heavy: boolean;
}

/** What this process applied to a bucket's pause and factor while degraded, replayed to Redis on recovery. */
interface Journaled {
  readonly bucket: BucketConfig;
  pausedUntil: number;
  factor: number | undefined;
}

/** A bucket unused for this many spans is no longer read (a failure then assumes its limit spent). */
const READING_KEEP_SPANS = 10;

const keyOf = (b: BucketConfig): string => `${b.group}\u0000${b.id}`;

type Admitted = Extract<AcquireResult, { admitted: true }>;

/**
 * The most weight the whole fleet can have counted in `bucket` when Redis failed at `failedAt`, from Redis's
 * last reading (see ResilientStore): the limit in force when unknown or unpaced, else what was counted then
 * plus what pacing let the fleet admit since (a full token bucket and the refill), at most the limit.
 */
function fleetUseBound(bucket: BucketConfig, reading: Reading | undefined, failedAt: number): number {
  const limit = reading?.limit ?? bucket.limit;
  const factor = reading?.factor ?? 1;
  const inForce = Math.floor(limit * factor);
  if (reading?.counted === undefined || reading.heavy || !(bucket.burst > 0) || !(bucket.refillPerMs > 0)) return inForce;
  const scale = (limit * factor) / bucket.limit; // pacing scales with the limit in force (state.ts)
  const since = Math.max(0, failedAt - reading.countedAt);
  // a full token bucket, the overdraft critical may take (a second burst, reserve.ts's tierRoom), and the refill
  return Math.min(inForce, reading.counted + 2 * bucket.burst * scale + bucket.refillPerMs * scale * since);
}

/**
 * A RedisStore that keeps working when Redis does not, once it has reached Redis.
 *
 * Healthy: Redis decides; this process mirrors its own admissions in a local MemoryStore, and every heartbeat
 * counts the live processes of each quota group (n) and reads each bucket it uses: the fleet's counted weight
 * C (used + hidden) at local time tR, the limit in force L (learned from headers, else configured) and the
 * factor f (its pause and factor are copied onto the mirror too). Acquisitions refresh C as well.
 *
 * Degraded (Redis failed at tF): the process admits under its local share of each bucket: limit floor(L / n),
 * burst and refill scaled by L / limit and divided by n, with Redis's factor f mirrored (so the share is the
 * effective limit floor(L x f) / n). The share first counts this process's part of what the fleet may have
 * used when Redis failed:
 *
 *     U = min(E, C + 2 x burst x s + refill x s x (tF - tR))   with E = floor(L x f), s = L x f / limit
 *
 * Pacing bounds how much the fleet can have admitted since the reading (a full token bucket, the overdraft of
 * one more that critical requests may take, plus the refill);
 * without pacing, or without a reading (a bucket unused for a while), nothing bounds it and U = E. The share
 * counts max(own admissions, ceil(U / n)), which also empties its token bucket, as that use would have emptied
 * Redis's. So the n processes together admit at most E - U more in the window that straddles the failure,
 * and each at most its share afterwards. (Each process's n is its last count: a process started within a few
 * heartbeats of the failure may not have counted every other one yet.) A group whose live processes were
 * never counted has no share: acquire rejects with a StoreError.
 *
 * A share never rounds up: floor(L / n) may be 0 (more processes than the limit), which admits nothing. A charge
 * heavier than burst x share takes fewer tokens than it weighs, so a bucket that saw one counts as unpaced in U.
 * Pauses and factors taken while degraded are journaled and replayed to Redis (longer pause, lower factor win)
 * before recovering, so a 1015 received during an outage holds fleet-wide; a resume is not replayed.
 *
 * Known gap: a process cut off from a Redis the others still reach admits under its share while they admit up to
 * the whole limit through Redis (test/resilientPartial.test.ts, marked failing).
 *
 * Recovering: when a heartbeat sent after the failure answers, the weight admitted locally is charged to Redis
 * (absorb: an over-count, it expires later than it would have), including what is admitted while those calls
 * run, and for one span both Redis and the local share must admit, so processes that reconnect at different
 * moments cannot burst together. Heartbeats keep reading the fleet's use meanwhile, so a second failure seeds
 * from a fresh count.
 *
 * Connecting: a process that has never reached Redis has no count of its fleet: it admits nothing and probes
 * Redis (every heartbeat, and on every acquisition) until a heartbeat answers.
 */
export class ResilientStore implements Store {
  readonly #primary: RedisStore;
  readonly #local: MemoryStore;
  readonly #clock: () => number;
  readonly #heartbeatMs: number;
  readonly #id = randomUUID();
  readonly #groups = new Set<string>();
  /** Live processes per group: the latest count, and the highest one with when it was last seen. */
  readonly #live = new Map<string, { n: number; peak: number; peakAt: number }>();
  readonly #listeners = new Set<HealthListener>();
  readonly #scaled = new Map<string, BucketConfig>();
  readonly #readings = new Map<string, Reading>();
  /** Pauses and factors applied while degraded, by bucket: replayed to Redis before recovering. */
  readonly #journal = new Map<string, Journaled>();
  /** Admissions Redis made, by their `now`: the local time their mirror was charged at (for release). */
  readonly #mirroredAt = new Map<number, number>();
  #absorbed: Absorbed[] = [];
  #draining: Promise<void> = Promise.resolve();
  /** Buckets whose local share counts the fleet's use since the failure. */
  readonly #seeded = new Set<string>();
  #seeding: Promise<void> = Promise.resolve();
  #health: StoreHealth = 'connecting';
  #lastError: Error | undefined;
  #degradedAt = 0;
  #recoveringUntil = 0;
  /** The longest span any bucket used here may count an entry (longestSpanMs): how long recovery holds both checks. */
  #maxSpan = 0;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #closed = false;

  constructor(options: ResilientStoreOptions) {
    if (!options?.primary) throw new InvalidArgumentError('Expected options.primary (a RedisStore)');
    if ('fallbackProcesses' in options) {
      throw new InvalidArgumentError(
        'Option fallbackProcesses was removed: a process that has never reached Redis now admits nothing until it does (health `connecting`) instead of guessing its share',
      );
    }
    this.#primary = options.primary;
    this.#clock = options.clock ?? Date.now;
    this.#local = new MemoryStore({ clock: this.#clock });
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    if (typeof this.#heartbeatMs !== 'number' || !(this.#heartbeatMs > 0) || !Number.isFinite(this.#heartbeatMs)) {
      throw new InvalidArgumentError(`Expected heartbeatMs to be a finite number > 0, got ${String(options.heartbeatMs)}`);
    }
  }

  get health(): StoreHealth {
    return this.#health;
  }

  /** Live processes last counted in a quota group (undefined before a heartbeat of that group answered). */
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

  /** A Redis call failed: degrade, unless Redis was never reached (then stay connecting). */
  #fail(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.#lastError = e;
    if (this.#health === 'connecting' || this.#health === 'degraded') return;
    this.#degradedAt = this.#clock();
    this.#seeded.clear();
    // every bucket in use counts the fleet's use at once, so its tokens refill from the failure on
    this.#seedLater([...this.#readings.values()].map((r) => r.bucket).filter((bk) => this.liveProcesses(bk.group) !== undefined));
    this.#setHealth('degraded', e);
  }

  /** A caller-facing Redis call failed: an outage (StoreError) degrades; anything else is the caller's to see. */
  #outage(error: unknown): void {
    if (!(error instanceof StoreError)) throw error;
    this.#fail(error);
  }

  /** The local share of a bucket (see the class comment); undefined while its group's processes are uncounted. */
  #share(bucket: BucketConfig): BucketConfig | undefined {
    const n = this.liveProcesses(bucket.group);
    if (n === undefined) return undefined;
    const limit = this.#readings.get(keyOf(bucket))?.limit ?? bucket.limit;
    const key = [bucket.group, bucket.id, n, limit, bucket.limit, bucket.windowMs, bucket.marginMs, bucket.burst, bucket.refillPerMs, bucket.alignPhase].join(
      '\u0000',
    );
    let scaled = this.#scaled.get(key);
    if (!scaled) {
      const scale = limit / bucket.limit / n;
      // floor: n shares never add up to more than the limit, even when n > limit (a share of 0 admits nothing)
      scaled = { ...bucket, limit: Math.floor(limit / n), burst: bucket.burst * scale, refillPerMs: bucket.refillPerMs * scale };
      if (this.#scaled.size > 10_000) this.#scaled.clear();
      this.#scaled.set(key, scaled);
    }
    return scaled;
  }

  /** The mirror's config: the share, or the full bucket while its group is uncounted (only recorded into). */
  #mirror(bucket: BucketConfig): BucketConfig {
    return this.#share(bucket) ?? bucket;
  }

  #localRequest(request: AcquireRequest): AcquireRequest | undefined {
    const charges = [];
    for (const c of request.charges) {
      const bucket = this.#share(c.bucket);
      if (!bucket) return undefined;
      charges.push({ bucket, weight: c.weight });
    }
    return { ...request, charges };
  }

  #noShare(request: AcquireRequest): StoreError {
    const groups = [...new Set(request.charges.map((c) => c.bucket.group))].filter((g) => this.liveProcesses(g) === undefined);
    return new StoreError(
      `The live processes of quota group ${JSON.stringify(groups[0])} were never counted (no heartbeat of it answered yet): no local share to admit under while Redis is unavailable or recovering`,
      this.#lastError,
    );
  }

  #watch(request: AcquireRequest): void {
    const now = this.#clock();
    let newGroup = false;
    for (const c of request.charges) {
      if (!this.#groups.has(c.bucket.group)) {
        this.#groups.add(c.bucket.group);
        newGroup = true;
      }
      this.#maxSpan = Math.max(this.#maxSpan, longestSpanMs(c.bucket));
      if (c.weight <= 0) continue;
      const r = this.#readings.get(keyOf(c.bucket));
      // the fewest tokens this charge may take (admit.ts tokensNeeded: capped at capacity x share, capacity scaled down
      // by a factor < 1); a heavier charge is paced by fewer tokens than it weighs
      const heavy = c.weight > c.bucket.burst * request.share * Math.min(1, r?.factor ?? 1);
      if (r) {
        r.bucket = c.bucket;
        r.usedAt = now;
        r.heavy ||= heavy;
      } else {
        this.#readings.set(keyOf(c.bucket), {
          bucket: c.bucket,
          counted: undefined,
          countedAt: 0,
          limit: undefined,
          factor: undefined,
          usedAt: now,
          changes: 0,
          heavy,
        });
      }
    }
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => void this.#beat(), this.#heartbeatMs);
      this.#timer.unref();
    }
    if (newGroup && this.#health !== 'connecting') void this.#beat(); // count it soon (connecting: acquire probes)
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#watch(request);
    if (this.#health === 'connecting') {
      await this.#beat();
      if (this.#health === 'connecting') {
        throw new StoreError('Redis has not been reached yet: nothing is admitted before it has been once (store health `connecting`)', this.#lastError);
      }
    }
    if (this.#health === 'degraded') return this.#acquireLocally(request);
    if (this.#health === 'recovering' && this.#clock() >= this.#recoveringUntil) this.#setHealth('healthy');
    let count = request.count ?? 1;
    let local: AcquireRequest | undefined;
    let localResult: Admitted | undefined;
    if (this.#health === 'recovering') {
      local = this.#localRequest(request);
      if (!local) throw this.#noShare(request);
      const l = await this.#local.acquire(local);
      if (!l.admitted) return l;
      localResult = l;
      count = l.count; // the local share admitted these; Redis must admit them too
    }
    const startedAt = this.#clock();
    let result: AcquireResult;
    try {
      result = await this.#primary.acquire({ ...request, count });
    } catch (error) {
      // admitted by the local share before it counted the fleet's use at this failure: give back (admit again)
      if (localResult && local) await this.#local.release(local, localResult.count, localResult.now);
      this.#outage(error);
      return this.#acquireLocally(request);
    }
    if (localResult && local && (!result.admitted || result.count < localResult.count)) {
      // the local share charged more than Redis admitted: give the rest back
      const refused = localResult.count - (result.admitted ? result.count : 0);
      await this.#local.release(local, refused, localResult.now);
    }
    if (result.admitted) {
      let mirroredAt = localResult?.now;
      if (mirroredAt === undefined) {
        // keep this process's own admissions in the local share, so a failure finds them counted
        mirroredAt = this.#clock();
        this.#local.record({ ...request, charges: request.charges.map((c) => ({ bucket: this.#mirror(c.bucket), weight: c.weight })) }, result.count);
      }
      this.#rememberMirror(result.now, mirroredAt);
      result.counted?.forEach((counted, i) => {
        const r = request.charges[i]!.weight > 0 ? this.#readings.get(keyOf(request.charges[i]!.bucket)) : undefined;
        if (r && startedAt >= r.countedAt) {
          r.counted = counted;
          r.countedAt = startedAt;
        }
      });
    }
    return result;
  }

  #rememberMirror(redisNow: number, localAt: number): void {
    this.#mirroredAt.set(redisNow, localAt);
    for (const [at, localAt2] of this.#mirroredAt) {
      if (localAt2 + this.#maxSpan > localAt && this.#mirroredAt.size <= 10_000) break;
      this.#mirroredAt.delete(at);
    }
  }

  /** Admits under the local share, after counting the fleet's use at the failure in it (once per failure). */
  async #acquireLocally(request: AcquireRequest): Promise<AcquireResult> {
    const local = this.#localRequest(request);
    if (!local) throw this.#noShare(request);
    const none = local.charges.find((c) => c.weight > 0 && c.bucket.limit < 1);
    if (none) return { admitted: false, now: this.#clock(), waitMs: spanMs(none.bucket), bucketId: none.bucket.id, reason: 'window' };
    this.#seedLater(request.charges.filter((c) => c.weight > 0).map((c) => c.bucket)); // those first used since
    await this.#seeding;
    const result = await this.#local.acquire(local);
    if (result.admitted) this.#absorb(request, result);
    return result;
  }

  /** Seeds the buckets not seeded since the failure; chained, so no local acquisition runs before its seeds are in. */
  #seedLater(buckets: readonly BucketConfig[]): void {
    const unseeded = buckets.filter((b) => !this.#seeded.has(keyOf(b)));
    if (unseeded.length === 0) return;
    for (const b of unseeded) this.#seeded.add(keyOf(b));
    const failedAt = this.#degradedAt;
    this.#seeding = this.#seeding.then(() => this.#seed(unseeded, failedAt)).catch(() => undefined);
  }

  /** Brings each local share up to this process's part of the fleet's use at the failure (see the class comment). */
  async #seed(buckets: readonly BucketConfig[], failedAt: number): Promise<void> {
    const shares = buckets.map((b) => this.#mirror(b));
    const states = await this.#local.inspect(shares);
    buckets.forEach((bucket, i) => {
      const n = this.liveProcesses(bucket.group) ?? 1;
      const part = Math.ceil(fleetUseBound(bucket, this.#readings.get(keyOf(bucket)), failedAt) / n);
      const missing = part - states[i]!.used - states[i]!.hidden;
      if (missing > 0) this.#local.record({ charges: [{ bucket: shares[i]!, weight: missing }], share: 1 });
    });
  }

  /** Keeps locally admitted weight for Redis; charges it at once when Redis is already back. */
  #absorb(request: AcquireRequest, result: Admitted): void {
    for (const c of request.charges) if (c.weight > 0) this.#absorbed.push({ bucket: c.bucket, weight: c.weight * result.count, at: result.now });
    if (this.#health !== 'degraded') void this.#drain().catch((e) => this.#fail(e));
  }

  /** Charges Redis with what was admitted locally and still counts, until nothing is left (even what came meanwhile). */
  #drain(): Promise<void> {
    const next = this.#draining.catch(() => undefined).then(() => this.#drainOnce());
    this.#draining = next;
    return next;
  }

  async #drainOnce(): Promise<void> {
    while (this.#absorbed.length > 0) {
      const batch = this.#absorbed;
      this.#absorbed = [];
      const now = this.#clock();
      const byBucket = new Map<string, Absorbed[]>();
      for (const a of batch)
        if (a.weight > 0 && a.at + longestSpanMs(a.bucket) > now) byBucket.set(keyOf(a.bucket), [...(byBucket.get(keyOf(a.bucket)) ?? []), a]);
      const pending = [...byBucket.values()];
      try {
        for (; pending.length > 0; pending.shift()) {
          const entries = pending[0]!;
          // the keys and the span are the full bucket's (only limit, burst and refill were scaled locally)
          await this.#primary.absorb(
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

  /** The heartbeat (joined when one is under way): counts processes, probes and recovers, reads the buckets. */
  #beat(): Promise<void> {
    this.#beating ??= this.#beatOnce().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beatOnce(): Promise<void> {
    if (this.#closed || this.#groups.size === 0) return;
    const startedAt = this.#clock();
    // blind while Redis fails: the last counts age only from when Redis answers again (a restarted Redis has
    // lost every heartbeat, and the others register again within a heartbeat)
    if (this.#health === 'degraded') for (const l of this.#live.values()) l.peakAt = startedAt;
    try {
      for (const group of [...this.#groups]) this.#count(group, Math.max(1, await this.#primary.heartbeat(group, this.#id, this.#heartbeatMs * 3)));
      if (this.#health === 'connecting') this.#setHealth('healthy');
      // only a heartbeat sent after the failure proves that Redis is back
      if (this.#health === 'degraded' && startedAt > this.#degradedAt) await this.#recover();
      if (this.#health === 'recovering' && this.#clock() >= this.#recoveringUntil) this.#setHealth('healthy');
      if (this.#health !== 'degraded') await this.#read();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Charges Redis with what was admitted locally, then holds both checks for a span. */
  async #recover(): Promise<void> {
    await this.#replay();
    do await this.#drain();
    while (this.#absorbed.length > 0);
    // no await from the check above to the switch: nothing admitted locally can fall between the two
    this.#recoveringUntil = this.#clock() + this.#maxSpan;
    this.#setHealth('recovering');
  }

  /** Applies to Redis the pauses and factors taken while degraded (a longer pause and a lower factor win). */
  async #replay(): Promise<void> {
    const entries = [...this.#journal.values()];
    if (entries.length === 0) return;
    const states = await this.#primary.inspect(entries.map((e) => e.bucket));
    for (const [i, e] of entries.entries()) {
      if (e.pausedUntil > this.#clock()) await this.#primary.pause(e.bucket, e.pausedUntil);
      if (e.factor !== undefined && e.factor < states[i]!.factor) await this.#primary.setFactor(e.bucket, e.factor);
      this.#journal.delete(keyOf(e.bucket));
      this.#changed(e.bucket);
    }
  }

  /** Keeps what a degraded change did to the local share, for #replay. */
  async #journalLocal(bucket: BucketConfig): Promise<void> {
    const [state] = await this.#local.inspect([this.#mirror(bucket)]);
    if (!state) return;
    const e = this.#journal.get(keyOf(bucket)) ?? { bucket, pausedUntil: 0, factor: undefined };
    e.pausedUntil = state.pausedUntil > state.now ? state.pausedUntil : 0;
    e.factor = state.factor;
    this.#journal.set(keyOf(bucket), e);
  }

  /** Reads every bucket this process uses: the fleet's counted weight, the limit in force, the factor, the pause. */
  async #read(): Promise<void> {
    const now = this.#clock();
    for (const [key, r] of this.#readings) if (now - r.usedAt > READING_KEEP_SPANS * spanMs(r.bucket)) this.#readings.delete(key);
    const readings = [...this.#readings.values()];
    if (readings.length === 0) return;
    const changes = readings.map((r) => r.changes);
    const states = await this.#primary.inspect(readings.map((r) => r.bucket));
    for (const [i, s] of states.entries()) {
      const r = readings[i]!;
      if (now >= r.countedAt) {
        r.counted = s.used + s.hidden;
        r.countedAt = now;
      }
      if (r.changes !== changes[i]) continue; // changed by this process meanwhile: this reply may predate it
      r.limit = s.limit;
      r.factor = s.factor;
      // Redis's factor and pause, whichever process set or cleared them, hold here too if Redis fails
      const share = this.#mirror(r.bucket);
      await this.#local.resume(share); // clears the factor too: set it after
      await this.#local.setFactor(share, s.factor);
      if (s.pausedUntil > s.now) await this.#local.pause(share, now + (s.pausedUntil - s.now));
    }
  }

  /** Marks a change of the bucket's state made by this process (see Reading.changes). */
  #changed(bucket: BucketConfig): void {
    const r = this.#readings.get(keyOf(bucket));
    if (r) r.changes++;
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    this.#changed(bucket);
    await this.#local.pause(this.#mirror(bucket), untilMs);
    if (this.#health === 'degraded') return this.#journalLocal(bucket);
    await this.#primary.pause(bucket, untilMs).catch((e) => this.#outage(e));
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    this.#changed(bucket);
    await this.#local.setFactor(this.#mirror(bucket), factor);
    if (this.#health === 'degraded') return this.#journalLocal(bucket);
    await this.#primary.setFactor(bucket, factor).catch((e) => this.#outage(e));
  }

  async observe(bucket: BucketConfig, observation: Observation): Promise<ObserveResult> {
    const r = this.#readings.get(keyOf(bucket));
    const neutral: ObserveResult = { applied: false, limit: 'none', limitInForce: r?.limit ?? bucket.limit, phaseConflict: false, freed: 0 };
    if (this.#health === 'degraded') return neutral;
    try {
      // only a request Redis admitted can settle there (one admitted under the local share has another clock)
      const weight = this.#mirroredAt.has(observation.sentAt) ? observation.weight : 0;
      const result = await this.#primary.observe(bucket, { ...observation, weight });
      if (r) r.limit = result.limitInForce; // the share follows a learned limit at once
      return result;
    } catch (error) {
      this.#outage(error);
      return neutral;
    }
  }

  async release(request: AcquireRequest, count: number, at: number): Promise<void> {
    validateRelease(request, count, at);
    const mirroredAt = this.#mirroredAt.get(at);
    const mirror = { ...request, charges: request.charges.map((c) => ({ bucket: this.#mirror(c.bucket), weight: c.weight })) };
    await this.#local.release(mirror, count, mirroredAt ?? at);
    if (mirroredAt === undefined) {
      // admitted under the local share: what Redis has not been charged with yet is not charged at all
      for (const c of request.charges) {
        let left = c.weight * count;
        for (const a of this.#absorbed) {
          if (left <= 0) break;
          if (a.at !== at || keyOf(a.bucket) !== keyOf(c.bucket)) continue;
          const taken = Math.min(a.weight, left);
          a.weight -= taken;
          left -= taken;
        }
      }
      return;
    }
    if (this.#health === 'degraded') return; // Redis keeps counting it: an over-count
    await this.#primary.release(request, count, at).catch((e) => this.#outage(e));
  }

  async resume(bucket: BucketConfig): Promise<void> {
    this.#changed(bucket);
    await this.#local.resume(this.#mirror(bucket));
    if (this.#health === 'degraded') return this.#journalLocal(bucket);
    await this.#primary.resume(bucket).catch((e) => this.#outage(e));
  }

  async penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult> {
    this.#changed(bucket);
    const local = await this.#local.penalize(this.#mirror(bucket), penalty);
    if (this.#health === 'degraded') {
      await this.#journalLocal(bucket);
      return local;
    }
    try {
      return await this.#primary.penalize(bucket, penalty);
    } catch (error) {
      this.#outage(error);
      return local;
    }
  }

  async inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]> {
    if (this.#health !== 'degraded') {
      try {
        return await this.#primary.inspect(buckets);
      } catch (error) {
        this.#outage(error);
        if (this.#health === 'connecting') throw error;
      }
    }
    await this.#seeding;
    return this.#local.inspect(buckets.map((b) => this.#mirror(b)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#local.close();
    await this.#primary.close();
  }
}
