// collectMetrics with a real prom-client Registry, a real scheduler, and (for store health) a real Redis
// that goes away and comes back.
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRedisStore, createScheduler, RedisStore, type Scheduler } from '../src/index.js';
import { collectMetrics } from '../src/metrics/index.js';
import { MAX_ENDPOINT_BUCKET_SERIES } from '../src/metrics/collectMetrics.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';
import { testRedis } from './helpers/redisClient.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The value of one sample in the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

function scheduler(): Scheduler {
  const s = createScheduler({ uid: 'm' });
  cleanup.push(() => s.close());
  return s;
}

it('running_requests per priority: a cancel and two orders still running show as 1 critical and 2 high', async () => {
  const s = scheduler();
  const registry = new Registry();
  cleanup.push(collectMetrics(s, { registry }));
  let finish!: () => void;
  const held = new Promise<void>((r) => (finish = r));
  const running = [
    s.schedule({ endpoint: 'DELETE /api/v1/hf/orders/{orderId}', priority: 'critical' }, () => held),
    s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, () => held),
    s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, () => held),
  ];
  await vi.waitFor(() => expect(s.pending).toBe(3));
  const text = await registry.metrics();
  expect(sample(text, 'kucoin_scheduler_running_requests', { priority: 'critical' })).toBe(1);
  expect(sample(text, 'kucoin_scheduler_running_requests', { priority: 'high' })).toBe(2);
  expect(sample(text, 'kucoin_scheduler_running_requests', { priority: 'low' })).toBe(0);
  finish();
  await Promise.all(running);
  expect(sample(await registry.metrics(), 'kucoin_scheduler_running_requests', { priority: 'high' })).toBe(0);
});

it('per bucket used, limit, factor and paused, read from snapshot() once per scrape', async () => {
  const s = scheduler();
  const registry = new Registry();
  cleanup.push(collectMetrics(s, { registry }));
  const snapshot = vi.spyOn(s, 'snapshot');
  await s.schedule({ pool: 'spot', weight: 3, priority: 'high' }, () => 1);
  await s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, () => 1);
  await s.setFactor('futures', 0.9);
  await s.pause('earn', Date.now() + 60_000);

  const text = await registry.metrics();
  expect(snapshot).toHaveBeenCalledTimes(1); // nine gauges, one snapshot
  expect(sample(text, 'kucoin_scheduler_bucket_used_weight', { bucket: 'uid:m:Spot' })).toBe(4);
  expect(sample(text, 'kucoin_scheduler_bucket_limit_weight', { bucket: 'uid:m:Spot' })).toBe(4000);
  expect(sample(text, 'kucoin_scheduler_bucket_effective_limit_weight', { bucket: 'uid:m:Futures' })).toBe(1800);
  expect(sample(text, 'kucoin_scheduler_bucket_factor', { bucket: 'uid:m:Futures' })).toBe(0.9);
  expect(sample(text, 'kucoin_scheduler_bucket_paused', { bucket: 'uid:m:Earn' })).toBe(1);
  expect(sample(text, 'kucoin_scheduler_bucket_paused', { bucket: 'uid:m:Spot' })).toBe(0);
  expect(sample(text, 'kucoin_scheduler_bucket_hidden_weight', { bucket: 'uid:m:Spot' })).toBe(0);
  expect(sample(text, 'kucoin_scheduler_queued_requests', { priority: 'low' })).toBe(0);
  expect(sample(text, 'kucoin_scheduler_running_requests', { priority: 'critical' })).toBe(0);
  expect(sample(text, 'kucoin_scheduler_store_degraded')).toBe(0);

  await s.schedule({ pool: 'spot', weight: 6 }, () => 1);
  expect(sample(await registry.metrics(), 'kucoin_scheduler_bucket_used_weight', { bucket: 'uid:m:Spot' })).toBe(10); // read again at the next scrape
  expect(snapshot).toHaveBeenCalledTimes(2);
});

