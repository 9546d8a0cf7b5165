// One bot process of the fidelity bench: the same mixed workload through kucoin-scheduler, Bottleneck's
// cluster mode, or no limiter at all.
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { authHeaders, createRedisStore, createScheduler, KucoinClient, type Priority } from '../src/index.js';

export type Mode = 'kucoin-scheduler' | 'bottleneck' | 'none';

export interface FidelityWorkerConfig {
  id: string;
  mode: Mode;
  redisUrl: string;
  prefix: string;
  urls: { spot: string; futures: string; broker: string };
  account: { key: string; secret: string; passphrase: string; uid: string };
  limit: number;
  windowMs: number;
  cloudflare: { limit: number; windowMs: number };
  /** `single`: every request at the default priority; `mixed`: low flood, orders, poller, cancels. */
  workload: 'single' | 'mixed';
  /** Multiplies the request loops (a high-latency path needs more in flight to saturate the pool). */
  loops: number;
  /** Only for a tuned row; absent = the library's default. */
  transitMarginMs?: number;
}

/** Per priority: requests done and failed, and the admission waits of those done (at most 20000 kept). */
export type FidelityReport = Record<Priority, { ok: number; failed: number; waits: number[] }>;

const cfg = JSON.parse(process.env.KS_WORKER ?? '{}') as FidelityWorkerConfig;
const stop = new AbortController();
const report: FidelityReport = {
  critical: { ok: 0, failed: 0, waits: [] },
  high: { ok: 0, failed: 0, waits: [] },
  normal: { ok: 0, failed: 0, waits: [] },
  low: { ok: 0, failed: 0, waits: [] },
};
const record = (priority: Priority | undefined, waitMs: number, ok: boolean) => {
  const r = report[priority ?? 'normal'];
  if (!ok) return void r.failed++;
  r.ok++;
  if (r.waits.length < 20_000) r.waits.push(waitMs);
};
// the store as the README makes it (createRedisStore, enableOfflineQueue off)
const redis = cfg.mode === 'kucoin-scheduler' ? new Redis(cfg.redisUrl, { enableOfflineQueue: false }) : undefined;
const store = redis ? createRedisStore({ client: redis, prefix: cfg.prefix }) : undefined;
const scheduler = store
  ? createScheduler({
      uid: cfg.account.uid,
      store,
      ...(cfg.transitMarginMs === undefined ? {} : { transitMarginMs: cfg.transitMarginMs }),
      cloudflare: cfg.cloudflare,
      pools: { spot: { limit: cfg.limit, windowMs: cfg.windowMs } },
    })
  : undefined;
// KS_BENCH_DEBUG=1: say why a critical request waited over 50 ms, or any request over 1 s (stderr of the bench)
if (scheduler && process.env.KS_BENCH_DEBUG) {
  scheduler.on('waited', (e) => {
    if ((e.priority === 'critical' && e.waitMs > 50) || e.waitMs > 1000)
      process.stderr.write(`[${cfg.id}] ${e.priority} waits ${Math.round(e.waitMs)} ms: ${e.reason} on ${e.bucketId}\n`);
  });
}
const client = scheduler ? new KucoinClient({ scheduler, credentials: cfg.account, baseUrls: cfg.urls, headers: { 'x-sim-client': cfg.id } }) : undefined;
const url = new URL(cfg.redisUrl);
// Bottleneck's README for a shared limit: a Redis datastore and a reservoir refreshed every window
const limiter =
  cfg.mode === 'bottleneck'
    ? new Bottleneck({
        id: cfg.prefix,
        datastore: 'ioredis',
        clearDatastore: false,
        clientOptions: { host: url.hostname, port: Number(url.port || 6379) },
        reservoir: cfg.limit,
        reservoirRefreshAmount: cfg.limit,
        reservoirRefreshInterval: cfg.windowMs,
      })
    : undefined;
