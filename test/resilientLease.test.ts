// The lease that bounds a process cut off from Redis (src/store/resilient/lease.ts): it admits under its local share
// for one lease, then critical requests only; the others hold back its share once its heartbeat is overdue, once per
// process and bucket, for a span; a closed process leaves and costs nothing. Real Redis (random key prefix), one
// injected store clock; only heartbeats run on real timers. Every case fails on the code before the lease.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, expect, inject, it } from 'vitest';
import { createRedisStore, RedisStore, type BucketConfig, type ResilientStore } from '../src/index.js';
import type { RedisLike } from '../src/store/redis/luaScript.js';

const HEARTBEAT_MS = 20; // lease 40 ms, kept in the heartbeat set 60 ms
const clients: Redis[] = [];
const stores: ResilientStore[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  stores.length = 0;
  for (const c of clients) c.disconnect();
  clients.length = 0;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (what: () => boolean | Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(5);
  }
};

async function redis(): Promise<Redis> {
  const c = new Redis(inject('redisUrl'), { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  clients.push(c);
  await new Promise((r) => c.once('ready', r));
  return c;
}

/** A client whose commands fail while `cut.down` (this process alone loses Redis). */
async function cuttable(): Promise<{ client: RedisLike; cut: { down: boolean } }> {
  const c = await redis();
  const cut = { down: false };
  const fail = () => Promise.reject(new Error('ECONNRESET'));
  const client = {
    evalsha: (...a: unknown[]) => (cut.down ? fail() : (c.evalsha as (...x: unknown[]) => Promise<unknown>)(...a)),
    eval: (...a: unknown[]) => (cut.down ? fail() : (c.eval as (...x: unknown[]) => Promise<unknown>)(...a)),
  } as unknown as RedisLike;
  return { client, cut };
}

function setup() {
  const clock = { t: 1_000_000_000, now: () => clock.t };
  const prefix = `lease-${randomUUID()}`;
  const b: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 100, windowMs: 600, marginMs: 0, burst: 10, refillPerMs: 100 / 600 };
  const opts = { prefix, heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 500, clock: clock.now };
  const req = (tier?: number) => ({ charges: [{ bucket: b, weight: 1 }], share: 1, ...(tier === undefined ? {} : { tier }) });
  return { clock, prefix, b, opts, req };
}

it('a cut-off process admits under its share for one lease, then critical requests only', async () => {
  const { clock, b, opts, req } = setup();
  const { client, cut } = await cuttable();
  const s = createRedisStore({ ...opts, client });
  stores.push(s);
  expect((await s.acquire(req())).admitted).toBe(true);
  await until(() => s.liveProcesses('acct') === 1);
  await sleep(HEARTBEAT_MS * 3); // heartbeats answered at store time t
  cut.down = true;
  clock.t += 1;
  expect(await s.acquire(req())).toMatchObject({ admitted: false, reason: 'pacing' }); // the share's tokens start empty
  expect(s.health).toBe('degraded');
  clock.t += 30;
  expect(await s.acquire(req())).toMatchObject({ admitted: true }); // within the lease (40 ms): any tier
  clock.t += 10; // the lease of the last heartbeat has run out
  expect(await s.acquire(req())).toMatchObject({ admitted: false, reason: 'paused', waitMs: HEARTBEAT_MS, bucketId: b.id });
  expect(await s.acquire(req(1))).toMatchObject({ admitted: false, reason: 'paused' }); // high
  expect(await s.acquire(req(0))).toMatchObject({ admitted: true }); // critical, within the share
});

it('the others hold back the share of a process whose heartbeat is overdue: once, for a span', async () => {
  const { clock, prefix, b, opts, req } = setup();
  const a = createRedisStore({ ...opts, client: await redis() });
  const cutB = await cuttable();
  const B = createRedisStore({ ...opts, client: cutB.client });
  stores.push(a, B);
  const raw = new RedisStore({ client: await redis(), prefix, clock: clock.now });
  const used = async () => (await raw.inspect([b]))[0]!.used;
  expect((await a.acquire({ ...req(), count: 5 })).admitted).toBe(true);
  expect((await B.acquire(req())).admitted).toBe(true);
  await until(() => a.liveProcesses('acct') === 2 && B.liveProcesses('acct') === 2);
  await sleep(HEARTBEAT_MS * 3);
  expect(await used()).toBe(6);
  cutB.cut.down = true; // B alone loses Redis
  clock.t += 41; // B's last heartbeat is older than a lease: overdue (still in the set for 19 ms more)
  await until(async () => (await used()) === 56); // a held back B's share: 100 / 2 live processes
  await sleep(HEARTBEAT_MS * 5);
  expect(await used()).toBe(56); // held once, not every heartbeat
  expect(B.health).toBe('degraded');
  clock.t += 80; // B has dropped out of the set, and a trusts the lower count (its ttl after it last counted 2)
  await until(() => a.liveProcesses('acct') === 1);
  clock.t += 520; // a span after the hold: it stops counting (a's own 5 with it)
  expect(await used()).toBe(0);
  expect((await a.acquire({ ...req(), count: 100 })).admitted).toBe(true); // the whole limit is a's again
});

it('a process that closes leaves the heartbeat set: its share is not held back', async () => {
  const { clock, prefix, b, opts, req } = setup();
  const a = createRedisStore({ ...opts, client: await redis() });
  const B = createRedisStore({ ...opts, client: await redis() });
  stores.push(a);
  const raw = new RedisStore({ client: await redis(), prefix, clock: clock.now });
  expect((await a.acquire(req())).admitted).toBe(true);
  expect((await B.acquire(req())).admitted).toBe(true);
  await until(() => a.liveProcesses('acct') === 2);
  const admin = await redis();
  expect(await admin.zcard(`${prefix}:{acct}:hb`)).toBe(2);
  await B.close();
  expect(await admin.zcard(`${prefix}:{acct}:hb`)).toBe(1); // left at once, not when its ttl ends
  clock.t += 41;
  await sleep(HEARTBEAT_MS * 5);
  expect((await raw.inspect([b]))[0]!.used).toBe(2);
  clock.t += 80; // past the ttl after a last counted 2: it trusts the lower count
  await until(() => a.liveProcesses('acct') === 1);
});
