// kucoin-universal-sdk (the real npm package) with its WebSockets on the fleet's budgets: withKucoinScheduler
// for its REST calls (tokens included), withKucoinWebSockets for its push services, against the simulators.
import { ClientOptionBuilder, DefaultClient, TransportOptionBuilder, WebSocketClientOptionBuilder } from 'kucoin-universal-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createScheduler,
  MemoryStore,
  withKucoinScheduler,
  withKucoinWebSockets,
  WsMemoryStore,
  WsTopicError,
  type KucoinSdkWebSocketOptions,
} from '../src/index.js';
import { startGatewaySimulator, startWsSimulator, type GatewaySimulator, type WsSimulator, type WsSimulatorOptions } from '../src/simulator/index.js';

const KEY = { key: 'sdkws-key', secret: 'sdkws-secret', passphrase: 'sdkws-pass' };
let gateway: GatewaySimulator | undefined;
let ws: WsSimulator | undefined;
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await gateway?.close();
  await ws?.close();
  gateway = ws = undefined;
});

async function setup(simOptions: WsSimulatorOptions = {}, wsOptions: KucoinSdkWebSocketOptions = {}) {
  ws = await startWsSimulator(simOptions);
  gateway = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'sdkws' }], websocket: ws });
  const scheduler = createScheduler({ uid: 'sdkws', store: new MemoryStore(), jitterMs: 0 });
  const admitted: string[] = [];
  scheduler.on('admitted', (e) => admitted.push(`${e.pool}:${e.weight}`));
  const transport = withKucoinScheduler(new TransportOptionBuilder().setKeepAlive(true), { scheduler, baseUrls: gateway.urls, credentials: KEY }).build();
  const option = new ClientOptionBuilder()
    .setKey(KEY.key)
    .setSecret(KEY.secret)
    .setPassphrase(KEY.passphrase)
    .setSpotEndpoint(gateway.urls.spot)
    .setFuturesEndpoint(gateway.urls.futures)
    .setBrokerEndpoint(gateway.urls.broker)
    .setTransportOption(transport)
    .build();
  const store = new WsMemoryStore();
  const client = withKucoinWebSockets(new DefaultClient(option), { uid: 'sdkws', store, reconnect: { baseMs: 20, maxMs: 100 }, ...wsOptions });
  stops.push(() => scheduler.close());
  return { ws, gateway, scheduler, client, admitted, store, option };
}

