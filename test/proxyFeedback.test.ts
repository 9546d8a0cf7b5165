// KuCoin's replies through the proxy: read and fed back exactly as the library does; a refusal KuCoin did not
// execute is sent again while the signature is valid; a paused scope is answered locally; nothing that may have
// run is ever sent again.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createProxy, MemoryStore, type ProxyEvents } from '../src/index.js';
import type { BucketConfig, Observation, ObserveResult } from '../src/store/types.js';
import { InjectedCodes } from '../src/simulator/injectedCodes.js';
import { gatewayReplyOf } from '../src/proxy/upstream.js';
import { classifyReply } from '../src/kucoin/errorFeedback.js';
import { KEY, proxyBed, send, UID, type ProxyBed } from './helpers/proxySetup.js';

let bed: ProxyBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const order = (clientOid?: string) =>
  JSON.stringify({ ...(clientOid ? { clientOid } : {}), symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1' });
const outcomes = (b: ProxyBed, method?: string) =>
  b.sim
    .stats()
    .arrivals.filter((a) => method === undefined || a.method === method)
    .map((a) => a.outcome);

describe('feedback through the proxy', () => {
  it('a 429000 KuCoin did not execute is sent again once the pool may admit, while the signature is valid; the bot sees only the success', async () => {
    const codes = new InjectedCodes();
    bed = await proxyBed({ codes, pools: { Spot: { windowMs: 1_000 } } }, { scheduler: { pools: { spot: { windowMs: 1_000 } } } });
    const signals: ProxyEvents['signal'][] = [];
    bed.proxy.on('signal', (e) => signals.push(e));
    await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY }); // opens the server window
    codes.inject({ code: '429000', count: 1, endpoint: 'POST /api/v1/hf/orders' });
    const r = await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: order('re-1') });
    expect(r.json?.code).toBe('200000');
    expect(outcomes(bed, 'POST')).toEqual(['429000', 'ok']);
    expect(signals.map((s) => `${s.signal} ${s.endpoint} resent=${s.resent}`)).toEqual(['429000 spot POST /api/v1/hf/orders resent=true']);
    expect(bed.proxy.stats().forwarded).toBe(3);
  });

  it('when the pause outlasts the signature: one 429000 reaches KuCoin, the bot gets the local 429000, and nothing more is sent into the paused pool', async () => {
    bed = await proxyBed();
    await send(bed.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY });
    bed.sim.exhaust(UID, 'Spot'); // a web UI spent the rest of the 30 s window
    const first = await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: order('ex-1') });
    expect(first.status).toBe(429);
    expect(first.json?.code).toBe('429000');
    expect(Number(first.headers['retry-after'])).toBeGreaterThan(20);
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const r = await send(bed.proxy.url, 'DELETE', '/spot/api/v1/hf/orders/1?symbol=BTC-USDT', { credentials: KEY });
      expect(r.headers['x-ks-proxy']).toBe('429000');
    }
    expect(Date.now() - started).toBeLessThan(1_000); // answered at once, not after waiting
    expect(outcomes(bed).filter((o) => o !== 'hidden')).toEqual(['ok', '429000']);
    // a public read is another pool: it still goes
    expect((await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT')).json?.code).toBe('200000');
  });

  it('a Cloudflare 1015 pauses the egress IP: requests are answered locally while it lasts, then flow again', async () => {
    bed = await proxyBed({ cloudflare: { limit: 3, windowMs: 10_000, blockMs: 1_500 } }, { unsignedMaxWaitMs: 500 });
    for (let i = 0; i < 3; i++) await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT');
    const blocked = await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT');
    expect(blocked.json?.code).toBe('429000'); // the block (1.5 s) is longer than this read may wait (0.5 s)
    const during = bed.sim.stats().requests;
    const cancel = await send(bed.proxy.url, 'DELETE', '/spot/api/v1/hf/orders/1?symbol=BTC-USDT', { credentials: KEY, signedAt: Date.now() - 3_500 });
    expect(cancel.json?.code).toBe('429000');
    expect(bed.sim.stats().requests).toBe(during); // nothing into the paused IP
    await new Promise((r) => setTimeout(r, 1_600));
    expect((await send(bed.proxy.url, 'GET', '/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT')).json?.code).toBe('200000');
    expect(outcomes(bed)).toEqual(['ok', 'ok', 'ok', '1015', 'ok']);
  });

  it('never sends again what may have run: a 503 and an order without reply are passed back after one send', async () => {
    bed = await proxyBed({}, { upstreamTimeoutMs: 400 });
    bed.sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const failed = await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: order() });
    expect(failed.status).toBe(503); // KuCoin's reply, as it came
    expect(failed.headers['x-ks-proxy']).toBeUndefined();
    bed.sim.failNext(1, 'hang', 'POST /api/v1/hf/orders');
    const hung = await send(bed.proxy.url, 'POST', '/spot/api/v1/hf/orders', { credentials: KEY, body: order('h-1') });
    expect([hung.status, hung.json?.code]).toEqual([504, 'KS_PROXY_UPSTREAM_TIMEOUT']);
    expect(hung.json?.msg).toMatch(/may have been executed/);
    expect(outcomes(bed, 'POST')).toEqual(['http-503', 'hang']);
  });

  it('under load, header observations of a pool go to the store one at a time, newest first: far fewer than replies, and what KuCoin reports is still learned', async () => {
    class CountingStore extends MemoryStore {
      observed = 0;
      override async observe(bucket: BucketConfig, o: Observation): Promise<ObserveResult> {
        if (bucket.id.endsWith(':Spot')) this.observed++;
        return super.observe(bucket, o);
      }
    }
    const store = new CountingStore();
    // the account is VIP 2 at KuCoin (Spot 8000), the proxy is configured with VIP 0 (4000): replies teach it
    bed = await proxyBed(
      { accounts: [{ ...KEY, uid: UID, vipLevel: 2 }], latencyMs: { min: 2, max: 2 }, cloudflare: false },
      { store, scheduler: { cloudflare: false } }, // no per-IP pacing: the 300 come at once
    );
    const replies = await Promise.all(
      Array.from({ length: 300 }, () => send(bed!.proxy.url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY })),
    );
    expect(replies.every((r) => r.json?.code === '200000' && r.headers['gw-ratelimit-limit'] === '8000')).toBe(true);
    await new Promise((r) => setTimeout(r, 50)); // the newest kept observation goes after the gap
    const spot = (await bed.proxy.scheduler(UID)!.snapshot()).buckets.find((b) => b.id === `uid:${UID}:Spot`)!;
    console.log(`300 concurrent replies through the proxy: ${store.observed} header observations of the Spot pool; limit learned ${spot.limit}`);
    expect(store.observed).toBeGreaterThanOrEqual(2);
    expect(store.observed).toBeLessThan(100);
    expect(spot.limit).toBe(8000);
  });

  it('an upstream that cannot be reached: 502 KS_PROXY_UPSTREAM_UNREACHABLE (nothing was sent)', async () => {
    bed = await proxyBed({}, { upstreams: { spot: 'http://127.0.0.1:1' } });
    const r = await send(bed.proxy.url, 'GET', '/spot/api/v1/timestamp');
    expect([r.status, r.json?.code]).toEqual([502, 'KS_PROXY_UPSTREAM_UNREACHABLE']);
  });

  it('TLS to the upstream is verified: a certificate no authority signed is refused before anything is sent (502, not sent)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-tls-'));
    try {
      await promisify(execFile)(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=localhost'],
        {
          timeout: 30_000,
        },
      );
      bed = await proxyBed();
      const spot = new URL(bed.sim.urls.spot);
      // a TLS terminator in front of the simulator, with a self-signed certificate
      const tls = createTlsServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (socket) => {
        const upstream = connect(Number(spot.port), spot.hostname);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
      const port = (tls.address() as { port: number }).port;
      const proxy = await createProxy({ port: 0, upstreams: { spot: `https://localhost:${port}` }, metrics: false });
      try {
        const r = await send(proxy.url, 'GET', '/spot/api/v1/timestamp');
        expect([r.status, r.json?.code]).toEqual([502, 'KS_PROXY_UPSTREAM_UNREACHABLE']);
        expect(bed.sim.stats().requests).toBe(0);
      } finally {
        await proxy.close({ drainMs: 0 });
        tls.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a compressed reply for its code and headers (gzip, deflate, br), and passes the bytes back as they came', async () => {
    const body = gzipSync(JSON.stringify({ code: '429000', msg: 'Too Many Requests' }));
    const reply = { status: 429, headers: { 'content-encoding': 'gzip', 'gw-ratelimit-reset': '800' }, body };
    const c = classifyReply(gatewayReplyOf(reply));
    expect([c.signal, c.code, c.rateLimit.resetMs]).toEqual(['429000', '429000', 800]);
    const bomb = { status: 200, headers: { 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(50_000_000)) };
    expect(gatewayReplyOf(bomb).body).toBeUndefined(); // never inflated past the bound
  });
});
