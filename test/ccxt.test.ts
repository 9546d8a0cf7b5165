// ccxt 4.5 (the real npm package) pointed at the simulator, scheduled in one call by withCcxtScheduler.
import ccxt from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, MemoryStore, type SchedulerOptions } from '../src/index.js';
import { withCcxtScheduler } from '../src/integrations/ccxt.js';
import { withPriority } from '../src/integrations/callPriority.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';

const KEY = { key: 'ccxt-key', secret: 'ccxt-secret', passphrase: 'ccxt-pass' };
let sim: GatewaySimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Points a ccxt kucoin / kucoinfutures instance at the simulator. */
export function ccxtAt(id: 'kucoin' | 'kucoinfutures', urls: { spot: string; futures: string; broker: string }, key = KEY): InstanceType<typeof ccxt.kucoin> {
  const exchange =
    id === 'kucoin'
      ? new ccxt.kucoin({ apiKey: key.key, secret: key.secret, password: key.passphrase })
      : new ccxt.kucoinfutures({ apiKey: key.key, secret: key.secret, password: key.passphrase });
  const api = exchange.urls.api as Record<string, string>;
  for (const name of Object.keys(api)) api[name] = /futures/i.test(name) ? urls.futures : name === 'broker' ? urls.broker : urls.spot;
  return exchange;
}

async function setup(simOptions: GatewaySimulatorOptions = {}, schedulerOptions: Partial<SchedulerOptions> = {}) {
  sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'ccxt-uid' }], ...simOptions });
  const scheduler = createScheduler({ uid: 'ccxt-uid', store: new MemoryStore(), jitterMs: 0, ...schedulerOptions });
  const admitted: string[] = [];
  const feedback: string[] = [];
  scheduler.on('admitted', (e) => admitted.push(`${e.priority} ${e.pool}:${e.weight}`));
  scheduler.on('feedback', (e) => feedback.push(e.signal));
  const exchange = withCcxtScheduler(ccxtAt('kucoin', sim.urls), { scheduler, baseUrls: sim.urls });
  return { sim, scheduler, admitted, feedback, exchange };
}

