// kucoin-node-sdk 1.1.1 (KuCoin's older official Node SDK, the real npm package) pointed at the gateway
// simulator, scheduled in one call by withKucoinNodeSdk. The SDK holds one account per process: every test
// calls init() again and withKucoinNodeSdk() again (which replaces the scheduler).
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createScheduler, MemoryStore, withPriority, type SchedulerOptions } from '../src/index.js';
import { withKucoinNodeSdk } from '../src/integrations/kucoinNodeSdk.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';
import { nodeSdk, nodeSdkHttp } from './fixtures/kucoinNodeSdk.js';
import type { NodeSdkWorkerConfig, NodeSdkWorkerReport } from './fixtures/nodeSdkWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const KEY = { key: 'node-key', secret: 'node-secret', passphrase: 'node-pass' };
let sim: GatewaySimulator | undefined;
let workers: Worker<NodeSdkWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) w.child.kill();
  workers = [];
  await sim?.close();
  sim = undefined;
});

async function setup(simOptions: GatewaySimulatorOptions = {}, schedulerOptions: Partial<SchedulerOptions> = {}) {
  sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'node-uid' }], ...simOptions });
  const scheduler = createScheduler({ uid: 'node-uid', store: new MemoryStore(), jitterMs: 0, ...schedulerOptions });
  const admitted: string[] = [];
  const feedback: string[] = [];
  scheduler.on('admitted', (e) => admitted.push(`${e.priority} ${e.pool}:${e.weight}`));
  scheduler.on('feedback', (e) => feedback.push(e.signal));
  nodeSdk.init({ baseUrl: sim.urls.spot, apiAuth: KEY, authVersion: 2 });
  withKucoinNodeSdk(nodeSdk, { scheduler, baseUrls: { spot: sim.urls.spot } });
  const { Orders } = nodeSdk.rest.Trade;
  const { Symbols, OrderBook } = nodeSdk.rest.Market;
  return { sim, scheduler, admitted, feedback, Orders, Symbols, OrderBook };
}

const order = (clientOid: string) => ({ clientOid, symbol: 'BTC-USDT', type: 'limit', side: 'buy' });
const outcome = (r: { code: string } | Error) => (r instanceof Error ? `${r.constructor.name}: ${r.message}` : r.code);

