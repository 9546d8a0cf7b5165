import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';
import type { Arrival } from '../src/simulator/simStats.js';
import type { ClientWorkerConfig, ClientWorkerReport, StreamConfig } from './fixtures/clientWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const ACCOUNT = { key: 'sig-key', secret: 'sig-secret', passphrase: 'sig-pass', uid: 'u-sig' };
/** Requests admitted before the pause reached the store may still arrive this long after the first signal. */
const GRACE_MS = 100;

let sim: GatewaySimulator | undefined;
let workers: Worker<ClientWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) w.child.kill();
  workers = [];
  await sim?.close();
  sim = undefined;
});

interface Scenario {
  sim: GatewaySimulatorOptions;
  scheduler: ClientWorkerConfig['scheduler'];
  streams: StreamConfig[];
  durationMs: number;
  /** Called at `atMs` after the start (to start a storm, exhaust a pool...). */
  trigger?: { atMs: number; run: (s: GatewaySimulator) => void };
}

async function run(sc: Scenario, processes = 2): Promise<{ arrivals: readonly Arrival[]; reports: ClientWorkerReport[]; s: GatewaySimulator }> {
  sim = await startGatewaySimulator({ accounts: [ACCOUNT], ...sc.sim });
  const prefix = `ks-test-${randomUUID()}`;
  for (let i = 0; i < processes; i++) {
    const config: ClientWorkerConfig = {
      id: `p${i + 1}`,
      redisUrl: inject('redisUrl'),
      prefix,
      uid: ACCOUNT.uid,
      urls: sim.urls,
      credentials: ACCOUNT,
      scheduler: { jitterMs: 5, ...sc.scheduler },
      streams: sc.streams,
    };
    workers.push(forkWorker<ClientWorkerReport>('clientWorker.ts', config));
  }
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.send({ type: 'go', durationMs: sc.durationMs });
  const s = sim;
  const timer = sc.trigger ? setTimeout(() => sc.trigger!.run(s), sc.trigger.atMs) : undefined;
  const reports = await Promise.all(workers.map((w) => w.done));
  clearTimeout(timer);
  console.log(
    `outcomes: ${JSON.stringify(sim.stats().outcomes)}; per process: ${reports.map((r) => `ok ${r.ok}, errors ${JSON.stringify(r.errors)}`).join(' | ')}`,
  );
  return { arrivals: sim.stats().arrivals.filter((a) => a.client !== 'hidden'), reports, s };
}

/** Checks the scope stays quiet from the first signal (plus grace) until `end`, and that work resumes after it. */
function checkScope(name: string, arrivals: readonly Arrival[], inScope: (a: Arrival) => boolean, signal: string, endOf: (first: Arrival) => number) {
  const first = arrivals.find((a) => inScope(a) && a.outcome === signal);
  expect(first, `${name}: the signal was met`).toBeDefined();
  const end = endOf(first!);
  const scoped = arrivals.filter(inScope);
  const inGrace = scoped.filter((a) => a.at > first!.at && a.at < first!.at + GRACE_MS);
  const during = scoped.filter((a) => a.at >= first!.at + GRACE_MS && a.at < end);
  const resumed = scoped.filter((a) => a.at >= end && a.outcome === 'ok');
  // both processes had demand for the scope during the run, so the pause really held both back
  const senders = new Set(scoped.map((a) => a.client));
  console.log(
    `${name}: first ${signal} from ${first!.client} at +0 ms; scope paused ${end - first!.at} ms; arrivals in the scope during the pause: ${during.length} ` +
      `(${inGrace.length} more within ${GRACE_MS} ms of the signal, sent before the pause); ok after it: ${resumed.length}; processes sending into the scope: ${[...senders].join(', ')}`,
  );
  expect(senders.size, `${name}: both processes sent into the scope`).toBe(2);
  expect(during, `${name}: nothing sent into the paused scope`).toEqual([]);
  expect(resumed.length, `${name}: work resumed`).toBeGreaterThan(0);
  return { first: first!, end };
}

const spotOrders: StreamConfig = { method: 'POST', path: '/api/v1/hf/orders', host: 'spot', priority: 'high', concurrency: 3, order: true };
const spotReads: StreamConfig = {
  method: 'GET',
  path: '/api/v1/hf/orders/active',
  host: 'spot',
  priority: 'normal',
  concurrency: 2,
  query: { symbol: 'BTC-USDT' },
};

