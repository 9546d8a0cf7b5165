// WebSockets through the proxy: bullet tokens paced like any request, their endpoints rewritten to the proxy, and
// every connection relayed within the fleet's session, connect, topic and uplink budgets (the WebSocket budget store).
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import {
  apiKeyHash,
  createProxy,
  createScheduler,
  createWsManager,
  KucoinClient,
  MemoryStore,
  WsMemoryStore,
  WsRedisStore,
  type KucoinProxy,
  type ProxyOptions,
  type WsManager,
} from '../src/index.js';
import { startGatewaySimulator, startWsSimulator, type GatewaySimulator, type WsSimulator, type WsSimulatorOptions } from '../src/simulator/index.js';
import { KEY, send, UID } from './helpers/proxySetup.js';
import { testRedis } from './helpers/redisClient.js';

interface Ws {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: (code: number) => void): void;
  on(event: 'error', listener: (e: Error) => void): void;
  on(event: 'unexpected-response', listener: (req: unknown, res: { statusCode: number }) => void): void;
  once(event: 'open', listener: () => void): void;
  send(text: string): void;
  close(): void;
}
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (url: string) => Ws };

let wsSim: WsSimulator | undefined;
let sim: GatewaySimulator | undefined;
const proxies: KucoinProxy[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const p of proxies.splice(0)) await p.close({ drainMs: 0 });
  await sim?.close();
  await wsSim?.close();
  sim = wsSim = undefined;
});

async function setup(wsOptions: WsSimulatorOptions = {}, proxyOptions: ProxyOptions = {}) {
  wsSim = await startWsSimulator(wsOptions);
  sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: UID }], websocket: wsSim });
  const proxy = await createProxy({ port: 0, upstreams: sim.urls, accounts: [{ keyHash: apiKeyHash(KEY.key), uid: UID }], metrics: false, ...proxyOptions });
  proxies.push(proxy);
  return { wsSim, sim, proxy };
}