const orderParams = (clientOid: string) => ({ symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1', clientOid });

describe('ccxt with withCcxtScheduler', () => {
  it('schedules every request of the instance with its pool and weight by host, method and path; cancels critical; withPriority overrides', async () => {
    const { exchange, admitted, sim } = await setup();
    expect(exchange.enableRateLimit).toBe(false);
    await exchange.publicGetMarketOrderbookLevel1({ symbol: 'BTC-USDT' });
    await exchange.publicGetMarketOrderbookLevel220({ symbol: 'BTC-USDT' });
    const placed = (await exchange.privatePostHfOrders(orderParams('o-1'))) as { data: { orderId: string } };
    await exchange.privateDeleteHfOrdersOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' });
    await withPriority('low', () => exchange.publicGetMarketOrderbookLevel1({ symbol: 'BTC-USDT' }));
    expect(admitted).toEqual(['normal Public:2', 'normal Public:2', 'high Spot:1', 'critical Spot:1', 'low Public:2']);
    expect(sim.stats().arrivals.map((a) => a.outcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']); // signatures accepted
  });

  it('fetchBalance works: its first call, GET /api/ua/v1/account/mode, is a known UnifiedAccount endpoint the simulator answers', async () => {
    const { exchange, scheduler, sim } = await setup();
    const unknown: string[] = [];
    scheduler.on('unknownEndpoint', (e) => unknown.push(e.endpoint));
    const pools: string[] = [];
    scheduler.on('admitted', (e) => pools.push(`${e.pool}:${e.weight}`));
    const balance = (await exchange.fetchBalance()) as unknown as { total: Record<string, number> };
    expect(balance.total).toEqual({ USDT: 1000, BTC: 0.5 });
    expect(unknown).toEqual([]);
    expect(pools[0]).toBe('UnifiedAccount:30');
    const arrivals = sim.stats().arrivals;
    expect(arrivals[0]).toMatchObject({ method: 'GET', endpoint: '/api/ua/v1/account/mode', outcome: 'ok' });
    expect(arrivals.every((a) => a.outcome === 'ok')).toBe(true);
  });

  it('kucoinfutures: requests go to the Futures pool by host', async () => {
    sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'ccxt-uid' }] });
    const scheduler = createScheduler({ uid: 'ccxt-uid', store: new MemoryStore(), jitterMs: 0 });
    const admitted: string[] = [];
    scheduler.on('admitted', (e) => admitted.push(`${e.priority} ${e.pool}:${e.weight}`));
    const futures = withCcxtScheduler(ccxtAt('kucoinfutures', sim.urls) as never, { scheduler, baseUrls: sim.urls }) as InstanceType<typeof ccxt.kucoinfutures>;
    await futures.futuresPrivateGetPositions();
    await futures.futuresPrivatePostOrders({ symbol: 'XBTUSDTM', side: 'buy', type: 'limit', price: '1', size: 1, leverage: 1, clientOid: 'f-1' });
    expect(admitted).toEqual(['normal Futures:2', 'high Futures:2']);
  });

  it('a 1015 with its Retry-After pauses the IP for that long (not 30 s) and the refused cancel is re-sent before ccxt sees an error', async () => {
    const { exchange, scheduler, feedback, sim } = await setup({ cloudflare: { limit: 3, windowMs: 10_000, blockMs: 1_000 } });
    const placed = (await exchange.privatePostHfOrders(orderParams('o-2'))) as { data: { orderId: string } };
    await exchange.publicGetMarketOrderbookLevel1({ symbol: 'BTC-USDT' });
    await exchange.publicGetMarketOrderbookLevel1({ symbol: 'BTC-USDT' });
    let ipPause = 0;
    scheduler.on('feedback', (e) => (ipPause = e.pausedUntil - Date.now()));
    const started = Date.now();
    const cancelled = await exchange.privateDeleteHfOrdersOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' }).then(
      () => 'ok',
      (e: Error) => `${e.constructor.name}: ${e.message}`,
    );
    const tookMs = Date.now() - started;
    const outcomes = sim.stats().arrivals.map((a) => `${a.method} ${a.outcome}`);
    console.log(`ccxt under a 1015 (Retry-After 1 s): cancel ${cancelled} after ${tookMs} ms; IP paused ${ipPause} ms; gateway ${JSON.stringify(outcomes)}`);
    expect(cancelled).toBe('ok');
    expect(feedback).toEqual(['1015']);
    expect(ipPause).toBeGreaterThan(500);
    expect(ipPause).toBeLessThanOrEqual(1_100);
    expect(outcomes.slice(-2)).toEqual(['DELETE 1015', 'DELETE ok']);
  });

  it('429000 pauses the pool until the reset, 200002 the endpoint; both refusals are re-sent and ccxt sees success; headers of every reply are learned', async () => {
    const { exchange, scheduler, feedback, sim } = await setup(
      {
        pools: { Spot: { limit: 50, windowMs: 1_000 } },
        cloudflare: false,
        endpointLimits: { 'spot POST /api/v1/hf/orders': { limit: 1, windowMs: 400 } },
        endpointBlockMs: 400,
      },
      { pools: { spot: { limit: 40, windowMs: 1_000 } }, transitMarginMs: 20, cloudflare: false, feedback: { endpointPauseMs: 400 } },
    );
    await exchange.privateGetHfOrdersActive({ symbol: 'BTC-USDT' });
    await exchange.privateGetHfOrdersActive({ symbol: 'BTC-USDT' });
    const spot = async () => (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:ccxt-uid:Spot')!;
    expect((await spot()).limit).toBe(50); // learned from the replies' headers, confirmed by the second
    sim.exhaust('ccxt-uid', 'Spot');
    const first = await exchange.privatePostHfOrders(orderParams('o-3')).then(
      () => 'ok',
      (e: Error) => e.constructor.name,
    );
    const second = await exchange.privatePostHfOrders(orderParams('o-4')).then(
      () => 'ok',
      (e: Error) => e.constructor.name,
    );
    const outcomes = sim
      .stats()
      .arrivals.filter((a) => a.method === 'POST')
      .map((a) => a.outcome);
    console.log(`ccxt orders: ${first}, ${second}; gateway POST ${JSON.stringify(outcomes)}; feedback ${JSON.stringify(feedback)}`);
    expect([first, second]).toEqual(['ok', 'ok']);
    expect(outcomes).toEqual(['429000', 'ok', '200002', 'ok']);
    expect(feedback).toEqual(['429000', '200002']);
  });

  it('refuses what it cannot schedule with a typed error', () => {
    const scheduler = createScheduler({ uid: 'x', store: new MemoryStore() });
    expect(() => withCcxtScheduler(new ccxt.binance() as never, { scheduler })).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }));
    expect(() => withCcxtScheduler({} as never, { scheduler })).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }));
    expect(() => withPriority('urgent' as never, () => 1)).toThrow(expect.objectContaining({ code: 'KS_INVALID_PRIORITY' }));
  });
});
