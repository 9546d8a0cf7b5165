// One bot process of the workload-family bench: the drawn shape (closed or open loop, tier mix, lanes) through
// KucoinClient and a RedisStore, at the library's defaults (only the pool quotas given).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import diagnostics from 'node:diagnostics_channel';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { createScheduler, KucoinClient, RedisStore, type Priority } from '../src/index.js';
import { seededRandom, TIER_REQUESTS, type FamilyCase } from './familyCases.js';

export interface FamilyWorkerConfig {
  readonly id: string;
  readonly index: number;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly urls: { spot: string; futures: string; broker: string };
  readonly account: { key: string; secret: string; passphrase: string; uid: string };
  readonly case: FamilyCase;
}

/** Per priority: requests done and failed, their admission waits and their waits from call to result. */
export type FamilyReport = Record<Priority, { ok: number; failed: number; admission: number[]; total: number[]; errors: Record<string, number> }>;

const cfg = JSON.parse(process.env.KS_WORKER ?? '{}') as FamilyWorkerConfig;
const c = cfg.case;
const random = seededRandom((c.seed ?? 7) * 31 + cfg.index);
const stop = new AbortController();
const report = Object.fromEntries(
  (['critical', 'high', 'normal', 'low'] as const).map((p) => [p, { ok: 0, failed: 0, admission: [] as number[], total: [] as number[], errors: {} }]),
) as FamilyReport;
const redis = new Redis(cfg.redisUrl);
const botWeight = c.botWeights?.[cfg.index];
const scheduler = createScheduler({
  uid: cfg.account.uid,
  store: new RedisStore({ client: redis, prefix: cfg.prefix }),
  cloudflare: false,
  pools: { spot: { limit: c.spotLimit, windowMs: c.windowMs }, public: { limit: c.publicLimit, windowMs: c.windowMs } },
  ...(botWeight === undefined ? {} : { bot: { name: cfg.id, weight: botWeight } }),
});
if (process.env.KS_BENCH_DEBUG) {
  scheduler.on('waited', (e) => {
    if ((e.priority === 'critical' && e.waitMs > 50) || e.waitMs > 1000)
      process.stderr.write(`[${cfg.id} ${Date.now() % 100_000}] ${e.priority} waits ${Math.round(e.waitMs)} ms: ${e.reason} on ${e.bucketId}\n`);
  });
}
const reqT = new WeakMap<object, number[]>();
const phase: Record<string, number> = {};
if (process.env.KS_BENCH_DEBUG) {
  diagnostics.subscribe('undici:request:create', (m: any) => reqT.set(m.request, [performance.now()]));
  diagnostics.subscribe('undici:client:sendHeaders', (m: any) => reqT.get(m.request)?.push(performance.now()));
  diagnostics.subscribe('undici:request:headers', (m: any) => {
    const t = reqT.get(m.request);
    if (!t) return;
    t.push(performance.now());
    if (t.length === 3) {
      const q = t[1]! - t[0]!, srv = t[2]! - t[1]!;
      const k = `${q > 500 ? 'queue>500' : 'queue ok'} ${srv > 500 ? 'server>500' : 'server ok'}`;
      phase[k] = (phase[k] ?? 0) + 1;
      if (srv > 500) process.stderr.write(`SLOWREQ ${cfg.id} ${m.request.method} ${m.request.path} create ${(performance.timeOrigin + t[0]!).toFixed(0)} sent ${(performance.timeOrigin + t[1]!).toFixed(0)} headers ${(performance.timeOrigin + t[2]!).toFixed(0)}\n`);
    }
  });
}
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
if (process.env.KS_BENCH_DEBUG) loopDelay.enable();
const client = new KucoinClient({ scheduler, credentials: cfg.account, baseUrls: cfg.urls, headers: { 'x-sim-client': cfg.id } });

