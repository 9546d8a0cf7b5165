// ResilientStore edge cases, on real private Redis servers (stopped and restarted by the tests) with one
// injected clock shared by every store: the store times are controlled, only heartbeats run on real timers.
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { createRedisStore, RedisStore, ResilientStore, type AcquireResult, type BucketConfig, type Observation, type StoreHealth } from '../src/index.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';

let servers: LocalRedis[] = [];
const clients: Redis[] = [];
const stores: ResilientStore[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  stores.length = 0;
  for (const c of clients) c.disconnect();
  clients.length = 0;
  for (const s of servers) await s.stop();
  servers = [];
});

const HEARTBEAT_MS = 20;

async function redisServer(port?: number): Promise<LocalRedis> {
  const s = await spawnRedisServer([], port);
  servers.push(s);
  return s;
}
const client = async (url: string, ready = true, reconnectMs = 20) => {
  const c = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => reconnectMs });
  c.on('error', () => undefined); // refused while the server is down: expected here
  clients.push(c);
  if (ready) await new Promise((r) => c.once('ready', r));
  return c;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (what: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(5);
  }
};

/** One clock for every store (Redis scripts included), moved by the test. */
function fakeClock() {
  const c = { t: 1_000_000_000, now: () => c.t };
  return c;
}

/** Admissions seen by the test: [store time, weight]. */
type Log = [number, number][];
/** Critical requests: once its lease has run out a cut-off process admits nothing else (src/store/resilient/lease.ts). */
const take = async (store: ResilientStore, bucket: BucketConfig, log: Log, count = 1000): Promise<number> => {
  const r = await store.acquire({ charges: [{ bucket, weight: 1 }], share: 1, count, tier: 0 }).catch(() => undefined);
  if (!r?.admitted) return 0;
  log.push([r.now, r.count]);
  return r.count;
};
/** The most weight admitted within any span of `spanMs` (store time). */
const maxInSpan = (log: Log, spanMs: number): number => {
  const sorted = [...log].sort((a, b) => a[0] - b[0]);
  let best = 0;
  for (const [from] of sorted)
    best = Math.max(
      best,
      sorted.filter(([at]) => at >= from && at < from + spanMs).reduce((x, [, w]) => x + w, 0),
    );
  return best;
};
/** Heartbeats run on real timers: let every store beat a few times at the current store time. */
const settle = async (group: string, live: number, ...ss: ResilientStore[]) => {
  await sleep(HEARTBEAT_MS * 6);
  await until(() => ss.every((s) => s.liveProcesses(group) === live));
};

it('(a) an idle process seeds its share from a fresh fleet count: one window stays within the limit', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'ga', id: 'uid:ga:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 50, refillPerMs: 100 / 60_000 };
  const opts = { prefix: 'a', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 300, clock: clock.now };
  const idle = createRedisStore({ ...opts, client: await client(server.url) });
  const busy = createRedisStore({ ...opts, client: await client(server.url) });
  stores.push(idle, busy);
  const log: Log = [];
  expect(await take(idle, b, log, 1)).toBe(1); // the idle process's only request: Redis counted 1 then
  expect(await take(busy, b, log, 49)).toBe(49);
  await settle('ga', 2, idle, busy);
  clock.t += 30_000;
  expect(await take(busy, b, log, 49)).toBe(49); // the fleet has used 99 of 100 now
  await settle('ga', 2, idle, busy);
  await servers[0]!.stop(); // Redis gone for good
  clock.t += 1;
  // both processes flood for two windows under their local shares
  for (let i = 0; i < 240; i++, clock.t += 500) for (const s of [idle, busy]) await take(s, b, log);
  const worst = maxInSpan(log, 60_000);
  console.log(
    `(a) idle process, fleet at 99/100 when Redis failed: most admitted in one window ${worst} (limit 100); admitted in all while degraded ${log.reduce((x, [, w]) => x + w, 0) - 99}`,
  );
  expect(idle.health).toBe('degraded');
  expect(worst).toBeLessThanOrEqual(100);
  expect(log.reduce((x, [, w]) => x + w, 0)).toBeGreaterThan(99); // kept working once the window passed
}, 30_000);

