/**
 * The lease that bounds a process cut off from Redis while the others still reach it (as Doorman bounds a client
 * by its lease):
 *
 * - A cut-off process admits under its local share only while its last heartbeat's lease could still be live in
 *   Redis: `leaseMs` (2 heartbeats) from when that heartbeat was sent. After that it admits critical requests only,
 *   still within its share, until Redis answers.
 * - Every heartbeat names the processes whose last heartbeat is older than a lease (heartbeat.lua). For each, this
 *   process holds back that process's share in every bucket it reads (hold.lua: charged once per process and bucket,
 *   whoever asks first), for the bucket's span. A killed process therefore costs the fleet its share for at most one
 *   lease, one heartbeat and one span.
 */
import { longestSpanMs } from '../state.js';
import type { OverdueProcess } from '../redis/redisStore.js';
import type { AcquireRequest, AcquireResult } from '../types.js';
import type { Parts } from './parts.js';

/** The tier a cut-off process still admits once its lease has run out. */
export const CRITICAL_TIER = 0;

/** Whether a cut-off process may admit a request of `tier` at `now`, its lease running until `leaseUntil`. */
export function admitsWhileCutOff(tier: number | undefined, now: number, leaseUntil: number | undefined): boolean {
  return tier === CRITICAL_TIER || (leaseUntil !== undefined && now < leaseUntil);
}

/**
 * The refusal of a request a cut-off process may no longer admit (its lease ran out and it is not critical): it waits
 * a heartbeat, the next probe of Redis. Undefined when the request may be admitted under the local share.
 */
export function refusalAfterLease(parts: Parts, request: AcquireRequest): AcquireResult | undefined {
  const now = parts.clock();
  for (const c of request.charges) {
    if (c.weight <= 0 || admitsWhileCutOff(request.tier, now, parts.fleet.leaseUntil(c.bucket.group))) continue;
    return { admitted: false, now, waitMs: parts.fleet.heartbeatMs, bucketId: c.bucket.id, reason: 'paused' };
  }
  return undefined;
}

/** Holds back the share of every overdue process in each bucket this process reads in its group. */
export async function holdOverdue(parts: Parts, overdue: ReadonlyMap<string, readonly OverdueProcess[]>): Promise<void> {
  if (overdue.size === 0) return;
  for (const r of parts.readings.all()) {
    const processes = overdue.get(r.bucket.group);
    const share = processes && parts.shares.share(r.bucket);
    if (!processes || !share || share.limit <= 0) continue;
    for (const p of processes) await parts.primary.hold(r.bucket, share.limit, p.processId, p.expiresAt + longestSpanMs(r.bucket));
  }
}
