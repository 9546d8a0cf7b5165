// The ResilientStore's share math (src/store/resilient/shareMath.ts) as pure functions: no Redis, no timers.
import { describe, expect, it } from 'vitest';
import { fleetUseBound, isHeavy, liveProcessesOf, localShare, nextLiveCount, seedWeight, type FleetReading } from '../src/store/resilient/shareMath.js';
import type { BucketConfig } from '../src/index.js';

const b: BucketConfig = { group: 'g', id: 'uid:g:Spot', limit: 100, windowMs: 600, marginMs: 0, burst: 40, refillPerMs: 100 / 600 };
const reading = (r: Partial<FleetReading>): FleetReading => ({ counted: 11, countedAt: 1000, limit: 100, factor: 1, heavy: false, ...r });

describe('localShare', () => {
  it('divides limit, burst and refill by the live processes, never rounding the limit up', () => {
    expect(localShare(b, 2)).toMatchObject({ limit: 50, burst: 20, refillPerMs: 100 / 600 / 2 });
    expect(localShare(b, 3).limit).toBe(33);
    expect(localShare({ ...b, limit: 2 }, 3).limit).toBe(0); // more processes than the limit: nothing
  });
  it('follows a learned limit: burst and refill scale with it', () => {
    expect(localShare(b, 2, 50)).toMatchObject({ limit: 25, burst: 10, refillPerMs: 50 / 600 / 2 });
  });
});

describe('fleetUseBound', () => {
  it('is the counted weight plus two bursts and the refill since the reading, at most the limit in force', () => {
    expect(fleetUseBound(b, reading({}), 1001)).toBeCloseTo(11 + 80 + 100 / 600);
    expect(fleetUseBound(b, reading({ counted: 50 }), 1001)).toBe(100);
    expect(fleetUseBound(b, reading({ countedAt: 1300 }), 1001)).toBe(91); // a reading newer than the failure ages 0
  });
  it('is the whole limit in force without a reading, without pacing, or after a heavy charge', () => {
    expect(fleetUseBound(b, undefined, 1001)).toBe(100);
    expect(fleetUseBound(b, reading({ counted: undefined }), 1001)).toBe(100);
    expect(fleetUseBound({ ...b, burst: 0 }, reading({}), 1001)).toBe(100);
    expect(fleetUseBound(b, reading({ heavy: true }), 1001)).toBe(100);
    expect(fleetUseBound(b, reading({ heavy: true, limit: 80, factor: 0.5 }), 1001)).toBe(40);
  });
  it('scales pacing with the limit in force and the factor', () => {
    expect(fleetUseBound(b, reading({ limit: 50, factor: 0.5, counted: 0, countedAt: 1001 }), 1001)).toBe(2 * 40 * 0.25);
  });
});

describe('seedWeight', () => {
  it("records this process's part of the fleet's use less what its share already counts", () => {
    // the case of test/resilientStore.test.ts: ceil((11 + 80 + 1 ms of refill) / 2) = 46, less its own 10
    expect(seedWeight(b, reading({}), { at: 1001, holdDelayMs: 0 }, 2, 10)).toBe(36);
    expect(seedWeight(b, reading({}), { at: 1001, holdDelayMs: 0 }, 2, 60)).toBe(0);
  });
  it('counts what the fleet may admit until the others hold back the share (a lease and a heartbeat)', () => {
    expect(fleetUseBound(b, reading({}), 1001, 30)).toBeCloseTo(11 + 80 + (31 * 100) / 600);
    // the case of test/resilientPartial.test.ts (heartbeat 50 ms): (11 + 80 + 151 ms of refill) / 2 > the share of 50
    expect(seedWeight(b, reading({}), { at: 1001, holdDelayMs: 150 }, 2, 1)).toBe(49);
  });
});

describe('isHeavy', () => {
  it('is a charge heavier than burst x share x min(1, factor)', () => {
    expect(isHeavy(20, { ...b, burst: 5 }, 1, 1)).toBe(true);
    expect(isHeavy(5, { ...b, burst: 5 }, 1, undefined)).toBe(false);
    expect(isHeavy(5, { ...b, burst: 5 }, 1, 0.5)).toBe(true);
    expect(isHeavy(5, { ...b, burst: 10 }, 0.4, 2)).toBe(true);
  });
});

describe('live counts', () => {
  it('trusts a lower count only once the higher one could have expired', () => {
    let c = nextLiveCount(undefined, 3, 0, 300);
    c = nextLiveCount(c, 1, 100, 300); // a restarted Redis lost the others' heartbeats
    expect(liveProcessesOf(c, 100, 300)).toBe(3);
    expect(liveProcessesOf(c, 301, 300)).toBe(1);
    expect(nextLiveCount(c, 1, 400, 300)).toEqual({ n: 1, peak: 1, peakAt: 400 });
    expect(nextLiveCount(c, 4, 200, 300)).toEqual({ n: 4, peak: 4, peakAt: 200 });
  });
});