/** A bot's connection: every message it gets, and a way to wait for one. */
function dial(url: string): Promise<{
  ws: Ws;
  messages: Record<string, unknown>[];
  next: (pred: (m: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
  closed: Promise<number>;
}> {
  const ws = new WebSocket(url);
  const messages: Record<string, unknown>[] = [];
  const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', resolve));
  ws.on('error', () => undefined);
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as Record<string, unknown>;
    messages.push(m);
    for (const w of [...waiters]) {
      if (!w.pred(m)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const next = (pred: (m: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const hit = messages.find(pred);
      if (hit) resolve(hit);
      else waiters.push({ pred, resolve });
    });
  closers.push(() => ws.close());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, next, closed }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

async function publicToken(proxy: KucoinProxy): Promise<{ token: string; endpoint: string }> {
  const r = await send(proxy.url, 'POST', '/spot/api/v1/bullet-public');
  const data = r.json!.data as { token: string; instanceServers: { endpoint: string; encrypt: boolean }[] };
  return { token: data.token, endpoint: data.instanceServers[0]!.endpoint };
}

describe('WebSockets through the proxy', () => {
  it("rewrites the token's endpoint to the proxy and relays the bot's connection: welcome, subscribe, ack, pushes; token and connectId reach KuCoin as sent", async () => {
    const { proxy, wsSim, sim } = await setup();
    const admitted: string[] = [];
    proxy.scheduler(UID)!.on('admitted', (e) => admitted.push(`${e.endpoint} ${e.pool}:${e.weight}`));
    const { token, endpoint } = await publicToken(proxy);
    expect(endpoint).toMatch(new RegExp(`^${proxy.url.replace('http', 'ws')}/ws/[0-9a-f]{32}$`));
    expect(admitted).toEqual(['POST /api/v1/bullet-public Public:10']); // the token is paced like any request
    expect(sim.stats().arrivals.map((a) => a.outcome)).toEqual(['ok']);
    const bot = await dial(`${endpoint}?token=${token}&connectId=bot-1`);
    expect(await bot.next((m) => m.type === 'welcome')).toMatchObject({ id: 'bot-1' });
    bot.ws.send(JSON.stringify({ id: 's1', type: 'subscribe', topic: '/market/ticker:BTC-USDT', response: true }));
    await bot.next((m) => m.type === 'ack' && m.id === 's1');
    expect(wsSim.publish('/market/ticker:BTC-USDT', { price: '42' })).toBe(1);
    expect(await bot.next((m) => m.type === 'message')).toMatchObject({ topic: '/market/ticker:BTC-USDT', data: { price: '42' } });
    expect(proxy.stats().websockets).toBe(1);
    bot.ws.close();
    await bot.closed;
    await new Promise((r) => setTimeout(r, 100));
    expect(proxy.stats().websockets).toBe(0);
    expect(wsSim.stats().sessionsNow).toEqual({ 'ip:127.0.0.1': 0 });
  });

  it("the library's own WsManager (undici WebSocket, a private token fetched through the proxy) works through it unchanged", async () => {
    const { proxy, wsSim } = await setup();
    const scheduler = createScheduler({ uid: 'bot-side', store: new MemoryStore(), jitterMs: 0 });
    const client = new KucoinClient({
      scheduler,
      credentials: KEY,
      baseUrls: { spot: `${proxy.url}/spot`, futures: `${proxy.url}/futures`, broker: `${proxy.url}/broker` },
    });
    const manager: WsManager = createWsManager({ client, kind: 'private', uid: 'bot-side', store: new WsMemoryStore() });
    closers.push(
      () => client.close(),
      () => manager.close(),
    );
    const pushes: unknown[] = [];
    await manager.subscribe('/market/ticker:ETH-USDT', { onMessage: (p) => pushes.push(p.data) });
    wsSim.publish('/market/ticker:ETH-USDT', { price: '7' });
    await new Promise((r) => setTimeout(r, 200));
    expect(pushes).toEqual([{ price: '7' }]);
    expect(wsSim.stats().sessionsNow).toEqual({ [`uid:${UID}`]: 1 }); // counted for the account: a private token
  });

  it('holds the budgets: sessions, connects, topics per message and per session; what KuCoin would refuse is refused with its own error, never sent', async () => {
    const { proxy, wsSim } = await setup(
      {},
      { websocket: { sessionLimit: 2, connects: { limit: 3, windowMs: 60_000 }, topicsPerMessage: 3, topicsPerSession: 5, connectWaitMs: 0 } },
    );
    const { token, endpoint } = await publicToken(proxy);
    const a = await dial(`${endpoint}?token=${token}&connectId=a`);
    const b = await dial(`${endpoint}?token=${token}&connectId=b`);
    const c = await dial(`${endpoint}?token=${token}&connectId=c`);
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 509, data: 'exceed max session count limitation of 2' });
    await c.closed;
    await a.next((m) => m.type === 'welcome');
    a.ws.send(JSON.stringify({ id: 1, type: 'subscribe', topic: '/market/ticker:A-USDT,B-USDT,C-USDT,D-USDT' }));
    expect(await a.next((m) => m.id === 1)).toMatchObject({ type: 'error', code: 509, data: 'exceed max subscription count limitation of 3 per time' });
    a.ws.send(JSON.stringify({ id: 2, type: 'subscribe', topic: '/market/ticker:A-USDT,B-USDT,C-USDT', response: true })); // KuCoin acks only then
    expect(await a.next((m) => m.id === 2)).toMatchObject({ type: 'ack' });
    a.ws.send(JSON.stringify({ id: 3, type: 'subscribe', topic: '/market/ticker:E-USDT,F-USDT,G-USDT' }));
    expect(await a.next((m) => m.id === 3)).toMatchObject({ type: 'error', code: 509, data: 'exceed max subscription count limitation of 5 per session' });
    expect(wsSim.stats().subscribeMessages).toBe(1); // only the one KuCoin could take was sent
    b.ws.close();
    await b.closed;
    await new Promise((r) => setTimeout(r, 100));
    const d = await dial(`${endpoint}?token=${token}&connectId=d`); // b's slot is free: the third connect of the minute
    await d.next((m) => m.type === 'welcome');
    d.ws.close();
    await d.closed;
    await new Promise((r) => setTimeout(r, 100));
    const e = await dial(`${endpoint}?token=${token}&connectId=e`);
    expect(await e.next((m) => m.type === 'error')).toMatchObject({ code: 509, data: 'service busy, please retry later' }); // 3 connects a minute
    expect(wsSim.stats().connects.map((x) => x.outcome)).toEqual(['welcome', 'welcome', 'welcome']);
  });

  it("paces each connection's uplink (pings keep a share): a burst of 25 pings all get their pong, never more than the limit a window at KuCoin", async () => {
    const { proxy, wsSim } = await setup({ uplink: { limit: 10, windowMs: 1_000 } }, { websocket: { uplink: { limit: 10, windowMs: 1_000, marginMs: 50 } } });
    const { token, endpoint } = await publicToken(proxy);
    const bot = await dial(`${endpoint}?token=${token}&connectId=p`);
    await bot.next((m) => m.type === 'welcome');
    for (let i = 0; i < 25; i++) bot.ws.send(JSON.stringify({ id: `p${i}`, type: 'ping' }));
    await bot.next((m) => m.type === 'pong' && m.id === 'p24');
    expect(bot.messages.filter((m) => m.type === 'pong')).toHaveLength(25);
    expect(wsSim.stats().maxUplinkPerWindow).toBeLessThanOrEqual(10);
    expect(wsSim.stats().count509).toBe(0);
  });

  it("KuCoin's own 509 reaches the bot and teaches the shared store; an endpoint the proxy did not write is 404", async () => {
    const store = new WsMemoryStore();
    const { proxy, wsSim } = await setup({}, { websocket: { store } });
    const { token, endpoint } = await publicToken(proxy);
    wsSim.failNextConnects(1, 509, 'exceed max session count limitation of 1');
    const bot = await dial(`${endpoint}?token=${token}&connectId=x`);
    expect(await bot.next((m) => m.type === 'error')).toMatchObject({ code: 509 });
    await new Promise((r) => setTimeout(r, 100));
    const state = await store.inspect({ subject: 'ip:default', sessionLimit: 50, leaseMs: 30_000, connectLimit: 30, connectSpanMs: 62_000 });
    expect(state.learned.sessionLimit).toBe(1); // the limit KuCoin stated, for every process
    expect(state.sessionLimit).toBeLessThanOrEqual(1);
    await expect(dial(`${proxy.url.replace('http', 'ws')}/ws/${'0'.repeat(32)}?token=${token}`)).rejects.toThrow('HTTP 404');
    await expect(dial(`${proxy.url.replace('http', 'ws')}/spot/api/v1/bullet-public`)).rejects.toThrow('HTTP 404');
  });

  it('two proxies on one WsRedisStore hold one session budget for the fleet', async () => {
    const { client, prefix } = testRedis();
    closers.push(() => void client.disconnect());
    const shared = () => ({ websocket: { store: new WsRedisStore({ client, prefix }), sessionLimit: 2, connectWaitMs: 0 } });
    const { proxy: a } = await setup({}, shared());
    const b = await createProxy({ port: 0, upstreams: sim!.urls, accounts: [{ keyHash: apiKeyHash(KEY.key), uid: UID }], metrics: false, ...shared() });
    proxies.push(b);
    const viaA = await publicToken(a);
    const viaB = await publicToken(b);
    const one = await dial(`${viaA.endpoint}?token=${viaA.token}&connectId=1`);
    const two = await dial(`${viaA.endpoint}?token=${viaA.token}&connectId=2`);
    await Promise.all([one.next((m) => m.type === 'welcome'), two.next((m) => m.type === 'welcome')]);
    const three = await dial(`${viaB.endpoint}?token=${viaB.token}&connectId=3`);
    expect(await three.next((m) => m.type === 'error')).toMatchObject({ code: 509, data: 'exceed max session count limitation of 2' });
    expect(wsSim!.stats().maxSessions).toEqual({ 'ip:127.0.0.1': 2 });
  });
});
