// The push simulator follows KuCoin's docs (docs/RATE-LIMITS.md section 9, docs/ws-error-codes.md); where they
// are silent its choice is an option. Driven by the `ws` package's client, message by message.
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { startWsSimulator, type WsSimulator, type WsSimulatorOptions } from '../src/simulator/index.js';

interface RawSocket {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'error', listener: (e: Error) => void): void;
  send(text: string): void;
  close(): void;
}
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (url: string) => RawSocket };

let sim: WsSimulator | undefined;
const open: RawSocket[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await sim?.close();
  sim = undefined;
});

type Msg = Record<string, unknown>;
/** One client connection: every message it received, in order. */
async function dial(s: WsSimulator, kind: 'public' | 'private' = 'private', connectId = `c${open.length}`) {
  const { token } = s.issueToken({ kind, uid: 'u1', ip: '1.2.3.4' });
  return dialToken(s, token, connectId);
}
async function dialToken(s: WsSimulator, token: string, connectId: string) {
  const socket = new WebSocket(`${s.url}?token=${token}&connectId=${connectId}`);
  open.push(socket);
  const inbox: Msg[] = [];
  let closed = false;
  socket.on('message', (d) => inbox.push(JSON.parse(d.toString()) as Msg));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await expect.poll(() => inbox.length > 0 || closed).toBe(true);
  return {
    inbox,
    first: inbox[0],
    get closed() {
      return closed;
    },
    send: (m: Msg) => socket.send(JSON.stringify(m)),
    /** Sends `m`, then a ping: the server answers in order, so once the pong is in, every answer to `m` is too. */
    async exchange(m: Msg): Promise<Msg[]> {
      const from = inbox.length;
      socket.send(JSON.stringify(m));
      const pingId = `p-${Math.random()}`;
      socket.send(JSON.stringify({ id: pingId, type: 'ping' }));
      await expect.poll(() => inbox.slice(from).some((x) => x.id === pingId)).toBe(true);
      return inbox.slice(from).filter((x) => x.id !== pingId);
    },
  };
}
async function start(options: WsSimulatorOptions = {}) {
  sim = await startWsSimulator(options);
  return sim;
}

describe('push simulator: what the docs say', () => {
  it('acknowledges a subscribe or unsubscribe only when it asks for it (response: true)', async () => {
    const c = await dial(await start());
    expect(c.first).toEqual({ id: 'c0', type: 'welcome' });
    expect(await c.exchange({ id: 's1', type: 'subscribe', topic: '/market/ticker:BTC-USDT' })).toEqual([]);
    expect(await c.exchange({ id: 's2', type: 'subscribe', topic: '/market/ticker:ETH-USDT', response: false })).toEqual([]);
    expect(await c.exchange({ id: 's3', type: 'subscribe', topic: '/market/ticker:XRP-USDT', response: true })).toEqual([{ id: 's3', type: 'ack' }]);
    expect(sim!.stats().topicsAcked).toBe(3); // all three subscribed
    expect(await c.exchange({ id: 'u1', type: 'unsubscribe', topic: '/market/ticker:BTC-USDT' })).toEqual([]);
    expect(await c.exchange({ id: 'u2', type: 'unsubscribe', topic: '/market/ticker:ETH-USDT', response: true })).toEqual([{ id: 'u2', type: 'ack' }]);
    expect(sim!.publish('/market/ticker:BTC-USDT', 1)).toBe(0);
    expect(sim!.publish('/market/ticker:XRP-USDT', 1)).toBe(1);
  });

  it('answers 403 by the topic: a private channel on a public token, whatever privateChannel says', async () => {
    const c = await dial(await start(), 'public');
    const ask = (topic: string, privateChannel: boolean) => c.exchange({ id: topic, type: 'subscribe', topic, privateChannel, response: true });
    expect(await ask('/spotMarket/tradeOrdersV2', false)).toEqual([{ id: '/spotMarket/tradeOrdersV2', type: 'error', code: 403, data: 'login is required' }]);
    expect(await ask('/market/ticker:BTC-USDT', true)).toEqual([{ id: '/market/ticker:BTC-USDT', type: 'ack' }]);
    const p = await dial(sim!, 'private');
    expect(await p.exchange({ id: 'x', type: 'subscribe', topic: '/spotMarket/tradeOrdersV2', privateChannel: true, response: true })).toEqual([
      { id: 'x', type: 'ack' },
    ]);
  });

  it('counts only new topics against the per-session limit (a topic held already is not counted twice)', async () => {
    const c = await dial(await start({ topicsPerSession: 3 }));
    const sub = (id: string, topic: string) => c.exchange({ id, type: 'subscribe', topic, response: true });
    expect(await sub('a', '/market/ticker:A-USDT,B-USDT,C-USDT')).toEqual([{ id: 'a', type: 'ack' }]);
    expect(await sub('b', '/market/ticker:A-USDT,B-USDT')).toEqual([{ id: 'b', type: 'ack' }]);
    expect(await sub('c', '/market/ticker:A-USDT,D-USDT')).toEqual([
      { id: 'c', type: 'error', code: 509, data: 'exceed max subscription count limitation of 3 per session' },
    ]);
    expect(sim!.stats().count509ByKind).toMatchObject({ perSession: 1, perTime: 0 });
  });

  it('every error carries an id: the command ids, the connection id for the others (ping timeout, refusals)', async () => {
    const s = await start({ pingIntervalMs: 100, pingTimeoutMs: 100, sessionLimit: 1 });
    const c = await dial(s, 'private', 'conn-A');
    await expect.poll(() => c.closed, { timeout: 2_000 }).toBe(true);
    expect(c.inbox.at(-1)).toEqual({ id: 'conn-A', type: 'error', code: 400, data: 'ping timeout' });
    expect(s.stats().silentDrops).toBe(1);
    const refused = await dialToken(s, 'not-a-token', 'conn-B');
    expect(refused.first).toEqual({ id: 'conn-B', type: 'error', code: 401, data: 'token is invalid' });
    const kept = await dial(s, 'private', 'conn-C');
    kept.send({ id: 'keep', type: 'ping' });
    const full = await dial(s, 'private', 'conn-D');
    expect(full.first).toEqual({ id: 'conn-D', type: 'error', code: 509, data: 'exceed max session count limitation of 1' });
    const bad = await kept.exchange({ id: 'q', type: 'nonsense' });
    expect(bad).toEqual([{ id: 'q', type: 'error', code: 415, data: 'command type is invalid' }]);
  });
});

