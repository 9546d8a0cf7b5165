import { BUCKET_CONSTANTS as K } from './bucketConstants.js';
import type { BucketConfig } from './types.js';
import { entryExpiry, granuleMs, unsettled, type BucketData } from './state.js';

/**
 * Settled requests (twin: redis/lib/settle.lua). A request admitted within the margin of a window's end may have
 * landed in either window, so the log counts it into the next one too; while no window is known, every entry counts a
 * whole span after its admission. A request's reply says where it landed: its window ends by `now + reset`.
 */

/**
 * The index of the log entry that holds the admissions of `at`'s granule, or -1 when none counts any more (the
 * log is in time order, one entry per granule: a binary search).
 */
function entryOf(data: BucketData, config: BucketConfig, at: number): number {
  const g = granuleMs(config.windowMs);
  const target = Math.floor(at / g);
  let lo = data.head;
  let hi = data.log.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const granule = Math.floor(data.log[mid]![0] / g);
    if (granule === target) return mid;
    if (granule < target) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * A reply says where its request landed: in a server window that ends by `end` (`now + reset`: the reply left the
 * server before that window ended). A request the log would count past `end` (one admitted within the margin of a
 * window's end may have landed in either window, so the log counts it into the next; without a known phase every
 * entry counts a whole span) stops counting at `end`: at once when that is now, else when `end` comes (its weight
 * moves from its entry to the group of `end` in `settles`, at most K.maxSettles groups; past that the log counts it
 * longer, the safe side). Sound whatever the phase: a request charged to one server window is never charged to a
 * later one. Call once per request (`weight` is its charge in this bucket), with `end` from a usable reset.
 */
export function settle(data: BucketData, config: BucketConfig, sentAt: number, weight: number, end: number, now: number): void {
  if (!(weight > 0)) return;
  const i = entryOf(data, config, sentAt);
  if (i < 0) return;
  const entry = data.log[i]!;
  if (entryExpiry(data, config, entry[0], now) <= end) return;
  const take = Math.min(unsettled(entry), weight);
  if (!(take > 0)) return;
  if (end <= now) {
    entry[1] -= take;
    data.used = Math.max(0, data.used - take);
    return;
  }
  const g = granuleMs(config.windowMs);
  const at = Math.ceil(end / g) * g; // a group per granule, rounded up: a little later, the safe side
  let j = data.settles.length;
  while (j > 0 && data.settles[j - 1]![0] > at) j--;
  if (j > 0 && data.settles[j - 1]![0] === at) data.settles[j - 1]![1] += take;
  else if (data.settles.length < K.maxSettles) data.settles.splice(j, 0, [at, take]);
  else return;
  entry[2] = (entry[2] ?? 0) + take;
  data.settleNext = data.settles[0]![0];
}

/** Settled weight whose window has ended stops counting (see `settle`). */
export function applySettles(data: BucketData, now: number): void {
  if (data.settleNext === 0 || data.settleNext > now) return;
  while (data.settles.length > 0 && data.settles[0]![0] <= now) data.used = Math.max(0, data.used - data.settles.shift()![1]);
  data.settleNext = data.settles[0]?.[0] ?? 0;
}
