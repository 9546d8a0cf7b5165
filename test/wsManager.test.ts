import { afterEach, describe, expect, it } from 'vitest';
import {
  createScheduler,
  createWsManager,
  KucoinClient,
  MemoryStore,
  createRedisStore,
  WsRedisStore,
  parseBullet,
  WsCapacityError,
  WsClosedError,
  WsConnectError,
  WsMemoryStore,
  WsProtocolError,
  WsTopicError,
  type WsManager,
  type WsManagerEvents,
  type WsManagerOptions,
  type WsPush,
} from '../src/index.js';
import { startGatewaySimulator, startWsSimulator, type GatewaySimulator, type WsSimulator, type WsSimulatorOptions } from '../src/simulator/index.js';
import { testRedis } from './helpers/redisClient.js';

const CREDS = { key: 'ws-key', secret: 'ws-secret-value', passphrase: 'ws-pass-value', keyVersion: '2' as const };

let gateway: GatewaySimulator | undefined;
let ws: WsSimulator | undefined;
let client: KucoinClient | undefined;
let manager: WsManager | undefined;
afterEach(async () => {
  await manager?.close();
  await client?.close();
  await gateway?.close();
  await ws?.close();
  manager = client = gateway = ws = undefined;
});

async function setup(wsOptions: WsSimulatorOptions = {}, managerOptions: Partial<WsManagerOptions> = {}) {
  ws = await startWsSimulator(wsOptions);
  gateway = await startGatewaySimulator({ accounts: [{ key: CREDS.key, secret: CREDS.secret, passphrase: CREDS.passphrase, uid: 'u1' }], websocket: ws });
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
  client = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: gateway.urls });
  const store = new WsMemoryStore();
  manager = createWsManager({ client, kind: 'private', uid: 'u1', store, reconnect: { baseMs: 20, maxMs: 200 }, ...managerOptions });
  const events: { [K in keyof WsManagerEvents]?: WsManagerEvents[K][] } = {};
  for (const name of ['connected', 'disconnected', 'serverError', 'learned', 'waiting', 'topicEnded', 'tokenError'] as const) {
    manager.on(name, (e) => ((events[name] ??= [] as never[]) as unknown[]).push(e));
  }
  return { ws, gateway, scheduler, client, manager, store, events };
}

const tickers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `/market/ticker:C${from + i}-USDT`);

