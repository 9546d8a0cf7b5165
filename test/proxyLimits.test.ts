// The proxy as an attacker and an operator see it: bounded heads, bodies and requests in flight, slowloris
// timeouts, garbage on the socket, a bot that leaves, a graceful drain, and no secret anywhere.
import fc from 'fast-check';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxyEvents } from '../src/index.js';
import { authHeaders } from '../src/kucoin/signing.js';
import { KEY, proxyBed, rawExchange, send, UID, type ProxyBed } from './helpers/proxySetup.js';

let bed: ProxyBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const TICKER = '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT';

describe('bounds', () => {
  it('maxInFlight: past it a clear 503 KS_PROXY_BUSY with Retry-After; nothing of it is sent', async () => {
    bed = await proxyBed({ latencyMs: { min: 300, max: 300 } }, { maxInFlight: 2 });
    const slow = [send(bed.proxy.url, 'GET', TICKER), send(bed.proxy.url, 'GET', TICKER)];
    await new Promise((r) => setTimeout(r, 100));
    const busy = await send(bed.proxy.url, 'GET', TICKER);
    expect([busy.status, busy.json?.code, busy.headers['retry-after']]).toEqual([503, 'KS_PROXY_BUSY', '1']);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect(bed.sim.stats().requests).toBe(2);
  });

  it('maxBodyBytes: a larger body (declared or streamed) gets a 413 and its connection is closed; nothing is sent', async () => {
    bed = await proxyBed({}, { maxBodyBytes: 1_024 });
    const big = JSON.stringify({ clientOid: 'x'.repeat(2_000), symbol: 'BTC-USDT' });
    const declared = await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: big });
    expect([declared.status, declared.json?.code, declared.headers.connection]).toEqual([413, 'KS_PROXY_BODY_TOO_LARGE', 'close']);
    const head = `POST /spot/api/v1/hf/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n`;
    const chunked = await rawExchange(bed.proxy.url, [head, `800\r\n${'a'.repeat(0x800)}\r\n`, { waitMs: 50 }, `800\r\n${'a'.repeat(0x800)}\r\n0\r\n\r\n`]);
    expect(chunked.text).toMatch(/^HTTP\/1.1 413/);
    expect(bed.sim.stats().requests).toBe(0);
  });

  it('maxHeaderBytes: a larger head gets a 431 KS_PROXY_HEADERS_TOO_LARGE', async () => {
    bed = await proxyBed({}, { maxHeaderBytes: 2_048 });
    const r = await rawExchange(bed.proxy.url, [`GET ${TICKER} HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(4_000)}\r\n\r\n`]);
    expect(r.text).toMatch(/^HTTP\/1.1 431/);
    expect(r.text).toContain('KS_PROXY_HEADERS_TOO_LARGE');
    expect(bed.sim.stats().requests).toBe(0);
  });

  it('slowloris: a head that trickles in is cut at headersTimeoutMs with a 408', async () => {
    bed = await proxyBed({}, { headersTimeoutMs: 400 });
    const started = Date.now();
    const drip = [`GET ${TICKER} HTTP/1.1\r\n`, ...Array.from({ length: 20 }, (_, i) => [{ waitMs: 150 }, `X-Drip-${i}: 1\r\n`]).flat()];
    const r = await rawExchange(bed.proxy.url, drip, 5_000);
    expect(r.text).toMatch(/^HTTP\/1.1 408/);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(bed.sim.stats().requests).toBe(0);
  });

  it('garbage on the socket is answered 4xx or closed, never crashes the proxy nor reaches KuCoin (fast-check)', async () => {
    bed = await proxyBed();
    const { proxy, sim } = bed;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
          fc
            .tuple(fc.constantFrom('GET', 'POST', 'DELETE', 'BREW', 'get', ''), fc.string({ maxLength: 60 }), fc.string({ maxLength: 80 }))
            .map(([m, t, h]) => `${m} ${t} HTTP/1.1\r\nHost: x\r\n${h}\r\n\r\n`),
        ),
        async (garbage) => {
          const r = await rawExchange(proxy.url, [garbage], 2_000);
          if (r.text !== '') expect(r.text).toMatch(/^HTTP\/1.1 [45]\d\d/);
        },
      ),
      { numRuns: 120 },
    );
    expect(sim.stats().requests).toBe(0);
    expect((await send(proxy.url, 'GET', TICKER)).json?.code).toBe('200000');
  });
});

