import type { BucketConfig, Penalty, Store } from '../buckets/types.js';
import { classifyReply, FEEDBACK_RULES, type Classified, type GatewayReply, type RateLimitSignal, type SignalScope } from '../errorFeedback.js';
import type { SchedulerEvents, TypedEmitter } from '../events.js';
import type { ResolvedOptions } from '../options.js';
import type { RequestPlan, RequestPlanner } from '../requestPlan.js';

/** What the feedback layer did with one reply. */
export interface FeedbackOutcome {
  readonly classified: Classified;
  /** The rate-limit signal, if the reply was one: the request was not executed and may be sent again. */
  readonly signal: RateLimitSignal | undefined;
  readonly scope: SignalScope | undefined;
  /** The bucket paused or tightened (undefined for `connection`, which the HTTP client handles). */
  readonly bucketId: string | undefined;
  /** Epoch ms (store clock) the scope is paused until; 0 when nothing was paused. */
  readonly pausedUntil: number;
  /** For `connection`: how long this process should hold back before sending again on that origin. */
  readonly localDelayMs: number;
}

/** Applies replies to the store: header sync for every reply, and the FEEDBACK_RULES table for signals. */
export class FeedbackController {
  constructor(
    private readonly store: Store,
    private readonly planner: RequestPlanner,
    private readonly options: ResolvedOptions,
    private readonly events: TypedEmitter<SchedulerEvents>,
    private readonly random: () => number = Math.random,
  ) {}

  async apply(plan: RequestPlan, sentAt: number, reply: GatewayReply): Promise<FeedbackOutcome> {
    const classified = classifyReply(reply);
    const { rateLimit } = classified;
    const poolBucket = plan.charges[0]!.bucket;
    if (rateLimit.limit >= 0 || rateLimit.remaining >= 0 || rateLimit.resetMs >= 0) {
      await this.store.observe(poolBucket, { sentAt, ...rateLimit, recoverStep: this.options.feedback.recoverStep });
    }
    const signal = classified.signal;
    if (!signal) return { classified, signal, scope: undefined, bucketId: undefined, pausedUntil: 0, localDelayMs: 0 };

    const rule = FEEDBACK_RULES[signal];
    const f = this.options.feedback;
    let bucket: BucketConfig | undefined;
    let penalty: Penalty | undefined;
    let localDelayMs = 0;
    switch (signal) {
      case '429000':
        bucket = poolBucket;
        penalty = {
          pauseMs: rateLimit.resetMs >= 0 ? rateLimit.resetMs : (classified.retryAfterMs ?? poolBucket.windowMs),
          spent: true,
          tighten: { by: f.tightenBy, min: f.minFactor },
        };
        break;
      case '429001':
        bucket = this.planner.systemBucket();
        penalty = { backoff: { ...f.systemBackoff, random: this.random() } };
        break;
      case '429002':
        localDelayMs = rule.defaultPauseMs;
        break;
      case '1015':
        bucket = this.planner.ipBucket();
        penalty = { pauseMs: classified.retryAfterMs ?? rule.defaultPauseMs };
        break;
      case '200002':
        // without an endpoint the pool is the narrowest scope known
        bucket = plan.endpointBucket ?? poolBucket;
        penalty = { pauseMs: f.endpointPauseMs };
        break;
      case 'http-429':
      case 'http-403':
        bucket = poolBucket;
        penalty = { pauseMs: classified.retryAfterMs ?? (rateLimit.resetMs >= 0 ? rateLimit.resetMs : rule.defaultPauseMs) };
        break;
    }
    const result = bucket && penalty ? await this.store.penalize(bucket, penalty) : undefined;
    if (this.events.has('feedback')) {
      this.events.emit('feedback', {
        signal,
        scope: rule.scope,
        bucketId: bucket?.id,
        pausedUntil: result?.pausedUntil ?? 0,
        factor: result?.factor,
        tightened: result?.tightened ?? false,
        localDelayMs,
        reason: `${signal} (HTTP ${classified.status ?? '?'}${classified.msg ? `, "${classified.msg}"` : ''}): ${rule.action}`,
        endpoint: plan.endpoint,
      });
    }
    return { classified, signal, scope: rule.scope, bucketId: bucket?.id, pausedUntil: result?.pausedUntil ?? 0, localDelayMs };
  }
}
