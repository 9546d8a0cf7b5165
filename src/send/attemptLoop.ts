/**
 * The one attempt loop: admission -> send -> feedback -> send again. `Scheduler.wrap`, `KucoinClient`, the
 * undici interceptor and every SDK integration (kucoin-universal-sdk, ccxt, kucoin-api) are wiring around it;
 * the policy lives here and nowhere else:
 *
 * - a reply that is a rate-limit refusal in KuCoin's shape (429000, 429001, 429002, 1015, 200002, HTTP 429/403,
 *   each under the status KuCoin refuses with: REFUSAL_STATUSES) means the request was not executed: it is sent
 *   again, whatever its method, with its priority and the deadline of its first attempt, up to
 *   `feedback.maxAttempts` sends. A refusal's code under another status (a 500 carrying 429000, a 502 page saying
 *   "rate limited") is no refusal, and one read without its status (an error message) is sent again only when
 *   the request is safe to repeat: anything else may have executed and is sent once;
 * - a 429002 holds this process's next send back (`localDelayMs`, or what the caller's connection pool says);
 * - after a transport failure (timeout, reset: no reply) or a 5xx, only a request that is safe to repeat (a
 *   read, an order with a clientOid) is sent again, up to `transportRetries` times: nothing else may be sent
 *   twice, it may have been executed;
 * - the scheduler's own rejections (abort, deadline, queue full, close) end the loop at once: nothing was sent;
 *
 * and every other KuCoin code acts as its row of the error-code table says (src/send/errorActions.ts):
 * - clock (400002): `syncClock` learns the offset to KuCoin's clock, the request is signed with it and sent again once;
 * - retry later (500000, 503000, 230005, HTTP 5xx...): the host's guard takes a bounded, jittered backoff shared by
 *   every process; only a request safe to repeat is sent again (after it), up to `transportRetries` times;
 * - auth (400003-400007, 411100...): the key's circuit opens for every process (src/send/keyCircuits.ts);
 * - service stopping (501000): the host's guard is paused for every process, the request is not sent again;
 * - business, request, region-kyc, restricted: failed at once, never sent again, never a rate signal.
 * What was done is `classification` on the result (and on the loop, when `run()` rejects).
 */
import type { Admission } from '../scheduler/admission.js';
import { AbortError, KeyCircuitOpenError, MaxWaitExceededError, type ErrorClassification } from '../errors.js';
import { classifyReply, type Classified, type GatewayReply } from '../kucoin/errorFeedback.js';
import type { FeedbackOutcome } from '../scheduler/feedbackController.js';
import type { ScheduleOptions } from '../scheduler/requestPlan.js';
import type { SchedulerPort } from '../scheduler/schedulerPort.js';
import { portOf, type Scheduler } from '../scheduler/scheduler.js';
import type { Penalty } from '../store/types.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { abortable } from '../util/abortable.js';
import { sleep } from '../util/sleep.js';
import { meaningOf, resolveErrorActions, type ErrorActionOptions, type ReplyMeaning, type ResolvedErrorActions } from './errorActions.js';
import { TRANSPORT_BACKOFF_MS, TRANSPORT_RETRIES } from './sendDefaults.js';

/** This is all the loop needs of the scheduler (src/scheduler/schedulerPort.ts). */
export type AttemptPort = Pick<SchedulerPort, 'maxAttempts' | 'maxWaitMs' | 'schedule' | 'feedback' | 'penalize' | 'notify' | 'keyCircuits'>;

/** What one request asks of the loop. */
export interface AttemptRequest<T> {
  /** Endpoint, host, priority, signal...; `maxWaitMs` bounds the wait over every attempt together. */
  readonly schedule: ScheduleOptions;
  /**
   * A read, or an order with a clientOid (`isSafeToRepeat`): it may be sent again after a transport failure or a
   * 5xx, or a refusal whose status is unknown (the first send may have been executed). @default true for a GET
   * endpoint, false otherwise
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
  /**
   * After a 400002 (the timestamp was refused): learns the offset to KuCoin's clock so the next send is signed
   * with it; the request is then sent again, once. Without it a 400002 fails at once (e.g. an SDK that signs itself).
   * The loop waits for it no longer than the request's signal and deadline (`signal` is the request's).
   */
  readonly syncClock?: (signal?: AbortSignal) => Promise<void>;
}

