import { PRIORITIES, type Priority } from '../../store/types.js';
import { MaxWaitExceededError } from '../../errors.js';
import type { RequestPlan } from '../requestPlan.js';

/** One request waiting in this process for admission. */
export interface Job {
  readonly plan: RequestPlan;
  /** Local time (ms) it was queued: for aging and the deadline. */
  readonly enqueuedAt: number;
  /** Local time (ms) after which it rejects with MaxWaitExceededError. */
  readonly deadline: number;
  /** True once admitted or rejected; a settled job is skipped and dropped. */
  settled: boolean;
  /**
   * True while the job is offered to the store: an abort or a deadline then waits for the store's answer
   * (`pendingError`), so a job the store charged is given back before it is rejected, never rejected charged.
   */
  inFlight: boolean;
  /** Why the job must end once the store has answered (set while `inFlight`). */
  pendingError: Error | undefined;
  /** Runs the request (it was admitted and charged at store time `sentAt`). */
  admit(waitedMs: number, sentAt: number): void;
  /** Ends the request without running it. */
  fail(error: Error): void;
}

/** A priority's tier, as the store numbers them: its place in PRIORITIES (critical 0 ... low 3). */
export const TIER = Object.fromEntries(PRIORITIES.map((p, i) => [p, i])) as Readonly<Record<Priority, number>>;

/**
 * The tier a job competes in now: its own, raised one step (never above high) for every `agingMs` it has
 * waited, so low priority is never starved for good. Critical stays critical.
 */
export function effectiveTier(job: Job, now: number, agingMs: number): number {
  const own = TIER[job.plan.priority];
  if (own === 0) return 0;
  return Math.max(1, own - Math.floor((now - job.enqueuedAt) / agingMs));
}

/**
 * Records why an in-flight job must end once the store has answered. An abort or a close overrides a
 * deadline that passed meanwhile (a deadline alone does not undo an admission asked for in time; an abort
 * always does); otherwise the first reason stands.
 */
export function deferEnd(job: Job, error: Error): void {
  if (job.pendingError === undefined || (job.pendingError instanceof MaxWaitExceededError && !(error instanceof MaxWaitExceededError))) {
    job.pendingError = error;
  }
}
