import { PRIORITIES, type BucketState, type Priority } from './buckets/types.js';
import { AbortError, InvalidArgumentError, KucoinSchedulerError, MaxWaitExceededError, SchedulerClosedError, UnknownPoolError } from './errors.js';
import { TypedEmitter, type Listener, type SchedulerEvents } from './events.js';
import { parsePoolName, POOL_NAMES, type PoolName } from './kucoin/pools.js';
import { resolveOptions, type ResolvedOptions, type SchedulerOptions } from './options.js';
import type { Job } from './queue/job.js';
import { watchAbort } from './queue/abortWatch.js';
import { Lane } from './queue/lane.js';
import { RequestPlanner, type ScheduleOptions } from './requestPlan.js';

export interface SchedulerSnapshot {
  /** Every bucket this scheduler can charge, as the store sees it now. */
  readonly buckets: readonly BucketState[];
  /** Requests waiting in this process, per lane (pool bucket) and priority. */
  readonly queued: Readonly<Record<string, Record<Priority, number>>>;
  /** Requests admitted by this process whose function has not settled yet. */
  readonly running: number;
}

/** Bucket targets the feedback layer can pause or tighten: a pool, or Cloudflare's per-IP limit. */
export type BucketTarget = PoolName | Lowercase<PoolName> | 'cloudflare';

/**
 * Schedules requests so that all processes sharing a store never exceed KuCoin's quotas.
 * Create one with `createScheduler`.
 */
export class Scheduler {
  readonly #options: ResolvedOptions;
  readonly #planner: RequestPlanner;
  readonly #events = new TypedEmitter<SchedulerEvents>();
  readonly #lanes = new Map<string, Lane>();
  #running = 0;
  #closed = false;