let oid = 0;
async function send(priority: Priority): Promise<void> {
  const r = TIER_REQUESTS[priority];
  const started = performance.now();
  const id = `${cfg.id}-${oid++}`;
  try {
    const res = await client.request({
      method: r.method,
      path: r.path.replace('{id}', id),
      ...(r.method === 'POST'
        ? { body: { symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1', clientOid: id } }
        : { query: { symbol: 'BTC-USDT' } }),
      priority,
      signal: stop.signal,
    });
    const t = report[priority];
    t.ok++;
    if (process.env.KS_BENCH_DEBUG && performance.now() - started - res.waitedMs > 500)
      process.stderr.write(`[${cfg.id}] slow after admission: ${priority} waited ${Math.round(res.waitedMs)} total ${Math.round(performance.now() - started)} attempts ${res.attempts}\n`);
    if (t.admission.length < 50_000) {
      t.admission.push(res.waitedMs);
      t.total.push(performance.now() - started);
    }
  } catch (error) {
    if (stop.signal.aborted) return;
    const t = report[priority];
    t.failed++;
    const code = (error as { code?: string }).code ?? 'unknown';
    t.errors[code] = (t.errors[code] ?? 0) + 1;
  }
}

function pick(weights: Readonly<Record<Priority, number>>): Priority {
  const total = weights.critical + weights.high + weights.normal + weights.low;
  let x = random() * total;
  for (const p of ['critical', 'high', 'normal', 'low'] as const) {
    x -= weights[p];
    if (x < 0) return p;
  }
  return 'low';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function closedLane(mix: Readonly<Record<Priority, number>>): Promise<void> {
  while (!stop.signal.aborted) await send(pick(mix));
}

/** Poisson arrivals of `priority` at `perSecond` requests a second, never waiting for the last one. */
async function openStream(priority: Priority, perSecond: number): Promise<void> {
  if (perSecond <= 0) return;
  const pending = new Set<Promise<void>>();
  while (!stop.signal.aborted) {
    const p = send(priority);
    pending.add(p);
    void p.finally(() => pending.delete(p));
    await sleep(-Math.log(1 - random()) * (1000 / perSecond));
  }
  await Promise.all(pending);
}

function run(): Promise<unknown> {
  const lanes = Array.from({ length: c.lanes }, () => c);
  if (c.loop === 'closed') return Promise.all(lanes.map(() => closedLane(c.mix)));
  // open: critical and high at their share of the Spot quota rate (split over the processes); reads fill the rest
  const quotaPerS = c.spotLimit / (c.windowMs / 1000) / c.processes;
  return Promise.all([
    openStream('critical', (c.mix.critical * quotaPerS) / TIER_REQUESTS.critical.weight),
    openStream('high', (c.mix.high * quotaPerS) / TIER_REQUESTS.high.weight),
    ...lanes.map(() => closedLane({ critical: 0, high: 0, normal: c.mix.normal, low: c.mix.low })),
  ]);
}

process.on('message', async (m: { type: string; durationMs: number }) => {
  if (m.type !== 'go') return;
  setTimeout(() => stop.abort(), m.durationMs);
  await run();
  if (process.env.KS_BENCH_DEBUG) {
    const crit = report.critical.total.map((t, i) => t - report.critical.admission[i]!).sort((a, b) => a - b);
    const qc = (x: number) => crit[Math.floor(x * crit.length)]?.toFixed(1);
    process.stderr.write(`[${cfg.id}] ${JSON.stringify(phase)} critical total - admission p50 ${qc(0.5)} p99 ${qc(0.99)}; event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} max ${(loopDelay.max / 1e6).toFixed(1)} ms\n`);
  }
  process.send!({ type: 'done', report });
  await client.close();
  await scheduler.close();
  redis.disconnect();
  process.exit(0);
});
/**
 * Before 'ready': as many concurrent reads of the simulator's uncounted stats path as this process has lanes, on a
 * pool of their own, so the simulator (in the bench's process, on the same cores) is not meeting its first requests
 * and hundreds of new connections at once when the measurement starts: without it, on 2 cores with 8 processes,
 * the first requests reached it up to 2.5 s after their admission (a cold start of the bench, not of KuCoin).
 */
async function warmUp(): Promise<void> {
  const pool = new Pool(cfg.urls.spot, { connections: c.lanes });
  await Promise.all(Array.from({ length: c.lanes }, async () => (await pool.request({ method: 'GET', path: '/__sim/stats' })).body.dump()));
  await pool.close();
}
await warmUp();
process.send!({ type: 'ready' });