describe('kucoin-node-sdk with withKucoinNodeSdk', () => {
  it('schedules every call with its pool and weight by host, method and path; cancels critical; withPriority overrides; signed as the SDK signs', async () => {
    const { admitted, Orders, Symbols, OrderBook, sim } = await setup();
    expect((await Symbols.getTicker('BTC-USDT')).code).toBe('200000');
    expect((await OrderBook.getLevel2_20('BTC-USDT')).code).toBe('200000');
    expect((await Orders.obtainListOfSymbolWithActiveHfOrders()).code).toBe('200000'); // no query: sent as signed, without a bare '?'
    const placed = await Orders.placeHfOrder(order('n-1'));
    expect(placed).toMatchObject({ code: '200000', data: { orderId: expect.stringMatching(/^sim-/) } });
    expect((await Orders.cancelOrdersByOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' })).code).toBe('200000');
    expect((await withPriority('low', () => Symbols.getTicker('BTC-USDT'))).code).toBe('200000');
    expect(admitted).toEqual(['normal Public:2', 'normal Public:2', 'normal Spot:2', 'high Spot:1', 'critical Spot:1', 'low Public:2']);
    expect(sim.stats().arrivals.map((a) => `${a.method} ${a.endpoint} ${a.outcome}`)).toEqual([
      'GET /api/v1/market/orderbook/level1 ok',
      'GET /api/v1/market/orderbook/level2_{size} ok',
      'GET /api/v1/hf/orders/active/symbols ok',
      'POST /api/v1/hf/orders ok',
      'DELETE /api/v1/hf/orders/{orderId} ok',
      'GET /api/v1/market/orderbook/level1 ok',
    ]); // every signature (key version 2) accepted
  });

  it("runs the SDK's own middlewares (Http().useBefore) at every attempt, after admission", async () => {
    const { sim, Symbols } = await setup();
    const stamped: number[] = [];
    nodeSdkHttp().useBefore(async (ctx, next) => {
      stamped.push(Date.now());
      ctx.headers = { ...(ctx.headers || {}), 'x-sim-client': 'tagged' };
      await next();
    });
    await Symbols.getTicker('BTC-USDT');
    expect(stamped).toHaveLength(1);
    expect(sim.stats().arrivals.map((a) => a.client)).toEqual(['tagged']);
  });

  it('a 1015 with its Retry-After pauses the IP for that long (not 30 s); the refused cancel is re-signed and re-sent before the SDK sees an error', async () => {
    const { Orders, Symbols, scheduler, feedback, sim } = await setup({ cloudflare: { limit: 3, windowMs: 10_000, blockMs: 1_000 } });
    const placed = await Orders.placeHfOrder(order('n-2'));
    await Symbols.getTicker('BTC-USDT');
    await Symbols.getTicker('BTC-USDT'); // the third request: Cloudflare's window is full
    const signedAt: number[] = []; // KC-API-TIMESTAMP of every DELETE send, as the SDK's own auth hook set it
    nodeSdkHttp().useBefore(async (ctx, next) => {
      if (ctx.method === 'DELETE' && ctx.headers) signedAt.push(Number(ctx.headers['KC-API-TIMESTAMP']));
      await next();
    });
    let ipPause = 0;
    scheduler.on('feedback', (e) => (ipPause = e.pausedUntil - Date.now()));
    const started = Date.now();
    const cancelled = await Orders.cancelOrdersByOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' }).then(outcome, outcome);
    const tookMs = Date.now() - started;
    const outcomes = sim.stats().arrivals.map((a) => `${a.method} ${a.outcome}`);
    console.log(
      `kucoin-node-sdk under a 1015 (Retry-After 1 s): cancel ${cancelled} after ${tookMs} ms; IP paused ${ipPause} ms; gateway ${JSON.stringify(outcomes)}`,
    );
    expect(cancelled).toBe('200000');
    expect(feedback).toEqual(['1015']);
    expect(ipPause).toBeGreaterThan(500);
    expect(ipPause).toBeLessThanOrEqual(1_100);
    expect(outcomes.slice(-2)).toEqual(['DELETE 1015', 'DELETE ok']);
    expect(signedAt).toHaveLength(2);
    expect(signedAt[1]! - signedAt[0]!).toBeGreaterThanOrEqual(900); // signed again at the re-send, after the IP pause
  });

  it('a 429000 pauses the pool until its reset, a 200002 the endpoint; both refused requests (an order, a cancel) are re-sent and the SDK gets 200000', async () => {
    const { Orders, scheduler, feedback, sim } = await setup(
      {
        pools: { Spot: { limit: 50, windowMs: 1_000 } },
        cloudflare: false,
        endpointLimits: { 'spot DELETE /api/v1/hf/orders/{orderId}': { limit: 1, windowMs: 400 } },
        endpointBlockMs: 400,
      },
      { pools: { spot: { limit: 40, windowMs: 1_000 } }, transitMarginMs: 20, cloudflare: false, feedback: { endpointPauseMs: 400 } },
    );
    await Orders.obtainListOfSymbolWithActiveHfOrders();
    await Orders.obtainListOfSymbolWithActiveHfOrders();
    const spot = async () => (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:node-uid:Spot')!;
    expect((await spot()).limit).toBe(50); // learned from the replies' headers, confirmed by the second
    sim.exhaust('node-uid', 'Spot');
    const placed = await Orders.placeHfOrder(order('n-3'));
    const first = await Orders.cancelOrdersByOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' }).then(outcome, outcome);
    const second = await Orders.cancelOrdersByOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' }).then(outcome, outcome); // one per 400 ms: 200002
    const outcomes = sim
      .stats()
      .arrivals.filter((a) => a.method !== 'GET')
      .map((a) => `${a.method} ${a.outcome}`);
    console.log(
      `kucoin-node-sdk: order ${placed.code}, cancels ${first}, ${second}; gateway ${JSON.stringify(outcomes)}; feedback ${JSON.stringify(feedback)}`,
    );
    expect([placed.code, first, second]).toEqual(['200000', '200000', '200000']);
    expect(outcomes).toEqual(['POST 429000', 'POST ok', 'DELETE ok', 'DELETE 200002', 'DELETE ok']);
    expect(feedback).toEqual(['429000', '200002']);
  });

  it('never re-sends an order without a clientOid after a 5xx (it may have run); a read is re-sent', async () => {
    const { Orders, Symbols, sim } = await setup();
    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const placed = await Orders.placeHfOrder({ symbol: 'BTC-USDT', type: 'limit', side: 'buy' } as never).then(outcome, outcome);
    sim.failNext(1, 'http-503', 'GET /api/v1/market/orderbook/level1');
    const read = await Symbols.getTicker('BTC-USDT').then(outcome, outcome);
    expect([placed, read]).toEqual(['500000', '200000']); // the SDK returns the body, as it always did
    expect(sim.stats().arrivals.map((a) => `${a.method} ${a.outcome}`)).toEqual(['POST http-503', 'GET http-503', 'GET ok']);
  });

  it('a flood through a small pool: 0 x 429000, every order and cancel succeeds', async () => {
    const pool = { limit: 20, windowMs: 500 };
    const { Orders, Symbols, sim, feedback } = await setup(
      { pools: { Spot: pool, Public: pool }, cloudflare: false },
      { pools: { spot: pool, public: pool }, transitMarginMs: 20 },
    );
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const placed = await Orders.placeHfOrder(order(`flood-${i}`));
        const read = await Symbols.getTicker('BTC-USDT');
        const cancelled = await withPriority('critical', () => Orders.cancelOrdersByOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' }));
        return [placed.code, read.code, cancelled.code];
      }),
    );
    const stats = sim.stats();
    console.log(
      `kucoin-node-sdk flood, 20 x (order, ticker, cancel) through Spot/Public ${pool.limit} per ${pool.windowMs} ms: ${Date.now() - started} ms; gateway ${JSON.stringify(stats.outcomes)}; feedback ${JSON.stringify(feedback)}`,
    );
    expect(stats.outcomes['429000'] ?? 0).toBe(0);
    expect(feedback).toEqual([]);
    expect(results.flat().every((c) => c === '200000')).toBe(true);
  });

  it('refuses what it cannot schedule with a typed error', () => {
    const scheduler = createScheduler({ uid: 'x', store: new MemoryStore() });
    expect(() => withKucoinNodeSdk({} as never, { scheduler })).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }));
    expect(() => withKucoinNodeSdk({ init: () => undefined, rest: {} }, { scheduler })).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' })); // not a loaded copy
    expect(() => withKucoinNodeSdk(nodeSdk, { scheduler: {} as never })).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }));
  });
});