/** How the loop may repeat a request; the scheduler's `feedback.maxAttempts` gives `maxAttempts`. */
export interface AttemptPolicy {
  /** Sends of a request refused with a rate-limit signal. @default scheduler.maxAttempts (4) */
  readonly maxAttempts?: number;
  /** Extra sends of a request safe to repeat, after a transport failure or a 5xx. @default TRANSPORT_RETRIES (2) */
  readonly transportRetries?: number;
  /** Wait before the n-th transport retry (n = 1, 2, ...). @default TRANSPORT_BACKOFF_MS: 100 ms doubling */
  readonly transportBackoffMs?: (n: number) => number;
  /** The actions' timings: key circuit, 501000 host pause, retry-later backoff. @default see ErrorActionOptions */
  readonly actions?: ErrorActionOptions;
}

/** The last send's value and what the loop saw. */
export interface AttemptsDone<T> {
  readonly value: T;
  /** The feedback of the last reply; `outcome.signal` set means the attempts ran out on a refusal. */
  readonly outcome: FeedbackOutcome | undefined;
  readonly attempts: number;
  /** Time spent waiting for admission over every attempt (ms). */
  readonly waitedMs: number;
  /** The last reply's category and what the loop did about it; undefined after a success. */
  readonly classification: ErrorClassification | undefined;
  /** The last reply as `classifyReply` read it (once, here); undefined when the last send got no reply. */
  readonly classified: Classified | undefined;
}

/** Categories KuCoin answers only after the key was checked: such a reply to a probe closes the key's circuit. */
const PAST_THE_KEY_CHECK: ReadonlySet<string> = new Set(['business', 'region-kyc', 'restricted', 'retry-later', 'service-stopping']);

/** One request's attempts. Read `attempts` after `run()` settles (also when it rejects). */
export class AttemptLoop<T> {
  /** Sends made so far. */
  attempts = 0;
  waitedMs = 0;
  /** The last reply's category and what was done about it (undefined after a success or a transport failure). */
  classification: ErrorClassification | undefined;
  /** Why the clock sync after a 400002 failed (its error, or MaxWaitExceededError at the deadline); undefined otherwise. */
  clockSyncError: unknown;
  #transportRetries = 0;
  #holdUntil = 0;
  #clockSynced = false;
  /** The request's `safeToRepeat`, read once in `run()`. */
  #safeToRepeat = false;
  #actions: ResolvedErrorActions | undefined;

  constructor(
    private readonly scheduler: AttemptPort,
    private readonly request: AttemptRequest<T>,
    private readonly policy: AttemptPolicy = {},
  ) {}

