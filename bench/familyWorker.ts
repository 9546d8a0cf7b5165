// One bot process of the workload-family bench: the drawn shape (closed or open loop, tier mix, lanes) through
// KucoinClient and a Redis store made as the README makes it (createRedisStore), at the library's defaults (only
// the pool quotas given).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createRedisStore, createScheduler, KucoinClient, PRIORITIES, type Priority } from '../src/index.js';
import { seededRandom, TIER_REQUESTS, type FamilyCase } from './familyCases.js';

type Account = { key: string; secret: string; passphrase: string; uid: string };

export interface FamilyWorkerConfig {
  readonly id: string;
  readonly index: number;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly urls: { spot: string; futures: string; broker: string };
  readonly account: Account;
  /** The warm-up's own account and egress IP (x-sim-ip): nothing it does shares a pool or a window with the run. */
  readonly warmUp: { account: Account; ip: string; durationMs: number };
  readonly case: FamilyCase;
}

/** Per priority: requests done and failed, their admission waits and their waits from call to result. */
export type FamilyReport = Record<Priority, { ok: number; failed: number; admission: number[]; total: number[]; errors: Record<string, number> }>;

const cfg = JSON.parse(process.env.KS_WORKER ?? '{}') as FamilyWorkerConfig;
const c = cfg.case;
const random = seededRandom((c.seed ?? 7) * 31 + cfg.index);
const debug = process.env.KS_BENCH_DEBUG !== undefined && process.env.KS_BENCH_DEBUG !== '';
const redis = new Redis(cfg.redisUrl, { enableOfflineQueue: false });
const botWeight = c.botWeights?.[cfg.index];

/** A scheduler and a client as a bot makes them: one store per process, every option at its default. */
function bot(account: Account, prefix: string, headers: Record<string, string>) {
  const store = createRedisStore({ client: redis, prefix });
  const scheduler = createScheduler({
    uid: account.uid,
    store,
    cloudflare: false,
    pools: { spot: { limit: c.spotLimit, windowMs: c.windowMs }, public: { limit: c.publicLimit, windowMs: c.windowMs } },
    ...(botWeight === undefined ? {} : { bot: { name: cfg.id, weight: botWeight } }),
  });
  const client = new KucoinClient({ scheduler, credentials: account, baseUrls: cfg.urls, headers });
  return {
    scheduler,
    client,
    close: async () => {
      await client.close();
      await scheduler.close();
      await store.close();
    },
  };
}

const emptyReport = (): FamilyReport =>
  Object.fromEntries(PRIORITIES.map((p) => [p, { ok: 0, failed: 0, admission: [] as number[], total: [] as number[], errors: {} }])) as FamilyReport;

