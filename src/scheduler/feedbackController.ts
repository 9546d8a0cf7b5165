import type { BucketConfig, ObserveResult, Penalty, PenaltyResult, Store } from '../store/types.js';
import { FEEDBACK_RULES, type Classified, type RateLimitSignal, type SignalScope } from '../kucoin/errorFeedback.js';
import type { SchedulerEvents, TypedEmitter } from './events.js';
import { quotaRange } from '../kucoin/pools.js';
import type { ResolvedOptions } from './options.js';
import type { RequestPlan, RequestPlanner } from './requestPlan.js';

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
  /** True when the reply changed the limit in force (a raise may admit waiting requests at once). */
  readonly limitLearned: boolean;
  /** Weight of the pool bucket that stopped counting because of this reply (waiting requests may fit now). */
  readonly freed: number;
}

/**
 * Applies replies to the store: header sync for every reply, and the FEEDBACK_RULES table for signals.
 * Every pause taken from a reply is bounded (a garbage reset or Retry-After cannot stop a pool for days),
 * and a reply's headers only teach the bucket they describe. A store fault here never reaches the caller:
 * the request was executed, its result is the caller's; the fault is a `storeError` event.
 */
export class FeedbackController {
  constructor(
    private readonly store: Store,
    private readonly planner: RequestPlanner,
    private readonly options: ResolvedOptions,
    private readonly events: TypedEmitter<SchedulerEvents>,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * `classified`: the reply as `classifyReply` read it, once, by whoever read the reply. `first`: this is the
   * request's first reply, so its weight may settle (its server window is known); a reply fed back again must not
   * take the weight out twice.
   */
  async apply(plan: RequestPlan, sentAt: number, classified: Classified, first = true): Promise<FeedbackOutcome> {
    const { rateLimit } = classified;
    const poolBucket = plan.charges[0]!.bucket;
    const hasHeaders = rateLimit.limit >= 0 || rateLimit.remaining >= 0 || rateLimit.resetMs >= 0;
    let limitLearned = false;
    let freed = 0;
    // an endpoint missing from the table was charged to a guessed pool: its headers describe another one
    if (hasHeaders && !plan.poolAssumed) {
      const { min, max } = quotaRange(plan.pool);
      const observation = {
        sentAt,
        ...rateLimit,
        recoverStep: this.options.feedback.recoverStep,
        weight: first ? plan.charges[0]!.weight : 0,
        minLimit: Math.min(min, poolBucket.limit),
        maxLimit: Math.max(max, poolBucket.limit),
      };
      const observed = await this.#guard('observe', () => this.store.observe(poolBucket, observation));
      if (observed) this.#reportObservation(poolBucket, rateLimit.limit, observed);
      limitLearned = observed?.limit === 'learned';
      freed = observed?.freed ?? 0;
    }
    const signal = classified.signal;
    if (!signal) return { classified, signal, scope: undefined, bucketId: undefined, pausedUntil: 0, localDelayMs: 0, limitLearned, freed };

    const rule = FEEDBACK_RULES[signal];
    const f = this.options.feedback;
    const span = poolBucket.windowMs + poolBucket.marginMs;
    // a reset is never longer than a window (plus the margin): anything longer is garbage
    const resetMs = rateLimit.resetMs >= 0 ? Math.min(rateLimit.resetMs, span) : undefined;
    const retryAfterMs = classified.retryAfterMs === undefined ? undefined : Math.min(classified.retryAfterMs, f.maxRetryAfterMs);
    let bucket: BucketConfig | undefined;
    let penalty: Penalty | undefined;
    let localDelayMs = 0;
    switch (signal) {
      case '429000':
        bucket = poolBucket;
        penalty = {
          pauseMs: Math.min(resetMs ?? retryAfterMs ?? poolBucket.windowMs, span),
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
        // the real per-IP limit is below the assumed one: tighten, as a 429000 tightens a pool, so the fleet
        // is not blocked again when the block ends (at most once per block: the pause's end)
        penalty = { pauseMs: retryAfterMs ?? rule.defaultPauseMs, tighten: { by: f.cloudflareTightenBy, min: f.cloudflareMinFactor } };
        break;
      case '200002':
        // without an endpoint the pool is the narrowest scope known
        bucket = plan.endpointBucket ?? poolBucket;
        penalty = { pauseMs: f.endpointPauseMs };
        break;
      case 'http-429':
      case 'http-403':
        bucket = poolBucket;
        penalty = { pauseMs: retryAfterMs ?? resetMs ?? rule.defaultPauseMs };
        break;
    }
    const target = bucket;
    const result: PenaltyResult | undefined = target && penalty ? await this.#guard('penalize', () => this.store.penalize(target, penalty)) : undefined;
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
    return { classified, signal, scope: rule.scope, bucketId: bucket?.id, pausedUntil: result?.pausedUntil ?? 0, localDelayMs, limitLearned, freed };
  }

  /** Runs a store step of the feedback; a fault becomes a `storeError` event and `undefined`. */
  async #guard<T>(step: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      if (this.events.has('storeError')) this.events.emit('storeError', { lane: `feedback:${step}`, error: error as Error, retryInMs: 0 });
      return undefined;
    }
  }

  #reportObservation(bucket: BucketConfig, offered: number, observed: ObserveResult): void {
    if (observed.limit !== 'none' && observed.limit !== 'same' && this.events.has('limit')) {
      this.events.emit('limit', { bucketId: bucket.id, offered, outcome: observed.limit, limitInForce: observed.limitInForce });
    }
    if (observed.phaseConflict && this.events.has('phaseConflict')) {
      this.events.emit('phaseConflict', { bucketId: bucket.id });
    }
  }
}
