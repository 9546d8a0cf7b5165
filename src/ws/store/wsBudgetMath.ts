import { describeValue, InvalidArgumentError } from '../../errors.js';

/** The rules both WebSocket budget stores apply (the Lua scripts under src/ws/redis/ mirror them). */

/** A limit learned from the server, believed until `until`. */
export interface Learned {
  readonly value: number;
  readonly until: number;
}

/** The learned value while it is in force (wsLib.lua `learned`). */
export function learnedValue(l: Learned | undefined, now: number): number | undefined {
  return l && l.until > now && l.value > 0 ? l.value : undefined;
}

/** After a 509 session count: the sessions held then (`value` at `at`), one more for every `stepMs` since. */
export interface SessionCap {
  readonly value: number;
  readonly at: number;
  readonly stepMs: number;
}

/** The cap in force (wsLib.lua `session_cap`). */
export function sessionCap(c: SessionCap | undefined, now: number): number | undefined {
  return c && c.stepMs > 0 ? c.value + Math.floor(Math.max(0, now - c.at) / c.stepMs) : undefined;
}

/** The configured session limit, or lower: learned from a 509's text, or the cap after one (wsLib.lua `effective_limit`). */
export function effectiveSessionLimit(configured: number, learned: Learned | undefined, cap: SessionCap | undefined, now: number): number {
  return Math.min(configured, learnedValue(learned, now) ?? configured, sessionCap(cap, now) ?? configured);
}

/** Longest hold of a released slot: a day (the manager's are at most 120 s, see WS_PING_BOUNDS). */
export const MAX_HOLD_MS = 86_400_000;

/** A hold a store accepts: a number of ms in [0, MAX_HOLD_MS], else InvalidArgumentError (a slot is never pinned for years). */
export function checkHold(holdMs: unknown): number {
  if (typeof holdMs !== 'number' || !(holdMs >= 0 && holdMs <= MAX_HOLD_MS)) {
    throw new InvalidArgumentError(`Expected holdMs to be a number of ms in [0, ${MAX_HOLD_MS}], got ${describeValue(holdMs)}`);
  }
  return holdMs;
}

/** A learned topic limit a store accepts: an integer in [1, 1_000_000], and how long it holds: [0, a day]. */
export function checkLearned(value: unknown, learnForMs: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1_000_000) {
    throw new InvalidArgumentError(`Expected a learned limit to be an integer in [1, 1000000], got ${describeValue(value)}`);
  }
  if (typeof learnForMs !== 'number' || !(learnForMs >= 0 && learnForMs <= MAX_HOLD_MS)) {
    throw new InvalidArgumentError(`Expected learnForMs to be a number of ms in [0, ${MAX_HOLD_MS}], got ${describeValue(learnForMs)}`);
  }
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
