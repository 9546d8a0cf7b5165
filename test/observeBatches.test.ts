import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStore, type BucketConfig, type Observation } from '../src/index.js';
import { ObserveBatches } from '../src/store/redis/observeBatches.js';
import type { RedisLike } from '../src/store/redis/luaScript.js';
import { testRedis } from './helpers/redisClient.js';

const { client, prefix } = testRedis();
afterAll(() => void client.disconnect());

/** The suite's client, counting the script calls made through it. */
function counting(): { client: RedisLike; calls: () => number } {
  let calls = 0;
  return {
    client: {
      evalsha: (...args) => {
        calls++;
        return client.evalsha(...args);
      },
      eval: (...args) => {
        calls++;
        return client.eval(...args);
      },
    },
    calls: () => calls,
  };
}

const garbage = fc.constantFrom(-1, 0, Number.NaN, 7.5, 1e9);
const header = (around: fc.Arbitrary<number>) => fc.oneof({ weight: 4, arbitrary: around }, { weight: 1, arbitrary: garbage });

let run = 0;

describe('observations of one bucket written together (ObserveBatches)', () => {
  it('a burst of replies applied in one call leaves the bucket as one call each would, and answers each the same', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          limit: fc.integer({ min: 5, max: 400 }),
          windowMs: fc.constantFrom(1000, 3000, 30_000),
          marginMs: fc.integer({ min: 0, max: 100 }),
          burst: fc.constantFrom(0, 10),
          alignPhase: fc.boolean(),
        }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), count: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 12 }),
        fc.array(
          fc.record({
            sentBack: fc.integer({ min: -20, max: 3000 }),
            limit: header(fc.integer({ min: 1, max: 400 })),
            remaining: header(fc.integer({ min: 0, max: 400 })),
            resetMs: header(fc.integer({ min: 0, max: 30_000 })),
            weight: fc.constantFrom(0, 1, 2, 5),
          }),
          { minLength: 2, maxLength: 10 },
        ),
        async (cfg, admissions, replies) => {
          run++;
          let t = 1_700_000_000_000;
          const clock = (): number => t;
          const bucket: BucketConfig = {
            group: 'acct',
            id: 'uid:acct:Spot',
            limit: cfg.limit,
            windowMs: cfg.windowMs,
            marginMs: cfg.marginMs,
            burst: cfg.burst,
            refillPerMs: cfg.burst / cfg.windowMs,
            alignPhase: cfg.alignPhase,
          };
          const one = new RedisStore({ client, prefix: `${prefix}-one-${run}`, clock });
          const batched = counting();
          const together = new RedisStore({ client: batched.client, prefix: `${prefix}-together-${run}`, clock });
          for (const a of admissions) {
            t += a.dt;
            for (const s of [one, together]) await s.acquire({ charges: [{ bucket, weight: 1 }], share: 1, count: a.count });
          }
          t += 5;
          const observations: Observation[] = replies.map((r) => ({
            sentAt: t - r.sentBack,
            limit: r.limit,
            remaining: r.remaining,
            resetMs: r.resetMs,
            minLimit: 1,
            maxLimit: 1000,
            recoverStep: 0.1,
            weight: r.weight,
          }));
          const each = [];
          for (const o of observations) each.push(await one.observe(bucket, o));
          const before = batched.calls();
          // all at once: the first is written alone, the rest wait for it and go in the next call
          const all = await Promise.all(observations.map((o) => together.observe(bucket, o)));
          expect(batched.calls() - before).toBe(2);
          expect(all).toEqual(each);
          expect(await together.inspect([bucket])).toEqual(await one.inspect([bucket]));
        },
      ),
      { numRuns: 60, seed: 4242 },
    );
  });

  it('splits a long burst into calls of at most maxRows, in order, and gives each caller its own row', async () => {
    const written: number[][] = [];
    const batches = new ObserveBatches<string, number, number>(async (_key, rows) => {
      written.push([...rows]);
      await new Promise((r) => setTimeout(r, 1));
      return rows.map((r) => r * 10);
    }, 3);
    const results = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => batches.add('k', n)));
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(written).toEqual([[1], [2, 3, 4], [5, 6, 7], [8]]);
  });

  it('a failed call fails the rows it carried and those queued behind it, at once; rows added after it are written', async () => {
    let calls = 0;
    let fail = true;
    const batches = new ObserveBatches<string, number, number>(async (_key, rows) => {
      calls++;
      await new Promise((r) => setTimeout(r, 1));
      if (fail) {
        fail = false;
        throw new Error('redis went away'); // a timed-out call, say
      }
      return rows.map((r) => r + 1);
    }, 64);
    // 300 replies while the first call is out: more than four batches' worth queued behind it
    const behind = Array.from({ length: 300 }, (_, i) => batches.add('k', i));
    const outcomes = await Promise.allSettled(behind);
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as Error).message === 'redis went away')).toBe(true);
    expect(calls).toBe(1); // none waited for a call of its own behind the failed one
    await expect(batches.add('k', 2)).resolves.toBe(3);
    // another bucket is never held behind this one
    await expect(batches.add('other', 9)).resolves.toBe(10);
  });
});