describe('each signal, end to end: 2 OS processes, real Redis, the simulator over HTTP', () => {
  it('429000: the (UID, pool) pauses for every process until the window resets', async () => {
    const { arrivals, s } = await run({
      sim: { pools: { Spot: { limit: 300, windowMs: 2000 } }, cloudflare: false },
      scheduler: { pools: { spot: { limit: 300, windowMs: 2000 } }, transitMarginMs: 50, cloudflare: false },
      streams: [spotOrders, spotReads],
      durationMs: 5000,
      trigger: { atMs: 1200, run: (sim) => sim.exhaust(ACCOUNT.uid, 'Spot') },
    });
    const windows = s.stats().windows[`uid:${ACCOUNT.uid}:Spot`]!;
    checkScope(
      '429000',
      arrivals,
      (a) => a.pool === 'Spot',
      '429000',
      (first) => windows.find((w) => first.at >= w.start && first.at < w.end)!.end,
    );
  }, 30_000);

  it('1015: the egress IP pauses, public and private, for every process, for Retry-After', async () => {
    const { arrivals, s } = await run({
      sim: { cloudflare: { limit: 40, windowMs: 10_000, blockMs: 2000 } },
      scheduler: {},
      streams: [
        spotOrders,
        { method: 'GET', path: '/api/v1/market/orderbook/level1', host: 'spot', priority: 'low', concurrency: 2, query: { symbol: 'BTC-USDT' } },
      ],
      durationMs: 5000,
    });
    const block = s.stats().blocks.find((b) => b.scope === 'ip')!;
    const { first } = checkScope(
      '1015',
      arrivals,
      () => true,
      '1015',
      () => block.until,
    );
    expect(arrivals.some((a) => a.at >= block.until && a.pool === 'Public' && a.outcome === 'ok')).toBe(true);
    expect(arrivals.some((a) => a.at >= block.until && a.pool === 'Spot' && a.outcome === 'ok')).toBe(true);
    expect(first.at).toBe(block.from);
  }, 30_000);

  it('200002: only that (UID, endpoint) pauses; other endpoints go on', async () => {
    const { arrivals, s } = await run({
      sim: { endpointLimits: { 'futures POST /api/v1/orders': { limit: 10, windowMs: 3000 } }, endpointBlockMs: 1500 },
      scheduler: { feedback: { endpointPauseMs: 1500 } },
      streams: [
        { method: 'POST', path: '/api/v1/orders', host: 'futures', priority: 'high', concurrency: 2, order: true },
        { method: 'GET', path: '/api/v1/positions', host: 'futures', priority: 'normal', concurrency: 1 },
      ],
      durationMs: 4500,
    });
    const block = s.stats().blocks.find((b) => b.scope === 'endpoint')!;
    const { first, end } = checkScope(
      '200002',
      arrivals,
      (a) => a.endpoint === '/api/v1/orders' && a.method === 'POST',
      '200002',
      () => block.until,
    );
    const others = arrivals.filter((a) => a.endpoint === '/api/v1/positions' && a.at > first.at + GRACE_MS && a.at < end && a.outcome === 'ok');
    console.log(`200002: other endpoint served during the pause: ${others.length}`);
    expect(others.length).toBeGreaterThan(0);
  }, 30_000);

  it('429001: every process backs off, with jitter, and resumes after the storm', async () => {
    let stormEnd = 0;
    const { arrivals } = await run({
      sim: { cloudflare: false, pools: { Spot: { limit: 600, windowMs: 3000 } } },
      scheduler: { cloudflare: false, pools: { spot: { limit: 600, windowMs: 3000 } } },
      streams: [spotOrders, spotReads],
      durationMs: 4500,
      trigger: {
        atMs: 1000,
        run: (sim) => {
          sim.startStorm(1200);
          stormEnd = Date.now() + 1200;
        },
      },
    });
    // the first backoff is base 500 ms x (1 +- 25 %): at least 375 ms of quiet for everyone
    checkScope(
      '429001',
      arrivals,
      () => true,
      '429001',
      (first) => first.at + 375,
    );
    const last = arrivals.filter((a) => a.outcome === '429001').at(-1)!;
    expect(arrivals.some((a) => a.at > stormEnd && a.outcome === 'ok')).toBe(true);
    console.log(
      `429001: storm 1200 ms; 429001 answers: ${arrivals.filter((a) => a.outcome === '429001').length}; last at +${last.at - arrivals.find((a) => a.outcome === '429001')!.at} ms`,
    );
  }, 30_000);

  it('429002: each process spreads the origin over more connections, and work goes on', async () => {
    const { arrivals, reports } = await run({
      sim: { perConnection: { limit: 25, windowMs: 60_000 } },
      scheduler: {},
      streams: [spotReads, { ...spotReads, path: '/api/v1/timestamp', priority: 'low', query: undefined as never }],
      durationMs: 3000,
    });
    const limited = arrivals.filter((a) => a.outcome === '429002');
    const lastLimited = limited.at(-1)!;
    const connsBefore = new Set(arrivals.filter((a) => a.at <= limited[0]!.at).map((a) => a.conn)).size;
    const connsAfter = new Set(arrivals.filter((a) => a.at > lastLimited.at).map((a) => a.conn)).size;
    const okAfter = arrivals.filter((a) => a.at > lastLimited.at && a.outcome === 'ok').length;
    console.log(
      `429002: answers ${limited.length} (per process: ${reports.map((r) => r.signals['429002'] ?? 0).join(', ')}); requests per connection now ${reports.map((r) => r.requestsPerConnection).join(', ')}; connections used before the first: ${connsBefore}, after the last: ${connsAfter}; ok after the last: ${okAfter}`,
    );
    expect(limited.length).toBeGreaterThan(0);
    for (const r of reports) expect(r.requestsPerConnection).toBeLessThan(1000);
    expect(okAfter).toBeGreaterThan(0);
    for (const r of reports) expect(Object.keys(r.errors).filter((k) => k.includes('429002'))).toEqual([]); // nothing failed for it
  }, 30_000);
});

