import type { Priority } from '../store/types.js';
import { AbortError, InvalidArgumentError, KucoinSchedulerError, MaxWaitExceededError, SchedulerClosedError } from '../errors.js';
import type { Admission } from './admission.js';
import { classifyReply, replyFromError, type Classified, type GatewayReply } from '../kucoin/errorFeedback.js';
import { TypedEmitter, type Listener, type SchedulerEvents } from './events.js';
import type { ResilientStore } from '../store/resilientStore.js';
import { FeedbackController, type FeedbackOutcome } from './feedbackController.js';
import { sdkReplyOf } from '../kucoin/sdkReply.js';
import { resolveOptions, type ResolvedOptions, type SchedulerOptions } from './options.js';
import { deferEnd, type Job } from './queue/job.js';
import { watchAbort } from '../util/abortWatch.js';
import { setLongTimeout } from '../util/longTimeout.js';
import { Workload } from './queue/workload.js';
import { rejectedFields, RequestPlanner, snapshotScheduleOptions, type ScheduleOptions } from './requestPlan.js';
import { bucketOfTarget, type BucketTarget, type ResumeTarget } from './bucketTarget.js';
import { createPort, type SchedulerPort, type WrapSender } from './schedulerPort.js';
import type { SchedulerSnapshot, WrapOptions } from './schedulerTypes.js';

export type { BucketTarget, ResumeTarget } from './bucketTarget.js';
export type { SchedulerSnapshot, WrapOptions } from './schedulerTypes.js';

/** Reads a scheduler's port (set in the class's static block, which alone sees its private fields). */
let readPort: (scheduler: Scheduler) => SchedulerPort;
let isScheduler: (value: unknown) => value is Scheduler;

/**
 * Schedules requests so that all processes sharing a store never exceed KuCoin's quotas. Create one with
 * `createScheduler` (the package exports the class as a type: `createScheduler` passes in the attempt loop `wrap` runs on).
 */
export class Scheduler {
  static {
    readPort = (scheduler) => scheduler.#port;
    isScheduler = (value): value is Scheduler => typeof value === 'object' && value !== null && #port in value;
  }
  readonly #options: ResolvedOptions;
  readonly #planner: RequestPlanner;
  readonly #events = new TypedEmitter<SchedulerEvents>();
  readonly #feedback: FeedbackController;
  /** Admissions already fed back: a second reply for one request settles nothing (see Observation.weight). */
  readonly #fedBack = new WeakSet<Admission>();
  /** This process's lanes and running requests. */
  readonly #work: Workload;
  #closed = false;
  /** `pause()` without a target: this process admits only critical requests until `start()`. */
  #held = false;
  readonly #port: SchedulerPort;
  readonly #wrapSender: WrapSender | undefined;

