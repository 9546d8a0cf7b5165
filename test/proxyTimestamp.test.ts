// The 5 s timestamp: a signed request is forwarded only while its KC-API-TIMESTAMP can still reach KuCoin in time;
// otherwise the proxy answers a KuCoin-shaped 429000 itself, sends nothing and charges nothing.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import { KEY, proxyBed, send, UID, type ProxyBed } from './helpers/proxySetup.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';

let bed: ProxyBed | undefined;
let redis: LocalRedis | undefined;
const clients: Redis[] = [];
afterEach(async () => {
  await bed?.close();
  bed = undefined;
  for (const c of clients.splice(0)) c.disconnect();
  await redis?.stop();
  redis = undefined;
});

const spotUsed = async (b: ProxyBed) => (await b.proxy.scheduler(UID)!.snapshot()).buckets.find((x) => x.id === `uid:${UID}:Spot`)!.used;

describe('the 5 s timestamp', () => {
  it('a signature too old to reach KuCoin in time is answered at once with a KuCoin-shaped 429000: Retry-After, gw-ratelimit-*, nothing sent, nothing charged', async () => {
    bed = await proxyBed();
    const started = Date.now();
    // 4.5 s old: with the default margin of 1 s it may not be forwarded any more
    const r = await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY, signedAt: Date.now() - 4_500 });
    expect(Date.now() - started).toBeLessThan(500);
    expect(r.status).toBe(429);
    expect(r.json?.code).toBe('429000');
    expect(r.json?.msg).toMatch(/Too many requests/);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers['gw-ratelimit-limit']).toBe('4000');
    expect(r.headers['gw-ratelimit-remaining']).toBe('0');
    expect(Number(r.headers['gw-ratelimit-reset'])).toBeGreaterThan(0);
    expect(r.headers['x-ks-proxy']).toBe('429000');
    expect(bed.sim.stats().requests).toBe(0);
    expect(await spotUsed(bed)).toBe(0);
  });

  it("a signed request waits for admission only as long as its timestamp allows: 2 s old, a 1.2 s pause is waited out; a 2.5 s pause is refused at once, with the pause's Retry-After", async () => {
    bed = await proxyBed();
    const scheduler = bed.proxy.scheduler(UID)!;
    await scheduler.pause('spot', Date.now() + 1_200);
    const t0 = Date.now();
    const waited = await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY, signedAt: Date.now() - 2_000 });
    expect(waited.json?.code).toBe('200000');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    await scheduler.pause('spot', Date.now() + 2_500);
    const t1 = Date.now();
    const refused = await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY, signedAt: Date.now() - 2_000 });
    expect(Date.now() - t1).toBeLessThan(500);
    expect(refused.json?.code).toBe('429000');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(2);
    expect(bed.sim.stats().arrivals.map((a) => a.outcome)).toEqual(['ok']);
  });

  it('a signed request held past its time (the shared store stalled while it waited) is answered locally, never forwarded, and what the store granted late is given back', async () => {
    redis = await spawnRedisServer();
    const client = new Redis(redis.url);
    const pauser = new Redis(redis.url);
    clients.push(client, pauser);
    bed = await proxyBed({}, { store: new RedisStore({ client, prefix: 'ts-test', commandTimeoutMs: 10_000 }) });
    await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY }); // warm: scripts loaded
    // signed 3 s ago: it may be forwarded for 1 s more (5 s - 1 s margin); Redis then stalls for 2.5 s
    const signedAt = Date.now() - 3_000;
    await pauser.call('CLIENT', 'PAUSE', '2500', 'ALL');
    const started = Date.now();
    const r = await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY, signedAt });
    const tookMs = Date.now() - started;
    expect(r.json?.code).toBe('429000');
    expect(tookMs).toBeGreaterThanOrEqual(2_000); // held while the store stalled
    expect(bed.sim.stats().arrivals).toHaveLength(1); // only the warm-up request
    expect(await spotUsed(bed)).toBe(2); // GET /api/v1/hf/orders/active weighs 2: the warm-up only, the late grant was given back
    console.log(
      `held past its timestamp: answered ${r.status} ${r.json?.code} after ${tookMs} ms; forwarded 0; Spot used ${await spotUsed(bed)} (warm-up only)`,
    );
  });

  it('an unsigned request waits up to unsignedMaxWaitMs, then gets the local 429000', async () => {
    bed = await proxyBed({}, { unsignedMaxWaitMs: 300 });
    const scheduler = bed.proxy.scheduler()!;
    await scheduler.pause('public', Date.now() + 200);
    const ok = await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT');
    expect(ok.json?.code).toBe('200000');
    await scheduler.pause('public', Date.now() + 5_000);
    const refused = await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT');
    expect(refused.json?.code).toBe('429000');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(4);
    expect(refused.headers['gw-ratelimit-limit']).toBe('2000');
    expect(bed.sim.stats().requests).toBe(1);
  });
});