const MP_ACCOUNT = { key: 'mp-node-key', secret: 'mp-node-secret', passphrase: 'mp-node-pass', uid: 'u-mp-node' };

/** 3 worker processes on one Redis prefix, 2 order loops and 2 ticker loops each, for `durationMs`; `trigger` runs mid-way. */
async function runProcesses(durationMs: number, trigger?: { atMs: number; run: (s: GatewaySimulator) => void }) {
  sim = await startGatewaySimulator({
    accounts: [MP_ACCOUNT],
    pools: { Spot: { limit: 150, windowMs: 2_000 }, Public: { limit: 100, windowMs: 2_000 } },
    cloudflare: { limit: 150, windowMs: 3_000, blockMs: 1_500 },
  });
  const prefix = `ks-test-${randomUUID()}`;
  for (let i = 0; i < 3; i++) {
    const config: NodeSdkWorkerConfig = {
      id: `p${i + 1}`,
      redisUrl: inject('redisUrl'),
      prefix,
      uid: MP_ACCOUNT.uid,
      spotUrl: sim.urls.spot,
      credentials: MP_ACCOUNT,
      orderLoops: 2,
      readLoops: 2,
      scheduler: {
        pools: { spot: { limit: 150, windowMs: 2_000 }, public: { limit: 100, windowMs: 2_000 } },
        cloudflare: { limit: 150, windowMs: 3_000 },
        transitMarginMs: 50,
        jitterMs: 5,
      },
    };
    workers.push(forkWorker<NodeSdkWorkerReport>('nodeSdkWorker.ts', config));
  }
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.send({ type: 'go', durationMs });
  const s = sim;
  const timer = trigger ? setTimeout(() => trigger.run(s), trigger.atMs) : undefined;
  const reports = await Promise.all(workers.map((w) => w.done));
  clearTimeout(timer);
  const sum = (pick: (r: NodeSdkWorkerReport) => Record<string, number>) =>
    reports.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(pick(r))) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {});
  const stats = sim.stats();
  const result = {
    stats,
    arrivals: stats.arrivals.filter((a) => a.client !== 'hidden'),
    ok: sum((r) => r.ok),
    failed: sum((r) => r.failed),
    signals: sum((r) => r.signals),
  };
  console.log(
    `kucoin-node-sdk with the scheduler, 3 processes, ${durationMs} ms${trigger ? ', Spot exhausted once' : ''}: gateway ${JSON.stringify(stats.outcomes)}; ok ${JSON.stringify(result.ok)}; failed ${JSON.stringify(result.failed)}; feedback events ${JSON.stringify(result.signals)}`,
  );
  return result;
}