describe('push simulator: where the docs are silent, an option', () => {
  const outcome = async (s: WsSimulator) => {
    const c = await dial(s);
    return c.first?.type === 'welcome' ? 'ok' : String(c.first?.code);
  };
  const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

  it('connects: a sliding window that does not count refusals by default; counting refusals, or a fixed window, on request', async () => {
    // limit 2 per 600 ms: two dials, two refused 200 ms later, one more once the first two left the window
    const run = async (countRefused: boolean | undefined) => {
      const s = await start({ connects: { limit: 2, windowMs: 600, ...(countRefused === undefined ? {} : { countRefused }) } });
      const t0 = Date.now();
      const out = [await outcome(s), await outcome(s)];
      await sleepUntil(t0 + 200);
      out.push(await outcome(s), await outcome(s));
      await sleepUntil(t0 + 700);
      out.push(await outcome(s));
      await s.close();
      sim = undefined;
      return out;
    };
    expect(await run(undefined)).toEqual(['ok', 'ok', '509', '509', 'ok']);
    expect(await run(true)).toEqual(['ok', 'ok', '509', '509', '509']); // the refusals still fill the window
    // fixed: the window opens at the first dial and lasts 600 ms; the next opens at the first dial after it
    const s = await start({ connects: { limit: 2, windowMs: 600, window: 'fixed' } });
    const t0 = Date.now();
    const fixed = [await outcome(s)];
    await sleepUntil(t0 + 300);
    fixed.push(await outcome(s), await outcome(s));
    await sleepUntil(t0 + 700);
    fixed.push(await outcome(s), await outcome(s)); // a sliding window would refuse the second: one dial at +300 is still in it
    expect(fixed).toEqual(['ok', 'ok', '509', 'ok', 'ok']);
    expect(s.stats().count509ByKind).toMatchObject({ busy: 1 });
  });

  it('uplink: a refused message is not processed and, by default, not counted', async () => {
    const c = await dial(await start({ uplink: { limit: 3, windowMs: 300 } }));
    for (const id of ['a', 'b', 'c', 'd']) c.send({ id, type: 'ping' });
    await expect.poll(() => c.inbox.length).toBe(5);
    expect(c.inbox.slice(1).map((m) => (m.type === 'pong' ? m.id : `${String(m.id)}:${String(m.code)}`))).toEqual(['a', 'b', 'c', 'd:509']);
    await new Promise((r) => setTimeout(r, 320));
    c.send({ id: 'e', type: 'ping' });
    await expect.poll(() => c.inbox.at(-1)?.id).toBe('e');
    expect(c.inbox.at(-1)?.type).toBe('pong');
    expect(sim!.stats().count509ByKind).toMatchObject({ permits: 1 });
  });
});
