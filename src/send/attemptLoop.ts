/**
 * The one attempt loop: admission -> send -> feedback -> send again. `Scheduler.wrap`, `KucoinClient`, the
 * undici interceptor and every SDK integration (kucoin-universal-sdk, ccxt, kucoin-api) are wiring around it;
 * the policy lives here and nowhere else:
 *
 * - a reply that is a rate-limit signal (429000, 429001, 429002, 1015, 200002, HTTP 429/403) means the request
 *   was not executed: it is sent again, whatever its method, with its priority and the deadline of its first
 *   attempt, up to `feedback.maxAttempts` sends;
 * - a 429002 holds this process's next send back (`localDelayMs`, or what the caller's connection pool says);
 * - after a transport failure (timeout, reset: no reply) or a 5xx, only a request that is safe to repeat (a
 *   read, an order with a clientOid) is sent again, up to `transportRetries` times: nothing else may be sent
 *   twice, it may have been executed;
 * - the scheduler's own rejections (abort, deadline, queue full, close) end the loop at once: nothing was sent.
 */
import type { Admission } from '../admission.js';
import type { GatewayReply } from '../errorFeedback.js';
import type { FeedbackOutcome } from '../feedback/feedbackController.js';
import type { ScheduleOptions } from '../requestPlan.js';
import type { Scheduler } from '../scheduler.js';
import { sleep } from '../util/sleep.js';

/** What one request asks of the loop. */
export interface AttemptRequest<T> {
  /** Endpoint, host, priority, signal...; `maxWaitMs` bounds the wait over every attempt together. */
  readonly schedule: ScheduleOptions;
  /**
   * A read, or an order with a clientOid: it may be sent again after a transport failure or a 5xx (the first
   * send may have been executed). @default false
   */
  readonly safeToRepeat?: boolean;
  /**
   * Sends once, after admission (`admission.signal` is the caller's signal). Throws when no reply came back,
   * or with the reply inside the error (see `replyOfError`).
   */
  readonly send: (admission: Admission) => T | PromiseLike<T>;
  /** The gateway reply of a returned value (status, headers, body); undefined when it carries none. */
  readonly replyOf: (value: T) => GatewayReply | undefined;
  /** The gateway reply inside a thrown error; undefined when the error carries none (a transport failure). */
  readonly replyOfError?: (error: unknown) => GatewayReply | undefined;
  /** How long to hold the next send back after a 429002. @default the feedback's `localDelayMs` */
  readonly onConnectionLimited?: () => number;
  /** Epoch ms before which no attempt is queued (an origin every request of the process holds back). */
  readonly holdUntil?: () => number;
}

/** How the loop may repeat a request; the scheduler's `feedback.maxAttempts` gives `maxAttempts`. */
export interface AttemptPolicy {
  /** Sends of a request refused with a rate-limit signal. @default scheduler.maxAttempts (4) */
  readonly maxAttempts?: number;
  /** Extra sends of a request safe to repeat, after a transport failure or a 5xx. @default 0 */
  readonly transportRetries?: number;
  /** Wait before the n-th transport retry (n = 1, 2, ...). @default 100 ms doubling */
  readonly transportBackoffMs?: (n: number) => number;
}

/** The last send's value and what the loop saw. */
export interface AttemptsDone<T> {
  readonly value: T;
  /** The feedback of the last reply; `outcome.signal` set means the attempts ran out on a refusal. */
  readonly outcome: FeedbackOutcome | undefined;
  readonly attempts: number;
  /** Time spent waiting for admission over every attempt (ms). */
  readonly waitedMs: number;
}

const defaultBackoff = (n: number): number => 100 * 2 ** (n - 1);