it('admissions and waits per priority (histogram), rejections per code, signals per code', async () => {
  const s = createScheduler({ uid: 'w', pools: { spot: { limit: 2, windowMs: 400 } }, cloudflare: false, transitMarginMs: 0 });
  cleanup.push(() => s.close());
  const registry = new Registry();
  cleanup.push(collectMetrics(s, { registry, labels: { account: 'main' } }));
  await s.schedule({ pool: 'spot', weight: 2, priority: 'critical' }, () => 1);
  await s.schedule({ pool: 'spot', weight: 1, priority: 'critical' }, () => 1); // waits for the next window
  await expect(s.schedule({ pool: 'spot', priority: 'low', signal: AbortSignal.abort() }, () => 1)).rejects.toMatchObject({ code: 'KS_ABORTED' });
  let admission;
  await s.schedule({ pool: 'futures', priority: 'high' }, (a) => (admission = a));
  await s.feedback(admission!, { status: 429, headers: { 'gw-ratelimit-reset': '5000' }, body: { code: '429000', msg: 'Too many requests' } });

  const text = await registry.metrics();
  const critical = { account: 'main', priority: 'critical', pool: 'Spot' };
  expect(sample(text, 'kucoin_scheduler_admission_wait_seconds_count', critical)).toBe(2);
  expect(sample(text, 'kucoin_scheduler_admission_wait_seconds_bucket', { ...critical, le: '0.005' })).toBe(1); // the first, at once
  expect(sample(text, 'kucoin_scheduler_admission_wait_seconds_sum', critical)).toBeGreaterThan(0.1); // the second waited
  expect(sample(text, 'kucoin_scheduler_admitted_weight_total', critical)).toBe(3);
  expect(sample(text, 'kucoin_scheduler_admission_wait_seconds_count', { priority: 'high', pool: 'Futures' })).toBe(1);
  expect(sample(text, 'kucoin_scheduler_rejected_total', { priority: 'low', code: 'KS_ABORTED' })).toBe(1);
  expect(sample(text, 'kucoin_scheduler_signals_total', { account: 'main', signal: '429000', scope: 'pool' })).toBe(1);
  expect(sample(text, 'kucoin_scheduler_bucket_paused', { bucket: 'uid:w:Futures' })).toBe(1);
});

it('store health: degraded while Redis is gone, recovered when it is back', async () => {
  let server: LocalRedis = await spawnRedisServer();
  cleanup.push(() => server.stop());
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  cleanup.push(() => client.disconnect());
  const s = createScheduler({ uid: 'h', store: createRedisStore({ client, prefix: 'm', heartbeatMs: 50, commandTimeoutMs: 200 }) });
  cleanup.push(() => s.close());
  const registry = new Registry();
  cleanup.push(collectMetrics(s, { registry }));
  await s.schedule({ pool: 'spot', priority: 'critical' }, () => 1);
  const metric = async (name: string) => sample(await registry.metrics(), name);
  expect(await metric('kucoin_scheduler_store_degraded')).toBe(0);

  const port = server.port;
  await server.stop();
  await s.schedule({ pool: 'spot', priority: 'critical' }, () => 1); // admitted under the local share
  await expect.poll(() => metric('kucoin_scheduler_store_degraded'), { timeout: 5000 }).toBe(1);
  expect(await metric('kucoin_scheduler_store_degraded_total')).toBe(1);

  server = await spawnRedisServer([], port);
  await expect.poll(() => metric('kucoin_scheduler_store_degraded'), { timeout: 10_000 }).toBe(0);
  expect(await metric('kucoin_scheduler_store_degraded_total')).toBe(1);
}, 30_000);

it('a snapshot that fails counts a scrape error and the scrape still answers', async () => {
  const { client, prefix } = testRedis();
  const s = createScheduler({ uid: 'f', store: new RedisStore({ client, prefix, commandTimeoutMs: 200 }) });
  cleanup.push(() => s.close());
  const registry = new Registry();
  cleanup.push(collectMetrics(s, { registry }));
  await s.schedule({ pool: 'spot', weight: 2 }, () => 1);
  expect(sample(await registry.metrics(), 'kucoin_scheduler_bucket_used_weight', { bucket: 'uid:f:Spot' })).toBe(2);
  client.disconnect();
  const text = await registry.metrics();
  expect(sample(text, 'kucoin_scheduler_scrape_errors_total')).toBe(1);
  expect(sample(text, 'kucoin_scheduler_bucket_used_weight', { bucket: 'uid:f:Spot' })).toBe(2); // last value kept
});

it('the returned function unsubscribes and unregisters; a second collector on one registry needs its own prefix', async () => {
  const s = scheduler();
  const registry = new Registry();
  const stop = collectMetrics(s, { registry });
  expect(() => collectMetrics(s, { registry })).toThrow(/kucoin_scheduler_scrape_errors_total: give each scheduler of one registry its own prefix/);
  expect(() => collectMetrics(s, { registry, prefix: 'bad prefix' })).toThrow(/Prometheus metric name prefix/);
  const other = collectMetrics(s, { registry, prefix: 'second_' });
  stop();
  expect((await registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('kucoin_scheduler_'))).toEqual([]);
  await s.schedule({ pool: 'spot' }, () => 1); // no listener of the first left behind
  expect(sample(await registry.metrics(), 'second_admission_wait_seconds_count', { priority: 'normal', pool: 'Spot' })).toBe(1);
  other();
  expect(await registry.getMetricsAsJSON()).toEqual([]);
});