it('(b) the local share follows the limit learned from the headers, not the configured one', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'gb', id: 'uid:gb:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 10, refillPerMs: 100 / 60_000 };
  const store = createRedisStore({ client: await client(server.url), prefix: 'b', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 300, clock: clock.now });
  stores.push(store);
  const log: Log = [];
  const first = (await store.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1 })) as AcquireResult & { admitted: true };
  log.push([first.now, 1]);
  const reply: Observation = { sentAt: first.now, limit: 50, remaining: 49, resetMs: 59_000, minLimit: 10, maxLimit: 1000 };
  await store.observe(b, reply); // the account's real quota is 50
  expect((await store.inspect([b]))[0]!.effectiveLimit).toBe(50);
  await settle('gb', 1, store);
  await servers[0]!.stop();
  clock.t += 1;
  for (let i = 0; i < 240; i++, clock.t += 500) await take(store, b, log);
  const worst = maxInSpan(log, 60_000);
  console.log(`(b) learned limit 50 (configured 100): most admitted in one window while degraded ${worst}`);
  expect(worst).toBeLessThanOrEqual(50);
  expect(worst).toBeGreaterThan(0);
}, 30_000);

/** A real RedisStore whose absorb waits for the test: the recovery scripts are in flight as long as it wants. */
class GatedRedisStore extends RedisStore {
  gate: Promise<void> | undefined;
  entered: (() => void) | undefined;
  override async absorb(bucket: BucketConfig, weight: number): Promise<void> {
    if (this.gate) {
      this.entered?.();
      await this.gate;
    }
    return super.absorb(bucket, weight);
  }
}

it('(c) weight admitted while the recovery scripts run still reaches Redis', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'gc', id: 'uid:gc:Spot', limit: 1000, windowMs: 60_000, marginMs: 0, burst: 200, refillPerMs: 1000 / 60_000 };
  const primary = new GatedRedisStore({ client: await client(server.url), prefix: 'c', commandTimeoutMs: 300, clock: clock.now });
  const store = new ResilientStore({ primary, heartbeatMs: HEARTBEAT_MS, clock: clock.now });
  stores.push(store);
  const log: Log = [];
  await take(store, b, log, 1);
  await settle('gc', 1, store);
  await server.stop();
  clock.t += 1;
  let before = 0;
  for (let i = 0; i < 3; i++, clock.t += 3000) before += await take(store, b, log);
  expect(store.health).toBe('degraded');
  expect(before).toBeGreaterThan(0);
  let open!: () => void;
  primary.gate = new Promise((r) => (open = r));
  const entered = new Promise<void>((r) => (primary.entered = r));
  await redisServer(server.port); // back, empty
  await entered; // the recovery is charging Redis now
  let during = 0;
  for (let i = 0; i < 3; i++, clock.t += 3000) during += await take(store, b, log);
  expect(during).toBeGreaterThan(0);
  primary.gate = undefined;
  open();
  await until(() => store.health === 'recovering');
  const raw = new RedisStore({ client: await client(servers[1]!.url), prefix: 'c', clock: clock.now });
  const counted = (await raw.inspect([b]))[0]!.used;
  console.log(`(c) admitted while Redis was down: ${before} before the recovery began, ${during} while it ran; Redis counts ${counted} of ${before + during}`);
  expect(counted).toBe(before + during);
}, 30_000);

it('(d) a process that never reached Redis is connecting: it sends nothing under a local share, then joins Redis', async () => {
  const { freePort } = await import('./helpers/redisServer.js');
  const port = await freePort();
  const c = await client(`redis://127.0.0.1:${port}`, false);
  const store = createRedisStore({ client: c, prefix: 'd', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 150 });
  stores.push(store);
  const health: StoreHealth[] = [];
  store.onHealthChange((h) => health.push(h));
  const b: BucketConfig = { group: 'gd', id: 'uid:gd:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 0, refillPerMs: 0 };
  const first = await store.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1, count: 100 }).then(
    (r) => `admitted ${r.admitted ? r.count : 0} of 100 (limit 100) with health ${store.health}`,
    (e: { code?: string }) => `rejected with ${e.code} (health ${store.health})`,
  );
  console.log(`(d) Redis unreachable from the start: ${first}`);
  expect(first).toBe('rejected with KS_STORE (health connecting)');
  await redisServer(port);
  await until(() => store.health === 'healthy');
  expect(health).toEqual(['healthy']);
  expect(await store.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1, count: 10 })).toMatchObject({ admitted: true, count: 10 });
  const raw = new RedisStore({ client: await client(servers[0]!.url), prefix: 'd' });
  expect((await raw.inspect([b]))[0]!.used).toBe(10);
}, 30_000);

