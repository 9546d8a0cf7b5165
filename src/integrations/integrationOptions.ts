import type { Scheduler } from '../scheduler/scheduler.js';

/** The options every SDK integration takes, beside its own. */
export interface IntegrationOptions {
  readonly scheduler: Scheduler;
  /** Longest wait for admission, over every attempt of one request. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
  /** Sends again after a timeout or a 5xx, of reads and orders with a clientOid only. @default TRANSPORT_RETRIES (2), src/send/sendDefaults.ts */
  readonly transportRetries?: number;
}