describe('kucoin-node-sdk: 3 OS processes, one Redis, the simulator over HTTP', () => {
  it('with the scheduler: 0 x 429000, 0 x 1015, every order and cancel succeeds', async () => {
    const { stats, arrivals, ok, failed } = await runProcesses(2_000);
    expect(new Set(arrivals.map((a) => a.client))).toEqual(new Set(['p1', 'p2', 'p3']));
    expect(stats.outcomes['429000'] ?? 0).toBe(0);
    expect(stats.outcomes['1015'] ?? 0).toBe(0);
    expect(failed).toEqual({});
    expect(ok.cancel).toBeGreaterThan(0);
  }, 60_000);

  it('a 429000 met by one process pauses the Spot pool for all until the window ends; the refused orders and cancels are re-sent, none fails', async () => {
    const { stats, arrivals, failed, signals } = await runProcesses(3_000, { atMs: 800, run: (s) => s.exhaust(MP_ACCOUNT.uid, 'Spot') });
    const spot = arrivals.filter((a) => a.pool === 'Spot');
    const first = spot.find((a) => a.outcome === '429000')!;
    const end = stats.windows[`uid:${MP_ACCOUNT.uid}:Spot`]!.find((w) => first.at >= w.start && first.at < w.end)!.end;
    const during = spot.filter((a) => a.at >= first.at + 100 && a.at < end); // after 100 ms of grace for what was in flight
    console.log(
      `kucoin-node-sdk 429000: in flight when the window was emptied ${stats.outcomes['429000']}; Spot paused ${end - first.at} ms; arrivals during the pause after 100 ms: ${during.length}; ok after: ${spot.filter((a) => a.at >= end && a.outcome === 'ok').length}`,
    );
    expect(during).toEqual([]);
    expect(spot.filter((a) => a.at >= end && a.outcome === 'ok').length).toBeGreaterThan(0);
    expect(signals['429000']).toBeGreaterThan(0);
    expect(failed).toEqual({}); // every refused order and cancel was re-sent
  }, 60_000);
});