it('a second failure within the recovery span seeds from the fleet count taken while recovering', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'ge', id: 'uid:ge:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 30, refillPerMs: 100 / 60_000 };
  const opts = { prefix: 'e', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 300, clock: clock.now };
  const aClient = await client(server.url, true, 200); // cut off for 200 ms: several heartbeats fail
  const a = createRedisStore({ ...opts, client: aClient });
  const other = createRedisStore({ ...opts, client: await client(server.url) });
  stores.push(a, other);
  const log: Log = [];
  expect(await take(a, b, log, 1)).toBe(1);
  expect(await take(other, b, log, 1)).toBe(1);
  await settle('ge', 2, a, other);
  // the first failure is this process's alone: its connection is cut, the other keeps using Redis
  const admin = await client(server.url);
  const id = await aClient.client('ID');
  await admin.client('KILL', 'ID', String(id));
  await until(() => a.health === 'degraded');
  clock.t += 1;
  await until(() => a.health === 'recovering');
  // within its recovery span the other process uses most of the window through Redis
  for (let i = 0; i < 3; i++, clock.t += 18_000) await take(other, b, log, 30);
  clock.t -= 18_000;
  await settle('ge', 2, a, other);
  expect(a.health).toBe('recovering');
  await server.stop(); // the second failure: Redis gone for good
  clock.t += 1;
  for (let i = 0; i < 240; i++, clock.t += 500) for (const s of [a, other]) await take(s, b, log);
  const worst = maxInSpan(log, 60_000);
  console.log(`second failure within the recovery span: most admitted in one window ${worst} (limit 100)`);
  expect(worst).toBeLessThanOrEqual(100);
}, 30_000);

it('while recovering the fleet count is read again: a second failure seeds from it, not from the window before the first', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'gf', id: 'uid:gf:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 20, refillPerMs: 100 / 60_000 };
  const opts = { prefix: 'f', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 300, clock: clock.now };
  const aClient = await client(server.url, true, 200);
  const a = createRedisStore({ ...opts, client: aClient });
  const other = createRedisStore({ ...opts, client: await client(server.url) });
  stores.push(a, other);
  const log: Log = [];
  expect(await take(a, b, log, 1)).toBe(1);
  expect(await take(other, b, log, 1)).toBe(1);
  // a third process's recovery charges what it sent during an outage: the window is full, 99 of 100
  await new RedisStore({ client: await client(server.url), prefix: 'f', clock: clock.now }).absorb(b, 97);
  await settle('gf', 2, a, other);
  const admin = await client(server.url);
  await admin.client('KILL', 'ID', String(await aClient.client('ID'))); // the first failure, this process's alone
  await until(() => a.health === 'degraded');
  clock.t += 2;
  await until(() => a.health === 'recovering');
  clock.t += 59_999; // the full window has passed (its entries expired), the recovery span has not
  await settle('gf', 2, a, other);
  expect(a.health).toBe('recovering');
  await server.stop(); // the second failure
  clock.t += 1;
  let after = 0;
  for (let i = 0; i < 60; i++, clock.t += 500) after += await take(a, b, log);
  console.log(`second failure after the old window passed, within the recovery span: admitted ${after} in the next 30 s`);
  // read while recovering, the fleet counted 0: the share seeds 10 (pacing bound 20 / 2) and admits at its refill;
  // seeded from the count before the first failure (99) it would stay full for a whole window
  expect(after).toBeGreaterThanOrEqual(20);
}, 30_000);

