/** The rules both WebSocket budget stores apply (the Lua scripts under src/ws/redis/ mirror them). */

/** The configured session limit, or a lower one learned from a 509 while it is in force. */
export function effectiveSessionLimit(configured: number, learned: number, learnedUntil: number, now: number): number {
  return learnedUntil > now && learned > 0 ? Math.min(configured, learned) : configured;
}

export interface BusyBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  /** 0..1: the share of a pause taken off at random. */
  readonly jitter: number;
  /** A level not raised for this long starts over. */
  readonly resetAfterMs: number;
  /** 0..1 (the caller's Math.random()). */
  readonly random: number;
}

export interface BusyState {
  readonly level: number;
  readonly at: number;
  readonly pausedUntil: number;
}

/**
 * One step of the shared backoff after "service busy": a report while a pause is in force joins that pause
 * (many processes see the same refusal: one step per round, not per report); otherwise the level goes up
 * (or starts over after `resetAfterMs` of calm) and a pause of base x 2^(level-1), capped, less jitter, begins.
 */
export function busyPause(b: BusyBackoff, s: BusyState, now: number): BusyState {
  if (s.pausedUntil > now) return s;
  const level = now - s.at > b.resetAfterMs ? 1 : s.level + 1;
  const full = Math.min(b.maxMs, b.baseMs * 2 ** (level - 1));
  const pause = Math.max(1, Math.round(full * (1 - b.jitter * b.random)));
  return { level, at: now, pausedUntil: now + pause };
}