  async run(): Promise<AttemptsDone<T>> {
    const { scheduler, request } = this;
    const maxAttempts = this.policy.maxAttempts ?? scheduler.maxAttempts;
    const signal = request.schedule.signal;
    const keyId = request.schedule.keyId;
    const circuits = keyId !== undefined ? scheduler.keyCircuits : undefined;
    const deadline = Date.now() + (request.schedule.maxWaitMs ?? scheduler.maxWaitMs);
    const endpoint: unknown = request.schedule.endpoint;
    // by default a read (a GET endpoint) is safe to repeat, nothing else
    this.#safeToRepeat = request.safeToRepeat ?? (typeof endpoint === 'string' && /^\s*GET\s/i.test(endpoint));
    for (;;) {
      const holdUntil = Math.max(this.#holdUntil, request.holdUntil?.() ?? 0);
      if (holdUntil > Date.now()) await sleep(holdUntil - Date.now(), signal);
      // the key's circuit: open -> KeyCircuitOpenError now, nothing queued; over -> this request is the probe
      const probe = circuits ? circuits.admit(keyId!) : false;
      const circuitAbort = circuits ? new AbortController() : undefined;
      const unwatch = circuits ? circuits.watch(keyId!, circuitAbort!) : undefined;
      const attemptSignal = circuitAbort ? (signal ? AbortSignal.any([signal, circuitAbort.signal]) : circuitAbort.signal) : signal;
      let admission: Admission | undefined;
      let value: T;
      const queuedAt = Date.now();
      try {
        const maxWaitMs = Number.isFinite(deadline) ? Math.max(0, deadline - Date.now()) : Number.POSITIVE_INFINITY;
        value = await scheduler.schedule(
          { ...request.schedule, maxWaitMs, ...(attemptSignal ? { signal: attemptSignal } : {}) },
          (a) => {
            admission = a;
            unwatch?.();
            this.attempts++;
            this.waitedMs += Date.now() - queuedAt;
            return request.send(signal === attemptSignal ? a : { ...a, signal });
          },
          this.attempts + 1,
        );
      } catch (error) {
        unwatch?.();
        if (!admission) {
          if (probe) circuits!.release(keyId!, probe);
          // the circuit opened while the request was queued: nothing was sent
          if (circuitAbort?.signal.aborted && circuitAbort.signal.reason instanceof KeyCircuitOpenError) throw circuitAbort.signal.reason;
          if (circuits && error instanceof MaxWaitExceededError) throw (await circuits.check(keyId!)) ?? error;
          throw error; // the scheduler's own rejection: nothing was sent
        }
        const reply = this.#read(() => request.replyOfError?.(error));
        if (!reply) {
          if (probe) circuits!.release(keyId!, probe);
          this.classification = undefined;
          if (await this.#mayRepeat(signal)) continue; // a transport failure: no reply at all
          throw error;
        }
        const classified = classifyReply(reply);
        const outcome = await this.#feedback(admission, classified);
        if (await this.#act(admission, outcome, classified, probe, maxAttempts, signal, deadline)) continue;
        markClassification(error, this.classification);
        throw error;
      }
      const reply = this.#read(() => request.replyOf(value));
      // each reply is classified once, here: the feedback, the actions and the caller all read this one
      const classified = reply ? classifyReply(reply) : undefined;
      const outcome = classified && admission ? await this.#feedback(admission, classified) : undefined;
      if (classified && admission && (await this.#act(admission, outcome, classified, probe, maxAttempts, signal, deadline))) continue;
      if (!reply && probe) circuits!.release(keyId!, probe);
      return { value, outcome, attempts: this.attempts, waitedMs: this.waitedMs, classification: this.classification, classified };
    }
  }

  /**
   * Acts on one reply as its category says (module comment); true when the request is sent again. Sets
   * `classification` (undefined for a success).
   */
  async #act(
    admission: Admission,
    outcome: FeedbackOutcome | undefined,
    classified: Classified,
    probe: boolean,
    maxAttempts: number,
    signal: AbortSignal | undefined,
    deadline: number,
  ): Promise<boolean> {
    const meaning = meaningOf(admission.plan.host, classified);
    const keyId = this.request.schedule.keyId;
    const actions = (this.#actions ??= resolveErrorActions(this.policy.actions));
    const classify = (action: string): void => {
      this.classification = meaning ? { category: meaning.category, retryable: meaning.retryable, action } : undefined;
    };
    if (keyId !== undefined) {
      const circuits = this.scheduler.keyCircuits;
      if (meaning?.category === 'auth') {
        await circuits.fail(keyId, meaning.code, actions);
        classify('key-circuit-opened');
        return false;
      }
      // a reply the gateway could only give past the key check proves the key; others leave the probe to another request
      if (!meaning || PAST_THE_KEY_CHECK.has(meaning.category)) await circuits.succeed(keyId, probe);
      else circuits.release(keyId, probe);
    }
    if (!meaning) {
      this.classification = undefined;
      return false;
    }
    if (outcome?.signal || meaning.category === 'rate-limit') {
      const again = await this.#again(outcome, classified, maxAttempts, signal);
      classify(again ? 'resent' : 'paused');
      return again;
    }
    switch (meaning.category) {
      case 'clock':
        if (this.request.syncClock && !this.#clockSynced && !signal?.aborted) {
          this.#clockSynced = true;
          try {
            // a hung read ends this request's wait at its signal or deadline, not the read's own timeouts
            await abortable(this.request.syncClock(signal), signal, deadline - Date.now());
          } catch (error) {
            if (error instanceof AbortError) throw error; // the caller gave up: nothing more is sent
            this.clockSyncError = error;
            classify('none'); // the server's time could not be read or was not believed: the 400002 stands
            return false;
          }
          classify('clock-synced');
          return true;
        }
        classify(this.#clockSynced ? 'clock-synced' : 'none');
        return false;
      case 'retry-later': {
        const host = admission.plan.host;
        if (host)
          await this.#pauseHost(host, meaning, {
            backoff: { ...actions.retryLaterBackoff, random: Math.random(), resetAfterMs: actions.retryLaterBackoff.maxMs * 6 },
          });
        const again = host ? this.#mayRepeatNow(signal) : await this.#mayRepeat(signal);
        classify(again ? 'resent' : 'host-backoff');
        return again;
      }
      case 'service-stopping': {
        const host = admission.plan.host;
        if (host) await this.#pauseHost(host, meaning, { pauseMs: actions.serviceStoppingPauseMs });
        classify(host ? 'host-paused' : 'none');
        return false;
      }
      default:
        // business, request, region-kyc, restricted, auth without a key id, unknown: fail at once
        classify('none');
        return false;
    }
  }

  async #pauseHost(host: HostName, meaning: ReplyMeaning, penalty: Penalty): Promise<void> {
    try {
      const result = await this.scheduler.penalize(`host:${host}`, penalty);
      this.scheduler.notify('hostPaused', {
        host,
        category: meaning.category === 'service-stopping' ? 'service-stopping' : 'retry-later',
        pausedUntil: result.pausedUntil,
        kucoinCode: meaning.code,
      });
    } catch {
      // a store fault never turns a reply into another error; the request is not sent again on this account
    }
  }

  /**
   * Whether a reply sends the request again: a refusal within maxAttempts (one read without its status, which
   * does not prove the request was not executed, only when it is safe to repeat), or a 5xx of a repeatable request.
   */
  async #again(outcome: FeedbackOutcome | undefined, classified: Classified, maxAttempts: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (outcome?.signal) {
      if (outcome.signal === '429002') {
        const delay = this.request.onConnectionLimited?.() ?? outcome.localDelayMs;
        this.#holdUntil = Math.max(this.#holdUntil, Date.now() + delay);
      }
      if (!outcome.classified.refused && !this.#safeToRepeat) return false; // may have executed: sent once
      return this.attempts < maxAttempts && !signal?.aborted;
    }
    const status = classified.status ?? 0;
    return status >= 500 && (await this.#mayRepeat(signal));
  }

  /** A retry-later reply on a host whose guard holds the backoff: repeats only what is safe to repeat. */
  #mayRepeatNow(signal: AbortSignal | undefined): boolean {
    if (!this.#safeToRepeat || this.#transportRetries >= (this.policy.transportRetries ?? TRANSPORT_RETRIES) || signal?.aborted) return false;
    this.#transportRetries++;
    return true;
  }

  /** A transport failure or 5xx: repeats only what is safe to repeat, after a backoff. */
  async #mayRepeat(signal: AbortSignal | undefined): Promise<boolean> {
    const retries = this.policy.transportRetries ?? TRANSPORT_RETRIES;
    if (!this.#safeToRepeat || this.#transportRetries >= retries || signal?.aborted) return false;
    this.#transportRetries++;
    await sleep((this.policy.transportBackoffMs ?? TRANSPORT_BACKOFF_MS)(this.#transportRetries), signal);
    return true;
  }

  /** Feedback never turns an executed request's result into an error. */
  async #feedback(admission: Admission, classified: Classified): Promise<FeedbackOutcome | undefined> {
    try {
      return await this.scheduler.feedback(admission, classified);
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

const CLASSIFICATION = Symbol.for('kucoin-scheduler.classification');

/** Tags a caller's error (an SDK's, thrown through `wrap`) with what the loop made of it; never throws. */
function markClassification(error: unknown, classification: ErrorClassification | undefined): void {
  if (!classification || error === null || typeof error !== 'object') return;
  try {
    Object.defineProperty(error, CLASSIFICATION, { value: classification, enumerable: false, configurable: true });
  } catch {
    // a frozen or exotic error: the classification stays on the loop only
  }
}

/**
 * What the attempt loop made of an error thrown through `wrap` or an SDK integration (category, retryable, action);
 * a KucoinApiError carries the same as fields. Undefined for an error the loop did not read a KuCoin reply from.
 */
export function classificationOf(error: unknown): ErrorClassification | undefined {
  try {
    if (error === null || typeof error !== 'object') return undefined;
    const own = Object.getOwnPropertyDescriptor(error, CLASSIFICATION)?.value as ErrorClassification | undefined;
    if (own) return own;
    const e = error as { category?: unknown; retryable?: unknown; action?: unknown };
    return typeof e.category === 'string' && typeof e.action === 'string'
      ? { category: e.category, retryable: e.retryable === true, action: e.action }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one request of a scheduler through the attempt loop (see AttemptLoop). */
export function sendWithAttempts<T>(scheduler: Scheduler, request: AttemptRequest<T>, policy?: AttemptPolicy): Promise<AttemptsDone<T>> {
  return new AttemptLoop(portOf(scheduler), request, policy).run();
}
