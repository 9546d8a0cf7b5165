/** The shapes `Scheduler` takes and gives besides the schedule options: its snapshot and `wrap`'s options. */
import type { BucketState, Priority } from '../store/types.js';
import type { GatewayReply } from '../kucoin/errorFeedback.js';
import type { ScheduleOptions } from './requestPlan.js';

/** What `Scheduler.snapshot()` returns: the shared buckets, and this process's queues. */
export interface SchedulerSnapshot {
  /** Every bucket this scheduler can charge, as the store sees it now. */
  readonly buckets: readonly BucketState[];
  /** Requests waiting in this process, per lane (pool bucket) and priority. */
  readonly queued: Readonly<Record<string, Record<Priority, number>>>;
  /** Requests admitted by this process whose function has not settled yet. */
  readonly running: number;
  /** `running` per priority (the priority each was scheduled with). */
  readonly runningByPriority: Readonly<Record<Priority, number>>;
}

/** Options of `wrap`: the schedule options, plus how to read the wrapped function's result. */
export interface WrapOptions<E extends string = string> extends ScheduleOptions<E> {
  /**
   * Finds rate-limit headers in a successful result so they are fed back. The default reads
   * kucoin-universal-sdk responses (`commonResponse.rateLimit`): `sdkReplyOf`.
   */
  readonly replyOf?: (result: unknown) => GatewayReply | undefined;
}
