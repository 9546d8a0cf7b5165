import { PRIORITIES, type Priority, type Store } from '../../store/types.js';
import { MaxWaitExceededError, QueueFullError, StoreUnavailableError } from '../../errors.js';
import { MAX_TIMER_MS } from '../../util/longTimeout.js';
import type { SchedulerEvents, TypedEmitter } from '../events.js';
import { Fifo } from './fifo.js';
import { effectiveTier, TIER, type Job } from './job.js';

export interface LaneContext {
  readonly store: Store;
  readonly events: TypedEmitter<SchedulerEvents>;
  readonly shares: Readonly<Record<Priority, number>>;
  readonly maxQueued: number;
  readonly agingMs: number;
  readonly jitterMs: number;
  /** True when this priority must fail closed now (degraded store, `failClosed`). */
  readonly failsClosed: (priority: Priority) => boolean;
  /** Local clock (ms) for aging and deadlines. */
  readonly now: () => number;
  readonly random: () => number;
  /** True while the owner holds admission (`Scheduler.pause()`): only critical requests are offered to the store. */
  readonly held?: () => boolean;
  /** Called when the lane has nothing queued and nothing scheduled: the owner may drop it. */
  readonly onIdle?: (lane: Lane) => void;
}

const STORE_RETRY_MIN_MS = 50;
/** Most requests offered to the store in one call (all of one lane, tier and weight). */
const MAX_BATCH = 64;
const STORE_RETRY_MAX_MS = 2_000;

/**
 * The requests of this process that wait on one pool bucket, a FIFO per priority. One dispatch runs at a
 * time: it offers the best waiting request of each tier to the store, best tier first, and when none is
 * admitted it sleeps exactly as long as the store says (plus jitter), or until something better arrives.
 */
export class Lane {
  readonly #queues = PRIORITIES.map(() => new Fifo<Job>());
  readonly #depth = [0, 0, 0, 0];
  #busy = false;
  #again = false;
  /**
   * Best tier whose queue got a head since the current dispatch pass read its candidates (a cancel that came
   * meanwhile, with no cancel queued before it). A request behind a head already offered does not count: it would
   * meet the same answer, and a stream of those would keep the pass from ever reaching the tiers below.
   */
  #arrivedTier = Number.POSITIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  /** Best tier among the requests the current sleep was computed for. */
  #sleepingTier = Number.POSITIVE_INFINITY;
  /** The bucket whose full window the current sleep waits on (undefined: another reason, or awake). */
  #sleepsOnWindow: string | undefined;
  #storeRetryMs = STORE_RETRY_MIN_MS;

  constructor(
    readonly id: string,
    private readonly ctx: LaneContext,
  ) {}

  get depth(): Record<Priority, number> {
    return { critical: this.#depth[0]!, high: this.#depth[1]!, normal: this.#depth[2]!, low: this.#depth[3]! };
  }

  get size(): number {
    return this.#depth[0]! + this.#depth[1]! + this.#depth[2]! + this.#depth[3]!;
  }

  /** Queues a job; throws QueueFullError when its priority's queue is full. */
  push(job: Job): void {
    const tier = TIER[job.plan.priority];
    if (this.#depth[tier]! >= this.ctx.maxQueued) throw new QueueFullError(job.plan.priority, this.#depth[tier]!);
    if (this.#depth[tier] === 0) this.#arrivedTier = Math.min(this.#arrivedTier, tier);
    this.#queues[tier]!.push(job);
    this.#depth[tier]!++;
    // an idle lane starts at once; a sleeping one wakes only for a tier better than the ones it sleeps for
    if (this.#timer === undefined || tier < this.#sleepingTier) this.wake();
  }

  /** A job settled while queued (aborted, timed out): it no longer counts. */
  forget(job: Job): void {
    const tier = TIER[job.plan.priority];
    this.#depth[tier] = Math.max(0, this.#depth[tier]! - 1);
  }

  /** True when nothing waits, nothing is being dispatched and no wake-up is scheduled. */
  get idle(): boolean {
    return this.size === 0 && !this.#busy && this.#timer === undefined;
  }

  /** Dispatch now: capacity may have returned, or a better request arrived. */
  wake(): void {
    this.#clearTimer();
    if (this.#busy) {
      this.#again = true;
      return;
    }
    void this.#dispatch();
  }

  /** Removes and returns every waiting job (for close). */
  drain(): Job[] {
    this.#clearTimer();
    const jobs = this.#queues.flatMap((q) => q.drain()).filter((j) => !j.settled);
    this.#depth.fill(0);
    return jobs;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sleepingTier = Number.POSITIVE_INFINITY;
    this.#sleepsOnWindow = undefined;
  }

  /** True when the lane sleeps until weight of `bucketId`'s window stops counting (weight freed earlier may let it in). */
  sleepsOnWindowOf(bucketId: string): boolean {
    return this.#timer !== undefined && this.#sleepsOnWindow === bucketId;
  }

  #sleep(ms: number, tier: number): void {
    this.#clearTimer();
    this.#sleepingTier = tier;
    // a longer wait (a month-long pause) wakes once per timer span and asks the store again
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#sleepingTier = Number.POSITIVE_INFINITY;
        this.wake();
      },
      Math.min(ms, MAX_TIMER_MS),
    );
  }

  /** The first unsettled job of each tier, best effective tier first, then oldest first. */
  #candidates(now: number): { job: Job; tier: number }[] {
    const out: { job: Job; tier: number }[] = [];
    for (const q of this.#queues) {
      while (q.peek()?.settled) q.shift();
      const job = q.peek();
      if (job) out.push({ job, tier: effectiveTier(job, now, this.ctx.agingMs) });
    }
    return out.sort((a, b) => a.tier - b.tier || a.job.enqueuedAt - b.job.enqueuedAt);
  }

