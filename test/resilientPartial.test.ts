// ResilientStore defects found by an attacker review, ported from its scratch tests: a process that alone loses
// Redis, a pause taken while degraded, heavy requests and more processes than the limit. Real Redis (a private
// server); one process's client is cut by a wrapper while the others keep Redis. Store time is an injected clock.
import { Redis } from 'ioredis';
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import { createRedisStore, type AcquireResult, type BucketConfig, type ResilientStore } from '../src/index.js';
import type { RedisLike } from '../src/store/redis/luaScript.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';

let server: LocalRedis;
beforeAll(async () => {
  server = await spawnRedisServer([]);
});
afterAll(async () => {
  await server.stop();
});
const clients: Redis[] = [];
const stores: ResilientStore[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  stores.length = 0;
  for (const c of clients) c.disconnect();
  clients.length = 0;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefix = () => `rp${Math.random().toString(36).slice(2)}`;

/** A client whose commands fail while `cut.down` (a dropped socket, a stall past commandTimeoutMs). */
async function cuttable(): Promise<{ client: RedisLike; cut: { down: boolean } }> {
  const c = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  clients.push(c);
  await new Promise((r) => c.once('ready', r));
  const cut = { down: false };
  const fail = () => Promise.reject(new Error('ECONNRESET'));
  const client = {
    evalsha: (...a: unknown[]) => (cut.down ? fail() : (c.evalsha as (...x: unknown[]) => Promise<unknown>)(...a)),
    eval: (...a: unknown[]) => (cut.down ? fail() : (c.eval as (...x: unknown[]) => Promise<unknown>)(...a)),
  } as unknown as RedisLike;
  return { client, cut };
}

function fakeClock() {
  const c = { t: 1_000_000_000, now: () => c.t };
  return c;
}
const admitted = (r: AcquireResult): number => (r.admitted ? r.count : 0);

// Bounded by the lease (src/store/resilient/lease.ts): B admits under its share for one lease, A holds back B's
// share once B's heartbeat is overdue.
it('one process alone loses Redis while the other keeps it: the window stays within the limit', async () => {
  const clock = fakeClock();
  const opts = { prefix: prefix(), heartbeatMs: 50, clock: clock.now };
  const a = await cuttable();
  const bc = await cuttable();
  const A = createRedisStore({ ...opts, client: a.client });
  const B = createRedisStore({ ...opts, client: bc.client });
  stores.push(A, B);
  const b: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 100, windowMs: 600, marginMs: 0, burst: 40, refillPerMs: 100 / 600 };
  const req = (count: number) => ({ charges: [{ bucket: b, weight: 1 }], share: 1, count });
  // B's requests are critical: once its lease has run out a cut-off process admits nothing else
  const critical = (count: number) => ({ ...req(count), tier: 0 });
  const t0 = clock.t;
  let total = admitted(await A.acquire(req(10))) + admitted(await B.acquire(critical(1)));
  await sleep(300); // heartbeats (real timers) at store time t0
  expect(A.liveProcesses('acct')).toBe(2);
  bc.cut.down = true; // only B loses Redis
  clock.t += 1;
  const per = { A: 0, B: 0 };
  const log: [number, number][] = [[t0, total]];
  // two windows: the one that straddles the failure and the next
  for (; clock.t < t0 + 1200; clock.t += 25) {
    const rb = admitted(await B.acquire(critical(100)));
    const ra = admitted(await A.acquire(req(100)));
    log.push([clock.t, ra + rb]);
    per.B += rb;
    per.A += ra;
    if (clock.t < t0 + 600) total += ra + rb;
    await sleep(2);
  }
  let slidingMax = 0;
  for (const [from] of log)
    slidingMax = Math.max(
      slidingMax,
      log.filter(([at]) => at >= from && at < from + 600).reduce((x, [, w]) => x + w, 0),
    );
  // the reservation of B's share lapses a span after A last counted B (a killed process's share is reused then):
  // a later window may exceed the limit while B is still cut off (documented residual, printed here)
  console.log(
    `partial outage: admitted in the window of the failure ${total} of limit 100; most in any 600 ms over two windows ${slidingMax} (A ${per.A}, B ${per.B}); health A ${A.health}, B ${B.health}`,
  );
  expect(B.health).toBe('degraded');
  expect(A.health).toBe('healthy');
  expect(total).toBeLessThanOrEqual(100);
  expect(per.B).toBeGreaterThan(0); // B still admits under its local share
}, 30_000);

