import { type BucketState, type Priority } from './buckets/types.js';
import { AbortError, InvalidArgumentError, KucoinSchedulerError, MaxWaitExceededError, SchedulerClosedError, UnknownPoolError } from './errors.js';
import type { Admission } from './admission.js';
import { replyFromError, type GatewayReply } from './errorFeedback.js';
import { sendWithAttempts } from './send/attemptLoop.js';
import { TypedEmitter, type Listener, type SchedulerEvents } from './events.js';
import type { ResilientStore } from './buckets/resilientStore.js';
import { FeedbackController, type FeedbackOutcome } from './feedback/feedbackController.js';
import { sdkReplyOf } from './integrations/sdkReply.js';
import { parsePoolName, POOL_NAMES, type PoolName } from './kucoin/pools.js';
import type { HostName } from './kucoin/endpointTypes.js';
import type { Penalty, PenaltyResult } from './buckets/types.js';
import { resolveOptions, type ResolvedOptions, type SchedulerOptions } from './options.js';
import { deferEnd, type Job } from './queue/job.js';
import { watchAbort } from './util/abortWatch.js';
import { setLongTimeout } from './util/longTimeout.js';
import { Lane } from './queue/lane.js';
import { rejectedFields, RequestPlanner, snapshotScheduleOptions, type ScheduleOptions } from './requestPlan.js';

export interface SchedulerSnapshot {
  /** Every bucket this scheduler can charge, as the store sees it now. */
  readonly buckets: readonly BucketState[];
  /** Requests waiting in this process, per lane (pool bucket) and priority. */
  readonly queued: Readonly<Record<string, Record<Priority, number>>>;
  /** Requests admitted by this process whose function has not settled yet. */
  readonly running: number;
}

/**
 * Bucket targets that can be paused or tightened: a pool, the egress IP (Cloudflare), the system guard, a key's
 * circuit guard (`key:<keyId>`, keyId a short hash) or a host's guard (`host:spot`).
 */
export type BucketTarget = PoolName | Lowercase<PoolName> | 'cloudflare' | 'system' | `key:${string}` | `host:${HostName}`;

/** What `resume` clears: a bucket target, or one endpoint's (UID, endpoint) pause (after a 200002). */
export type ResumeTarget = BucketTarget | { readonly endpoint: string; readonly host?: string };

/** Options of `wrap`: the schedule options, plus how to read the wrapped function's result. */
export interface WrapOptions<E extends string = string> extends ScheduleOptions<E> {
  /**
   * Finds rate-limit headers in a successful result so they are fed back. The default reads
   * kucoin-universal-sdk responses (`commonResponse.rateLimit`): `sdkReplyOf`.
   */
  readonly replyOf?: (result: unknown) => GatewayReply | undefined;
}

/**
 * Schedules requests so that all processes sharing a store never exceed KuCoin's quotas.
 * Create one with `createScheduler`.
 */
export class Scheduler {
  readonly #options: ResolvedOptions;
  readonly #planner: RequestPlanner;
  readonly #events = new TypedEmitter<SchedulerEvents>();
  readonly #lanes = new Map<string, Lane>();
  readonly #feedback: FeedbackController;
  /** Admissions already fed back: a second reply for one request settles nothing (see Observation.weight). */
  readonly #fedBack = new WeakSet<Admission>();
  #running = 0;
  /** Called when the last running request settles, or the last lane empties (close waits on them). */
  #onQuiet: (() => void) | undefined;
  #closed = false;

