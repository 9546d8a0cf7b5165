import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowWait } from '../src/store/admit.js';
import { BUCKET_CONSTANTS as K } from '../src/store/bucketConstants.js';
import { lastingWeight, weightAfter } from '../src/store/observe.js';
import { entryExpiry, newBucketData, unsettled, type BucketData } from '../src/store/state.js';
import type { BucketConfig } from '../src/store/types.js';

/**
 * The window log is read in part (issue 17: a busy 3 s window's log holds 1000 entries, a 30 s one's 1200, about
 * 1 us each in Lua): the hidden-weight reckoning from both ends to the boundary, a wait from the first
 * K.waitEntries entries. Here the parts are held to the whole-log answers they replace, on random logs in time
 * order with settled parts, settled groups and a known (or no) server window.
 */

const NOW = 1_700_000_100_000;

const logArb = fc.record({
  windowMs: fc.constantFrom(1000, 3000, 30_000),
  marginMs: fc.integer({ min: 0, max: 300 }),
  // gaps between entries (time order), weights and settled parts
  entries: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 40 }), weight: fc.integer({ min: 1, max: 5 }), settled: fc.integer({ min: 0, max: 5 }) }), {
    minLength: 0,
    maxLength: 400,
  }),
  settles: fc.array(fc.record({ after: fc.integer({ min: 1, max: 3000 }), weight: fc.integer({ min: 1, max: 9 }) }), { maxLength: 6 }),
  aligned: fc.boolean(),
  whiAhead: fc.integer({ min: 1, max: 3000 }),
  spread: fc.integer({ min: 0, max: 200 }),
  hasPrev: fc.boolean(),
  until: fc.integer({ min: -2000, max: 32_000 }),
  sentBack: fc.integer({ min: 0, max: 2000 }),
  excess: fc.integer({ min: 1, max: 800 }),
});

type LogCase = typeof logArb extends fc.Arbitrary<infer T> ? T : never;

function bucketOf(x: LogCase): { data: BucketData; config: BucketConfig } {
  const config: BucketConfig = {
    group: 'g',
    id: 'b',
    limit: 1000,
    windowMs: x.windowMs,
    marginMs: x.marginMs,
    burst: 0,
    refillPerMs: 0,
    alignPhase: x.aligned,
  };
  const data = newBucketData(config, NOW);
  // entries still counting: from a window and a bit before now, in time order
  let at = NOW - x.windowMs - x.marginMs + 1;
  for (const e of x.entries) {
    at = Math.min(NOW, at + e.gap);
    const settled = Math.min(e.settled, e.weight);
    data.log.push(settled > 0 ? [at, e.weight, settled] : [at, e.weight]);
    data.used += e.weight - settled;
  }
  let end = NOW;
  for (const s of x.settles) {
    end += s.after;
    data.settles.push([end, s.weight]);
    data.used += s.weight;
  }
  if (x.aligned) {
    data.whi = NOW + x.whiAhead;
    data.wlo = data.whi - x.spread;
    if (x.hasPrev) {
      data.prevWhi = data.wlo - x.windowMs + 1;
      data.prevWlo = data.prevWhi - x.spread;
    }
  }
  return { data, config };
}

describe('reading the window log in part', () => {
  it('entries expire in log order, so the lasting weight read from both ends equals the whole sum', () => {
    fc.assert(
      fc.property(logArb, (x) => {
        const { data, config } = bucketOf(x);
        const until = NOW + x.until;
        let whole = 0;
        for (const e of data.log) if (entryExpiry(data, config, e[0], NOW) >= until) whole += unsettled(e);
        expect(lastingWeight(data, config, until, NOW)).toBe(whole);
        // and the expiry grows along the log
        for (let i = 1; i < data.log.length; i++)
          expect(entryExpiry(data, config, data.log[i]![0], NOW)).toBeGreaterThanOrEqual(entryExpiry(data, config, data.log[i - 1]![0], NOW));
      }),
      { numRuns: 400 },
    );
  });

  it('the weight admitted after a request, read from the newest entry back, equals the whole sum', () => {
    fc.assert(
      fc.property(logArb, (x) => {
        const { data } = bucketOf(x);
        const sentAt = NOW - x.sentBack;
        const whole = data.log.filter((e) => e[0] > sentAt).reduce((s, e) => s + e[1], 0);
        expect(weightAfter(data, sentAt)).toBe(whole);
      }),
      { numRuns: 400 },
    );
  });

  it('a wait read from the first K.waitEntries entries is never later than the whole log says, and equal when the log is short', () => {
    fc.assert(
      fc.property(logArb, (x) => {
        const { data, config } = bucketOf(x);
        const part = windowWait(data, config, x.excess, NOW);
        const whole = windowWait(data, config, x.excess, NOW, Number.POSITIVE_INFINITY);
        expect(part).toBeLessThanOrEqual(whole);
        if (data.log.length <= K.waitEntries) expect(part).toBe(whole);
      }),
      { numRuns: 400 },
    );
  });
});
