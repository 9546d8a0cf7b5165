import { Client, request, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders, signRequest } from '../src/kucoin/signing.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';

const ACCOUNT = { key: 'k1', secret: 's1', passphrase: 'p1', uid: 'u1' };
let sim: GatewaySimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(o: GatewaySimulatorOptions = {}) {
  sim = await startGatewaySimulator({ accounts: [ACCOUNT], ...o });
  return sim;
}

async function send(
  base: string,
  method: string,
  pathWithQuery: string,
  opts: { body?: unknown; headers?: Record<string, string>; sign?: typeof ACCOUNT | false; now?: number; dispatcher?: Dispatcher } = {},
) {
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body);
  const auth = opts.sign === false ? {} : authHeaders(opts.sign ?? ACCOUNT, method, pathWithQuery, body, opts.now);
  const res = await request(`${base}${pathWithQuery}`, {
    method: method as 'GET',
    body: body || undefined,
    headers: { 'content-type': 'application/json', ...auth, ...opts.headers },
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
  });
  const text = await res.body.text();
  let json: { code?: string; msg?: string; data?: unknown } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

describe('signing', () => {
  it('matches the test vector of RATE-LIMITS.md section 7', () => {
    expect(signRequest('f03a5284-5c39-4aaa-9b20-dea10bdcf8e3', '1547015186532', 'POST', '/api/v1/deposit-addresses', '{"currency":"BTC"}')).toBe(
      '7QP/oM0ykidMdrfNEUmng8eZjg/ZvPafjIqmxiVfYu4=',
    );
  });
});

