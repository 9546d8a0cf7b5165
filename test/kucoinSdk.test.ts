// kucoin-universal-sdk (the real npm package) pointed at the simulator, scheduled through withKucoinScheduler.
import { ClientOptionBuilder, DefaultClient, Spot, TransportOptionBuilder } from 'kucoin-universal-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, MemoryStore, withKucoinScheduler, type Scheduler, type SchedulerOptions } from '../src/index.js';
import { withPriority } from '../src/integrations/callPriority.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';

const KEY = { key: 'sdk-key', secret: 'sdk-secret', passphrase: 'sdk-pass' };
let sim: GatewaySimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(vipLevel = 0, simOptions: GatewaySimulatorOptions = {}, schedulerOptions: Partial<SchedulerOptions> = {}, scheduled = true) {
  sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'sdk-uid', vipLevel }], ...simOptions });
  const scheduler = createScheduler({ uid: 'sdk-uid', store: new MemoryStore(), jitterMs: 0, ...schedulerOptions });
  const admitted: string[] = [];
  const feedback: string[] = [];
  scheduler.on('admitted', (e) => admitted.push(`${e.priority} ${e.pool}:${e.weight}`));
  scheduler.on('feedback', (e) => feedback.push(e.signal));
  const builder = new TransportOptionBuilder().setKeepAlive(true).setMaxRetries(1).setRetryDelay(10);
  const transport = (scheduled ? withKucoinScheduler(builder, { scheduler, baseUrls: sim.urls, credentials: KEY }) : builder.setInterceptors([])).build();
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
  return { sim, scheduler, admitted, feedback, orders: rest.getSpotService().getOrderApi(), market: rest.getSpotService().getMarketApi() };
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

  it('a 429000 met through the SDK pauses the pool for every later call until the window resets; the refused order waits to be re-sent', async () => {
    const { scheduler, orders, sim, feedback } = await setup(0, {}, { maxWaitMs: 300 });
    await orders.addOrder(order('a'));
    sim.exhaust('sdk-uid', 'Spot');
    const err = await orders.addOrder(order('b')).catch((e) => e);
    expect(err?.getError?.()?.code).toBe('KS_MAX_WAIT_EXCEEDED'); // re-sent only after the pause: past its 300 ms deadline
    expect(feedback).toEqual(['429000']);
    const spot = await spotOf(scheduler);
    expect(spot.pausedUntil).toBeGreaterThan(Date.now() + 25_000); // until the simulator's 30 s window resets
    expect(spot.factor).toBe(0.9);
    expect(
      sim
        .stats()
        .arrivals.filter((a) => a.method === 'POST')
        .map((a) => a.outcome),
    ).toEqual(['ok', '429000']);
  });

  it('never re-sends an order without clientOid after a 5xx (it may have run); with a clientOid it is re-sent and the exchange dedups it', async () => {
    const { orders, sim } = await setup();
    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const err = await orders.addOrder(order()).catch((e) => e);
    expect(String(err?.getError?.()?.message ?? err)).toMatch(/503/);
    const posts = () =>
      sim
        .stats()
        .arrivals.filter((a) => a.method === 'POST')
        .map((a) => a.outcome);
    expect(posts()).toEqual(['http-503']); // executed once, never sent twice

    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const dup = await orders.addOrder(order('oid-1')).catch((e) => e);
    expect(posts()).toEqual(['http-503', 'http-503', '126044']);
    expect(String(dup?.getCommonResponse?.()?.code ?? dup)).toContain('126044');
  });

  const cancel = (orderId: string) => Spot.Order.CancelOrderByOrderIdReq.builder().setOrderId(orderId).setSymbol('BTC-USDT').build();
  const ticker = () => Spot.Market.GetTickerReq.builder().setSymbol('BTC-USDT').build();

  it('issue 10, 1-2: under a Cloudflare block a cancel (DELETE) and a read (GET) are fed back (the IP pauses) and re-sent, never failed', async () => {
    const { orders, market, sim, feedback } = await setup(0, { cloudflare: { limit: 3, windowMs: 10_000, blockMs: 1_000 } });
    const placed = await orders.addOrder(order('c-1'));
    await market.getTicker(ticker());
    await market.getTicker(ticker()); // the third request: Cloudflare's window is full
    const [cancelled, read] = await Promise.all([
      orders.cancelOrderByOrderId(cancel(placed.orderId)).then(
        () => 'ok',
        (e) => String(e?.getError?.()?.message ?? e),
      ),
      market.getTicker(ticker()).then(
        () => 'ok',
        (e) => String(e?.getError?.()?.message ?? e),
      ),
    ]);
    const outcomes = sim.stats().arrivals.map((a) => `${a.method} ${a.outcome}`);
    console.log(
      `SDK under a 1015 block: cancel ${cancelled}, read ${read}; feedback events ${JSON.stringify(feedback)}; gateway saw ${JSON.stringify(outcomes)}`,
    );
    expect(cancelled).toBe('ok');
    expect(read).toBe('ok');
    expect(feedback.filter((s) => s === '1015').length).toBeGreaterThanOrEqual(1); // the scheduler saw the refusal
    expect(outcomes.filter((o) => o.endsWith('1015')).length).toBeLessThanOrEqual(2); // paused, not hammered
  });

  it('issue 10, 1: a cancel refused by 429000 and by 200002 is re-sent after the pause and succeeds', async () => {
    const { orders, sim, feedback } = await setup(
      0,
      {
        pools: { Spot: { limit: 50, windowMs: 1_000 } },
        cloudflare: false,
        endpointLimits: { 'spot DELETE /api/v1/hf/orders/{orderId}': { limit: 1, windowMs: 400 } },
        endpointBlockMs: 400,
      },
      { pools: { spot: { limit: 50, windowMs: 1_000 } }, transitMarginMs: 20, cloudflare: false, feedback: { endpointPauseMs: 400 } },
    );
    const placed = await orders.addOrder(order('c-2'));
    sim.exhaust('sdk-uid', 'Spot');
    const first = await orders.cancelOrderByOrderId(cancel(placed.orderId)).then(
      () => 'ok',
      (e) => String(e?.getError?.()?.message ?? e),
    );
    const second = await orders.cancelOrderByOrderId(cancel(placed.orderId)).then(
      () => 'ok',
      (e) => String(e?.getError?.()?.message ?? e),
    ); // 200002: one per 400 ms
    const outcomes = sim
      .stats()
      .arrivals.filter((a) => a.method === 'DELETE')
      .map((a) => a.outcome);
    console.log(`SDK cancels: first ${first}, second ${second}; gateway saw DELETE ${JSON.stringify(outcomes)}; feedback ${JSON.stringify(feedback)}`);
    expect([first, second]).toEqual(['ok', 'ok']);
    expect(outcomes).toContain('429000');
    expect(outcomes).toContain('200002');
    expect(feedback).toEqual(expect.arrayContaining(['429000', '200002']));
  });

  it("issue 10, 3: wrap reads the SDK's 200002 (`msg`): the call is re-sent after the endpoint pause instead of failing", async () => {
    const { scheduler, orders, sim, feedback } = await setup(
      0,
      { cloudflare: false, endpointLimits: { 'spot POST /api/v1/hf/orders': { limit: 1, windowMs: 400 } }, endpointBlockMs: 400 },
      { cloudflare: false, feedback: { endpointPauseMs: 400 } },
      false, // the bare SDK: only wrap schedules it
    );
    const addOrder = scheduler.wrap((oid: string) => orders.addOrder(order(oid)), { endpoint: 'POST /api/v1/hf/orders', priority: 'high' });
    await addOrder('w-1');
    const second = await addOrder('w-2').then(
      (r) => `ok ${r.clientOid}`,
      (e) => String(e?.getCommonResponse?.()?.code ?? e),
    );
    const outcomes = sim.stats().arrivals.map((a) => a.outcome);
    console.log(`wrap + bare SDK, 200002: second order ${second}; gateway saw ${JSON.stringify(outcomes)}; feedback ${JSON.stringify(feedback)}`);
    expect(second).toBe('ok w-2');
    expect(feedback).toContain('200002');
  });

  it('withPriority sets the priority of one SDK call; the rule gives cancels critical', async () => {
    const { orders, market, admitted } = await setup();
    await withPriority('low', () => market.getTicker(ticker()));
    const placed = await orders.addOrder(order('p-1'));
    await orders.cancelOrderByOrderId(cancel(placed.orderId));
    expect(admitted).toEqual(['low Public:2', 'high Spot:1', 'critical Spot:1']);
  });

  it('issue 10, 4: GET /api/v1/market/orderbook/level2_20 through the SDK is the Public pool at weight 2', async () => {
    const { market, admitted, sim } = await setup();
    const book = await market.getPartOrderBook(Spot.Market.GetPartOrderBookReq.builder().setSymbol('BTC-USDT').setSize('20').build());
    expect(book.commonResponse?.code).toBe('200000');
    expect(admitted).toEqual(['normal Public:2']);
    expect(sim.stats().arrivals.map((a) => `${a.pool}:${a.weight} ${a.outcome}`)).toEqual(['Public:2 ok']);
  });
});
