import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BucketConfig, Store } from '../src/index.js';

/** A store under test, driven by the clock the suite controls. */
export interface StoreFixture {
  readonly store: Store;
  cleanup(): Promise<void>;
}

let seq = 0;
/** A bucket with a unique id, so tests never share state even on a shared Redis. */
export function bucket(overrides: Partial<BucketConfig> = {}): BucketConfig {
  seq++;
  return { group: `g${seq}`, id: `uid:${seq}:Spot`, limit: 100, windowMs: 1000, marginMs: 50, burst: 0, refillPerMs: 0, ...overrides };
}

/**
 * The behaviour every Store must have. MemoryStore and RedisStore both run it (test/memoryStore.test.ts,
 * test/redisStore.test.ts), so the TypeScript and Lua versions of the algorithm cannot drift apart.
 */
export function describeStoreBehaviour(name: string, make: (clock: () => number) => Promise<StoreFixture>): void {
  describe(`${name}: shared store behaviour`, () => {
    let t = 1_700_000_000_000;
    let fx: StoreFixture;
    const clock = (): number => t;
    const one = (b: BucketConfig, weight = 1, share = 1) => fx.store.acquire({ charges: [{ bucket: b, weight }], share });

    beforeEach(async () => {
      t = 1_700_000_000_000;
      fx = await make(clock);
    });
    afterEach(async () => fx.cleanup());

    it('admits up to the limit in a span, then refuses with the exact wait until the oldest weight stops counting', async () => {
      const b = bucket({ limit: 10, windowMs: 1000, marginMs: 50 });
      for (let i = 0; i < 10; i++) {
        expect((await one(b)).admitted).toBe(true);
        t += 10;
      }
      const refused = await one(b);
      expect(refused).toMatchObject({ admitted: false, reason: 'window', bucketId: b.id });
      // the first weight was admitted at 1_700_000_000_000 and counts for windowMs + marginMs = 1050 ms
      if (refused.admitted) throw new Error('unreachable');
      expect(refused.waitMs).toBe(1050 - 100);
      t += refused.waitMs - 1;
      expect((await one(b)).admitted).toBe(false);
      t += 1;
      expect((await one(b)).admitted).toBe(true);
    });

    it('never charges a refused request', async () => {
      const b = bucket({ limit: 5 });
      expect((await one(b, 4)).admitted).toBe(true);
      expect((await one(b, 2)).admitted).toBe(false);
      expect((await one(b, 2)).admitted).toBe(false);
      const [state] = await fx.store.inspect([b]);
      expect(state!.used).toBe(4);
      expect((await one(b, 1)).admitted).toBe(true);
    });

    it('admits a batch of identical requests in order, as many as fit, each all-or-nothing', async () => {
      const pool = bucket({ limit: 10 });
      const ip = { ...bucket({ limit: 100 }), group: pool.group };
      const guard = { ...bucket({ limit: 1 }), group: pool.group };
      const req = { charges: [{ bucket: pool, weight: 3 }, { bucket: ip, weight: 1 }, { bucket: guard, weight: 0 }], share: 1, count: 5 };
      expect(await fx.store.acquire(req)).toMatchObject({ admitted: true, count: 3 });
      const [p, i] = await fx.store.inspect([pool, ip]);
      expect([p!.used, i!.used]).toEqual([9, 3]); // nothing charged for the two that did not fit
      expect(await fx.store.acquire(req)).toMatchObject({ admitted: false, reason: 'window' });
      await fx.store.pause(guard, t + 5000);
      t += 2000; // the pool has room again, the guard is still paused
      expect(await fx.store.acquire(req)).toMatchObject({ admitted: false, reason: 'paused', bucketId: guard.id });
    });

    it('is all-or-nothing over several buckets, and names the bucket that needs the longest wait', async () => {
      const pool = bucket({ limit: 100 });
      const ip = { ...bucket({ limit: 2 }), group: pool.group };
      const req = { charges: [{ bucket: pool, weight: 10 }, { bucket: ip, weight: 1 }], share: 1 };
      expect((await fx.store.acquire(req)).admitted).toBe(true);
      expect((await fx.store.acquire(req)).admitted).toBe(true);
      const refused = await fx.store.acquire(req);
      expect(refused).toMatchObject({ admitted: false, bucketId: ip.id, reason: 'window' });
      const [p, i] = await fx.store.inspect([pool, ip]);
      expect(p!.used).toBe(20);
      expect(i!.used).toBe(2);
    });

    it('lets a tier fill only its share; critical (share 1) finds the rest', async () => {
      const b = bucket({ limit: 100 });
      for (let i = 0; i < 70; i++) expect((await one(b, 1, 0.7)).admitted).toBe(true);
      expect(await one(b, 1, 0.7)).toMatchObject({ admitted: false, reason: 'window' });
      expect((await one(b, 25, 0.95)).admitted).toBe(true);
      expect((await one(b, 1, 0.95)).admitted).toBe(false);
      expect((await one(b, 5, 1)).admitted).toBe(true);
      expect((await one(b, 1, 1)).admitted).toBe(false);
    });

    it('paces with the token bucket: a burst, then the refill rate, and the exact wait for tokens', async () => {
      const b = bucket({ limit: 1000, burst: 5, refillPerMs: 0.01 }); // 1 token per 100 ms
      for (let i = 0; i < 5; i++) expect((await one(b)).admitted).toBe(true);
      expect(await one(b)).toMatchObject({ admitted: false, reason: 'pacing', waitMs: 100 });
      t += 99;
      expect((await one(b)).admitted).toBe(false);
      t += 1;
      expect((await one(b)).admitted).toBe(true);
    });

    it('keeps a token reserve per tier: low may not take tokens below (1 - share) of the capacity', async () => {
      const b = bucket({ limit: 1000, burst: 10, refillPerMs: 0.001 });
      for (let i = 0; i < 7; i++) expect((await one(b, 1, 0.7)).admitted).toBe(true);
      expect(await one(b, 1, 0.7)).toMatchObject({ admitted: false, reason: 'pacing' });
      for (let i = 0; i < 3; i++) expect((await one(b, 1, 1)).admitted).toBe(true);
    });

    it('does not strand a request heavier than the token capacity', async () => {
      const b = bucket({ limit: 1000, burst: 10, refillPerMs: 0.01 });
      expect((await one(b, 30)).admitted).toBe(true);
      const [s] = await fx.store.inspect([b]);
      expect(s!.used).toBe(30);
      expect(s!.tokens).toBe(0);
    });

    it('pauses a bucket until a time, and never shortens a longer pause', async () => {
      const b = bucket();
      await fx.store.pause(b, t + 5000);
      await fx.store.pause(b, t + 1000);
      expect(await one(b)).toMatchObject({ admitted: false, reason: 'paused', waitMs: 5000 });
      const [s] = await fx.store.inspect([b]);
      expect(s!.pausedUntil).toBe(t + 5000);
      t += 5000;
      expect((await one(b)).admitted).toBe(true);
    });

    it('a pause holds back even weight 0; weight 0 charges nothing otherwise', async () => {
      const b = bucket({ limit: 1 });
      expect((await one(b, 0)).admitted).toBe(true);
      expect((await one(b, 1)).admitted).toBe(true);
      expect((await one(b, 0)).admitted).toBe(true);
      await fx.store.pause(b, t + 10);
      expect(await one(b, 0)).toMatchObject({ admitted: false, reason: 'paused' });
    });

    it('tightens: effective limit = floor(limit x factor), and restores', async () => {
      const b = bucket({ limit: 10 });
      await fx.store.setFactor(b, 0.55);
      for (let i = 0; i < 5; i++) expect((await one(b)).admitted).toBe(true);
      expect((await one(b)).admitted).toBe(false);
      const [s] = await fx.store.inspect([b]);
      expect(s).toMatchObject({ effectiveLimit: 5, factor: 0.55, limit: 10 });
      await fx.store.setFactor(b, 1);
      expect((await one(b)).admitted).toBe(true);
    });

    it('rejects a factor outside (0, 1]', async () => {
      const b = bucket();
      await expect(fx.store.setFactor(b, 0)).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
      await expect(fx.store.setFactor(b, 1.5)).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
      await expect(fx.store.setFactor(b, Number.NaN)).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
    });

    it('keeps buckets of different groups apart', async () => {
      const a = bucket({ limit: 1 });
      const b = { ...a, group: `${a.group}-other` };
      expect((await one(a)).admitted).toBe(true);
      expect((await one(b)).admitted).toBe(true);
      expect((await one(a)).admitted).toBe(false);
    });

    describe('header sync (observe)', () => {
      const obs = (b: BucketConfig, sentAt: number, limit: number, remaining: number, resetMs: number) =>
        fx.store.observe(b, { sentAt, limit, remaining, resetMs });

      it('learns the limit from gw-ratelimit-limit (a VIP3 account gets its quota within one response)', async () => {
        const b = bucket({ limit: 100 });
        expect((await one(b)).admitted).toBe(true);
        await obs(b, t, 300, 299, 500);
        for (let i = 0; i < 299; i++) expect((await one(b)).admitted).toBe(true);
        expect((await one(b)).admitted).toBe(false);
        expect((await fx.store.inspect([b]))[0]).toMatchObject({ limit: 300, effectiveLimit: 300 });
      });

      it('aligns to the server window: weight surely charged to it stops counting at its conservative end', async () => {
        const b = bucket({ limit: 10, windowMs: 1000, marginMs: 50 });
        const t0 = t;
        for (let i = 0; i < 10; i++) expect((await one(b)).admitted).toBe(true);
        t += 5; // the response comes back 5 ms later: the window ends within [t0 + 400, t0 + 405]
        await obs(b, t0, 10, 0, 400);
        t = t0 + 10;
        expect(await one(b)).toMatchObject({ admitted: false, reason: 'window', waitMs: 395 });
        t = t0 + 404;
        expect((await one(b)).admitted).toBe(false);
        t = t0 + 405;
        expect((await one(b)).admitted).toBe(true); // instead of t0 + 1050 without the headers
        expect((await fx.store.inspect([b]))[0]).toMatchObject({ windowEndLow: t0 + 400, windowEndHigh: t0 + 405 });
      });

      it('keeps counting weight admitted so close to the boundary that it may land in the next window', async () => {
        const b = bucket({ limit: 10, windowMs: 1000, marginMs: 50 });
        const t0 = t;
        expect((await one(b, 5)).admitted).toBe(true);
        t = t0 + 5;
        await obs(b, t0, 10, 5, 400); // window ends within [t0 + 400, t0 + 405]
        t = t0 + 380; // after wlo - margin: may arrive after the end
        expect((await one(b, 5)).admitted).toBe(true);
        t = t0 + 405;
        const [s] = await fx.store.inspect([b]);
        expect(s!.used).toBe(5); // the first 5 stopped counting, the late 5 did not
        expect((await one(b, 6)).admitted).toBe(false);
        expect((await one(b, 5)).admitted).toBe(true);
      });

      it('counts weight spent outside the scheduler (hidden) until the window ends', async () => {
        const b = bucket({ limit: 100, windowMs: 1000, marginMs: 50 });
        const t0 = t;
        expect((await one(b, 10)).admitted).toBe(true);
        t += 5;
        await obs(b, t0, 100, 60, 500); // the server had charged 40: 30 of it was not ours
        expect((await fx.store.inspect([b]))[0]!.hidden).toBe(30);
        for (let i = 0; i < 6; i++) expect((await one(b, 10)).admitted).toBe(true);
        expect(await one(b, 1)).toMatchObject({ admitted: false, reason: 'window', waitMs: 500 });
        t = t0 + 505;
        expect((await one(b, 100)).admitted).toBe(true);
      });

      it('does not double-count weight admitted after the observed request (in flight)', async () => {
        const b = bucket({ limit: 100 });
        const t0 = t;
        expect((await one(b, 5)).admitted).toBe(true);
        t += 1;
        expect((await one(b, 5)).admitted).toBe(true);
        await obs(b, t0, 100, 95, 500); // the server had seen only the first 5
        expect((await fx.store.inspect([b]))[0]!.hidden).toBe(0);
        await obs(b, t0, 100, 80, 500); // same request, newer word: 20 charged, 5 of it not ours... plus ours in flight
        expect((await fx.store.inspect([b]))[0]!.hidden).toBe(15);
      });

      it('ignores an older response and missing (-1) headers', async () => {
        const b = bucket({ limit: 100 });
        const t0 = t;
        t = t0 + 205;
        await obs(b, t0 + 100, 100, 90, 500);
        await obs(b, t0 + 50, 200, 0, 100);
        await obs(b, t0 + 200, -1, -1, -1);
        const [s] = await fx.store.inspect([b]);
        expect(s).toMatchObject({ limit: 100, hidden: 10, windowEndLow: t0 + 600, windowEndHigh: t0 + 705 });
        // sent "in the future" (a clock mix-up): taken as sent now; an end earlier than the known window's
        // contradicts it, so the later, conservative bounds stay
        await obs(b, t + 10_000, 100, 0, 100);
        expect((await fx.store.inspect([b]))[0]).toMatchObject({ hidden: 100, windowEndLow: t0 + 600, windowEndHigh: t0 + 705 });
      });
    });

    describe('penalties (the feedback layer)', () => {
      it('pauses, marks spent and tightens at most once per window; recovers over a clean window', async () => {
        const b = bucket({ limit: 100, windowMs: 1000, marginMs: 50 });
        const p = { pauseMs: 400, spent: true, tighten: { by: 0.8, min: 0.5 } };
        const r1 = await fx.store.penalize(b, p);
        expect(r1).toMatchObject({ pausedUntil: t + 400, factor: 0.8, tightened: true });
        t += 100;
        const r2 = await fx.store.penalize(b, { ...p, pauseMs: 100 }); // a second 429000 in the same window
        expect(r2).toMatchObject({ pausedUntil: t + 300, factor: 0.8, tightened: false }); // pause kept, not shortened
        expect(await one(b)).toMatchObject({ admitted: false, reason: 'paused', waitMs: 300 });
        t += 300;
        expect((await one(b)).admitted).toBe(true);
        const [s1] = await fx.store.inspect([b]);
        expect(s1).toMatchObject({ effectiveLimit: 80, factor: 0.8 });
        // headers show window 1 ending at ~t+1000, then a new window: the window before it had no penalty
        await fx.store.observe(b, { sentAt: t, limit: 100, remaining: 99, resetMs: 1000 });
        t += 1005;
        await fx.store.observe(b, { sentAt: t, limit: 100, remaining: 99, resetMs: 1000, recoverStep: 0.1 });
        expect((await fx.store.inspect([b]))[0]!.factor).toBeCloseTo(0.9, 10);
      });

      it('backs off exponentially with a level shared by every caller, and starts over after a quiet time', async () => {
        const b = bucket();
        const backoff = { baseMs: 100, maxMs: 1000, jitter: 0, random: 0.5, resetAfterMs: 5000 };
        const pauses: number[] = [];
        for (let i = 0; i < 6; i++) {
          const r = await fx.store.penalize(b, { backoff });
          pauses.push(r.pausedUntil - t);
          t = r.pausedUntil;
        }
        expect(pauses).toEqual([100, 200, 400, 800, 1000, 1000]);
        const during = await fx.store.penalize(b, { backoff }); // t is where the last pause ended: a new round
        t += 10;
        const again = await fx.store.penalize(b, { backoff }); // lands during that backoff: no new round
        expect(again.pausedUntil).toBe(during.pausedUntil);
        t += 5001;
        expect((await fx.store.penalize(b, { backoff })).pausedUntil - t).toBe(100);
        const jittered = await fx.store.penalize(bucket(), { backoff: { ...backoff, jitter: 0.5, random: 1 } });
        expect(jittered.pausedUntil - t).toBe(125);
      });
    });

    it('property: never more than the limit in any span of windowMs + marginMs, never a charge for a refusal, never negative', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            limit: fc.integer({ min: 5, max: 60 }),
            windowMs: fc.integer({ min: 100, max: 3000 }),
            marginMs: fc.integer({ min: 0, max: 100 }),
            burst: fc.constantFrom(0, 5, 20),
            steps: fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), weight: fc.integer({ min: 1, max: 8 }), share: fc.constantFrom(1, 0.95, 0.7) }), { minLength: 20, maxLength: 80 }),
          }),
          async ({ limit, windowMs, marginMs, burst, steps }) => {
            const b = bucket({ limit, windowMs, marginMs, burst, refillPerMs: burst / windowMs });
            const admitted: [number, number][] = [];
            for (const s of steps) {
              t += s.dt;
              const before = (await fx.store.inspect([b]))[0]!;
              const r = await one(b, s.weight, s.share);
              const after = (await fx.store.inspect([b]))[0]!;
              if (r.admitted) admitted.push([t, s.weight]);
              else expect(after.used).toBe(before.used);
              expect(after.used).toBeGreaterThanOrEqual(0);
              expect(after.tokens).toBeGreaterThanOrEqual(0);
            }
            const span = windowMs + marginMs;
            for (const [start] of admitted) {
              const inSpan = admitted.filter(([at]) => at >= start && at < start + span).reduce((a, [, w]) => a + w, 0);
              expect(inSpan).toBeLessThanOrEqual(limit);
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