/** One request's attempts. Read `attempts` after `run()` settles (also when it rejects). */
export class AttemptLoop<T> {
  /** Sends made so far. */
  attempts = 0;
  waitedMs = 0;
  #transportRetries = 0;
  #holdUntil = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly request: AttemptRequest<T>,
    private readonly policy: AttemptPolicy = {},
  ) {}

  async run(): Promise<AttemptsDone<T>> {
    const { scheduler, request } = this;
    const maxAttempts = this.policy.maxAttempts ?? scheduler.maxAttempts;
    const signal = request.schedule.signal;
    const deadline = Date.now() + (request.schedule.maxWaitMs ?? scheduler.maxWaitMs);
    for (;;) {
      const holdUntil = Math.max(this.#holdUntil, request.holdUntil?.() ?? 0);
      if (holdUntil > Date.now()) await sleep(holdUntil - Date.now(), signal);
      let admission: Admission | undefined;
      let value: T;
      const queuedAt = Date.now();
      try {
        const maxWaitMs = Number.isFinite(deadline) ? Math.max(0, deadline - Date.now()) : Number.POSITIVE_INFINITY;
        value = await scheduler.scheduleAttempt({ ...request.schedule, maxWaitMs }, (a) => {
          admission = a;
          this.attempts++;
          this.waitedMs += Date.now() - queuedAt;
          return request.send(a);
        }, this.attempts + 1);
      } catch (error) {
        if (!admission) throw error; // the scheduler's own rejection: nothing was sent
        const reply = this.#read(() => request.replyOfError?.(error));
        if (!reply) {
          if (await this.#mayRepeat(signal)) continue; // a transport failure: no reply at all
          throw error;
        }
        const outcome = await this.#feedback(admission, reply);
        if (await this.#again(outcome, reply, maxAttempts, signal)) continue;
        throw error;
      }
      const reply = this.#read(() => request.replyOf(value));
      const outcome = reply && admission ? await this.#feedback(admission, reply) : undefined;
      if (reply && (await this.#again(outcome, reply, maxAttempts, signal))) continue;
      return { value, outcome, attempts: this.attempts, waitedMs: this.waitedMs };
    }
  }

  /** Whether a reply sends the request again: a refusal (not executed) within maxAttempts, or a 5xx of a repeatable request. */
  async #again(outcome: FeedbackOutcome | undefined, reply: GatewayReply, maxAttempts: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (outcome?.signal) {
      if (outcome.signal === '429002') {
        const delay = this.request.onConnectionLimited?.() ?? outcome.localDelayMs;
        this.#holdUntil = Math.max(this.#holdUntil, Date.now() + delay);
      }
      return this.attempts < maxAttempts && !signal?.aborted;
    }
    const status = outcome?.classified.status ?? (typeof reply.status === 'number' ? reply.status : 0);
    return status >= 500 && (await this.#mayRepeat(signal));
  }

  /** A transport failure or 5xx: repeats only what is safe to repeat, after a backoff. */
  async #mayRepeat(signal: AbortSignal | undefined): Promise<boolean> {
    const retries = this.policy.transportRetries ?? 0;
    if (!this.request.safeToRepeat || this.#transportRetries >= retries || signal?.aborted) return false;
    this.#transportRetries++;
    await sleep((this.policy.transportBackoffMs ?? defaultBackoff)(this.#transportRetries), signal);
    return true;
  }

  /** Feedback never turns an executed request's result into an error. */
  async #feedback(admission: Admission, reply: GatewayReply): Promise<FeedbackOutcome | undefined> {
    try {
      return await this.scheduler.feedback(admission, reply);
    } catch {
      return undefined;
    }
  }

  #read(fn: () => GatewayReply | undefined): GatewayReply | undefined {
    try {
      return fn();
    } catch {
      return undefined; // a throwing replyOf: the value is the caller's all the same
    }
  }
}

/** Runs one request through the attempt loop (see AttemptLoop). */
export function sendWithAttempts<T>(scheduler: Scheduler, request: AttemptRequest<T>, policy?: AttemptPolicy): Promise<AttemptsDone<T>> {
  return new AttemptLoop(scheduler, request, policy).run();
}
