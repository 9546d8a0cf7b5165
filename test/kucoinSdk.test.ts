// kucoin-universal-sdk (the real npm package) pointed at the simulator, scheduled through withKucoinScheduler.
import { ClientOptionBuilder, DefaultClient, Spot, TransportOptionBuilder } from 'kucoin-universal-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, MemoryStore, withKucoinScheduler, type Scheduler } from '../src/index.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';

const KEY = { key: 'sdk-key', secret: 'sdk-secret', passphrase: 'sdk-pass' };
let sim: GatewaySimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(vipLevel = 0) {
  sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'sdk-uid', vipLevel }] });
  const scheduler = createScheduler({ uid: 'sdk-uid', store: new MemoryStore(), jitterMs: 0 });
  const admitted: string[] = [];
  scheduler.on('admitted', (e) => admitted.push(`${e.priority} ${e.pool}:${e.weight}`));
  const transport = withKucoinScheduler(new TransportOptionBuilder().setKeepAlive(true).setMaxRetries(1).setRetryDelay(10), { scheduler, baseUrls: sim.urls, credentials: KEY }).build();
  const option = new ClientOptionBuilder()
    .setKey(KEY.key)
    .setSecret(KEY.secret)
    .setPassphrase(KEY.passphrase)
    .setSpotEndpoint(sim.urls.spot)
    .setFuturesEndpoint(sim.urls.futures)
    .setBrokerEndpoint(sim.urls.broker)
    .setTransportOption(transport)
    .build();
  const rest = new DefaultClient(option).restService();
  return { sim, scheduler, admitted, orders: rest.getSpotService().getOrderApi(), market: rest.getSpotService().getMarketApi() };
}

const order = (clientOid?: string) => {
  const R = Spot.Order.AddOrderReq;
  const b = R.builder().setSymbol('BTC-USDT').setSide(R.SideEnum.BUY).setType(R.TypeEnum.LIMIT).setPrice('1').setSize('1');
  return (clientOid ? b.setClientOid(clientOid) : b).build();
};
const spotOf = async (s: Scheduler) => (await s.snapshot()).buckets.find((b) => b.id === 'uid:sdk-uid:Spot')!;

describe('kucoin-universal-sdk with withKucoinScheduler', () => {
  it('schedules every SDK call with its pool and weight, and learns the VIP quota once a second reply confirms it', async () => {
    const { scheduler, admitted, orders, market, sim } = await setup(2);
    const ticker = await market.getTicker(Spot.Market.GetTickerReq.builder().setSymbol('BTC-USDT').build());
    expect(ticker.commonResponse?.rateLimit?.limit).toBe(2000);
    const placed = await orders.addOrder(order('sdk-1'));
    expect(placed.orderId).toMatch(/^sim-/);
    expect(admitted).toEqual(['normal Public:2', 'high Spot:1']);
    expect(await spotOf(scheduler)).toMatchObject({ limit: 4000 }); // a raise waits for a second reply
    await orders.addOrder(order('sdk-2'));
    expect(await spotOf(scheduler)).toMatchObject({ limit: 8000 }); // VIP2, configured as VIP0
    expect(sim.stats().outcomes.ok).toBe(3); // signatures (key version 3) accepted
  });

  it('keeps each SDK client on its own scheduler (kucoin-universal-sdk shares one interceptor list between builders)', async () => {
    const a = await setup();
    const simA = sim!;
    await a.orders.addOrder(order('x1'));
    const b = await setup(); // a second account's client, made after the first
    await b.orders.addOrder(order('x2'));
    expect(a.admitted).toEqual(['high Spot:1']); // not charged for B's call
    expect(b.admitted).toEqual(['high Spot:1']);
    await simA.close();
  });

  it('a 429000 met through the SDK pauses the pool for every later call until the window resets', async () => {
    const { scheduler, orders, sim } = await setup();
    await orders.addOrder(order('a'));
    sim.exhaust('sdk-uid', 'Spot');
    const err = await orders.addOrder(order('b')).catch((e) => e);
    expect(String(err?.getError?.()?.response?.data?.code ?? err)).toContain('429000');
    const spot = await spotOf(scheduler);
    expect(spot.pausedUntil).toBeGreaterThan(Date.now() + 25_000); // until the simulator's 30 s window resets
    expect(spot.factor).toBe(0.9);
  });

  it('refuses the SDK\'s own re-send of an order without clientOid after a 5xx; with a clientOid the exchange dedups it', async () => {
    const { orders, sim } = await setup();
    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const err = await orders.addOrder(order()).catch((e) => e);
    expect(String(err?.getError?.()?.message ?? err)).toMatch(/refused to send a non-idempotent request again/);
    const posts = () => sim.stats().arrivals.filter((a) => a.method === 'POST').map((a) => a.outcome);
    expect(posts()).toEqual(['http-503']); // executed once, never sent twice

    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const dup = await orders.addOrder(order('oid-1')).catch((e) => e);
    expect(posts()).toEqual(['http-503', 'http-503', '126044']);
    expect(String(dup?.getCommonResponse?.()?.code ?? dup)).toContain('126044');
  });
});