describe('bots that leave, proxies that stop', () => {
  it('a bot that disconnects while its request waits costs nothing: nothing sent, nothing charged', async () => {
    bed = await proxyBed();
    const scheduler = bed.proxy.scheduler(UID)!;
    await scheduler.pause('spot', Date.now() + 600);
    const controller = new AbortController();
    const headers = { ...authHeaders(KEY, 'GET', '/api/v1/hf/orders/active?symbol=BTC-USDT', '') };
    const pending = request(`${bed.proxy.url}/spot/api/v1/hf/orders/active?symbol=BTC-USDT`, { headers, signal: controller.signal }).catch(
      (e: Error) => e.name,
    );
    await new Promise((r) => setTimeout(r, 150));
    controller.abort();
    expect(await pending).toBe('AbortError');
    await new Promise((r) => setTimeout(r, 800)); // past the pause: an admission would have gone out by now
    expect(bed.sim.stats().requests).toBe(0);
    expect((await scheduler.snapshot()).buckets.find((b) => b.id === `uid:${UID}:Spot`)!.used).toBe(0);
    expect(bed.proxy.stats().inFlight).toBe(0);
  });

  it('close (SIGTERM in the CLI) drains: waiting requests still go within drainMs, those left get KS_PROXY_DRAINING, new connections are refused', async () => {
    bed = await proxyBed({}, { unsignedMaxWaitMs: 30_000 });
    const events: string[] = [];
    bed.proxy.on('draining', (e) => events.push(`draining ${e.inFlight}`));
    bed.proxy.on('closed', (e) => events.push(`closed forwarded=${e.forwarded}`));
    const scheduler = bed.proxy.scheduler(UID)!;
    await scheduler.pause('spot', Date.now() + 300); // the signed read waits 300 ms
    await scheduler.pause('public', Date.now() + 20_000); // the public read would wait 20 s
    const soon = send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY });
    const late = send(bed.proxy.url, 'GET', TICKER);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const closing = bed.proxy.close({ drainMs: 1_000 });
    const refused = await send(bed.proxy.url, 'GET', TICKER).catch((e: NodeJS.ErrnoException) => e.code);
    expect(refused).toBe('ECONNREFUSED');
    expect((await soon).json?.code).toBe('200000');
    const left = await late;
    expect([left.status, left.json?.code]).toEqual([503, 'KS_PROXY_DRAINING']);
    await closing;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(events).toEqual(['draining 2', 'closed forwarded=1']);
    expect(bed.sim.stats().requests).toBe(1);
  });
});

describe('secrets', () => {
  it('no API key, secret, passphrase or signature in any event, local answer or metric', async () => {
    bed = await proxyBed({ cloudflare: { limit: 2, windowMs: 10_000, blockMs: 1_000 } }, { metrics: true, unsignedMaxWaitMs: 100 });
    const seen: unknown[] = [];
    for (const name of ['refused', 'signal', 'draining', 'closed', 'websocket'] as (keyof ProxyEvents)[]) bed.proxy.on(name, (e) => seen.push(e));
    const texts: string[] = [];
    const signed = authHeaders(KEY, 'GET', '/api/v1/hf/orders/active?symbol=BTC-USDT', '');
    const stale = authHeaders(KEY, 'GET', '/api/v1/hf/orders/active?symbol=BTC-USDT', '', Date.now() - 10_000);
    const other = { key: 'other-key-zzz', secret: 'other-secret-zzz', passphrase: 'other-pass-zzz' };
    const otherSigned = authHeaders(other, 'POST', '/api/v1/hf/orders', '{}');
    for (const r of [
      await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY }),
      await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { headers: stale }),
      await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { headers: otherSigned, body: '{}' }),
      await send(bed.proxy.url, 'GET', TICKER, { credentials: KEY }),
      await send(bed.proxy.url, 'GET', TICKER, { credentials: KEY }),
      await send(bed.proxy.url, 'GET', TICKER, { credentials: KEY }),
      await send(bed.proxy.url, 'GET', '/spot/api/v1/accounts', {
        headers: { 'KC-API-KEY': KEY.key, 'KC-API-TIMESTAMP': 'x', 'KC-API-SIGN': signed['KC-API-SIGN']! },
      }),
      await send(bed.proxy.url, 'GET', '/metrics'),
    ])
      texts.push(r.text, JSON.stringify(r.headers));
    expect(texts.at(-2)).toContain('kucoin_proxy_refused_total');
    expect(texts.at(-2)).toContain('kucoin_scheduler_bucket_used_weight');
    const all = JSON.stringify(seen) + texts.join('\n');
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const secret of [
      KEY.key,
      KEY.secret,
      KEY.passphrase,
      signed['KC-API-SIGN'],
      signed['KC-API-PASSPHRASE'],
      stale['KC-API-SIGN'],
      other.key,
      other.secret,
      otherSigned['KC-API-SIGN'],
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