describe('gateway simulator', () => {
  it('charges table weights in a fixed window opened by the first arrival; 429000 is not charged', async () => {
    const s = await start({ pools: { Spot: { limit: 31, windowMs: 60_000 } } });
    const first = await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: { symbol: 'BTC-USDT' } });
    expect(first.json?.code).toBe('200000');
    expect(first.headers['gw-ratelimit-limit']).toBe('31');
    expect(first.headers['gw-ratelimit-remaining']).toBe('30');
    expect(Number(first.headers['gw-ratelimit-reset'])).toBeGreaterThan(59_000);
    const cancelAll = await send(s.urls.spot, 'DELETE', '/api/v1/hf/orders/cancelAll?symbol=BTC-USDT');
    expect(cancelAll.headers['gw-ratelimit-remaining']).toBe('0'); // weight 30
    const refused = await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: {} });
    expect(refused).toMatchObject({ status: 429, json: { code: '429000' } });
    expect(refused.headers['gw-ratelimit-remaining']).toBe('0');
    const w = s.stats().windows['uid:u1:Spot']!;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ weight: 31, offered: 32, rejected: 1 });
  });

  it('keys Public by IP, private pools by UID (several keys of one UID share), VIP level sets the quota', async () => {
    const s = await start({
      accounts: [ACCOUNT, { ...ACCOUNT, key: 'k2', secret: 's2' }, { key: 'k3', secret: 's3', passphrase: 'p3', uid: 'vip3', vipLevel: 3 }],
    });
    await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: {} });
    const second = await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: {}, sign: { ...ACCOUNT, key: 'k2', secret: 's2' } });
    expect(second.headers['gw-ratelimit-remaining']).toBe('3998');
    const vip = await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: {}, sign: { key: 'k3', secret: 's3', passphrase: 'p3', uid: 'vip3' } });
    expect(vip.headers['gw-ratelimit-limit']).toBe('10000');
    const pubA = await send(s.urls.spot, 'GET', '/api/v1/market/allTickers', { sign: false, headers: { 'x-sim-ip': '10.0.0.1' } });
    const pubB = await send(s.urls.spot, 'GET', '/api/v1/market/allTickers', { sign: false, headers: { 'x-sim-ip': '10.0.0.2' } });
    expect([pubA.headers['gw-ratelimit-remaining'], pubB.headers['gw-ratelimit-remaining']]).toEqual(['1985', '1985']);
    const fut = await send(s.urls.futures, 'POST', '/api/v1/orders', { body: {} });
    expect(fut.headers['gw-ratelimit-remaining']).toBe('1998'); // futures order: weight 2 on Futures
  });

  it('Cloudflare 1015: an HTML page, Retry-After, server: cloudflare, cf-ray, and a block of the IP', async () => {
    const s = await start({ cloudflare: { limit: 3, windowMs: 10_000, blockMs: 30_000 } });
    for (let i = 0; i < 3; i++) expect((await send(s.urls.spot, 'GET', '/api/v1/market/allTickers', { sign: false })).status).toBe(200);
    const blocked = await send(s.urls.spot, 'GET', '/api/v1/market/allTickers', { sign: false });
    expect(blocked.status).toBe(429);
    expect(blocked.text).toContain('error code: 1015');
    expect(blocked.headers).toMatchObject({ 'retry-after': '30', server: 'cloudflare', 'content-type': 'text/html; charset=UTF-8' });
    expect(blocked.headers['cf-ray']).toBeTruthy();
    expect((await send(s.urls.futures, 'GET', '/api/v1/positions')).text).toContain('1015'); // the whole IP, every host
    expect((await send(s.urls.spot, 'GET', '/api/v1/market/allTickers', { sign: false, headers: { 'x-sim-ip': 'other' } })).status).toBe(200);
    expect(s.stats().blocks).toMatchObject([{ scope: 'ip', until: expect.any(Number) }]);
  });

  it('200002 per (UID, endpoint) with a 10 s block; other endpoints go on', async () => {
    const s = await start({ endpointLimits: { 'futures POST /api/v1/orders': { limit: 2, windowMs: 3000 } } });
    for (let i = 0; i < 2; i++) expect((await send(s.urls.futures, 'POST', '/api/v1/orders', { body: {} })).json?.code).toBe('200000');
    const limited = await send(s.urls.futures, 'POST', '/api/v1/orders', { body: {} });
    expect(limited).toMatchObject({ status: 200, json: { code: '200002', msg: 'Too many requests in a short period of time, please retry later' } });
    expect((await send(s.urls.futures, 'DELETE', '/api/v1/orders/x1')).json?.code).toBe('200000');
    const [block] = s.stats().blocks;
    expect(block!.until - block!.from).toBe(10_000);
  });

  it('429001 storms, 429002 per connection', async () => {
    const s = await start({ perConnection: { limit: 3, windowMs: 10_000 } });
    s.startStorm(60_000);
    expect((await send(s.urls.spot, 'GET', '/api/v1/timestamp', { sign: false })).json?.code).toBe('429001');
    await s.close();
    const s2 = await start({ perConnection: { limit: 3, windowMs: 10_000 } });
    const oneConnection = new Client(s2.urls.spot);
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) codes.push((await send(s2.urls.spot, 'GET', '/api/v1/timestamp', { sign: false, dispatcher: oneConnection })).json?.code);
    expect(codes).toEqual(['200000', '200000', '200000', '429002']);
    const fresh = new Client(s2.urls.spot); // another connection is not limited
    expect((await send(s2.urls.spot, 'GET', '/api/v1/timestamp', { sign: false, dispatcher: fresh })).json?.code).toBe('200000');
    await oneConnection.close();
    await fresh.close();
  });

  it('checks signatures and timestamps like the gateway', async () => {
    const s = await start();
    expect((await send(s.urls.spot, 'GET', '/api/v1/accounts', { sign: false })).json?.code).toBe('400001');
    expect((await send(s.urls.spot, 'GET', '/api/v1/accounts', { sign: { ...ACCOUNT, secret: 'wrong' } })).json?.code).toBe('400004');
    expect((await send(s.urls.spot, 'GET', '/api/v1/accounts', { now: Date.now() - 10_000 })).json?.code).toBe('400002');
    expect((await send(s.urls.spot, 'GET', '/api/v1/accounts', { sign: { ...ACCOUNT, key: 'nope' } })).json?.code).toBe('400003');
    const tampered = authHeaders(ACCOUNT, 'GET', '/api/v1/accounts?currency=BTC', '');
    const res = await request(`${s.urls.spot}/api/v1/accounts?currency=ETH`, { headers: tampered });
    expect(((await res.body.json()) as { code: string }).code).toBe('400005');
    expect((await send(s.urls.spot, 'GET', '/api/v1/accounts?currency=BTC')).json?.code).toBe('200000');
  });

  it('rejects a repeated clientOid (spot 126044, futures 300018), and injects faults after executing', async () => {
    const s = await start();
    expect((await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: { clientOid: 'a' } })).json?.code).toBe('200000');
    expect((await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: { clientOid: 'a' } })).json?.code).toBe('126044');
    expect((await send(s.urls.futures, 'POST', '/api/v1/orders', { body: { clientOid: 'a' } })).json?.code).toBe('200000');
    expect((await send(s.urls.futures, 'POST', '/api/v1/orders', { body: { clientOid: 'a' } })).json?.code).toBe('300018');
    s.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    expect((await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: { clientOid: 'b' } })).status).toBe(503);
    expect((await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: { clientOid: 'b' } })).json?.code).toBe('126044'); // it was executed
  });

  it('a hidden consumer eats part of a pool; stats are served over HTTP too', async () => {
    const s = await start({ hiddenConsumers: [{ uid: 'u1', pool: 'Spot', weight: 7, everyMs: 10 }] });
    await new Promise((r) => setTimeout(r, 60));
    const res = await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: {} });
    expect(4000 - 1 - Number(res.headers['gw-ratelimit-remaining'])).toBeGreaterThanOrEqual(7 * 3);
    const overHttp = (await (await request(`${s.urls.spot}/__sim/stats`)).body.json()) as { outcomes: Record<string, number> };
    expect(overHttp.outcomes.hidden).toBeGreaterThanOrEqual(3);
  });

  it('gw-ratelimit-remaining is a whole number, as KuCoin sends it, even beside a hidden consumer of a fractional weight', async () => {
    const s = await start({ hiddenConsumers: [{ uid: 'u1', pool: 'Spot', weight: 4.27, everyMs: 10 }] });
    await new Promise((r) => setTimeout(r, 35));
    const res = await send(s.urls.spot, 'POST', '/api/v1/hf/orders', { body: {} });
    // a fraction there is garbage to a client (header parsing reads whole numbers), so it never learned the consumer
    expect(res.headers['gw-ratelimit-remaining']).toMatch(/^\d+$/);
  });
});