  constructor(options: SchedulerOptions) {
    this.#options = resolveOptions(options);
    this.#planner = new RequestPlanner(this.#options);
    this.#feedback = new FeedbackController(this.#options.store, this.#planner, this.#options, this.#events);
    const store = this.#options.store as Partial<ResilientStore>;
    if (typeof store.onHealthChange === 'function') {
      this.#unsubscribeHealth = store.onHealthChange((health, error) => {
        if (health === 'degraded') this.#events.emit('degraded', { error });
        else if (health === 'recovering') this.#events.emit('recovered', {});
      });
    }
  }

  #unsubscribeHealth: (() => void) | undefined;

  #health(): string {
    return (this.#options.store as Partial<ResilientStore>).health ?? 'healthy';
  }

  /** Sends of one request when the gateway refuses it with rate-limit signals (`feedback.maxAttempts`). */
  get maxAttempts(): number {
    return this.#options.feedback.maxAttempts;
  }

  /** Default longest wait for admission (`maxWaitMs`), ms. */
  get maxWaitMs(): number {
    return this.#options.maxWaitMs;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SchedulerEvents>(name: K, listener: Listener<SchedulerEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  /**
   * Waits until every bucket the request needs admits it, charges them all, then runs `fn` and settles
   * with its result. Rejects with a typed error, without charging anything, on bad input, abort, timeout,
   * a full queue or close. `fn` gets the admission, with the request's `signal` (p-queue style).
   */
  async schedule<T, E extends string = string>(opts: ScheduleOptions<E>, fn: (admission: Admission) => T | PromiseLike<T>): Promise<T> {
    return this.#schedule(opts, fn, 1);
  }

  /** @internal `schedule` for the n-th send of one request (the attempt loop, `src/send/attemptLoop.ts`). */
  async scheduleAttempt<T>(opts: ScheduleOptions, fn: (admission: Admission) => T | PromiseLike<T>, attempt: number): Promise<T> {
    return this.#schedule(opts, fn, attempt);
  }

  async #schedule<T>(opts: ScheduleOptions, fn: (admission: Admission) => T | PromiseLike<T>, attempt: number): Promise<T> {
    let plan;
    try {
      if (this.#closed) throw new SchedulerClosedError();
      if (typeof fn !== 'function') throw new InvalidArgumentError('Expected fn to be a function');
      plan = this.#planner.plan(opts);
    } catch (error) {
      const { priority, endpoint } = rejectedFields(opts);
      throw this.#rejected(error as Error, priority, endpoint);
    }
    if (plan.assumed && this.#events.has('unknownEndpoint')) {
      this.#events.emit('unknownEndpoint', {
        endpoint: `${plan.assumed.method} ${plan.assumed.path}`,
        host: plan.assumed.host,
        pool: plan.pool,
        weight: plan.weight,
      });
    }
    const signal = plan.signal;
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
        failsClosed: (priority) => this.#options.failClosed.has(priority) && this.#health() === 'degraded',
        now: Date.now,
        random: Math.random,
        // a lane that has nothing to do is dropped: one per endpoint ever used would grow without bound
        onIdle: (idle) => {
          if (this.#lanes.get(idle.id) === idle) this.#lanes.delete(idle.id);
          this.#onQuiet?.();
        },
      });
      this.#lanes.set(plan.lane, lane);
    }
    const theLane = lane;

    return new Promise<T>((resolve, reject) => {
      // fires after the job below exists (a timer never fires synchronously); Infinity never fires
      const deadlineTimer = setLongTimeout(() => endWhileQueued(new MaxWaitExceededError(plan.maxWaitMs)), plan.maxWaitMs, true);
      let unwatch: (() => void) | undefined;
      const now = Date.now();
      const cleanup = (): void => {
        deadlineTimer.clear();
        unwatch?.();
      };
      const job: Job = {
        plan,
        enqueuedAt: now,
        deadline: now + plan.maxWaitMs,
        settled: false,
        inFlight: false,
        pendingError: undefined,
        admit: (waitedMs, sentAt) => {
          job.settled = true;
          cleanup();
          if (this.#events.has('admitted')) {
            this.#events.emit('admitted', { priority: plan.priority, pool: plan.pool, weight: plan.weight, waitedMs, endpoint: plan.endpoint });
          }
          this.#running++;
          const admission: Admission = {
            sentAt,
            pool: plan.pool,
            weight: plan.weight,
            priority: plan.priority,
            endpoint: plan.endpoint,
            attempt,
            signal,
            plan,
          };
          new Promise<T>((res) => res(fn(admission))).then(resolve, reject).finally(() => {
            this.#running--;
            this.#onQuiet?.();
          });
        },
        fail: (error) => {
          job.settled = true;
          cleanup();
          reject(this.#rejected(error, plan.priority, plan.endpoint));
        },
      };
      const endWhileQueued = (error: Error): void => {
        if (job.settled) return;
        if (job.inFlight) {
          // the store is answering for it: the lane ends it after a charge is given back (never rejected charged)
          deferEnd(job, error);
          return;
        }
        theLane.forget(job);
        job.fail(error);
      };
      if (signal) unwatch = watchAbort(signal, () => endWhileQueued(new AbortError(signal.reason)));
      try {
        theLane.push(job);
      } catch (error) {
        job.fail(error as Error);
      }
    });
  }

  /**
   * Feeds a reply back: its `gw-ratelimit-*` headers update the pool's shared bucket (learned limit,
   * window phase, hidden weight), and a rate-limit signal pauses or tightens exactly the scope it names,
   * for every process. `outcome.signal` set means the request was not executed: sending it again is safe.
   */
  async feedback(admission: Admission, reply: GatewayReply): Promise<FeedbackOutcome> {
    const first = !this.#fedBack.has(admission);
    this.#fedBack.add(admission);
    const outcome = await this.#feedback.apply(admission.plan, admission.sentAt, reply, first);
    // a pause or a new limit changes every lane's wait: let each ask the store again; weight the reply freed (its
    // request settled in a window that is over) may let a lane sleeping on that bucket's window in now
    if (outcome.pausedUntil > 0 || outcome.limitLearned) for (const lane of this.#lanes.values()) lane.wake();
    else if (outcome.freed > 0) {
      const bucketId = admission.plan.charges[0]!.bucket.id;
      for (const lane of this.#lanes.values()) if (lane.sleepsOnWindowOf(bucketId)) lane.wake();
    }
    return outcome;
  }

  /**
   * Returns a function that schedules every call of `fn` with the same options. Errors thrown by `fn` are
   * read for rate-limit signals (kucoin-universal-sdk, ccxt, plain objects with code/status/headers): the
   * signal is fed back and, since the request was not executed, it is scheduled again with its priority
   * and deadline, up to `feedback.maxAttempts` (the one attempt loop, `src/send/attemptLoop.ts`). Any other
   * error is thrown as it is.
   */
  wrap<A extends unknown[], R, E extends string = string>(fn: (...args: A) => R | PromiseLike<R>, opts: WrapOptions<E>): (...args: A) => Promise<R> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('Expected fn to be a function');
    const snapshot = snapshotScheduleOptions(opts); // read once: every call and attempt uses these values
    this.#planner.plan(snapshot); // validate now, not at the first call
    let replyOf: WrapOptions['replyOf'];
    try {
      replyOf = opts.replyOf ?? sdkReplyOf;
    } catch (error) {
      throw new InvalidArgumentError('Expected a readable `replyOf` option', { cause: error });
    }
    if (typeof replyOf !== 'function') throw new InvalidArgumentError('Expected replyOf to be a function');
    const reader = replyOf;
    return async (...args: A) => {
      const done = await sendWithAttempts(this, {
        schedule: snapshot,
        send: () => fn(...args),
        replyOf: (result) => reader(result),
        replyOfError: replyFromError,
      });
      return done.value;
    };
  }

  #bucketOf(target: BucketTarget) {
    if (target === 'cloudflare') return this.#planner.ipBucket();
    if (target === 'system') return this.#planner.systemBucket();
    if (typeof target === 'string' && target.startsWith('key:')) {
      const keyId = target.slice(4);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(keyId))
        throw new InvalidArgumentError(`Expected key:<keyId> with a keyId of A-Z a-z 0-9 _ -, got ${JSON.stringify(target.slice(0, 80))}`);
      return this.#planner.keyGuard(keyId);
    }
    if (target === 'host:spot' || target === 'host:futures' || target === 'host:broker') return this.#planner.hostGuard(target.slice(5) as HostName);
    const pool = typeof target === 'string' ? parsePoolName(target) : undefined;
    if (!pool) throw new UnknownPoolError(String(target), [...POOL_NAMES, 'cloudflare', 'system']);
    return this.#planner.poolBucket(pool);
  }

  /** Admits nothing on the bucket before `untilMs` (epoch ms, store clock), for every process. Never shortens a pause. */
  async pause(target: BucketTarget, untilMs: number): Promise<void> {
    await this.#options.store.pause(this.#bucketOf(target), untilMs);
  }

  /**
   * Clears a pause, for every process: the pause itself, the spent marking a 429000 left, the backoff level of
   * a 429001 storm, and the tightening (the factor a 429000 or a 1015 lowered comes back to 1). An operator's override for a pause known to be wrong (a garbage reply, a block
   * lifted early). Without a target, every bucket this scheduler knows is resumed.
   */
  async resume(target?: ResumeTarget): Promise<void> {
    let buckets;
    if (target === undefined) buckets = [...this.#planner.allBuckets(), ...this.#planner.guardBuckets()];
    else if (typeof target === 'object' && target !== null) {
      const bucket = this.#planner.plan({ endpoint: target.endpoint, host: target.host, priority: 'critical' }).endpointBucket;
      if (!bucket) throw new InvalidArgumentError(`Expected an endpoint "METHOD /path", got ${JSON.stringify(target.endpoint)}`);
      buckets = [bucket];
    } else buckets = [this.#bucketOf(target)];
    for (const bucket of buckets) await this.#options.store.resume(bucket);
    for (const lane of this.#lanes.values()) lane.wake();
  }

  /** @internal The attempt loop's actions (key circuit, host backoff): a penalty on a guard, for every process. */
  async penalizeTarget(target: BucketTarget, penalty: Penalty): Promise<PenaltyResult> {
    const result = await this.#options.store.penalize(this.#bucketOf(target), penalty);
    for (const lane of this.#lanes.values()) lane.wake();
    return result;
  }

  /** @internal One guard's state as the store sees it now (the attempt loop reads a key's circuit with it). */
  async inspectTarget(target: BucketTarget): Promise<BucketState | undefined> {
    return (await this.#options.store.inspect([this.#bucketOf(target)]))[0];
  }

  /** @internal Emits an event of the attempt loop's actions (src/send/actionEvents.ts). */
  notify<K extends keyof SchedulerEvents>(name: K, event: SchedulerEvents[K]): void {
    if (this.#events.has(name)) this.#events.emit(name, event);
  }

  /** Tightens (or restores) a bucket for every process: effective limit = floor(limit x factor). */
  async setFactor(target: BucketTarget, factor: number): Promise<void> {
    await this.#options.store.setFactor(this.#bucketOf(target), factor);
    for (const lane of this.#lanes.values()) lane.wake(); // a raised factor may admit at once
  }

  /** Every bucket's state and this process's queues. */
  async snapshot(): Promise<SchedulerSnapshot> {
    const buckets = await this.#options.store.inspect([...this.#planner.allBuckets(), ...this.#planner.guardBuckets()]);
    const queued: Record<string, Record<Priority, number>> = {};
    for (const [id, lane] of this.#lanes) queued[id] = lane.depth;
    return { buckets, queued, running: this.#running };
  }

  /**
   * Refuses new requests at once. With `drainMs`, waiting requests keep being admitted for up to that long;
   * whatever still waits then rejects with SchedulerClosedError (nothing is left hanging). Resolves when
   * the requests already running have settled too.
   * @param options.drainMs @default 0 (reject every waiting request now)
   */
  async close(options: { readonly drainMs?: number } = {}): Promise<void> {
    const drainMs = options.drainMs ?? 0;
    if (!(drainMs >= 0)) throw new InvalidArgumentError(`Expected drainMs to be a number >= 0, got ${String(options.drainMs)}`);
    if (this.#closed) return;
    this.#closed = true;
    // settles on the events themselves (the last lane empties, the last request settles), never by polling
    if (drainMs > 0) await this.#until(() => [...this.#lanes.values()].every((l) => l.size === 0), drainMs);
    this.#unsubscribeHealth?.();
    for (const lane of this.#lanes.values()) {
      for (const job of lane.drain()) {
        // one the store is answering for ends when it answers (given back if it was charged)
        if (job.inFlight) deferEnd(job, new SchedulerClosedError());
        else job.fail(new SchedulerClosedError());
      }
    }
    // requests the store is answering for end when it answers (given back first): wait for those lanes too
    const lanes = [...this.#lanes.values()];
    this.#lanes.clear();
    await this.#until(() => this.#running === 0 && lanes.every((l) => l.idle), Number.POSITIVE_INFINITY);
    if (this.#options.ownsStore) await this.#options.store.close();
  }

  /** Resolves when `done()` holds, checked at every lane-idle and request-settled event, or after `ms`. */
  #until(done: () => boolean, ms: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        timer.clear();
        this.#onQuiet = undefined;
        resolve();
      };
      const timer = setLongTimeout(finish, ms, true);
      this.#onQuiet = () => {
        if (done()) finish();
      };
    });
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