describe('issue 21, 4: series follow the live buckets, within a stated bound', () => {
  /** Distinct lowercase words without digits: aa, ab, ... */
  const letters = (i: number) =>
    `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + (Math.floor(i / 26) % 26))}${String.fromCharCode(97 + (Math.floor(i / 676) % 26))}`;
  const seriesOf = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const bucketLabels = (text: string) => new Set([...text.matchAll(/bucket="([^"]*)"/g)].map((m) => m[1]));

  it('5,000 unknown paths (ids without digits, new resources) leave tens of series, not thousands', async () => {
    const s = createScheduler({ uid: 'm', cloudflare: false, pools: { spot: { limit: 1_000_000 } } });
    cleanup.push(() => s.close());
    const registry = new Registry();
    cleanup.push(collectMetrics(s, { registry }));
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      // a symbol without digits under a known word, or a resource the table does not know
      const path = i % 2 ? `/api/v9/ticker/${letters(i)}usdt` : `/api/v9/${letters(i)}/list`;
      await s.schedule({ endpoint: `GET ${path}`, weight: 1 }, () => 1);
      if (i % 500 === 499) for (const b of bucketLabels(await registry.metrics())) seen.add(b!);
    }
    const text = await registry.metrics();
    const series = seriesOf(text).length;
    const kept = sample(text, 'kucoin_scheduler_endpoint_buckets');
    const snapshotBuckets = (await s.snapshot()).buckets.length;
    console.log(
      `5,000 unknown paths: ${series} series, ${bucketLabels(text).size} bucket labels now (${seen.size} over 10 scrapes); the snapshot holds ${snapshotBuckets} buckets, ${kept} of them endpoint buckets`,
    );
    expect(series).toBeLessThan(150);
    expect(bucketLabels(text).size).toBeLessThanOrEqual(10 + MAX_ENDPOINT_BUCKET_SERIES);
    expect(seen.size).toBeLessThanOrEqual(10 + MAX_ENDPOINT_BUCKET_SERIES);
    expect(kept).toBe(1024); // the scheduler keeps its 1024 most recent endpoints: counted, not labelled
  });

  it('a paused endpoint is labelled while paused and loses its series once resumed; at most 50 endpoint buckets are labelled', async () => {
    const s = createScheduler({ uid: 'm', cloudflare: false, jitterMs: 0 });
    cleanup.push(() => s.close());
    const registry = new Registry();
    cleanup.push(collectMetrics(s, { registry }));
    const tooMany = { status: 200, body: { code: '200002', msg: 'Too many requests in a short period of time, please retry later' } };
    for (let i = 0; i < 60; i++) {
      const admission = await s.schedule({ endpoint: `GET /api/v9/res${letters(i)}/list`, weight: 1 }, (a) => a);
      await s.feedback(admission, tooMany);
    }
    let text = await registry.metrics();
    const paused = [...bucketLabels(text)].filter((b) => b!.includes(':ep:'));
    expect(sample(text, 'kucoin_scheduler_endpoint_buckets_paused')).toBe(60);
    expect(paused).toHaveLength(MAX_ENDPOINT_BUCKET_SERIES);
    // the latest pauses are shown, the earliest counted only
    const pausedUntil = new Map((await s.snapshot()).buckets.map((b) => [b.id, b.pausedUntil]));
    const hidden = [...pausedUntil].filter(([id]) => id.includes(':ep:') && !paused.includes(id)).map(([, until]) => until);
    expect(hidden).toHaveLength(10);
    expect(Math.min(...paused.map((id) => pausedUntil.get(id!)!))).toBeGreaterThanOrEqual(Math.max(...hidden));
    for (const id of paused) expect(sample(text, 'kucoin_scheduler_bucket_paused', { bucket: id! })).toBe(1);
    await s.resume(); // every bucket
    text = await registry.metrics();
    expect(sample(text, 'kucoin_scheduler_endpoint_buckets_paused')).toBe(0);
    expect([...bucketLabels(text)].filter((b) => b!.includes(':ep:'))).toEqual([]);
    expect(sample(text, 'kucoin_scheduler_bucket_paused', { bucket: 'uid:m:Spot' })).toBe(0); // pools stay
  });
});