it('a penalty taken while degraded is replayed to Redis on recovery, not erased by it', async () => {
  const { client, cut } = await cuttable();
  const b: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 100, windowMs: 300, marginMs: 0, burst: 0, refillPerMs: 0 };
  const req = { charges: [{ bucket: b, weight: 1 }], share: 1 };
  const S = createRedisStore({ client, prefix: prefix(), heartbeatMs: 20 });
  stores.push(S);
  expect((await S.acquire(req)).admitted).toBe(true);
  await sleep(100);
  cut.down = true;
  await S.acquire(req);
  expect(S.health).toBe('degraded');
  await S.penalize(b, { pauseMs: 60_000, spent: true }); // a 1015 during the outage
  await S.setFactor(b, 0.5);
  expect((await S.acquire(req)).admitted).toBe(false);
  cut.down = false;
  for (let i = 0; i < 100 && S.health === 'degraded'; i++) await sleep(20);
  await sleep(400); // heartbeats read Redis; the recovery span passes
  const r = await S.acquire(req);
  const [state] = await S.inspect([b]);
  console.log(
    `pause taken while degraded: after recovery (${S.health}) admitted ${r.admitted}, Redis paused for ${state!.pausedUntil - state!.now} ms more, factor ${state!.factor}`,
  );
  expect(S.health).toBe('healthy');
  expect(r.admitted).toBe(false);
  expect(state!.pausedUntil - state!.now).toBeGreaterThan(50_000);
  expect(state!.factor).toBe(0.5);
}, 30_000);

it('heavy requests (heavier than burst x share) count as unpaced: a full outage stays within the limit', async () => {
  const clock = fakeClock();
  const opts = { prefix: prefix(), heartbeatMs: 50, clock: clock.now };
  const a = await cuttable();
  const bc = await cuttable();
  const A = createRedisStore({ ...opts, client: a.client });
  const B = createRedisStore({ ...opts, client: bc.client });
  stores.push(A, B);
  // weight-20 requests take only 5 tokens each (capacity 5 x share 1)
  const b: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 100, windowMs: 600, marginMs: 0, burst: 5, refillPerMs: 100 / 600 };
  const req = (count = 1) => ({ charges: [{ bucket: b, weight: 20 }], share: 1, count });
  const t0 = clock.t;
  let total = 0;
  const add = (r: AcquireResult) => (total += 20 * admitted(r));
  add(await B.acquire(req()));
  await A.acquire({ charges: [{ bucket: b, weight: 0 }], share: 1 });
  await sleep(300);
  expect(A.liveProcesses('acct')).toBe(2);
  for (let i = 0; i < 4; i++) {
    clock.t += 30;
    add(await A.acquire(req()));
  }
  const before = total;
  a.cut.down = bc.cut.down = true; // Redis lost for both
  clock.t += 1;
  for (; clock.t < t0 + 600; clock.t += 15) {
    add(await B.acquire(req(5)));
    add(await A.acquire(req(5)));
  }
  console.log(`heavy requests: admitted ${before} through Redis, ${total - before} locally: ${total} in one window of limit 100`);
  expect(A.health).toBe('degraded');
  expect(total).toBeLessThanOrEqual(100);
}, 30_000);

it('more processes than the limit: the local shares add up to at most the limit', async () => {
  const clock = fakeClock();
  const opts = { prefix: prefix(), heartbeatMs: 50, clock: clock.now };
  const b: BucketConfig = { group: 'acct', id: 'uid:acct:ep:futures POST /api/v1/orders', limit: 2, windowMs: 600, marginMs: 0, burst: 0, refillPerMs: 0 };
  const req = { charges: [{ bucket: b, weight: 1 }], share: 1 };
  const cuts: { down: boolean }[] = [];
  for (let i = 0; i < 3; i++) {
    const { client, cut } = await cuttable();
    cuts.push(cut);
    stores.push(createRedisStore({ ...opts, client }));
  }
  for (const s of stores) await s.acquire({ charges: [{ bucket: b, weight: 0 }], share: 1 });
  await sleep(300);
  for (const c of cuts) c.down = true;
  for (const s of stores) await s.acquire({ charges: [{ bucket: b, weight: 0 }], share: 1 }).catch(() => undefined);
  clock.t += 700; // past the window that straddles the failure
  for (const s of stores) await s.acquire(req);
  clock.t += 700;
  let n = 0;
  for (const s of stores) n += admitted(await s.acquire(req));
  console.log(`limit 2, 3 processes degraded: admitted ${n} in one window`);
  expect(stores.map((s) => s.health)).toEqual(['degraded', 'degraded', 'degraded']);
  expect(n).toBeLessThanOrEqual(2);
}, 30_000);
