/**
 * The scheduler as the send layer sees it: a narrow port (upstash's `Redis` interface is the model). The attempt
 * loop, the HTTP client and the integrations (src/send/, src/http/, src/integrations/) depend on this, never on
 * the Scheduler class, and the scheduler imports nothing of theirs. A scheduler hands its port out through
 * `portOf` (src/scheduler/scheduler.ts); none of this is part of the package's public types.
 */
import type { Admission } from './admission.js';
import type { BucketTarget } from './bucketTarget.js';
import type { BucketState, Penalty, PenaltyResult } from '../store/types.js';
import type { Classified, GatewayReply } from '../kucoin/errorFeedback.js';
import type { Listener, SchedulerEvents } from './events.js';
import type { FeedbackOutcome } from './feedbackController.js';
import { KeyCircuits } from './keyCircuits.js';
import type { ScheduleOptions } from './requestPlan.js';

/** What the send layer needs of a scheduler. */
export interface SchedulerPort {
  /** Sends of one request refused with rate-limit signals (`feedback.maxAttempts`). */
  readonly maxAttempts: number;
  /** Default longest wait for admission (`maxWaitMs`), ms. */
  readonly maxWaitMs: number;
  /** `Scheduler.schedule` for the `attempt`-th send of one request (the admission carries `attempt`). */
  schedule<T>(opts: ScheduleOptions, fn: (admission: Admission) => T | PromiseLike<T>, attempt: number): Promise<T>;
  /** `Scheduler.feedback` of a reply already classified (each reply is classified once, by its reader). */
  feedback(admission: Admission, classified: Classified): Promise<FeedbackOutcome>;
  /** A penalty on a guard (key circuit, host backoff), for every process; wakes every lane. */
  penalize(target: BucketTarget, penalty: Penalty): Promise<PenaltyResult>;
  /** One guard's state as the store sees it now. */
  inspect(target: BucketTarget): Promise<BucketState | undefined>;
  /** `Scheduler.resume` of one target. */
  resume(target: BucketTarget): Promise<void>;
  /** Emits one of the scheduler's events (the send layer's actions: `keyCircuit`, `hostPaused`). */
  notify<K extends keyof SchedulerEvents>(name: K, event: SchedulerEvents[K]): void;
  /** `Scheduler.on`. */
  on<K extends keyof SchedulerEvents>(name: K, listener: Listener<SchedulerEvents[K]>): () => void;
  /** This scheduler's key circuits (one per scheduler, made on first use). */
  readonly keyCircuits: KeyCircuits;
}

/** What `wrap` asks of the attempt loop: one call of the wrapped function, re-sent as its errors say. */
export interface WrapRequest<T> {
  readonly schedule: ScheduleOptions;
  readonly send: () => T | PromiseLike<T>;
  readonly replyOf: (value: T) => GatewayReply | undefined;
  readonly replyOfError: (error: unknown) => GatewayReply | undefined;
}

/** Runs `wrap`'s calls through the attempt loop; `createScheduler` (src/send/createScheduler.ts) passes it in. */
export type WrapSender = <T>(port: SchedulerPort, request: WrapRequest<T>) => Promise<T>;

/** What a scheduler makes its port of (src/scheduler/scheduler.ts passes closures over its private members). */
export interface PortParts extends Pick<SchedulerPort, 'schedule' | 'feedback' | 'penalize' | 'inspect' | 'resume' | 'on'> {
  readonly limits: () => { readonly maxAttempts: number; readonly maxWaitMs: number };
  readonly notify: (...args: Parameters<SchedulerPort['notify']>) => unknown;
}

/** A scheduler's port; its key circuits are made on first use (a scheduler without keys never listens for them). */
export function createPort(parts: PortParts): SchedulerPort {
  const { limits, notify, schedule, feedback, penalize, inspect, resume, on } = parts;
  let circuits: KeyCircuits | undefined;
  const port: SchedulerPort = {
    get maxAttempts() {
      return limits().maxAttempts;
    },
    get maxWaitMs() {
      return limits().maxWaitMs;
    },
    schedule,
    feedback,
    penalize,
    inspect,
    resume,
    notify: (name, event) => void notify(name, event),
    on,
    get keyCircuits() {
      return (circuits ??= new KeyCircuits(port));
    },
  };
  return port;
}