describe('header sync, end to end', () => {
  it('a hidden consumer eats 10 % of the pool: at most one 429000 per window, >= 90 % of the rest used', async () => {
    const LIMIT = 600;
    const W = 3000;
    const { arrivals, s } = await run({
      sim: {
        pools: { Spot: { limit: LIMIT, windowMs: W } },
        cloudflare: false,
        hiddenConsumers: [{ uid: ACCOUNT.uid, pool: 'Spot', weight: 6, everyMs: 300 }],
      },
      scheduler: { pools: { spot: { limit: LIMIT, windowMs: W } }, transitMarginMs: 50, cloudflare: false },
      streams: [spotOrders, spotReads],
      durationMs: 4 * W + 500,
    });
    const all = s.stats().arrivals;
    const windows = s.stats().windows[`uid:${ACCOUNT.uid}:Spot`]!;
    const complete = windows.slice(0, -1);
    const rows = complete.map((w) => {
      const inW = all.filter((a) => a.pool === 'Spot' && a.at >= w.start && a.at < w.end);
      const hidden = inW.filter((a) => a.client === 'hidden' && a.outcome === 'hidden').reduce((x, a) => x + a.weight, 0);
      const ours = inW.filter((a) => a.client !== 'hidden' && a.outcome === 'ok').reduce((x, a) => x + a.weight, 0);
      const refused = inW.filter((a) => a.client !== 'hidden' && a.outcome === '429000').length;
      return { hidden, ours, refused, left: LIMIT - hidden };
    });
    const span = windows.at(-1)!.start - windows[0]!.start;
    const utilization = rows.reduce((x, r) => x + r.ours, 0) / ((rows.reduce((x, r) => x + r.left, 0) * span) / (rows.length * W));
    console.log(
      [
        `hidden consumer (10 %): Spot ${LIMIT} / ${W} ms, 2 processes`,
        ...rows.map((r, i) => `  window ${i + 1}: ours ${r.ours}, hidden ${r.hidden}, left for us ${r.left}, 429000 ${r.refused}`),
        `  utilization of what was left, over time: ${(100 * utilization).toFixed(1)} %; 429000 total ${arrivals.filter((a) => a.outcome === '429000').length}`,
      ].join('\n'),
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect(r.refused).toBeLessThanOrEqual(1);
    expect(utilization).toBeGreaterThanOrEqual(0.9);
  }, 40_000);
});
