// issue 21, 1 and 2: after a 400002 the client reads KuCoin's time (GET /api/v1/timestamp); only a plausible time
// is believed, and the read never holds a request past its signal or deadline. Against the gateway simulator,
// whose timestamp reply is made hostile with its `serverTime` option.
import { afterEach, describe, expect, it } from 'vitest';
import { ClockSyncError, createScheduler, KucoinApiError, KucoinClient, MemoryStore } from '../src/index.js';
import { InjectedCodes } from '../src/simulator/injectedCodes.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';

const CREDS = { key: 'key-clock-1', secret: 'secret-clock-value', passphrase: 'pass-clock-value', keyVersion: '2' as const };
const FAST = 8_000; // the bot's clock runs 8 s fast: its first signed request gets a 400002

let sim: GatewaySimulator | undefined;
let client: KucoinClient | undefined;
afterEach(async () => {
  await sim?.close(); // first: it ends the replies it holds, so the client's pools close at once
  await client?.close();
  client = sim = undefined;
});

/** The client's clock runs `skewMs` ahead of the simulator's (which checks signatures with its own clock). */
async function setup(serverTime?: (now: number) => unknown, clientOptions: { maxClockOffsetMs?: number } = {}, skewMs = FAST) {
  sim = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'u1' }], ...(serverTime ? { serverTime } : {}) });
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
  client = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: sim.urls, clock: () => Date.now() + skewMs, ...clientOptions });
  return { sim, client };
}

const order = (clientOid: string) => ({ method: 'POST' as const, path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT', side: 'buy', clientOid } });
const sends = (s: GatewaySimulator, path: string) => s.stats().arrivals.filter((a) => a.endpoint === path).length;

describe('clock sync: only a plausible server time is believed (issue 21, 1)', () => {
  const HOSTILE: [string, (now: number) => unknown][] = [
    ['1e15', () => 1e15],
    ['negative', () => -3],
    ['minus now', (now) => -now],
    ['zero', () => 0],
    ['seconds instead of ms', (now) => Math.floor(now / 1000)],
    ['microseconds', (now) => now * 1000],
    ['1e300', () => 1e300],
    ['a year ahead', (now) => now + 365 * 86_400_000],
    ['two hours behind', (now) => now - 2 * 3_600_000],
    ['"NaN"', () => 'NaN'],
    ['"Infinity"', () => 'Infinity'],
    ['"1e15"', () => '1e15'],
    ['the time as a string', (now) => String(now)],
    ['null', () => null],
    ['an object', (now) => ({ time: now })],
    ['an array', (now) => [now]],
    ['true', () => true],
  ];

  it('adopts none of the hostile replies: the 400002 stands, the order is not re-sent with a garbage timestamp', async () => {
    const adopted: string[] = [];
    const seen: string[] = [];
    for (const [name, serverTime] of HOSTILE) {
      const { sim: s, client: c } = await setup(serverTime);
      const err = await c.request(order(`clk-${seen.length}`)).catch((e) => e);
      const offset = c.clockOffsetMs;
      const orderSends = sends(s, '/api/v1/hf/orders');
      if (offset !== 0 || orderSends !== 1) adopted.push(name);
      seen.push(`${name}: offset ${offset}, ${orderSends} order send(s), ${err?.code} ${err?.kucoinCode} cause ${err?.cause?.code}`);
      expect(err).toBeInstanceOf(KucoinApiError);
      expect(err).toMatchObject({ kucoinCode: '400002', category: 'clock', action: 'none' });
      expect(err.cause).toBeInstanceOf(ClockSyncError);
      expect(err.cause).toMatchObject({ code: 'KS_CLOCK_SYNC', offsetMs: 0 });
      await s.close();
      await c.close();
      client = sim = undefined;
    }
    console.log(`${adopted.length} of ${HOSTILE.length} hostile server times adopted:\n  ${seen.join('\n  ')}`);
    expect(adopted).toEqual([]);
  });

  it('syncClock() itself rejects with ClockSyncError and keeps the offset it had learned', async () => {
    let answer: (now: number) => unknown = (now) => now;
    const { client } = await setup((now) => answer(now));
    await client.syncClock();
    expect(Math.abs(client.clockOffsetMs + FAST)).toBeLessThan(500); // learned: -8 s
    const learned = client.clockOffsetMs;
    answer = () => 1e15;
    const err = await client.syncClock().catch((e) => e);
    expect(err).toBeInstanceOf(ClockSyncError);
    expect(err.message).toContain('1000000000000000');
    expect(err.message).toContain('2020 and 2100');
    expect(client.clockOffsetMs).toBe(learned);
    answer = (now) => now + 2 * 3_600_000;
    expect((await client.syncClock().catch((e) => e)).message).toContain('maxClockOffsetMs (3600000)');
    expect(client.clockOffsetMs).toBe(learned);
  });

  it('a plausible offset within maxClockOffsetMs is adopted (a clock 30 min slow; 2 h once allowed) and the order placed', async () => {
    const { sim: s, client: c } = await setup((now) => now + 0.5, {}, -30 * 60_000); // a fraction of a ms is still ms
    const placed = await c.request(order('clk-ok-1'));
    expect(placed.attempts).toBe(2);
    expect(Math.abs(c.clockOffsetMs - 30 * 60_000)).toBeLessThan(500);
    expect(sends(s, '/api/v1/hf/orders')).toBe(2);
    await s.close();
    await c.close();
    const wide = await setup(undefined, { maxClockOffsetMs: 3 * 3_600_000 }, -2 * 3_600_000);
    expect((await wide.client.request(order('clk-ok-2'))).attempts).toBe(2);
    expect(Math.abs(wide.client.clockOffsetMs - 2 * 3_600_000)).toBeLessThan(500);
    const narrow = await client!.request(order('clk-ok-3'));
    expect(narrow.attempts).toBe(1); // signed with the learned offset from then on
  });

  it('a 400002 storm (every order refused, 20 at once) re-sends each request at most once, over one shared time read', async () => {
    const codes = new InjectedCodes();
    sim = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'u1' }], codes });
    const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
    client = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: sim.urls });
    codes.inject({ code: '400002', endpoint: 'POST /api/v1/hf/orders' });
    const errors = await Promise.all(Array.from({ length: 20 }, (_, i) => client!.request(order(`storm-${i}`)).catch((e) => e)));
    const reads = sends(sim, '/api/v1/timestamp');
    console.log(`400002 storm: 20 orders -> ${sends(sim, '/api/v1/hf/orders')} sends, ${reads} time read(s)`);
    for (const e of errors) expect(e).toMatchObject({ kucoinCode: '400002', action: 'clock-synced', attempts: 2 });
    expect(sends(sim, '/api/v1/hf/orders')).toBe(40);
    expect(reads).toBeLessThanOrEqual(2);
  });

  it('rejects a malformed maxClockOffsetMs at construction', async () => {
    const { sim } = await setup();
    const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore() });
    for (const bad of [0, -1, 999, Number.NaN, Infinity, 1e12, '3600000'])
      expect(() => new KucoinClient({ scheduler, baseUrls: sim.urls, maxClockOffsetMs: bad as number })).toThrow(/maxClockOffsetMs/);
  });
});