it('release gives back on Redis and on the local mirror; what was admitted locally and released never reaches Redis', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'gr', id: 'uid:gr:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 20, refillPerMs: 1 };
  const store = createRedisStore({ client: await client(server.url), prefix: 'r', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 300, clock: clock.now });
  stores.push(store);
  const req = (weight: number) => ({ charges: [{ bucket: b, weight }], share: 1, tier: 0 }); // critical: past the lease too
  const raw = new RedisStore({ client: await client(server.url), prefix: 'r', clock: clock.now });
  const sent = (await store.acquire(req(10))) as Extract<AcquireResult, { admitted: true }>;
  await store.release(req(10), 1, sent.now); // aborted before being sent
  clock.t += 10;
  expect(await store.acquire(req(5))).toMatchObject({ admitted: true, count: 1 });
  expect((await raw.inspect([b]))[0]!.used).toBe(5);
  await settle('gr', 1, store);
  await server.stop();
  await until(() => store.health === 'degraded'); // a heartbeat failed
  // the share counts max(own 5, the fleet's 5 counted + burst 20 + the overdraft critical may take, 20) = 45: the
  // local mirror gave the 10 back too (burst 20: a weight-10 charge heavier than the burst would make the bucket
  // count as unpaced, the whole limit)
  expect((await store.inspect([b]))[0]!.used).toBe(45);
  clock.t += 10; // the local share's tokens refill
  const local = (await store.acquire(req(10))) as Extract<AcquireResult, { admitted: true }>;
  expect(local).toMatchObject({ admitted: true, count: 1 });
  expect((await store.inspect([b]))[0]!.used).toBe(55);
  await store.release(req(10), 1, local.now);
  expect((await store.inspect([b]))[0]!.used).toBe(45);
  await redisServer(server.port);
  clock.t += 1;
  await until(() => store.health === 'recovering');
  const back = new RedisStore({ client: await client(servers[1]!.url), prefix: 'r', clock: clock.now });
  expect((await back.inspect([b]))[0]!.used).toBe(0); // nothing admitted while down was sent
}, 30_000);

it('resume clears the pause on Redis and on the local mirror; observe answers Redis, or a neutral result while degraded', async () => {
  const server = await redisServer();
  const clock = fakeClock();
  const b: BucketConfig = { group: 'gs', id: 'uid:gs:Spot', limit: 100, windowMs: 60_000, marginMs: 0, burst: 20, refillPerMs: 100 / 60_000 };
  const store = createRedisStore({ client: await client(server.url), prefix: 's', heartbeatMs: HEARTBEAT_MS, commandTimeoutMs: 300, clock: clock.now });
  stores.push(store);
  const req = { charges: [{ bucket: b, weight: 1 }], share: 1, tier: 0 }; // critical: past the lease too
  const first = (await store.acquire(req)) as Extract<AcquireResult, { admitted: true }>;
  const learned = await store.observe(b, { sentAt: first.now, limit: 50, remaining: 49, resetMs: 59_000, minLimit: 10, maxLimit: 1000 });
  expect(learned).toMatchObject({ applied: true, limit: 'learned', limitInForce: 50 });
  await store.penalize(b, { pauseMs: 600_000 });
  expect(await store.acquire(req)).toMatchObject({ admitted: false, reason: 'paused' });
  await store.resume(b);
  expect(await store.acquire(req)).toMatchObject({ admitted: true });
  await settle('gs', 1, store);
  await server.stop();
  await until(() => store.health === 'degraded');
  expect(await store.observe(b, { sentAt: first.now, limit: 40, remaining: 0, resetMs: 1000, minLimit: 10, maxLimit: 1000 })).toEqual({
    applied: false,
    limit: 'none',
    limitInForce: 50,
    phaseConflict: false,
    freed: 0,
  });
  clock.t += 30_000;
  const local = await store.acquire(req);
  expect(local.admitted || local.reason).not.toBe('paused'); // the mirror's pause was cleared too
  expect(local.admitted).toBe(true);
}, 30_000);

it('the removed fallbackProcesses option is refused by name, not silently ignored', () => {
  const c = new Redis({ lazyConnect: true });
  clients.push(c);
  expect(() => createRedisStore({ client: c, fallbackProcesses: 4 } as Parameters<typeof createRedisStore>[0])).toThrow(
    expect.objectContaining({ code: 'KS_INVALID_ARGUMENT', message: expect.stringContaining('fallbackProcesses') }),
  );
});
