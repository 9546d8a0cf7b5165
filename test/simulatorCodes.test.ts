import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyReply } from '../src/kucoin/errorFeedback.js';
import { InvalidArgumentError } from '../src/errors.js';
import { KUCOIN_ERROR_CODES, lookupKucoinCode } from '../src/kucoin/errorCodes.js';
import { authHeaders } from '../src/kucoin/signing.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';
import { InjectedCodes, type CodeInjection } from '../src/simulator/injectedCodes.js';

const ACCOUNT = { key: 'k1', secret: 's1', passphrase: 'p1', uid: 'u1' };
const SPOT_ORDER = 'POST /api/v1/hf/orders'; // Spot pool, weight 1
const FUTURES_ORDER = 'POST /api/v1/orders'; // Futures pool, weight 2

let sim: GatewaySimulator | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await sim?.close();
  sim = undefined;
});

async function start(codes: InjectedCodes, pools?: GatewaySimulatorOptions['pools']) {
  sim = await startGatewaySimulator({ accounts: [ACCOUNT], codes, ...(pools ? { pools } : {}) });
  return sim;
}

async function send(host: 'spot' | 'futures', endpoint: string) {
  const [method, path] = endpoint.split(' ') as [string, string];
  const body = method === 'GET' ? '' : '{}';
  const res = await request(`${sim!.urls[host]}${path}`, {
    method: method as 'GET',
    body: body || undefined,
    headers: { 'content-type': 'application/json', ...authHeaders(ACCOUNT, method, path, body) },
  });
  const text = await res.body.text();
  let json: { code?: string; msg?: string } | undefined;
  try {
    json = JSON.parse(text) as { code?: string; msg?: string };
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers as Record<string, string | undefined>, text, json };
}