describe('WsManager against the simulator', () => {
  it('fetches the token through the scheduler (weight charged), connects after welcome, subscribes and routes pushes', async () => {
    const { ws, gateway, scheduler, manager } = await setup();
    const pushes: WsPush[] = [];
    const sub = await manager.subscribe('/market/ticker:BTC-USDT', { onMessage: (p) => pushes.push(p) });
    expect(sub.topic).toBe('/market/ticker:BTC-USDT');
    expect(ws.publish('/market/ticker:BTC-USDT', { price: '1' })).toBe(1);
    await expect.poll(() => pushes.length).toBe(1);
    expect(pushes[0]).toMatchObject({ topic: '/market/ticker:BTC-USDT', data: { price: '1' } });
    // bullet-private: weight 10 in the Spot pool, charged by the scheduler and seen by the gateway
    const spot = (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
    expect(spot.used).toBe(10);
    expect(gateway.stats().arrivals.filter((a) => a.endpoint === '/api/v1/bullet-private' && a.outcome === 'ok')).toHaveLength(1);
    expect(ws.stats()).toMatchObject({ tokensIssued: 1, maxSessions: { 'uid:u1': 1 }, count509: 0 });
    await sub.unsubscribe();
    await expect(sub.ended).resolves.toBeUndefined();
  });

  it('shards topics: at most topicsPerMessage per subscribe and topicsPerSession per connection', async () => {
    const { ws, manager } = await setup({ topicsPerMessage: 4, topicsPerSession: 10 }, { topicsPerMessage: 4, topicsPerSession: 10 });
    const subs = await Promise.all(tickers(25).map((t) => manager.subscribe(t)));
    expect(subs).toHaveLength(25);
    const s = ws.stats();
    expect(s).toMatchObject({ maxTopicsPerMessage: 4, maxTopicsPerSession: 10, topicsAcked: 25, count509: 0, maxSessions: { 'uid:u1': 3 } });
    expect(s.subscribeMessages).toBe(8); // 10 + 10 + 5 topics in messages of <= 4
    expect(
      manager
        .snapshot()
        .connections.map((c) => c.subscribed)
        .sort(),
    ).toEqual([10, 10, 5]);
  });

  it('waits for a session slot and refuses with WsCapacityError when none frees in time; 0 x 509', async () => {
    const { ws, manager, events } = await setup({ sessionLimit: 2 }, { sessionLimit: 2, topicsPerSession: 2 });
    const results = await Promise.allSettled(tickers(5).map((t) => manager.subscribe(t, { maxWaitMs: 300 })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(WsCapacityError);
    expect(refused.reason).toMatchObject({ code: 'KS_WS_NO_CAPACITY', reason: 'sessions', maxWaitMs: 300 });
    expect(events.waiting!.some((w) => w.reason === 'sessions')).toBe(true);
    expect(ws.stats()).toMatchObject({ maxSessions: { 'uid:u1': 2 }, count509: 0 });
  });

  it('a connection left without topics closes after idleCloseMs and its slot goes to a waiting topic', async () => {
    const { ws, manager } = await setup({ sessionLimit: 1 }, { sessionLimit: 1, topicsPerSession: 1, idleCloseMs: 50 });
    const first = await manager.subscribe('/market/ticker:BTC-USDT');
    const second = manager.subscribe('/market/ticker:ETH-USDT', { maxWaitMs: 5_000 });
    await new Promise((r) => setTimeout(r, 100));
    await first.unsubscribe();
    await expect(second).resolves.toMatchObject({ topic: '/market/ticker:ETH-USDT' });
    expect(ws.stats()).toMatchObject({ maxSessions: { 'uid:u1': 1 }, count509: 0 });
  });

  it('keeps connects inside the budget across reconnects (server restarts)', async () => {
    const { ws, manager } = await setup(
      { connects: { limit: 3, windowMs: 1000 } },
      { connects: { limit: 3, windowMs: 1000, marginMs: 50 }, reconnect: { baseMs: 1, maxMs: 5, jitter: 0 } },
    );
    await manager.subscribe('/market/ticker:BTC-USDT');
    for (let i = 0; i < 4; i++) {
      ws.dropAll();
      await new Promise((r) => setTimeout(r, 30));
    }
    await expect.poll(() => ws.stats().sessionsNow['uid:u1'], { timeout: 5_000 }).toBe(1);
    const s = ws.stats();
    expect(s.connects.filter((c) => c.outcome === 'welcome').length).toBeGreaterThanOrEqual(3);
    expect(s.maxConnectsPerWindow['uid:u1']).toBeLessThanOrEqual(3);
    expect(s.count509).toBe(0);
  });

  it('401: drops the token, fetches a new one through the scheduler, reconnects and resubscribes', async () => {
    const { ws, manager, events } = await setup();
    const pushes: WsPush[] = [];
    await manager.subscribe('/market/ticker:BTC-USDT', { onMessage: (p) => pushes.push(p) });
    ws.revokeTokens();
    ws.dropAll();
    await expect.poll(() => events.connected?.length ?? 0, { timeout: 5_000 }).toBe(2);
    expect(events.serverError!.map((e) => [e.code, e.reaction])).toContainEqual([401, 'new-token']);
    expect(ws.stats().tokensIssued).toBe(2);
    await expect.poll(() => ws.publish('/market/ticker:BTC-USDT', 1)).toBe(1);
    await expect.poll(() => pushes.length).toBeGreaterThan(0);
  });

  it('509 session count: learns the server limit, pauses new connects for the fleet, waits for a slot', async () => {
    const { ws, manager, events, store } = await setup(
      { sessionLimit: 1 },
      { sessionLimit: 3, topicsPerSession: 1, sessionRefusal: { pauseMs: 200 }, learnForMs: 60_000 },
    );
    const results = await Promise.allSettled(tickers(3).map((t) => manager.subscribe(t, { maxWaitMs: 600 })));
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(events.learned).toContainEqual({ what: 'sessionLimit', value: 1 });
    expect(ws.stats().maxSessions['uid:u1']).toBe(1);
    // both extra connections may have dialed before the first refusal was learned; none after
    expect(ws.stats().errors['509 exceed max session count limitation of 1']).toBeLessThanOrEqual(2);
    expect((await store.inspect({ subject: 'uid:u1', sessionLimit: 3, leaseMs: 30_000, connectLimit: 30, connectSpanMs: 62_000 })).sessionLimit).toBe(1);
  });

  it('509 service busy (and 420001, 501000): a shared, growing pause, then connects', async () => {
    const { ws, manager, events, store } = await setup({}, { busyBackoff: { baseMs: 50, maxMs: 400, jitter: 0 } });
    ws.failNextConnects(2);
    ws.failNextConnects(1, 420001, 'Too many errors, disconnected. Please try again later.');
    ws.failNextConnects(1, 501000, 'The service has stopped running. Please disconnect: exiting');
    const started = Date.now();
    await manager.subscribe('/market/ticker:BTC-USDT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(50 + 100 + 200 + 400);
    expect(events.serverError!.map((e) => `${e.code} ${e.reaction}`)).toEqual([
      '509 reconnect-later',
      '509 reconnect-later',
      '420001 reconnect-later',
      '501000 reconnect-later',
    ]);
    const state = await store.inspect({ subject: 'uid:u1', sessionLimit: 50, leaseMs: 30_000, connectLimit: 30, connectSpanMs: 62_000 });
    expect(state.backoffLevel).toBe(4);
  });

  it('509 per time and per session: learns both limits, splits and rehomes, every topic served', async () => {
    const { ws, manager, events } = await setup({ topicsPerMessage: 3, topicsPerSession: 4 }, { topicsPerMessage: 10, topicsPerSession: 10 });
    const subs = await Promise.all(tickers(9).map((t) => manager.subscribe(t)));
    expect(subs).toHaveLength(9);
    expect(events.learned).toEqual(
      expect.arrayContaining([
        { what: 'topicsPerMessage', value: expect.any(Number) },
        { what: 'topicsPerSession', value: expect.any(Number) },
      ]),
    );
    const snap = manager.snapshot();
    expect(snap.topicsPerMessage).toBeLessThanOrEqual(3);
    expect(snap.topicsPerSession).toBeLessThanOrEqual(4);
    expect(ws.stats().maxTopicsPerSession).toBeLessThanOrEqual(4);
  });

  it('509 exceed max permits: slows the uplink down; a paced manager never gets it', async () => {
    const over = await setup({ uplink: { limit: 3, windowMs: 500 } }, { topicsPerMessage: 1, uplink: { limit: 10, windowMs: 500, reservedForPing: 1 } });
    await Promise.all(tickers(6).map((t) => over.manager.subscribe(t)));
    expect(over.events.serverError!.some((e) => e.reaction === 'slow-down')).toBe(true);
    await manager!.close();
    await client!.close();
    await gateway!.close();
    await ws!.close();

    const paced = await setup(
      { uplink: { limit: 3, windowMs: 500 } },
      { topicsPerMessage: 1, uplink: { limit: 3, windowMs: 500, marginMs: 50, reservedForPing: 1 } },
    );
    const started = Date.now();
    await Promise.all(tickers(6).map((t) => paced.manager.subscribe(t)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // 2 commands per 550 ms
    expect(paced.ws.stats()).toMatchObject({ count509: 0, maxUplinkPerWindow: 2 });
  });

  it('re-subscription after a reconnect is paced: batches of topicsPerMessage inside the uplink budget', async () => {
    const { ws, manager, events } = await setup(
      { uplink: { limit: 3, windowMs: 500 } },
      { topicsPerMessage: 5, uplink: { limit: 3, windowMs: 500, marginMs: 50, reservedForPing: 1 } },
    );
    await Promise.all(tickers(30).map((t) => manager.subscribe(t)));
    expect(ws.stats().subscribeMessages).toBe(6);
    ws.dropAll();
    await expect.poll(() => ws.stats().subscribeMessages, { timeout: 5_000 }).toBe(12);
    await expect.poll(() => ws.publish('/market/ticker:C29-USDT', 1)).toBe(1);
    expect(events.connected).toHaveLength(2);
    expect(ws.stats()).toMatchObject({ count509: 0, maxUplinkPerWindow: 2, maxTopicsPerMessage: 5 });
  });

  it('400 / 403 / 404 refuse the topic with WsTopicError; a refused batch is split to find it, the rest is served', async () => {
    const { manager, ws } = await setup({ symbols: ['BTC-USDT', 'ETH-USDT'] });
    const [a, bad, b] = await Promise.allSettled(
      ['/market/ticker:BTC-USDT', '/market/ticker:NOPE-USDT', '/market/ticker:ETH-USDT'].map((t) => manager.subscribe(t)),
    );
    expect(a!.status).toBe('fulfilled');
    expect(b!.status).toBe('fulfilled');
    expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(WsTopicError);
    expect((bad as PromiseRejectedResult).reason).toMatchObject({ code: 'KS_WS_TOPIC_REFUSED', kucoinCode: 404, topic: '/market/ticker:NOPE-USDT' });
    await expect(manager.subscribe('/bad')).rejects.toMatchObject({ code: 'KS_WS_TOPIC_REFUSED', kucoinCode: 400 });
    expect(ws.stats().errors['404 topic does not exist']).toBe(2); // the batch, then the topic alone
  });

  it('public: the token comes from bullet-public (Public pool); a private channel is refused with 403', async () => {
    const { manager, scheduler, gateway } = await setup({}, { kind: 'public' });
    await manager.subscribe('/market/ticker:BTC-USDT');
    await expect(manager.subscribe('/spotMarket/tradeOrders', { privateChannel: true })).rejects.toMatchObject({
      code: 'KS_WS_TOPIC_REFUSED',
      kucoinCode: 403,
    });
    const pub = (await scheduler.snapshot()).buckets.find((b) => b.id.endsWith(':Public'))!;
    expect(pub.used).toBe(10);
    expect(gateway.stats().arrivals.filter((a) => a.endpoint === '/api/v1/bullet-public')).toHaveLength(1);
  });

  it('500 system error: the subscribe is sent again; 415: WsProtocolError', async () => {
    const { ws, manager } = await setup();
    ws.failNextCommands(2, 500, 'system error');
    await expect(manager.subscribe('/market/ticker:BTC-USDT')).resolves.toMatchObject({ topic: '/market/ticker:BTC-USDT' });
    ws.failNextCommands(1, 415, 'command type is invalid');
    const err = await manager.subscribe('/market/ticker:ETH-USDT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsProtocolError);
    expect(err).toMatchObject({ code: 'KS_WS_PROTOCOL', kucoinCode: 415 });
  });

  it('pong timeout: drops a half-dead connection, keeps its slot for the server hold, reconnects and resubscribes', async () => {
    // the shortest ping timing a token may set (WS_PING_BOUNDS): a ping after 1 s, its pong late after 1 s more
    const { ws, manager, events, store } = await setup({ pingIntervalMs: 1_000, pingTimeoutMs: 1_000 });
    await manager.subscribe('/market/ticker:BTC-USDT');
    ws.mutePongs(true);
    await expect.poll(() => events.disconnected?.length ?? 0, { timeout: 4_000 }).toBeGreaterThan(0);
    ws.mutePongs(false);
    expect(events.disconnected![0]).toMatchObject({ clean: false, reason: 'pong timeout' });
    // the old session's lease is held for pingInterval + pingTimeout while the new connection holds another
    const limits = { subject: 'uid:u1', sessionLimit: 50, leaseMs: 30_000, connectLimit: 30, connectSpanMs: 62_000 };
    await expect.poll(async () => (await store.inspect(limits)).sessions, { timeout: 1_000 }).toBe(2);
    await expect.poll(() => events.connected?.length ?? 0, { timeout: 3_000 }).toBe(2);
    await expect.poll(() => ws.publish('/market/ticker:BTC-USDT', 1), { timeout: 3_000 }).toBe(1);
    await expect.poll(async () => (await store.inspect(limits)).sessions, { timeout: 3_000 }).toBe(1);
  });

  it('400 ping timeout from the server: pings sooner, reconnects, and then stays up', async () => {
    const { ws, manager: unused } = await setup({ pingIntervalMs: 300, pingTimeoutMs: 100 });
    await unused.close();
    // a token that says 1000 ms while the server drops a connection silent for 400 ms
    const tokenSource = async () => ({ ...parseBullet(ws.issueToken({ kind: 'private', uid: 'u1', ip: 'x' }), Date.now()), pingIntervalMs: 1000 });
    manager = createWsManager({ tokenSource, kind: 'private', uid: 'u1', reconnect: { baseMs: 10, maxMs: 20 } });
    const reactions: string[] = [];
    manager.on('serverError', (e) => reactions.push(`${e.code} ${e.reaction}`));
    await manager.subscribe('/market/ticker:BTC-USDT');
    // 1000 ms x 0.75^4 = 316 ms < 400 ms: after four timeouts the pings come in time
    await expect.poll(() => reactions.length, { timeout: 5_000 }).toBe(4);
    expect(reactions).toEqual(Array(4).fill('400 ping-sooner'));
    await new Promise((r) => setTimeout(r, 1000));
    expect(reactions).toHaveLength(4);
    expect(ws.publish('/market/ticker:BTC-USDT', 1)).toBe(1);
  });

  it('gives up after reconnect.maxAttempts dials in a row without welcome: WsConnectError', async () => {
    const { ws, manager } = await setup({}, { reconnect: { baseMs: 5, maxMs: 10, maxAttempts: 3 }, busyBackoff: { baseMs: 5, maxMs: 10 } });
    ws.failNextConnects(5);
    const err = await manager.subscribe('/market/ticker:BTC-USDT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsConnectError);
    expect(err).toMatchObject({ code: 'KS_WS_CONNECT_FAILED', attempts: 3, kucoinCode: 509 });
    expect(ws.stats().connects).toHaveLength(3);
  });

  it('a served topic refused on resubscription ends: `ended` settles with the WsTopicError', async () => {
    const { ws, manager, events } = await setup();
    const sub = await manager.subscribe('/market/ticker:BTC-USDT');
    ws.failNextCommands(1, 404, 'topic does not exist');
    ws.dropAll();
    const error = await sub.ended;
    expect(error).toBeInstanceOf(WsTopicError);
    expect(error).toMatchObject({ kucoinCode: 404, topic: '/market/ticker:BTC-USDT' });
    expect(events.topicEnded).toEqual([{ topic: '/market/ticker:BTC-USDT', error }]);
  });

  it('close(): waiting topics reject with WsClosedError, served ones end, every slot is released', async () => {
    const { manager, store, ws } = await setup({ sessionLimit: 1 }, { sessionLimit: 1, topicsPerSession: 1 });
    const served = await manager.subscribe('/market/ticker:BTC-USDT');
    const waiting = manager.subscribe('/market/ticker:ETH-USDT').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await manager.close();
    expect(await waiting).toBeInstanceOf(WsClosedError);
    await expect(served.ended).resolves.toBeUndefined();
    expect((await store.inspect({ subject: 'uid:u1', sessionLimit: 1, leaseMs: 30_000, connectLimit: 30, connectSpanMs: 62_000 })).sessions).toBe(0);
    await expect.poll(() => ws.stats().sessionsNow['uid:u1']).toBe(0);
    await expect(manager.subscribe('/market/ticker:BTC-USDT')).rejects.toMatchObject({ code: 'KS_WS_CLOSED' });
  });

  it('README example: a scheduler and a WsManager on one Redis, against the simulators', async () => {
    ws = await startWsSimulator();
    gateway = await startGatewaySimulator({
      accounts: [{ key: CREDS.key, secret: CREDS.secret, passphrase: CREDS.passphrase, uid: '123456789' }],
      websocket: ws,
    });
    const { client: redis, prefix } = testRedis();
    const scheduler = createScheduler({ uid: '123456789', store: createRedisStore({ client: redis, prefix }) });
    client = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: gateway.urls });
    manager = createWsManager({ client, kind: 'private', uid: '123456789', store: new WsRedisStore({ client: redis, prefix }) });
    const seen: unknown[] = [];
    const ticker = await manager.subscribe('/market/ticker:BTC-USDT', { onMessage: (push) => seen.push(push.data) });
    await manager.subscribe('/spotMarket/tradeOrdersV2', { privateChannel: true, onMessage: (push) => seen.push(push.data) });
    ws.publish('/spotMarket/tradeOrdersV2', { orderId: 'o1' });
    await expect.poll(() => seen).toEqual([{ orderId: 'o1' }]);
    await ticker.unsubscribe();
    await manager.close();
    expect(
      (
        await new WsRedisStore({ client: redis, prefix }).inspect({
          subject: 'uid:123456789',
          sessionLimit: 50,
          leaseMs: 30_000,
          connectLimit: 30,
          connectSpanMs: 62_000,
        })
      ).sessions,
    ).toBe(0);
    await scheduler.close();
    redis.disconnect();
  });
});