  constructor(options: SchedulerOptions);
  /** @internal `createScheduler` passes the attempt loop `wrap` runs on (src/send/createScheduler.ts). */
  constructor(options: SchedulerOptions, wrapSender: WrapSender);
  constructor(options: SchedulerOptions, wrapSender?: WrapSender) {
    this.#wrapSender = wrapSender;
    this.#port = this.#makePort();
    this.#options = resolveOptions(options);
    this.#planner = new RequestPlanner(this.#options);
    this.#feedback = new FeedbackController(this.#options.store, this.#planner, this.#options, this.#events);
    this.#work = new Workload({
      store: this.#options.store,
      events: this.#events,
      shares: this.#options.shares,
      maxQueued: this.#options.maxQueued,
      agingMs: this.#options.agingMs,
      jitterMs: this.#options.jitterMs,
      failsClosed: (priority) => this.#options.failClosed.has(priority) && this.#health() === 'degraded',
      held: () => this.#held,
      now: Date.now,
      random: Math.random,
    });
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

  /** The port the send layer uses (src/scheduler/schedulerPort.ts); its key circuits are made on first use. */
  #makePort(): SchedulerPort {
    return createPort({
      limits: () => ({ maxAttempts: this.maxAttempts, maxWaitMs: this.maxWaitMs }),
      schedule: (opts, fn, attempt) => this.#schedule(opts, fn, attempt),
      feedback: (admission, classified) => this.#feedbackClassified(admission, classified),
      penalize: async (target, penalty) => {
        const result = await this.#options.store.penalize(this.#bucketOf(target), penalty);
        this.#work.wakeAll();
        return result;
      },
      inspect: async (target) => (await this.#options.store.inspect([this.#bucketOf(target)]))[0],
      resume: (target) => this.resume(target),
      notify: (name, event) => this.#events.has(name) && this.#events.emit(name, event),
      on: (name, listener) => this.on(name, listener),
    });
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

    const theLane = this.#work.lane(plan.lane);

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
          this.#work.started(plan.priority);
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
          new Promise<T>((res) => res(fn(admission))).then(resolve, reject).finally(() => this.#work.settled(plan.priority));
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
        this.#work.quiet(); // a held lane has no dispatch to report it idle
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
    return this.#feedbackClassified(admission, classifyReply(reply));
  }

  async #feedbackClassified(admission: Admission, classified: Classified): Promise<FeedbackOutcome> {
    const first = !this.#fedBack.has(admission);
    this.#fedBack.add(admission);
    const outcome = await this.#feedback.apply(admission.plan, admission.sentAt, classified, first);
    // a pause or a new limit changes every lane's wait: let each ask the store again; weight the reply freed (its
    // request settled in a window that is over) may let a lane sleeping on that bucket's window in now
    if (outcome.pausedUntil > 0 || outcome.limitLearned) this.#work.wakeAll();
    else if (outcome.freed > 0) this.#work.wakeSleepingOn(admission.plan.charges[0]!.bucket.id);
    return outcome;
  }

  /**
   * Returns a function that schedules every call of `fn` with the same options. Errors thrown by `fn` are
   * read for rate-limit signals (kucoin-universal-sdk, ccxt, plain objects with code/status/headers): the
   * signal is fed back and, since the request was not executed, it is scheduled again with its priority
   * and deadline, up to `feedback.maxAttempts` (the one attempt loop, `src/send/attemptLoop.ts`). Any other
   * error is thrown as it is. Needs a scheduler made by `createScheduler` (it passes the attempt loop in).
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
    const sender = this.#wrapSender;
    if (!sender) throw new InvalidArgumentError('Expected a scheduler made by createScheduler: `wrap` runs on the attempt loop it passes in');
    return (...args: A) =>
      sender<R>(this.#port, {
        schedule: snapshot,
        send: () => fn(...args),
        replyOf: (result) => reader(result),
        replyOfError: replyFromError,
      });
  }

  #bucketOf(target: BucketTarget) {
    return bucketOfTarget(this.#planner, target);
  }

  /**
   * Without arguments (p-queue's `pause()`): this process stops admitting new work until `start()`. Queued requests
   * stay queued (their `maxWaitMs` still runs), running ones finish; critical requests are still admitted, so a
   * cancel can always go out. Other processes are not affected.
   */
  pause(): void;
  /** Admits nothing on the bucket before `untilMs` (epoch ms, store clock), for every process. Never shortens a pause. */
  pause(target: BucketTarget, untilMs: number): Promise<void>;
  pause(target?: BucketTarget, untilMs?: number): Promise<void> | void {
    if (target === undefined && untilMs === undefined) {
      this.#held = true;
      return;
    }
    return this.#pauseBucket(target!, untilMs!);
  }

  async #pauseBucket(target: BucketTarget, untilMs: number): Promise<void> {
    await this.#options.store.pause(this.#bucketOf(target), untilMs);
  }

  /** Undoes `pause()`: this process admits every priority again (p-queue's `start()`). */
  start(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#work.wakeAll();
  }

  /** True between `pause()` and `start()`. */
  get isPaused(): boolean {
    return this.#held;
  }

  /** Requests queued in this process, every lane and priority (p-queue's `size`). */
  get size(): number {
    return this.#work.queued;
  }

  /** Requests admitted by this process whose function has not settled yet (p-queue's `pending`). */
  get pending(): number {
    return this.#work.running;
  }

  /**
   * Resolves when this process has nothing queued and nothing running (p-queue's `onIdle`); at once if it is idle
   * now. Settles on the events themselves, never by polling. Other processes' work is not waited for.
   */
  onIdle(): Promise<void> {
    return this.#work.onIdle();
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
    this.#work.wakeAll();
  }

  /** Tightens (or restores) a bucket for every process: effective limit = floor(limit x factor). */
  async setFactor(target: BucketTarget, factor: number): Promise<void> {
    await this.#options.store.setFactor(this.#bucketOf(target), factor);
    this.#work.wakeAll(); // a raised factor may admit at once
  }

  /** Every bucket's state and this process's queues. */
  async snapshot(): Promise<SchedulerSnapshot> {
    const buckets = await this.#options.store.inspect([...this.#planner.allBuckets(), ...this.#planner.guardBuckets()]);
    return { buckets, queued: this.#work.depths(), running: this.#work.running, runningByPriority: this.#work.runningByPriority() };
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
    if (drainMs > 0) await this.#work.until(() => this.#work.empty, drainMs);
    this.#unsubscribeHealth?.();
    for (const job of this.#work.drainAll()) {
      // one the store is answering for ends when it answers (given back if it was charged)
      if (job.inFlight) deferEnd(job, new SchedulerClosedError());
      else job.fail(new SchedulerClosedError());
    }
    // requests the store is answering for end when it answers (given back first): wait for those lanes too
    await this.#work.until(() => this.#work.idle, Number.POSITIVE_INFINITY);
    this.#work.quiet();
    if (this.#options.ownsStore) await this.#options.store.close();
  }

  #rejected(error: Error, priority: Priority | undefined, endpoint: string | undefined): Error {
    if (this.#events.has('rejected')) {
      this.#events.emit('rejected', { priority, code: error instanceof KucoinSchedulerError ? error.code : 'UNKNOWN', endpoint });
    }
    return error;
  }
}

/** @internal The send layer's view of a scheduler (src/scheduler/schedulerPort.ts): what the attempt loop and the clients call. */
export function portOf(scheduler: Scheduler): SchedulerPort {
  return readPort(scheduler);
}

/** @internal True for a Scheduler (the clients and integrations check their `scheduler` option with it). */
export function isSchedulerInstance(value: unknown): value is Scheduler {
  return isScheduler(value);
}