describe('kucoin-universal-sdk WebSockets with withKucoinWebSockets', () => {
  it("the SDK's own API: ticker on spot public, orders on spot private; tokens through the scheduler; pushes reach the SDK's callbacks typed", async () => {
    const { ws, gateway, client, admitted } = await setup();
    const spot = client.wsService().newSpotPublicWS();
    stops.push(() => spot.stop());
    await spot.start();
    const prices: string[] = [];
    const id = await spot.ticker(['BTC-USDT', 'ETH-USDT'], (topic, subject, data) => prices.push(`${topic} ${subject} ${data.price}`));
    expect(id).toBe('/market/ticker@@BTC-USDT,ETH-USDT');
    ws.publish('/market/ticker:ETH-USDT', { price: '3000', sequence: '1' });
    await expect.poll(() => prices).toEqual(['/market/ticker:ETH-USDT trade.ticker 3000']);

    const priv = client.wsService().newSpotPrivateWS();
    stops.push(() => priv.stop());
    await priv.start();
    const orders: string[] = [];
    await priv.orderV2((_topic, _subject, data) => orders.push(data.orderId));
    ws.publish('/spotMarket/tradeOrdersV2', { orderId: 'o-1', symbol: 'BTC-USDT' });
    await expect.poll(() => orders).toEqual(['o-1']);

    // one token per service (weight 10 each, Public pool then Spot pool), through the SDK's REST client and the scheduler
    expect(admitted).toEqual(['Public:10', 'Spot:10']);
    expect(gateway.stats().arrivals.map((a) => a.endpoint)).toEqual(['/api/v1/bullet-public', '/api/v1/bullet-private']);
    expect(ws.stats()).toMatchObject({ count509: 0, maxSessions: { 'ip:127.0.0.1': 1, 'uid:sdkws': 1 } });

    await spot.unSubscribe(id);
    await expect.poll(() => ws.publish('/market/ticker:ETH-USDT', { price: '1' })).toBe(0);
    await spot.stop();
    await priv.stop();
    await expect.poll(() => ws.stats().sessionsNow).toEqual({ 'ip:127.0.0.1': 0, 'uid:sdkws': 0 });
  });

  it('150 symbols in one SDK call: messages of at most 100 topics, 0 x 509; the plain SDK sends them in one message and gets a 509', async () => {
    const symbols = Array.from({ length: 150 }, (_, i) => `S${i}-USDT`);
    const { ws, client, option } = await setup();
    const spot = client.wsService().newSpotPublicWS();
    stops.push(() => spot.stop());
    await spot.start();
    await spot.ticker(symbols, () => undefined);
    expect(ws.stats()).toMatchObject({ count509: 0, topicsAcked: 150, maxTopicsPerMessage: 100 });
    await spot.stop();

    // the SDK as it comes (its WebSocket client needs its options set)
    const plainOption = { ...option, webSocketClientOption: new WebSocketClientOptionBuilder().withReconnect(false).build() };
    const plain = new DefaultClient(plainOption).wsService().newSpotPublicWS();
    stops.push(() => plain.stop());
    await plain.start();
    // the server refuses the message (509 per time), and the SDK resolves the call anyway: its write() swallows
    // every error but a timeout, so the bot believes it holds 150 topics it does not
    const id = await plain.ticker(symbols, () => undefined);
    expect(id).toMatch(/^\/market\/ticker@@/);
    expect(ws.stats().count509ByKind.perTime).toBe(1);
    expect(ws.publish('/market/ticker:S0-USDT', 1)).toBe(0);
  });

  it('a refused symbol rejects the SDK call with WsTopicError; the symbols served meanwhile are unsubscribed', async () => {
    const { ws, client } = await setup({ symbols: ['BTC-USDT'] });
    const spot = client.wsService().newSpotPublicWS();
    stops.push(() => spot.stop());
    await spot.start();
    const err = await spot.ticker(['BTC-USDT', 'NOPE-USDT'], () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsTopicError);
    expect(err).toMatchObject({ code: 'KS_WS_TOPIC_REFUSED', kucoinCode: 404, topic: '/market/ticker:NOPE-USDT' });
    await expect.poll(() => ws.publish('/market/ticker:BTC-USDT', 1)).toBe(0);
    // not left subscribed: the same call may be made again
    const ok = await spot.ticker(['BTC-USDT'], () => undefined);
    expect(ok).toBe('/market/ticker@@BTC-USDT');
    await expect(spot.ticker(['BTC-USDT'], () => undefined)).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
  });

  it('a server restart: reconnects inside the budgets and subscribes again, paced; the callbacks keep getting pushes', async () => {
    const { ws, client } = await setup(
      { uplink: { limit: 3, windowMs: 500 } },
      { uplink: { limit: 3, windowMs: 500, marginMs: 50, reservedForPing: 1 }, topicsPerMessage: 5 },
    );
    const spot = client.wsService().newSpotPublicWS();
    stops.push(() => spot.stop());
    await spot.start();
    const seen: string[] = [];
    await spot.ticker(
      Array.from({ length: 20 }, (_, i) => `R${i}-USDT`),
      (topic) => seen.push(topic),
    );
    ws.publish('/market/ticker:R0-USDT', { price: '1' });
    await expect.poll(() => seen).toEqual(['/market/ticker:R0-USDT']);
    ws.dropAll();
    // the last batch of the re-subscription (paced: 2 commands per 550 ms) carries R19
    await expect
      .poll(
        () => {
          ws.publish('/market/ticker:R19-USDT', { price: '2' });
          return seen.includes('/market/ticker:R19-USDT');
        },
        { timeout: 5_000 },
      )
      .toBe(true);
    expect(ws.stats()).toMatchObject({ count509: 0, maxUplinkPerWindow: 2, maxTopicsPerMessage: 5 });
  });
});