  /** Milliseconds until a waiting job moves up a tier (and may then fit under a larger share). */
  #nextPromotionMs(candidates: readonly { job: Job; tier: number }[]): number {
    const now = this.ctx.now();
    let next = Number.POSITIVE_INFINITY;
    for (const { job, tier } of candidates) {
      if (tier <= 1) continue;
      const waited = now - job.enqueuedAt;
      next = Math.min(next, this.ctx.agingMs - (waited % this.ctx.agingMs));
    }
    return next;
  }

  /**
   * The head job and the jobs right behind it that can share its store call: same queue, same effective
   * tier (share), same weight and same bot (a lane's jobs share their buckets). Settled jobs are skipped.
   */
  #batch(head: Job, tier: number): Job[] {
    const q = this.#queues[TIER[head.plan.priority]]!;
    const now = this.ctx.now();
    const batch = [head];
    for (let i = 1; batch.length < MAX_BATCH; i++) {
      const next = q.at(i);
      if (!next) break;
      if (next.settled) continue;
      if (next.plan.weight !== head.plan.weight || next.plan.sender.id !== head.plan.sender.id || effectiveTier(next, now, this.ctx.agingMs) !== tier) break;
      batch.push(next);
    }
    return batch;
  }

  /** Removes an admitted job: it is at the head of its queue once the settled ones before it are dropped. */
  #take(job: Job): void {
    const q = this.#queues[TIER[job.plan.priority]]!;
    while (q.peek() !== undefined && q.peek() !== job && q.peek()!.settled) q.shift();
    if (q.peek() === job) q.shift();
    this.forget(job);
  }

  /** Ends the jobs of a batch whose abort or deadline came while the store answered (they were not charged). */
  #endPending(jobs: readonly Job[]): void {
    for (const job of jobs) {
      job.inFlight = false;
      if (job.pendingError && !job.settled) {
        this.#take(job);
        job.fail(job.pendingError);
      }
    }
  }

  /**
   * Admits the first `count` jobs of a batch the store charged at `at`. Those aborted (or closed) while the
   * store answered are given back to the store first, then rejected: rejected means not charged. Those whose
   * deadline passed meanwhile run: they were offered in time, and the store admitted them.
   */
  async #admitBatch(batch: readonly Job[], count: number, share: number, at: number, enqueueNow: number): Promise<void> {
    const refund: Job[] = [];
    for (const job of batch.slice(0, count)) {
      if (!job.settled) this.#take(job);
      // a deadline that passed while the store answered does not undo an admission asked for in time
      if (job.pendingError instanceof MaxWaitExceededError) job.pendingError = undefined;
      if (job.settled || job.pendingError) {
        refund.push(job); // stays in flight until it has ended: a later abort or deadline only defers
        continue;
      }
      job.inFlight = false;
      job.admit(enqueueNow - job.enqueuedAt, at);
    }
    this.#endPending(batch.slice(count));
    if (refund.length === 0) return;
    try {
      await this.ctx.store.release({ charges: refund[0]!.plan.charges, share, count: refund.length }, refund.length, at);
    } catch (error) {
      // the refund failed: the store over-counts (the safe side); the jobs still end unsent
      if (this.ctx.events.has('storeError')) this.ctx.events.emit('storeError', { lane: this.id, error: error as Error, retryInMs: 0 });
    }
    for (const job of refund) {
      job.inFlight = false;
      if (!job.settled) job.fail(job.pendingError!);
    }
  }

  async #dispatch(): Promise<void> {
    this.#busy = true;
    try {
      for (;;) {
        this.#again = false;
        this.#arrivedTier = Number.POSITIVE_INFINITY;
        let candidates = this.#candidates(this.ctx.now());
        if (candidates.length === 0) {
          this.#depth.fill(0); // every queue is empty
          return;
        }
        if (this.ctx.held?.()) {
          // held (Scheduler.pause()): critical requests still go; the rest stay queued until start() wakes the lane
          candidates = candidates.filter((c) => c.job.plan.priority === 'critical');
          if (candidates.length === 0) return;
        }
        let minWait = Number.POSITIVE_INFINITY;
        let blocked: { tier: number; job: Job; bucketId: string; reason: SchedulerEvents['waited']['reason'] } | undefined;
        let progressed = false;
        let preempted = false;
        for (const [i, { job, tier }] of candidates.entries()) {
          // a better tier that got a request while the store answered (a cancel behind a pass of refused reads) goes
          // before the rest of this pass: it waits for one store call at most, not for one per tier
          if (i > 0 && this.#arrivedTier < tier) {
            preempted = true;
            break;
          }
          if (job.settled) {
            progressed = true;
            break;
          }
          if (this.ctx.failsClosed(job.plan.priority)) {
            this.#take(job);
            job.fail(new StoreUnavailableError(job.plan.priority));
            progressed = true;
            break;
          }
          const batch = this.#batch(job, tier);
          for (const b of batch) b.inFlight = true;
          const share = this.ctx.shares[PRIORITIES[tier]!];
          let result;
          try {
            result = await this.ctx.store.acquire({ charges: job.plan.charges, share, tier, count: batch.length, sender: job.plan.sender });
          } catch (error) {
            this.#endPending(batch);
            const retryInMs = this.#storeRetryMs;
            this.#storeRetryMs = Math.min(STORE_RETRY_MAX_MS, this.#storeRetryMs * 2);
            if (this.ctx.events.has('storeError')) {
              this.ctx.events.emit('storeError', { lane: this.id, error: error as Error, retryInMs });
            }
            this.#sleep(retryInMs, Number.POSITIVE_INFINITY);
            return;
          }
          this.#storeRetryMs = STORE_RETRY_MIN_MS;
          const now = this.ctx.now();
          if (result.admitted) {
            await this.#admitBatch(batch, result.count, share, result.now, now);
            progressed = true;
            break;
          }
          this.#endPending(batch);
          if (job.settled) {
            progressed = true; // aborted or timed out while the store answered
            break;
          }
          if (result.waitMs > job.deadline - now) {
            this.#take(job);
            job.fail(new MaxWaitExceededError(job.plan.maxWaitMs, result.waitMs));
            progressed = true;
            break;
          }
          if (result.waitMs < minWait) {
            minWait = result.waitMs;
            blocked = { tier, job, bucketId: result.bucketId, reason: result.reason };
          }
        }
        if (progressed || preempted || this.#again) continue;
        if (!blocked) return;
        const bestTier = candidates[0]!.tier;
        const jitter = bestTier === 0 ? 0 : this.ctx.random() * this.ctx.jitterMs;
        const waitMs = Math.min(minWait + jitter, this.#nextPromotionMs(candidates));
        if (this.ctx.events.has('waited')) {
          const plan = blocked.job.plan;
          const keyId = plan.keyGuard !== undefined && plan.keyGuard.id === blocked.bucketId ? plan.keyId : undefined;
          this.ctx.events.emit('waited', { lane: this.id, priority: plan.priority, bucketId: blocked.bucketId, reason: blocked.reason, waitMs, keyId });
        }
        this.#sleep(waitMs, bestTier);
        if (blocked.reason === 'window') this.#sleepsOnWindow = blocked.bucketId;
        return;
      }
    } finally {
      this.#busy = false;
      if (this.#again && this.#timer === undefined) {
        this.#again = false;
        void this.#dispatch();
      } else if (this.idle) {
        this.ctx.onIdle?.(this);
      }
    }
  }
}