const pool = new Pool(cfg.urls.spot, { connections: 32 * cfg.loops });
const BOTTLENECK_PRIORITY: Record<Priority, number> = { critical: 0, high: 3, normal: 5, low: 9 };

async function raw(method: 'GET' | 'POST' | 'DELETE', path: string, body: string): Promise<boolean> {
  const res = await pool.request({
    path,
    method,
    headers: { 'content-type': 'application/json', 'x-sim-client': cfg.id, ...authHeaders(cfg.account, method, path, body) },
    body: body || null,
  });
  const text = await res.body.text();
  return text.includes('"200000"');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let oid = 0;
async function send(priority: Priority | undefined, method: 'GET' | 'POST' | 'DELETE', path: string, weight: number, withBody: boolean): Promise<void> {
  const body = withBody ? JSON.stringify({ symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1', clientOid: `${cfg.id}-${oid++}` }) : '';
  const queued = performance.now();
  try {
    if (client) {
      const [p, q] = path.split('?');
      const res = await client.request({
        method,
        path: p!,
        ...(q ? { query: Object.fromEntries(new URLSearchParams(q)) } : {}),
        ...(withBody ? { body: JSON.parse(body) } : {}),
        ...(priority ? { priority } : {}),
        signal: stop.signal,
      });
      record(priority, res.waitedMs, true);
    } else if (limiter) {
      let waitMs = 0;
      const ok = await limiter.schedule({ weight, priority: BOTTLENECK_PRIORITY[priority ?? 'normal'] }, () => {
        waitMs = performance.now() - queued;
        return raw(method, path, body);
      });
      record(priority, waitMs, ok);
      if (!ok) await sleep(10);
    } else {
      const ok = await raw(method, path, body);
      record(priority, 0, ok);
      if (!ok) await sleep(10); // a naive bot's minimal retry delay
    }
  } catch {
    if (!stop.signal.aborted) {
      record(priority, performance.now() - queued, false);
      await sleep(10);
    }
  }
}

const loop = async (fn: () => Promise<void>) => {
  while (!stop.signal.aborted) await fn();
};

/** Every request at the default priority (none set): a bot that never heard of priorities. */
const single = () =>
  Promise.all(Array.from({ length: 8 * cfg.loops }, () => loop(() => send(undefined, 'GET', '/api/v1/hf/orders/active?symbol=BTC-USDT', 2, false))));

const mixed = () =>
  Promise.all([
    // low-priority market-data flood that alone would saturate the pool
    ...Array.from({ length: 4 * cfg.loops }, () => loop(() => send('low', 'GET', '/api/v1/hf/orders/active?symbol=BTC-USDT', 2, false))),
    // order placers
    ...Array.from({ length: 2 * cfg.loops }, () => loop(() => send('high', 'POST', '/api/v1/hf/orders', 1, true))),
    // a balance poller
    loop(async () => {
      await send('normal', 'GET', '/api/v1/hf/orders/active?symbol=ETH-USDT', 2, false);
      await sleep(200);
    }),
    // cancels on risk events: an open loop, a few a second
    (async () => {
      const pending: Promise<void>[] = [];
      while (!stop.signal.aborted) {
        pending.push(send('critical', 'DELETE', `/api/v1/hf/orders/${cfg.id}-${oid++}?symbol=BTC-USDT`, 1, false));
        await sleep(150 + Math.random() * 100);
      }
      await Promise.all(pending);
    })(),
  ]);

process.on('message', async (m: { type: string; durationMs: number }) => {
  if (m.type !== 'go') return;
  setTimeout(() => stop.abort(), m.durationMs);
  await (cfg.workload === 'single' ? single() : mixed());
  process.send!({ type: 'done', report });
  await client?.close();
  await scheduler?.close();
  await store?.close();
  redis?.disconnect();
  await limiter?.disconnect();
  await pool.close();
  process.exit(0);
});
process.send!({ type: 'ready' });
