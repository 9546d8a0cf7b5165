/**
 * The moves between health states (health.ts) that Redis's answers and failures make: a failure cuts this process
 * off, a heartbeat answered after it reconciles and recovers, and the recovery ends a span later.
 */
import { holdOverdue } from './lease.js';
import type { Parts } from './parts.js';

/** A Redis call failed: cut this process off, unless Redis was never reached (then stay connecting). */
export function cutOff(parts: Parts, error: unknown): void {
  const { health, shares, readings, fleet, clock } = parts;
  const e = error instanceof Error ? error : new Error(String(error));
  health.lastError = e;
  if (health.kind === 'connecting' || health.kind === 'degraded') return;
  const since = clock();
  shares.forget();
  // every bucket in use counts the fleet's use at once, so its tokens refill from the failure on
  const inUse = readings.all().map((r) => r.bucket);
  shares.seedLater(
    inUse.filter((b) => fleet.liveProcesses(b.group) !== undefined),
    since,
  );
  health.set({ kind: 'degraded', since }, e);
}

/** Recovering ends once its span has passed. */
export function endRecovery(parts: Parts): void {
  const h = parts.health.state;
  if (h.kind === 'recovering' && parts.clock() >= h.until) parts.health.set({ kind: 'healthy' });
}

/** One heartbeat: counts the processes (probing Redis), recovers when Redis is back, then reads the buckets in use. */
export async function heartbeat(parts: Parts): Promise<void> {
  const { fleet, primary, readings, shares, reconciliation, clock, health } = parts;
  if (fleet.groups.size === 0) return;
  const startedAt = clock();
  if (health.kind === 'degraded') fleet.blind(startedAt);
  try {
    const overdue = await fleet.beat(primary);
    const h = health.state;
    if (h.kind === 'connecting') health.set({ kind: 'healthy' });
    // only a heartbeat sent after the failure proves that Redis is back
    if (h.kind === 'degraded' && startedAt > h.since) {
      await reconciliation.reconcile();
      // no await from the drain's end to the switch: nothing admitted locally can fall between the two
      health.set({ kind: 'recovering', until: clock() + readings.maxSpan });
    }
    endRecovery(parts);
    if (health.kind === 'degraded') return;
    await holdOverdue(parts, overdue);
    const readAt = clock();
    await readings.read(primary, readAt, (r, s) => shares.copy(r, s, readAt));
  } catch (error) {
    cutOff(parts, error);
  }
}
