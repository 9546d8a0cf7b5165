import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { createRedisStore, RedisStore, type BucketConfig, type StoreHealth } from '../src/index.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';

let server: LocalRedis | undefined;
const clients: Redis[] = [];
afterEach(async () => {
  for (const c of clients) c.disconnect();
  clients.length = 0;
  await server?.stop();
});

const connect = async (url: string) => {
  const c = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  c.on('error', () => undefined); // refused while the server is down: expected here
  clients.push(c);
  await new Promise((r) => c.once('ready', r));
  return c;
};
const until = async (what: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

it('keeps admitting under the local share while Redis is down, charges it back, and holds both checks for a span', async () => {
  server = await spawnRedisServer();
  const port = server.port;
  const clock = { t: 1_000_000_000 };
  const now = () => clock.t;
  const b: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 100, windowMs: 600, marginMs: 0, burst: 40, refillPerMs: 100 / 600 };
  // critical: once its lease has run out a cut-off process admits nothing else (src/store/resilient/lease.ts)
  const req = (weight: number) => ({ charges: [{ bucket: b, weight }], share: 1, tier: 0 });
  const a = createRedisStore({ client: await connect(server.url), prefix: 'p', heartbeatMs: 50, commandTimeoutMs: 200, clock: now });
  const other = createRedisStore({ client: await connect(server.url), prefix: 'p', heartbeatMs: 50, commandTimeoutMs: 200, clock: now });
  const health: StoreHealth[] = [];
  a.onHealthChange((h) => health.push(h));
  expect((await a.acquire({ ...req(1), count: 10 })).admitted).toBe(true);
  await other.acquire(req(1));
  await new Promise((r) => setTimeout(r, 200)); // a few heartbeats: 2 live processes, the fleet has counted 11
  await until(() => a.liveProcesses('acct') === 2);

  await server.stop(); // Redis gone: no persistence, so it comes back empty
  clock.t += 1;
  const during: number[] = [];
  for (let i = 0; i < 8; i++, clock.t += 120) {
    const r = await a.acquire({ ...req(1), count: 100 });
    during.push(r.admitted ? r.count : 0);
  }
  expect(health).toEqual(['healthy', 'degraded']);
  // the local share is 100 / 2 live processes = 50; it first counts this process's part of what the fleet may have
  // used by the time the other holds back its share: ceil(min(100, 11 counted + 40 burst + 40 critical's overdraft
  // + refill over 1 ms and a lease and a heartbeat, 150 ms) / 2) = 50 (its own 10 included), so nothing in the window
  // of the failure; in the next, its share at its pace: a burst and critical's overdraft (40), then the refill (10)
  expect(during).toEqual([0, 0, 0, 0, 0, 40, 10, 0]);
  expect((await a.acquire(req(1))).admitted).toBe(false);

  server = await spawnRedisServer([], port);
  clock.t += 1;
  await until(() => a.health === 'recovering');
  expect(health).toEqual(['healthy', 'degraded', 'recovering']);
  const raw = new RedisStore({ client: await connect(server.url), prefix: 'p', clock: now });
  expect((await raw.inspect([b]))[0]!.used).toBe(50); // what was sent while Redis was down
  // Redis has room (50) but the local share still says no: both must admit until a span has passed
  expect((await a.acquire(req(1))).admitted).toBe(false);
  clock.t += 650;
  expect((await a.acquire(req(5))).admitted).toBe(true);
  expect(a.health).toBe('healthy');
  await a.close();
  await other.close();
}, 30_000);

it('fails closed for the priorities asked to, and emits degraded and recovered events', async () => {
  const { createScheduler } = await import('../src/index.js');
  server = await spawnRedisServer();
  const port = server.port;
  const store = createRedisStore({ client: await connect(server.url), prefix: 'q', heartbeatMs: 50, commandTimeoutMs: 200 });
  const s = createScheduler({ uid: 'u', store, cloudflare: false, failClosed: ['low'], pools: { spot: { limit: 100, windowMs: 1000 } } });
  const events: string[] = [];
  s.on('degraded', () => events.push('degraded'));
  s.on('recovered', () => events.push('recovered'));
  await s.schedule({ pool: 'spot', priority: 'low' }, () => 1);
  await server.stop();
  expect(await s.schedule({ pool: 'spot', priority: 'critical' }, () => 'still works')).toBe('still works');
  await expect(s.schedule({ pool: 'spot', priority: 'low' }, () => 1)).rejects.toMatchObject({ code: 'KS_STORE_UNAVAILABLE' });
  server = await spawnRedisServer([], port);
  await until(() => events.includes('recovered'));
  expect(events).toEqual(['degraded', 'recovered']);
  expect(await s.schedule({ pool: 'spot', priority: 'low' }, () => 'back')).toBe('back');
  await s.close();
}, 30_000);

