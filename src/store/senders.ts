import { BUCKET_CONSTANTS as K } from './bucketConstants.js';

/**
 * The senders of a bucket: the bots (a process, or a name the caller sets) that acquire it, as the store keeps
 * them for the whole fleet. Two things come from them, in both twins (this file and redis/senders.lua):
 *
 *  - **What waits above a tier.** A refused request leaves how much weight its lane offered (`count` x weight) and
 *    when that lane comes back (`pending`, `until`, per tier). A lower tier leaves that room and those tokens to it,
 *    so a cancel waiting in one process is not passed by an order of another process, or by a lane of its own
 *    process that asked first. It lasts until the lane's return: a lane that dies or is aborted holds nothing long.
 *  - **Fair shares within a tier.** Each sender's admitted weight per tier decays with time constant windowMs (a
 *    rate). Among the senders of a tier that wait now, one that has had more than its weighted share is held back
 *    briefly when one below its share is about to ask again; what a sender does not want flows to the others.
 *    Critical requests are never held back for a share.
 */
export interface SenderState {
  /** The bot's weight in fair shares (> 0). */
  weight: number;
  /** Weight admitted per tier high, normal, low (index tier - 1), decaying with time constant windowMs, as of `gotAt`. */
  got: [number, number, number];
  gotAt: number;
  /** Weight refused per tier critical..low, and until when each waits (its lane's return plus a slack). */
  pending: [number, number, number, number];
  until: [number, number, number, number];
}

/** A request's sender: `id` names the bot (1-64 characters of A-Z a-z 0-9 _ . : -), `weight` its fair share. */
export interface Sender {
  readonly id: string;
  readonly weight: number;
}

export type Senders = Map<string, SenderState>;

const TIERS = 4;

/** A sender as first seen. */
function newSender(weight: number, now: number): SenderState {
  return { weight, got: [0, 0, 0], gotAt: now, pending: [0, 0, 0, 0], until: [0, 0, 0, 0] };
}

/** Brings the decaying admitted weights to `now`. */
function decay(s: SenderState, windowMs: number, now: number): void {
  if (now <= s.gotAt) return;
  const f = Math.exp(-(now - s.gotAt) / windowMs);
  for (let i = 0; i < 3; i++) s.got[i]! *= f;
  s.gotAt = now;
}

/** The sender's entry (created with `weight` when new; its weight follows the latest request). */
function entry(senders: Senders, sender: Sender, windowMs: number, now: number): SenderState {
  let s = senders.get(sender.id);
  if (!s) {
    s = newSender(sender.weight, now);
    senders.set(sender.id, s);
  }
  s.weight = sender.weight;
  decay(s, windowMs, now);
  return s;
}

/**
 * Drops senders that neither wait nor have admitted anything for a while (their decayed weight is negligible),
 * and past K.maxSenders the least recently active.
 */
export function pruneSenders(senders: Senders, windowMs: number, now: number): void {
  for (const [id, s] of senders) {
    decay(s, windowMs, now);
    if (s.until.every((u) => u <= now) && s.got.every((g) => g < K.senderIdleWeight)) senders.delete(id);
  }
  if (senders.size <= K.maxSenders) return;
  const byActivity = [...senders].sort((a, b) => Math.max(...a[1].until, a[1].gotAt) - Math.max(...b[1].until, b[1].gotAt));
  for (const [id] of byActivity.slice(0, senders.size - K.maxSenders)) senders.delete(id);
}

/**
 * Weight waiting in the tiers above `tier` (every sender, this one too: its other lanes), and the earliest
 * time one of those waits ends (Infinity when none waits).
 */
export function waitingAbove(senders: Senders, tier: number, now: number): { weight: number; until: number } {
  let weight = 0;
  let until = Number.POSITIVE_INFINITY;
  for (const s of senders.values()) {
    for (let t = 0; t < Math.min(tier, TIERS); t++) {
      if (s.until[t]! > now && s.pending[t]! > 0) {
        weight += s.pending[t]!;
        until = Math.min(until, s.until[t]!);
      }
    }
  }
  return { weight, until };
}

/**
 * Weight the other senders wait with in `tier`, one request of `weight` each at most (the head of each lane): the
 * turns before this sender's next one when tokens are what all of them wait for (pacingTurnWait in admit.ts).
 */
export function weightAhead(senders: Senders, sender: Sender, tier: number, weight: number, now: number): number {
  if (tier < 0 || tier >= TIERS) return 0;
  let ahead = 0;
  for (const [id, s] of senders) if (id !== sender.id && s.until[tier]! > now && s.pending[tier]! > 0) ahead += Math.min(s.pending[tier]!, weight);
  return ahead;
}

/**
 * Milliseconds `sender` should hold back a request in `tier` for the fair shares (0: admit): once it has had its
 * weighted share of what the waiting senders of the tier admitted lately (`got x weight / weights`, + fairSlack),
 * while another waits below its own and comes back within K.fairHoldMs. Only tiers high, normal and low.
 */
export function fairShareWait(senders: Senders, sender: Sender, tier: number, windowMs: number, now: number): number {
  if (tier < 1 || tier >= TIERS) return 0;
  const self = entry(senders, sender, windowMs, now);
  const i = tier - 1;
  let total = self.got[i]!;
  let weights = self.weight;
  const hungry: SenderState[] = [];
  for (const [id, s] of senders) {
    if (id === sender.id || !(s.until[tier]! > now && s.pending[tier]! > 0)) continue;
    decay(s, windowMs, now);
    hungry.push(s);
    total += s.got[i]!;
    weights += s.weight;
  }
  if (hungry.length === 0) return 0;
  const fair = (s: SenderState): number => (total * s.weight) / weights;
  if (self.got[i]! < fair(self) * (1 + K.fairSlack)) return 0;
  let wait = Number.POSITIVE_INFINITY;
  for (const s of hungry) if (s.got[i]! < fair(s) && s.until[tier]! - now <= K.fairHoldMs) wait = Math.min(wait, s.until[tier]! - now);
  return Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : 0;
}

/** `count` requests of `weight` were admitted for `sender` in `tier`: they count in its share, and wait no more. */
export function recordAdmitted(senders: Senders, sender: Sender, tier: number, weight: number, count: number, windowMs: number, now: number): void {
  const s = entry(senders, sender, windowMs, now);
  if (tier >= 1 && tier < TIERS) s.got[tier - 1]! += weight * count;
  if (tier >= 0 && tier < TIERS) {
    s.pending[tier] = 0;
    s.until[tier] = 0;
  }
}

/** `sender`'s lane waits with `count` requests of `weight` in `tier`, and comes back in `waitMs`. */
export function recordWaiting(
  senders: Senders,
  sender: Sender,
  tier: number,
  weight: number,
  count: number,
  waitMs: number,
  windowMs: number,
  now: number,
): void {
  if (tier < 0 || tier >= TIERS) return;
  const s = entry(senders, sender, windowMs, now);
  s.pending[tier] = weight * count;
  s.until[tier] = now + waitMs + K.pendingSlackMs;
}
