/**
 * The two ways a ResilientStore admits: through Redis (healthy; recovering also asks the local share first), and
 * under the local share alone (cut off from Redis).
 */
import { StoreError } from '../../errors.js';
import { spanMs } from '../state.js';
import type { AcquireRequest, AcquireResult } from '../types.js';
import { refusalAfterLease } from './lease.js';
import type { Parts } from './parts.js';

type Admitted = Extract<AcquireResult, { admitted: true }>;

/** The StoreError of a request whose group's live processes were never counted (no share to admit under). */
export function noShare(parts: Parts, request: AcquireRequest): StoreError {
  const groups = [...new Set(request.charges.map((c) => c.bucket.group))].filter((g) => parts.fleet.liveProcesses(g) === undefined);
  return new StoreError(
    `The live processes of quota group ${JSON.stringify(groups[0])} were never counted (no heartbeat of it answered yet): no local share to admit under while Redis is unavailable or recovering`,
    parts.health.lastError,
  );
}

/**
 * Admits under the local share, after counting the fleet's use at the failure in it (once per failure); once the
 * lease has run out, critical requests only (lease.ts).
 */
export async function acquireLocally(parts: Parts, request: AcquireRequest, cutOffSince: number): Promise<AcquireResult> {
  const { shares } = parts;
  const local = shares.request(request);
  if (!local) throw noShare(parts, request);
  const refused = refusalAfterLease(parts, request);
  if (refused) return refused;
  const none = local.charges.find((c) => c.weight > 0 && c.bucket.limit < 1);
  if (none) return { admitted: false, now: parts.clock(), waitMs: spanMs(none.bucket), bucketId: none.bucket.id, reason: 'window' };
  shares.seedLater(
    request.charges.filter((c) => c.weight > 0).map((c) => c.bucket),
    cutOffSince,
  ); // those first used since
  await shares.seeded();
  const result = await shares.store.acquire(local);
  if (result.admitted) {
    parts.reconciliation.absorb(request, result);
    // Redis came back while this ran: charge it at once
    if (parts.health.kind !== 'degraded') void parts.reconciliation.drain().catch((e) => parts.fail(e));
  }
  return result;
}

/**
 * Admits through Redis. With `alsoLocally` (recovering) the local share must admit first, and Redis then admits at most
 * what it did. Redis's admissions are mirrored on the local share; a Redis failure admits under the local share.
 */
export async function acquireThroughRedis(parts: Parts, request: AcquireRequest, alsoLocally: boolean): Promise<AcquireResult> {
  const { shares, reconciliation } = parts;
  let count = request.count ?? 1;
  let local: AcquireRequest | undefined;
  let localResult: Admitted | undefined;
  if (alsoLocally) {
    local = shares.request(request);
    if (!local) throw noShare(parts, request);
    const l = await shares.store.acquire(local);
    if (!l.admitted) return l;
    localResult = l;
    count = l.count; // the local share admitted these; Redis must admit them too
  }
  const startedAt = parts.clock();
  let result: AcquireResult;
  try {
    result = await parts.primary.acquire({ ...request, count });
  } catch (error) {
    // admitted by the local share before it counted the fleet's use at this failure: give back (admit again)
    if (localResult && local) await shares.store.release(local, localResult.count, localResult.now);
    parts.outage(error);
    const health = parts.health.state;
    return acquireLocally(parts, request, health.kind === 'degraded' ? health.since : parts.clock());
  }
  if (localResult && local && (!result.admitted || result.count < localResult.count)) {
    // the local share charged more than Redis admitted: give the rest back
    const refused = localResult.count - (result.admitted ? result.count : 0);
    await shares.store.release(local, refused, localResult.now);
  }
  if (result.admitted) {
    let mirroredAt = localResult?.now;
    if (mirroredAt === undefined) {
      // keep this process's own admissions in the local share, so a failure finds them counted
      mirroredAt = parts.clock();
      shares.store.record(shares.mirrorRequest(request), result.count);
    }
    reconciliation.mirrored(result.now, mirroredAt);
    parts.readings.counted(request, result.counted, startedAt);
  }
  return result;
}