function pick(weights: Readonly<Record<Priority, number>>): Priority {
  const total = PRIORITIES.reduce((x, p) => x + weights[p], 0);
  let x = random() * total;
  for (const p of PRIORITIES) {
    x -= weights[p];
    if (x < 0) return p;
  }
  return 'low';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The case's lanes through `client` until `stop` aborts, counted in `report`. */
function runLanes(client: KucoinClient, stop: AbortSignal, report: FamilyReport): Promise<unknown> {
  let oid = 0;
  const tag = `${cfg.id}-${Math.round(random() * 1e9).toString(36)}`;
  async function send(priority: Priority): Promise<void> {
    const r = TIER_REQUESTS[priority];
    const started = performance.now();
    const id = `${tag}-${oid++}`;
    const t = report[priority];
    try {
      const res = await client.request({
        method: r.method,
        path: r.path.replace('{id}', id),
        ...(r.method === 'POST'
          ? { body: { symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1', clientOid: id } }
          : { query: { symbol: 'BTC-USDT' } }),
        priority,
        signal: stop,
      });
      t.ok++;
      if (debug && priority === 'critical' && res.waitedMs > Number(process.env.KS_BENCH_DEBUG_MS ?? 50))
        process.stderr.write(`[${cfg.id} ${Date.now() % 100_000}] critical admitted after ${Math.round(res.waitedMs)} ms, ${res.attempts} attempt(s)\n`);
      if (t.admission.length < 50_000) {
        t.admission.push(res.waitedMs);
        t.total.push(performance.now() - started);
      }
    } catch (error) {
      if (stop.aborted) return;
      t.failed++;
      const code = (error as { code?: string }).code ?? 'unknown';
      t.errors[code] = (t.errors[code] ?? 0) + 1;
    }
  }
  async function closedLane(mix: Readonly<Record<Priority, number>>): Promise<void> {
    while (!stop.aborted) await send(pick(mix));
  }
  /** Poisson arrivals of `priority` at `perSecond` requests a second, never waiting for the last one. */
  async function openStream(priority: Priority, perSecond: number): Promise<void> {
    if (perSecond <= 0) return;
    const pending = new Set<Promise<void>>();
    while (!stop.aborted) {
      const p = send(priority);
      pending.add(p);
      void p.finally(() => pending.delete(p));
      await sleep(-Math.log(1 - random()) * (1000 / perSecond));
    }
    await Promise.all(pending);
  }
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

/**
 * Before 'ready', the same lanes for a moment on an account and an egress IP of their own (and a key prefix of
 * their own): the code paths are compiled and the scripts loaded when the run starts, as in a bot that has been
 * running (the warm-up's client is its own: the run's client still opens its connections at the start). Without it every process met its first requests at the same instant, cold, and on
 * 2 cores the cases' critical p99 came from their first 300 ms. Nothing of it is counted: other pools, other windows.
 */
async function warmUp(): Promise<void> {
  const w = bot(cfg.warmUp.account, `${cfg.prefix}-warmup`, { 'x-sim-client': 'warmup', 'x-sim-ip': cfg.warmUp.ip });
  const stop = AbortSignal.timeout(cfg.warmUp.durationMs);
  await runLanes(w.client, stop, emptyReport());
  await w.close();
}

const main = bot(cfg.account, cfg.prefix, { 'x-sim-client': cfg.id });
if (debug)
  main.scheduler.on('waited', (e) => {
    if (process.env.KS_BENCH_DEBUG === '2' || e.priority === 'critical' || e.waitMs > 1000)
      process.stderr.write(
        `[${cfg.id} ${Date.now() % 100_000}] ${e.priority} waits ${Math.round(e.waitMs)} ms: ${e.reason} on ${e.bucketId} (lane ${e.lane})\n`,
      );
  });
/**
 * How late this process's timers ran (its histogram holds the intervals of a 10 ms timer: the delay is the part over
 * 10 ms): a critical request cannot be admitted sooner than its process gets to run.
 */
const LOOP_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
const loopDelayMs = (q: number) => Math.max(0, loopDelay.percentile(q) / 1e6 - LOOP_RESOLUTION_MS);

process.on('message', async (m: { type: string; durationMs: number }) => {
  if (m.type !== 'go') return;
  const report = emptyReport();
  const cpuAtGo = process.cpuUsage();
  loopDelay.enable();
  await runLanes(main.client, AbortSignal.timeout(m.durationMs), report);
  if (debug) {
    const cpu = process.cpuUsage(cpuAtGo);
    const done = Object.values(report).reduce((x, t) => x + t.ok + t.failed, 0);
    process.stderr.write(
      `[${cfg.id}] cpu ${((cpu.user + cpu.system) / 1000 / Math.max(1, done)).toFixed(2)} ms a request (${done}); event-loop delay p50 ${loopDelayMs(50).toFixed(1)} p99 ${loopDelayMs(99).toFixed(1)} max ${(loopDelay.max / 1e6 - LOOP_RESOLUTION_MS).toFixed(1)} ms\n`,
    );
  }
  process.send!({ type: 'done', report, eventLoopP99Ms: loopDelayMs(99) });
  await main.close();
  redis.disconnect();
  process.exit(0);
});
await warmUp();
process.send!({ type: 'ready' });