  constructor(options: SchedulerOptions) {
    this.#options = resolveOptions(options);
    this.#planner = new RequestPlanner(this.#options);
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SchedulerEvents>(name: K, listener: Listener<SchedulerEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  /**
   * Waits until every bucket the request needs admits it, charges them all, then runs `fn` and settles
   * with its result. Rejects with a typed error, without charging anything, on bad input, abort, timeout,
   * a full queue or close.
   */
  async schedule<T>(opts: ScheduleOptions, fn: () => T | PromiseLike<T>): Promise<T> {
    let plan;
    try {
      if (this.#closed) throw new SchedulerClosedError();
      if (typeof fn !== 'function') throw new InvalidArgumentError('Expected fn to be a function');
      plan = this.#planner.plan(opts);
    } catch (error) {
      const priority = PRIORITIES.includes(opts?.priority as Priority) ? opts.priority : undefined;
      throw this.#rejected(error as Error, priority, typeof opts?.endpoint === 'string' ? opts.endpoint : undefined);
    }
    if (plan.assumed && this.#events.has('unknownEndpoint')) {
      this.#events.emit('unknownEndpoint', { endpoint: `${plan.assumed.method} ${plan.assumed.path}`, host: plan.assumed.host, pool: plan.pool, weight: plan.weight });
    }
    const signal = opts.signal;
    if (signal?.aborted) throw this.#rejected(new AbortError(signal.reason), plan.priority, plan.endpoint);

    let lane = this.#lanes.get(plan.lane);
    if (!lane) {
      lane = new Lane(plan.lane, {
        store: this.#options.store,
        events: this.#events,
        shares: this.#options.shares,
        maxQueued: this.#options.maxQueued,
        agingMs: this.#options.agingMs,
        jitterMs: this.#options.jitterMs,
        now: Date.now,
        random: Math.random,
      });
      this.#lanes.set(plan.lane, lane);
    }
    const theLane = lane;

    return new Promise<T>((resolve, reject) => {
      let deadlineTimer: NodeJS.Timeout | undefined;
      let unwatch: (() => void) | undefined;
      const now = Date.now();
      const cleanup = (): void => {
        if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
        unwatch?.();
      };
      const job: Job = {
        plan,
        enqueuedAt: now,
        deadline: now + plan.maxWaitMs,
        settled: false,
        admit: (waitedMs) => {
          job.settled = true;
          cleanup();
          if (this.#events.has('admitted')) {
            this.#events.emit('admitted', { priority: plan.priority, pool: plan.pool, weight: plan.weight, waitedMs, endpoint: plan.endpoint });
          }
          this.#running++;
          new Promise<T>((res) => res(fn())).then(resolve, reject).finally(() => this.#running--);
        },
        fail: (error) => {
          job.settled = true;
          cleanup();
          reject(this.#rejected(error, plan.priority, plan.endpoint));
        },
      };
      const endWhileQueued = (error: Error): void => {
        if (job.settled) return;
        theLane.forget(job);
        job.fail(error);
      };
      if (signal) unwatch = watchAbort(signal, () => endWhileQueued(new AbortError(signal.reason)));
      if (Number.isFinite(plan.maxWaitMs)) {
        deadlineTimer = setTimeout(() => endWhileQueued(new MaxWaitExceededError(plan.maxWaitMs)), plan.maxWaitMs);
        deadlineTimer.unref?.();
      }
      try {
        theLane.push(job);
      } catch (error) {
        job.fail(error as Error);
      }
    });
  }

  /** Returns a function that schedules every call of `fn` with the same options. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, opts: ScheduleOptions): (...args: A) => Promise<R> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('Expected fn to be a function');
    this.#planner.plan(opts); // validate now, not at the first call
    return (...args: A) => this.schedule(opts, () => fn(...args));
  }

  #bucketOf(target: BucketTarget) {
    if (target === 'cloudflare') {
      const cf = this.#planner.cloudflareBucket();
      if (!cf) throw new InvalidArgumentError('The Cloudflare limit is turned off (cloudflare: false)');
      return cf;
    }
    const pool = typeof target === 'string' ? parsePoolName(target) : undefined;
    if (!pool) throw new UnknownPoolError(String(target), [...POOL_NAMES, 'cloudflare']);
    return this.#planner.poolBucket(pool);
  }

  /** Admits nothing on the bucket before `untilMs` (epoch ms, store clock), for every process. Never shortens a pause. */
  async pause(target: BucketTarget, untilMs: number): Promise<void> {
    await this.#options.store.pause(this.#bucketOf(target), untilMs);
  }

  /** Tightens (or restores) a bucket for every process: effective limit = floor(limit x factor). */
  async setFactor(target: BucketTarget, factor: number): Promise<void> {
    await this.#options.store.setFactor(this.#bucketOf(target), factor);
    for (const lane of this.#lanes.values()) lane.wake(); // a raised factor may admit at once
  }

  /** Every bucket's state and this process's queues. */
  async snapshot(): Promise<SchedulerSnapshot> {
    const buckets = await this.#options.store.inspect(this.#planner.allBuckets());
    const queued: Record<string, Record<Priority, number>> = {};
    for (const [id, lane] of this.#lanes) queued[id] = lane.depth;
    return { buckets, queued, running: this.#running };
  }

  /** Rejects every waiting request with SchedulerClosedError and refuses new ones. Running requests finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const lane of this.#lanes.values()) for (const job of lane.drain()) job.fail(new SchedulerClosedError());
    this.#lanes.clear();
    if (this.#options.ownsStore) await this.#options.store.close();
  }

  #rejected(error: Error, priority: Priority | undefined, endpoint: string | undefined): Error {
    if (this.#events.has('rejected')) {
      this.#events.emit('rejected', { priority, code: error instanceof KucoinSchedulerError ? error.code : 'UNKNOWN', endpoint });
    }
    return error;
  }
}

/** Creates a scheduler. Only `uid` is required; see SchedulerOptions for every default. */
export function createScheduler(options: SchedulerOptions): Scheduler {
  return new Scheduler(options);
}