/** A small seeded generator (mulberry32): the `rate` draws are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const windowOf = (s: GatewaySimulator, key: string) => s.stats().windows[key]!.at(-1)!;

describe('the gateway simulator answers any code', () => {
  it('answers every REST row of the table with its status and body, and the reply reads back as the same category', async () => {
    const codes = new InjectedCodes();
    await start(codes);
    const rest = KUCOIN_ERROR_CODES.filter((e) => e.product !== 'websocket');
    expect(rest).toHaveLength(215);
    const wrong: string[] = [];
    for (const row of rest) {
      const host = row.product === 'futures' ? 'futures' : 'spot';
      codes.inject({ code: row.code, product: row.product, msg: row.message, count: 1 });
      const r = await send(host, host === 'futures' ? FUTURES_ORDER : SPOT_ORDER);
      const reply = classifyReply({ status: r.status, headers: r.headers, body: r.text });
      // what a client reads: the body's code, or the bare status (HTTP rows); 1015 is Cloudflare's HTML page
      const code = reply.code ?? (reply.signal === '1015' ? '1015' : String(r.status));
      const back = lookupKucoinCode({ host, code, msg: reply.msg ?? r.text });
      const shapeOk = row.product === 'http' || row.code === '1015' ? r.json?.code === undefined : r.json?.code === row.code && r.json.msg === row.message;
      if (r.status !== row.status || !shapeOk || back?.category !== row.category || (row.signal !== undefined && reply.signal !== row.signal)) {
        wrong.push(`${row.product} ${row.code} "${row.message}": HTTP ${r.status} ${r.text.slice(0, 60)} -> ${back?.category} ${reply.signal}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(Object.values(codes.answered()).reduce((a, b) => a + b, 0)).toBe(215);
    expect(new Set(Object.keys(codes.answered())).size).toBe(new Set(rest.map((e) => e.code)).size); // 167 codes
  });

  it('sends the right shapes: 401 JSON for 400002, Cloudflare HTML for 1015, a bare 403, placeholders filled', async () => {
    const codes = new InjectedCodes();
    const s = await start(codes);
    codes.inject({ code: '400002', count: 1 });
    expect(await send('spot', SPOT_ORDER)).toMatchObject({ status: 401, json: { code: '400002', msg: 'KC-API-TIMESTAMP Invalid' } });
    codes.inject({ code: 1015, count: 1 });
    const cf = await send('spot', SPOT_ORDER);
    expect(cf.status).toBe(429);
    expect(cf.headers['retry-after']).toBe('30');
    expect(cf.headers.server).toBe('cloudflare');
    expect(classifyReply({ status: cf.status, headers: cf.headers, body: cf.text }).signal).toBe('1015');
    codes.inject({ code: '403', count: 1 });
    const forbidden = await send('spot', SPOT_ORDER);
    expect(forbidden.status).toBe(403);
    expect(classifyReply({ status: forbidden.status, headers: forbidden.headers, body: forbidden.text }).signal).toBe('http-403');
    codes.inject({ code: '400006', product: 'gateway', count: 1 });
    expect((await send('spot', SPOT_ORDER)).json?.msg).toBe('Invalid request IP, the current client IP is: 127.0.0.1.');
    codes.inject({ code: '200002', msg: 'Too many requests in a short period of time, please retry later', count: 1 });
    const busy = await send('futures', FUTURES_ORDER);
    expect(busy.status).toBe(200);
    expect(classifyReply({ status: busy.status, headers: busy.headers, body: busy.json }).signal).toBe('200002');
    codes.inject({ code: '503000', count: 1, retryAfterSec: 2 });
    expect(await send('spot', SPOT_ORDER)).toMatchObject({ status: 503, json: { code: '503000' }, headers: { 'retry-after': '2' } });
    codes.inject({ code: '123456', status: 418, msg: 'teapot', count: 1 });
    expect(await send('spot', SPOT_ORDER)).toMatchObject({ status: 418, json: { code: '123456', msg: 'teapot' } });
    expect(s.stats().outcomes).toMatchObject({ '400002': 1, '1015': 1, '403': 1, '400006': 1, '200002': 1, '503000': 1, '123456': 1 });
  });

  it('charges no weight for rate-limit refusals (nor key, clock or request errors); business and server errors are charged', async () => {
    const codes = new InjectedCodes();
    const s = await start(codes, { Spot: { limit: 10, windowMs: 60_000 } });
    for (const code of ['429000', '429001', '429002', '1015']) codes.inject({ code, count: 1 });
    codes.inject({ code: '200002', msg: 'Too many requests in a short period of time, please retry later', count: 1 });
    codes.inject({ code: '400005', count: 1 });
    codes.inject({ code: '400002', count: 1 });
    codes.inject({ code: '404000', count: 1 });
    const refused = [];
    for (let i = 0; i < 8; i++) refused.push(await send('spot', SPOT_ORDER));
    expect(refused.map((r) => r.json?.code ?? r.status)).toEqual(['429000', '429001', '429002', 429, '200002', '400005', '400002', '404000']);
    expect(refused[0]!.headers['gw-ratelimit-remaining']).toBe('10'); // the 429000 says what is left, nothing was spent
    expect(windowOf(s, 'uid:u1:Spot').weight).toBe(0);
    codes.inject({ code: '200004', count: 1 }); // balance insufficient: executed by the business layer, charged
    codes.inject({ code: '500000', count: 1 });
    expect((await send('spot', SPOT_ORDER)).headers['gw-ratelimit-remaining']).toBe('9');
    expect((await send('spot', SPOT_ORDER)).json?.code).toBe('500000');
    expect((await send('spot', SPOT_ORDER)).json?.code).toBe('200000');
    expect(windowOf(s, 'uid:u1:Spot').weight).toBe(3);
    expect(s.stats().arrivals.map((a) => a.weight)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  });

  it("a charged code finds the pool spent: the simulator's own 429000 answers and the injection waits", async () => {
    const codes = new InjectedCodes();
    const s = await start(codes, { Spot: { limit: 1, windowMs: 60_000 } });
    expect((await send('spot', SPOT_ORDER)).json?.code).toBe('200000');
    const h = codes.inject({ code: '200004', count: 1 });
    expect((await send('spot', SPOT_ORDER)).json?.code).toBe('429000');
    expect(h.answered).toBe(0);
    expect(windowOf(s, 'uid:u1:Spot')).toMatchObject({ weight: 1, rejected: 1 });
  });

  it('injects by endpoint (with or without the host) and by UID', async () => {
    const codes = new InjectedCodes();
    const s = await start(codes);
    codes.inject({ code: '300014', endpoint: `futures ${FUTURES_ORDER}` });
    codes.inject({ code: '126013', endpoint: SPOT_ORDER, uid: 'someone-else' });
    codes.inject({ code: '230005', endpoint: 'GET /api/v1/accounts' });
    expect((await send('futures', FUTURES_ORDER)).json?.code).toBe('300014');
    expect((await send('spot', 'POST /api/v1/orders')).json?.code).toBe('200000'); // the same path on spot is another endpoint
    expect((await send('spot', SPOT_ORDER)).json?.code).toBe('200000'); // another UID's injection
    expect((await send('spot', 'GET /api/v1/accounts')).json?.code).toBe('230005');
    expect((await send('futures', FUTURES_ORDER)).json?.code).toBe('300014');
    expect(s.stats().outcomes).toMatchObject({ ok: 2, '300014': 2, '230005': 1 });
  });

  it('injects by rate: the fraction of matching requests (seeded draws), and at most count', async () => {
    const codes = new InjectedCodes({ random: seeded(42) });
    const s = await start(codes);
    const h = codes.inject({ code: '503000', rate: 0.25, endpoint: SPOT_ORDER });
    const outcomes: string[] = [];
    for (let i = 0; i < 400; i++) outcomes.push((await send('spot', SPOT_ORDER)).json!.code!);
    const hit = outcomes.filter((c) => c === '503000').length;
    expect(hit).toBe(h.answered);
    expect(hit).toBeGreaterThan(70); // 25 % of 400 = 100; a binomial's 3-sigma band is 74..126
    expect(hit).toBeLessThan(130);
    expect(s.stats().outcomes['503000']).toBe(hit);
    h.remove();
    const c = codes.inject({ code: '504000', count: 3 });
    const after = [];
    for (let i = 0; i < 5; i++) after.push((await send('spot', SPOT_ORDER)).json!.code);
    expect(after).toEqual(['504000', '504000', '504000', '200000', '200000']);
    expect(c.answered).toBe(3);
  });

  it('injects on a schedule: from t1 until t2 of the simulator clock', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.UTC(2026, 2, 4, 12, 0, 0);
    vi.setSystemTime(t0);
    const codes = new InjectedCodes();
    await start(codes);
    codes.inject({ code: '501000', from: t0 + 1_000, until: t0 + 2_000 });
    const at = async (ms: number) => {
      vi.setSystemTime(t0 + ms);
      return (await send('spot', SPOT_ORDER)).json?.code;
    };
    expect(await at(0)).toBe('200000');
    expect(await at(999)).toBe('200000');
    expect(await at(1_000)).toBe('501000');
    expect(await at(1_999)).toBe('501000');
    expect(await at(2_000)).toBe('200000');
  });

  it('refuses a bad injection with a typed error at once', () => {
    const codes = new InjectedCodes();
    const bad: unknown[] = [
      null,
      { code: 'abc' },
      { code: 1.5 },
      { code: '999999' }, // not in the table and no status
      { code: '509' }, // a WebSocket code
      { code: '200004', product: 'websocket' },
      { code: '200004', product: 'futures' }, // not on that page
      { code: '200004', rate: 0 },
      { code: '200004', rate: 1.5 },
      { code: '200004', count: 0 },
      { code: '200004', from: 10, until: 5 },
      { code: '200004', endpoint: '/api/v1/hf/orders' },
      { code: '200004', status: 99 },
      { code: '200004', msg: 5 },
      { code: '200004', retryAfterSec: -1 },
    ];
    for (const [i, spec] of bad.entries()) {
      let error: unknown;
      try {
        codes.inject(spec as CodeInjection);
      } catch (e) {
        error = e;
      }
      expect(error, `spec #${i}`).toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => new InjectedCodes({ random: 1 as unknown as () => number })).toThrow(InvalidArgumentError);
  });
});
