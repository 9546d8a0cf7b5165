// The proxy (createProxy) in front of the gateway simulator: routing, byte-for-byte forwarding, the allow-list,
// priorities, and what it answers itself.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeyHash, createProxy, PROXY_ERROR_CODES } from '../src/index.js';
import { authHeaders } from '../src/kucoin/signing.js';
import { KEY, proxyBed, rawExchange, send, UID, type ProxyBed } from './helpers/proxySetup.js';

let bed: ProxyBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const order = (clientOid: string) => JSON.stringify({ clientOid, symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1' });

/** A raw HTTP/1.1 request with KuCoin's signed headers, every header written as given (names, case, order). */
function rawSigned(method: string, target: string, extra: string[], signedTarget = target.replace(/^\/(spot|futures|broker)/, '')): string {
  const signed = authHeaders(KEY, method, signedTarget, '', Date.now());
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(signed).map(([k, v]) => `${k}: ${v}`), ...extra];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

describe('routing and forwarding', () => {
  it("forwards /spot, /futures and /broker to their hosts: public reads, signed orders and cancels, KuCoin's replies passed back", async () => {
    bed = await proxyBed();
    const { proxy, sim } = bed;
    const ticker = await send(proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT');
    expect(ticker.status).toBe(200);
    expect(ticker.json?.code).toBe('200000');
    expect(ticker.headers['gw-ratelimit-limit']).toBe('2000');
    const placed = await send(proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: order('p-1'), signedTarget: '/api/v1/hf/orders' });
    expect(placed.json?.code).toBe('200000');
    const orderId = (placed.json?.data as { orderId: string }).orderId;
    const cancel = `/api/v1/hf/orders/${orderId}?symbol=BTC-USDT`;
    expect((await send(proxy.url, 'DELETE', `/spot${cancel}`, { credentials: KEY, signedTarget: cancel })).json?.code).toBe('200000');
    expect((await send(proxy.url, 'GET', '/futures/api/v1/positions', { credentials: KEY, signedTarget: '/api/v1/positions' })).json?.code).toBe('200000');
    const arrivals = sim.stats().arrivals;
    expect(arrivals.map((a) => `${a.host} ${a.method} ${a.target} ${a.outcome}`)).toEqual([
      'spot GET /api/v1/market/orderbook/level1?symbol=BTC-USDT ok',
      'spot POST /api/v1/hf/orders ok',
      `spot DELETE ${cancel} ok`,
      'futures GET /api/v1/positions ok',
    ]);
    expect(arrivals.filter((a) => a.uid === UID)).toHaveLength(3);
  });

  it('forwards each client\'s request target byte for byte: raw "," and ":" (ccxt), "+" and %2C signed decoded (Go SDK), %20 (Node SDK), repeated and unsorted keys', async () => {
    bed = await proxyBed();
    const cases: [sent: string, signed: string][] = [
      ['/api/v1/hf/orders/active?symbol=BTC-USDT&at=1:2,3', '/api/v1/hf/orders/active?symbol=BTC-USDT&at=1:2,3'],
      ['/api/v1/hf/orders/active?symbol=BTC-USDT&text=a+b%2Cc', '/api/v1/hf/orders/active?symbol=BTC-USDT&text=a b,c'],
      ['/api/v1/hf/orders/active?symbol=BTC-USDT&text=a%20b', '/api/v1/hf/orders/active?symbol=BTC-USDT&text=a%20b'],
      ['/api/v1/hf/orders/active?z=1&symbol=BTC-USDT&a=2&z=0', '/api/v1/hf/orders/active?z=1&symbol=BTC-USDT&a=2&z=0'],
      ['/api/v1/hf/orders/active?symbol=BTC-USDT&q=%7E~%25%2525', '/api/v1/hf/orders/active?symbol=BTC-USDT&q=%7E~%25%2525'],
    ];
    for (const [target, signedTarget] of cases) {
      const r = await send(bed.proxy.url, 'GET', `/spot${target}`, { credentials: KEY, signedTarget });
      expect(r.json?.code, target).toBe('200000');
    }
    expect(bed.sim.stats().arrivals.map((a) => a.target)).toEqual(cases.map(([t]) => t));
  });

  it('property: any request target a client can send (printable bytes, raw or escaped) reaches KuCoin exactly as sent', async () => {
    bed = await proxyBed();
    const { proxy, sim } = bed;
    // every printable ASCII character a request line may carry (no space, no "#"), and latin-1 bytes
    const char = fc.oneof(
      fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x23),
      fc.integer({ min: 0xa0, max: 0xff }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(char, { maxLength: 40 }), async (codes) => {
        const target = `/api/v1/hf/orders/active?symbol=BTC-USDT&x=${String.fromCharCode(...codes)}`;
        const before = sim.stats().arrivals.length;
        const r = await rawExchange(proxy.url, [rawSigned('GET', `/spot${target}`, [])]);
        const arrived = sim.stats().arrivals[before];
        // the parser may refuse a byte outright (400, nothing sent); whatever is sent is sent unchanged and verifies
        if (arrived === undefined) expect(r.text).toMatch(/^HTTP\/1.1 400/);
        else {
          expect(arrived.target).toBe(target);
          expect(arrived.outcome).toBe('ok');
        }
      }),
      { numRuns: 80 },
    );
  });

  it('passes every end-to-end header unchanged (KC-API-*, KC-API-PARTNER*, case and order kept); drops hop-by-hop, Connection-listed and X-KS-* headers; sets Host', async () => {
    bed = await proxyBed();
    const { proxy, sim } = bed;
    const r = await rawExchange(proxy.url, [
      rawSigned('GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', [
        'KC-API-PARTNER: ccxt',
        'KC-API-PARTNER-SIGN: cGFydG5lcg==',
        'KC-API-PARTNER-VERIFY: true',
        'X-Custom-Thing: 1',
        'Connection: keep-alive, X-Drop-Me',
        'X-Drop-Me: hop',
        'Keep-Alive: timeout=5',
        'Proxy-Authorization: Basic YTpi',
        'TE: trailers',
        'X-KS-Bot: bot-a',
        'X-KS-Priority: high',
        'Content-Type: application/json',
      ]),
    ]);
    expect(r.text).toMatch(/^HTTP\/1.1 200/);
    const raw = sim.stats().arrivals[0]!.rawHeaders!;
    const names = raw.filter((_, i) => i % 2 === 0);
    const kucoin = [
      'KC-API-KEY',
      'KC-API-TIMESTAMP',
      'KC-API-SIGN',
      'KC-API-PASSPHRASE',
      'KC-API-KEY-VERSION',
      'KC-API-PARTNER',
      'KC-API-PARTNER-SIGN',
      'KC-API-PARTNER-VERIFY',
    ];
    expect(names).toEqual(expect.arrayContaining([...kucoin, 'X-Custom-Thing', 'Content-Type']));
    const lower = names.map((n) => n.toLowerCase());
    for (const dropped of ['x-drop-me', 'keep-alive', 'proxy-authorization', 'te', 'x-ks-bot', 'x-ks-priority']) expect(lower).not.toContain(dropped);
    expect(raw[lower.indexOf('host') * 2 + 1]).toBe(new URL(sim.urls.spot).host);
    // the bot's header order, less the dropped ones (the transport puts Host and its Connection first)
    expect(names.filter((n) => n.startsWith('KC-API-'))).toEqual(kucoin);
  });

  it("the Go SDK's X-Proxy-To contract: any path, the real URL in the header; KuCoin's production hostnames go to their host's upstream", async () => {
    bed = await proxyBed();
    const { proxy, sim } = bed;
    const target = '/api/v1/hf/orders/active?symbol=BTC-USDT&text=a+b';
    const viaKucoin = await send(proxy.url, 'GET', '/', {
      credentials: KEY,
      signedTarget: '/api/v1/hf/orders/active?symbol=BTC-USDT&text=a b',
      headers: { 'X-Proxy-To': `https://api.kucoin.com${target}`, 'X-Proxy-Config': '{"a":1}' },
    });
    expect(viaKucoin.json?.code).toBe('200000');
    const viaUpstream = await send(proxy.url, 'GET', '/anything', { headers: { 'X-Proxy-To': `${sim.urls.futures}/api/v1/timestamp` } });
    expect(viaUpstream.json?.code).toBe('200000');
    expect(sim.stats().arrivals.map((a) => `${a.host} ${a.target}`)).toEqual([`spot ${target}`, 'futures /api/v1/timestamp']);
    expect(sim.stats().arrivals[0]!.rawHeaders!.map((h) => h.toLowerCase())).not.toContain('x-proxy-config');
  });
});

describe('not an open proxy', () => {
  it('refuses targets outside the allow-list: other hosts, userinfo tricks, http to KuCoin, absolute-form targets, CONNECT, unknown prefixes; nothing reaches any server', async () => {
    bed = await proxyBed();
    const { proxy, sim } = bed;
    for (const to of [
      'https://evil.example/api/v1/timestamp',
      'https://api.kucoin.com@evil.example/api/v1/timestamp',
      'https://api.kucoin.com.evil.example/api/v1/timestamp',
      'http://api.kucoin.com/api/v1/timestamp',
      'ftp://api.kucoin.com/api/v1/timestamp',
      'https://127.0.0.1:1/api/v1/timestamp',
    ]) {
      const r = await send(proxy.url, 'GET', '/', { headers: { 'X-Proxy-To': to } });
      expect(r.status, to).toBe(to.startsWith('ftp') ? 400 : 403);
      expect(r.json?.code, to).toBe(to.startsWith('ftp') ? 'KS_PROXY_BAD_REQUEST' : 'KS_PROXY_TARGET_REFUSED');
    }
    const absolute = await rawExchange(proxy.url, ['GET http://evil.example/api/v1/timestamp HTTP/1.1\r\nHost: evil.example\r\n\r\n']);
    expect(absolute.text).toMatch(/^HTTP\/1.1 404/);
    expect(absolute.text).toContain('KS_PROXY_NOT_FOUND');
    const tunnel = await rawExchange(proxy.url, ['CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n']);
    expect(tunnel.closed).toBe(true);
    expect(tunnel.text).not.toMatch(/^HTTP\/1.1 200/);
    for (const path of ['/spotx/api/v1/timestamp', '/api/v1/timestamp', '/spot', '//spot/api/v1/timestamp']) {
      expect((await send(proxy.url, 'GET', path)).json?.code, path).toBe('KS_PROXY_NOT_FOUND');
    }
    expect(sim.stats().requests).toBe(0);
  });

  it('binds 127.0.0.1 by default; a host port sends its whole target to that host', async () => {
    bed = await proxyBed({}, { hostPorts: { futures: 0 } });
    expect(bed.proxy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(bed.proxy.hostUrls.futures).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await send(bed.proxy.hostUrls.futures!, 'GET', '/api/v1/positions', { credentials: KEY });
    expect(r.json?.code).toBe('200000');
    expect(bed.sim.stats().arrivals.map((a) => `${a.host} ${a.target}`)).toEqual(['futures /api/v1/positions']);
  });
});

describe('what the proxy reads of a request', () => {
  it('priority: cancels critical, other POSTs high, the rest normal; X-KS-Priority overrides; a malformed one is refused', async () => {
    bed = await proxyBed();
    const admitted: string[] = [];
    bed.proxy.scheduler(UID)!.on('admitted', (e) => admitted.push(`${e.priority} ${e.pool}:${e.weight}`));
    const { proxy } = bed;
    await send(proxy.url, 'DELETE', '/spot/api/v1/hf/orders/1?symbol=BTC-USDT', { credentials: KEY });
    await send(proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: order('q-1') });
    await send(proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT');
    await send(proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT', { headers: { 'X-KS-Priority': 'low' } });
    expect(admitted).toEqual(['critical Spot:1', 'high Spot:1', 'normal Public:2', 'low Public:2']);
    const bad = await send(proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT', { headers: { 'X-KS-Priority': 'urgent' } });
    expect(bad.status).toBe(400);
    expect(bad.json?.code).toBe('KS_PROXY_BAD_REQUEST');
    const badBot = await send(proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT', { headers: { 'X-KS-Bot': 'a b' } });
    expect(badBot.json?.code).toBe('KS_PROXY_BAD_REQUEST');
    expect(bed.sim.stats().requests).toBe(4);
  });

  it('a key no account names: its private calls are refused (its UID is unknown), its public calls go out as any public call', async () => {
    bed = await proxyBed();
    const other = { key: 'other-key', secret: 'other-secret', passphrase: 'other-pass' };
    const refused = await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: other, body: order('u-1') });
    expect(refused.status).toBe(403);
    expect(refused.json?.code).toBe('KS_PROXY_UNKNOWN_KEY');
    expect(refused.text).not.toContain('other-key');
    const publicCall = await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT', { credentials: other });
    expect(publicCall.json?.code).toBe('400003'); // the simulator, like KuCoin, checks a key sent on a public call
    expect(bed.sim.stats().arrivals.map((a) => `${a.method} ${a.outcome}`)).toEqual(['GET 400003']);
  });

  it('a signed request without a readable KC-API-TIMESTAMP, or a private one without a signature, is answered as KuCoin would (400001, 400002), never sent', async () => {
    bed = await proxyBed();
    const signed = authHeaders(KEY, 'GET', '/api/v1/accounts', '');
    const missing = await send(bed.proxy.url, 'GET', '/spot/api/v1/accounts', { headers: { ...signed, 'KC-API-TIMESTAMP': '' } });
    expect(missing.json?.code).toBe('400002');
    const { 'KC-API-TIMESTAMP': _ts, ...noTimestamp } = signed;
    void _ts;
    const absent = await send(bed.proxy.url, 'GET', '/spot/api/v1/accounts', { headers: noTimestamp });
    expect([absent.status, absent.json?.code]).toEqual([400, '400001']);
    const garbage = await send(bed.proxy.url, 'GET', '/spot/api/v1/accounts', { headers: { ...signed, 'KC-API-TIMESTAMP': '12:00' } });
    expect([garbage.status, garbage.json?.code]).toEqual([400, '400002']);
    expect(garbage.headers['x-ks-proxy']).toBe('400002');
    const unsigned = await send(bed.proxy.url, 'GET', '/spot/api/v1/accounts', { headers: { 'KC-API-KEY': KEY.key, 'KC-API-PASSPHRASE': 'p' } });
    expect([unsigned.status, unsigned.json?.code]).toEqual([400, '400001']);
    expect(bed.sim.stats().requests).toBe(0);
  });

  it('a key without a signature on a public call (python-kucoin sends its key and passphrase on every call) goes out as a public call', async () => {
    bed = await proxyBed();
    const r = await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT', {
      headers: { 'KC-API-KEY': KEY.key, 'KC-API-PASSPHRASE': KEY.passphrase, 'User-Agent': 'python-kucoin' },
    });
    expect(r.json?.code).toBe('200000');
    expect(bed.sim.stats().arrivals.map((a) => `${a.target} ${a.outcome}`)).toEqual(['/api/v1/market/orderbook/level1?symbol=BTC-USDT ok']);
  });

  it('methods KuCoin does not take are refused; every local answer carries its code, its table status and x-ks-proxy', async () => {
    bed = await proxyBed();
    const r = await send(bed.proxy.url, 'OPTIONS', '/spot/api/v1/timestamp');
    expect([r.status, r.json?.code, r.headers['x-ks-proxy']]).toEqual([405, 'KS_PROXY_METHOD_NOT_ALLOWED', 'KS_PROXY_METHOD_NOT_ALLOWED']);
    for (const [code, row] of Object.entries(PROXY_ERROR_CODES)) {
      expect(row.status, code).toBeGreaterThanOrEqual(400);
      expect(row.meaning.length, code).toBeGreaterThan(10);
    }
  });

  it('refuses bad options at once, naming them', async () => {
    await expect(createProxy({ port: -1 })).rejects.toThrow(/port/);
    await expect(createProxy({ host: 'not an ip' })).rejects.toThrow(/host/);
    await expect(createProxy({ upstreams: { spot: 'https://api.kucoin.com/path' } })).rejects.toThrow(/upstreams.spot/);
    await expect(createProxy({ upstreams: { spot: 'https://user:pw@api.kucoin.com' } })).rejects.toThrow(/credentials/);
    await expect(createProxy({ accounts: [{ keyHash: 'abc', uid: 'u' }] })).rejects.toThrow(/keyHash/);
    await expect(
      createProxy({
        accounts: [
          { keyHash: apiKeyHash('a'), uid: 'u1' },
          { keyHash: apiKeyHash('b'), uid: 'u2' },
        ],
      }),
    ).rejects.toThrow(/quotaGroup/);
    await expect(createProxy({ scheduler: { uid: 'x' } as never })).rejects.toThrow(/scheduler.uid/);
  });
});