it('a slow Redis (latency injected) degrades on the command timeout and recovers when it answers again', async () => {
  server = await spawnRedisServer(['--enable-debug-command', 'yes']);
  const store = createRedisStore({ client: await connect(server.url), prefix: 's', heartbeatMs: 50, commandTimeoutMs: 150 });
  const b: BucketConfig = { group: 'g', id: 'uid:g:Spot', limit: 100, windowMs: 1000, marginMs: 0, burst: 25, refillPerMs: 0.1 };
  const health: StoreHealth[] = [];
  store.onHealthChange((h) => health.push(h));
  expect((await store.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1 })).admitted).toBe(true);
  const admin = await connect(server.url);
  const sleeping = admin.call('DEBUG', 'SLEEP', '0.6'); // the server stops answering for 600 ms
  await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  const local = await store.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1, tier: 0 }); // past its lease: critical
  expect(Date.now() - started).toBeLessThan(400); // the timeout, not the 600 ms stall
  // answered by the local share, which starts from an empty token bucket (the fleet may have just spent it)
  expect(local.admitted ? 'admitted' : local.reason).toMatch(/^(admitted|pacing)$/);
  expect(store.health).toBe('degraded');
  await sleeping;
  await until(() => store.health !== 'degraded');
  expect(health.slice(0, 3)).toEqual(['healthy', 'degraded', 'recovering']);
  await store.close();
}, 30_000);

it("passes Redis AUTH through the caller's client, and keeps deployments apart by prefix", async () => {
  server = await spawnRedisServer(['--requirepass', 's3cret-pass']);
  const { Redis: R } = await import('ioredis');
  const c = new R(server.url, { password: 's3cret-pass' });
  clients.push(c);
  const b: BucketConfig = { group: 'g', id: 'uid:g:Spot', limit: 1, windowMs: 1000, marginMs: 0, burst: 0, refillPerMs: 0 };
  const one = new RedisStore({ client: c, prefix: 'tenant-a' });
  const two = new RedisStore({ client: c, prefix: 'tenant-b' });
  expect((await one.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1 })).admitted).toBe(true);
  expect((await two.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1 })).admitted).toBe(true);
  expect((await one.acquire({ charges: [{ bucket: b, weight: 1 }], share: 1 })).admitted).toBe(false);
  const noAuth = new R(server.url, { maxRetriesPerRequest: 0 });
  noAuth.on('error', () => undefined); // NOAUTH on connect: expected here
  clients.push(noAuth);
  const err = await new RedisStore({ client: noAuth, prefix: 'x' }).acquire({ charges: [{ bucket: b, weight: 1 }], share: 1 }).catch((e) => e);
  expect(err).toMatchObject({ code: 'KS_STORE' });
  expect(String(err.message)).not.toContain('s3cret-pass');
}, 30_000);

it('Redis unreachable at start: requests wait, none is sent or failed closed, and all go once Redis appears', async () => {
  const { createScheduler } = await import('../src/index.js');
  const { freePort } = await import('./helpers/redisServer.js');
  const port = await freePort();
  const c = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  c.on('error', () => undefined);
  clients.push(c);
  const store = createRedisStore({ client: c, prefix: 'u', heartbeatMs: 50, commandTimeoutMs: 150 });
  const s = createScheduler({ uid: 'u', store, cloudflare: false, failClosed: ['low'], pools: { spot: { limit: 100, windowMs: 60_000 } } });
  const storeErrors: string[] = [];
  s.on('storeError', (e) => storeErrors.push((e.error as { code?: string }).code ?? '?'));
  let sent = 0;
  const all = Promise.all((['low', 'critical', 'normal'] as const).map((priority) => s.schedule({ pool: 'spot', priority }, () => ++sent)));
  await new Promise((r) => setTimeout(r, 300));
  expect(store.health).toBe('connecting');
  expect(sent).toBe(0); // no guessed local share: nothing goes out before Redis was reached once
  expect(storeErrors.length).toBeGreaterThan(0);
  expect(new Set(storeErrors)).toEqual(new Set(['KS_STORE']));
  server = await spawnRedisServer([], port);
  await all; // the low one too: connecting is not an outage, failClosed does not apply
  expect(sent).toBe(3);
  expect(store.health).toBe('healthy');
  await s.close();
}, 30_000);