describe('clock sync: the request waits no longer than its signal or deadline (issue 21, 2)', () => {
  it('an abort while the timestamp read hangs settles at once with KS_ABORTED, not 10 s later with the 400002', async () => {
    const { sim, client } = await setup();
    sim.failNext(1, 'hang', 'GET /api/v1/timestamp');
    const controller = new AbortController();
    const t0 = Date.now();
    const pending = client.request({ ...order('clk-abort'), signal: controller.signal }).catch((e) => e);
    while (sends(sim, '/api/v1/timestamp') === 0 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 5));
    const abortedAt = Date.now();
    controller.abort(new Error('the caller gave up'));
    const err = await pending;
    const settledMs = Date.now() - abortedAt;
    console.log(`abort during a hung clock sync: settled ${settledMs} ms after the abort with ${err?.code} (${err?.kucoinCode ?? ''})`);
    expect(err).toMatchObject({ code: 'KS_ABORTED' });
    expect(settledMs).toBeLessThan(1_000);
    expect(sends(sim, '/api/v1/hf/orders')).toBe(1); // refused once, never sent again
  });

  it('a deadline (maxWaitMs) passing while the read hangs ends the request there: the 400002, caused by KS_MAX_WAIT_EXCEEDED', async () => {
    const { sim, client } = await setup();
    sim.failNext(1, 'hang', 'GET /api/v1/timestamp');
    const t0 = Date.now();
    const err = await client.request({ ...order('clk-deadline'), maxWaitMs: 600 }).catch((e) => e);
    const settledMs = Date.now() - t0;
    console.log(`deadline 600 ms during a hung clock sync: settled after ${settledMs} ms with ${err?.code} ${err?.kucoinCode} cause ${err?.cause?.code}`);
    expect(err).toMatchObject({ code: 'KS_KUCOIN_API', kucoinCode: '400002', action: 'none' });
    expect(err.cause).toMatchObject({ code: 'KS_MAX_WAIT_EXCEEDED' });
    expect(settledMs).toBeLessThan(2_000);
    expect(sends(sim, '/api/v1/hf/orders')).toBe(1);
  });

  it("syncClock(host, signal): the caller's signal ends its wait, the shared read goes on for the others", async () => {
    const { sim, client } = await setup();
    const controller = new AbortController();
    sim.failNext(1, 'hang', 'GET /api/v1/timestamp');
    const first = client.syncClock('spot', controller.signal).catch((e) => e);
    const second = client.syncClock('spot').then(
      () => 'synced',
      (e) => e,
    );
    while (sends(sim, '/api/v1/timestamp') === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await first).toMatchObject({ code: 'KS_ABORTED' });
    expect(sends(sim, '/api/v1/timestamp')).toBe(1); // one read, shared by both callers
    await sim.close(); // ends the hung read: it is sent again (a read is safe to repeat), fails, and the other waiter settles
    expect(await second).toBeInstanceOf(Error);
  });
});
