// Real clients, as their users configure them, through the proxy against the simulator: ccxt (urls.api, as
// freqtrade's ccxt_config), the official kucoin-universal-sdk (setSpotEndpoint / setFuturesEndpoint), a Python bot
// on Debian's python3-requests (hmac signing, as KuCoin's docs show), curl. Each places and cancels an order and
// reads market data; each meets the proxy's local 429000, and the test says how it reacts.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ccxt from 'ccxt';
import { ClientOptionBuilder, DefaultClient, Spot, TransportOptionBuilder } from 'kucoin-universal-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders } from '../src/kucoin/signing.js';
import { KEY, proxyBed, UID, type ProxyBed } from './helpers/proxySetup.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/proxy_bot.py', import.meta.url));
/** Debian's python, with Debian's python3-requests (a `python3` on PATH may be another one without it). */
const PYTHON = '/usr/bin/python3';

let bed: ProxyBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const arrivals = (b: ProxyBed) => b.sim.stats().arrivals.map((a) => `${a.host} ${a.method} ${a.target} ${a.outcome}`);

describe('real clients through the proxy', () => {
  it('ccxt (kucoin, kucoinfutures) with urls.api pointed at the proxy: orders, cancels, reads; raw "," and ":" and its partner headers reach KuCoin unchanged; the local 429000 is a RateLimitExceeded', async () => {
    bed = await proxyBed();
    const { proxy } = bed;
    const exchange = new ccxt.kucoin({ apiKey: KEY.key, secret: KEY.secret, password: KEY.passphrase });
    const api = exchange.urls.api as Record<string, string>;
    for (const name of Object.keys(api)) api[name] = `${proxy.url}/${/futures/i.test(name) ? 'futures' : name === 'broker' ? 'broker' : 'spot'}`;
    const placed = (await exchange.privatePostHfOrders({ clientOid: 'cc-1', symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1' })) as {
      data: { orderId: string };
    };
    await exchange.privateDeleteHfOrdersOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' });
    await exchange.publicGetMarketOrderbookLevel1({ symbol: 'BTC-USDT' });
    await exchange.privateGetHfOrdersActive({ symbol: 'BTC-USDT', tag: 'a:b,c' });
    const futures = new ccxt.kucoinfutures({ apiKey: KEY.key, secret: KEY.secret, password: KEY.passphrase });
    const fapi = futures.urls.api as Record<string, string>;
    for (const name of Object.keys(fapi)) fapi[name] = `${proxy.url}/${/futures/i.test(name) ? 'futures' : 'spot'}`;
    await futures.futuresPrivateGetPositions();
    expect(arrivals(bed)).toEqual([
      'spot POST /api/v1/hf/orders ok',
      `spot DELETE /api/v1/hf/orders/${placed.data.orderId}?symbol=BTC-USDT ok`,
      'spot GET /api/v1/market/orderbook/level1?symbol=BTC-USDT ok',
      'spot GET /api/v1/hf/orders/active?symbol=BTC-USDT&tag=a:b,c ok',
      'futures GET /api/v1/positions ok',
    ]);
    const headers = bed.sim.stats().arrivals[0]!.rawHeaders!.filter((_, i) => i % 2 === 0);
    expect(headers).toEqual(expect.arrayContaining(['KC-API-PARTNER', 'KC-API-PARTNER-SIGN', 'KC-API-PARTNER-VERIFY']));

    await proxy.scheduler(UID)!.pause('spot', Date.now() + 10_000);
    const error = await exchange.privateGetHfOrdersActive({ symbol: 'BTC-USDT' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ccxt.RateLimitExceeded);
    console.log(`ccxt meets the local 429000: ${error.constructor.name} (a NetworkError: ccxt's callers, freqtrade among them, back off and retry)`);
    expect(proxy.stats().refused).toEqual({ '429000': 1 });
  });

  it('kucoin-universal-sdk with setSpotEndpoint / setFuturesEndpoint: orders, cancels, reads; on the local 429000 axios-retry re-sends a GET (same signature) maxRetries times, then the caller gets a RestError (429, code 429000)', async () => {
    bed = await proxyBed();
    const { proxy } = bed;
    const option = new ClientOptionBuilder()
      .setKey(KEY.key)
      .setSecret(KEY.secret)
      .setPassphrase(KEY.passphrase)
      .setSpotEndpoint(`${proxy.url}/spot`)
      .setFuturesEndpoint(`${proxy.url}/futures`)
      .setBrokerEndpoint(`${proxy.url}/broker`)
      // maxRetries and retryDelay: the SDK's are 3 and 2 s; smaller here to keep the test short
      .setTransportOption(new TransportOptionBuilder().setKeepAlive(true).setMaxRetries(2).setRetryDelay(300).build())
      .build();
    const rest = new DefaultClient(option).restService();
    const orders = rest.getSpotService().getOrderApi();
    const market = rest.getSpotService().getMarketApi();
    const R = Spot.Order.AddOrderReq;
    const placed = await orders.addOrder(
      R.builder().setClientOid('sdk-1').setSymbol('BTC-USDT').setSide(R.SideEnum.BUY).setType(R.TypeEnum.LIMIT).setPrice('1').setSize('1').build(),
    );
    await orders.cancelOrderByOrderId(Spot.Order.CancelOrderByOrderIdReq.builder().setOrderId(placed.orderId).setSymbol('BTC-USDT').build());
    const ticker = await market.getTicker(Spot.Market.GetTickerReq.builder().setSymbol('BTC-USDT').build());
    expect(ticker.commonResponse?.rateLimit?.limit).toBe(2000); // KuCoin's headers reach the SDK
    await rest.getFuturesService().getMarketApi().getServerTime();
    expect(arrivals(bed)).toEqual([
      'spot POST /api/v1/hf/orders ok',
      `spot DELETE /api/v1/hf/orders/${placed.orderId}?symbol=BTC-USDT ok`,
      'spot GET /api/v1/market/orderbook/level1?symbol=BTC-USDT ok',
      'futures GET /api/v1/timestamp ok',
    ]);

    await proxy.scheduler(UID)!.pause('public', Date.now() + 30_000);
    const error = (await market.getTicker(Spot.Market.GetTickerReq.builder().setSymbol('BTC-USDT').build()).catch((e: unknown) => e)) as {
      getError(): { response?: { status: number; data: { code: string }; headers: Record<string, string> } };
    };
    const response = error.getError().response!;
    expect([response.status, response.data.code, Number(response.headers['retry-after'])]).toEqual([429, '429000', 30]);
    // the SDK signs public calls too; axios-retry re-sends an idempotent request on a 429, with the same headers
    expect(proxy.stats().refused).toEqual({ '429000': 3 });
    expect(proxy.stats().forwarded).toBe(4);
    console.log(
      `kucoin-universal-sdk meets the local 429000: axios-retry re-sent the GET ${proxy.stats().refused['429000']! - 1} times with the same signature (the proxy answers each locally; once older than 4 s: "sign again"), then RestError with getError().response.status ${response.status}, data.code ${response.data.code}`,
    );
  });

  it("a Python bot on requests with hmac signing (KuCoin's docs): orders, cancels, reads; its own retry waits Retry-After and signs again", async () => {
    bed = await proxyBed({}, { timestampMarginMs: 4_500 }); // a signed request may wait 0.5 s here, so a 1.5 s pause is refused
    const { proxy } = bed;
    await proxy.scheduler(UID)!.pause('management', Date.now() + 1_500); // its last call (GET /api/v1/accounts) meets the 429000
    const { stdout } = await run(PYTHON, [fixture, 'once', `${proxy.url}/spot`], {
      env: { ...process.env, KUCOIN_KEY: KEY.key, KUCOIN_SECRET: KEY.secret, KUCOIN_PASSPHRASE: KEY.passphrase },
      timeout: 30_000,
    });
    const report = JSON.parse(stdout) as { place: string; cancel: string; ticker: string; accounts: { code: string; tries: number; ms: number } };
    expect(report).toMatchObject({ place: '200000', cancel: '200000', ticker: '200000', accounts: { code: '200000', tries: 2 } });
    expect(arrivals(bed).map((a) => a.replace(/orders\/sim-\d+/, 'orders/ID'))).toEqual([
      'spot POST /api/v1/hf/orders ok',
      'spot DELETE /api/v1/hf/orders/ID?symbol=BTC-USDT ok',
      'spot GET /api/v1/market/orderbook/level1?symbol=BTC-USDT ok',
      'spot GET /api/v1/accounts ok',
    ]);
    console.log(
      `python requests bot meets the local 429000: waited Retry-After, signed again, ok after ${report.accounts.tries} tries (${report.accounts.ms} ms)`,
    );
  });

  it('curl: a public read, a signed order, the X-Proxy-To contract; on the local 429000 it prints the 429 (with --retry it re-sends the same signature)', async () => {
    bed = await proxyBed();
    const { proxy } = bed;
    const curl = async (...args: string[]) => (await run('curl', ['-s', '-w', '\n%{http_code}', ...args], { timeout: 20_000 })).stdout.split('\n');
    const [tickerBody, tickerStatus] = await curl(`${proxy.url}/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT`);
    expect([JSON.parse(tickerBody!).code, tickerStatus]).toEqual(['200000', '200']);
    const body = '{"clientOid":"curl-1","symbol":"BTC-USDT","side":"buy","type":"limit","price":"1","size":"1"}';
    const h = authHeaders(KEY, 'POST', '/api/v1/hf/orders', body);
    const headerArgs = Object.entries(h).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const [orderBody] = await curl('-X', 'POST', `${proxy.url}/spot/api/v1/hf/orders`, ...headerArgs, '-H', 'Content-Type: application/json', '-d', body);
    expect(JSON.parse(orderBody!).code).toBe('200000');
    const [timeBody] = await curl('-H', 'X-Proxy-To: https://api-futures.kucoin.com/api/v1/timestamp', `${proxy.url}/`);
    expect(JSON.parse(timeBody!).code).toBe('200000');
    await proxy.scheduler(UID)!.pause('public', Date.now() + 30_000);
    const [limitedBody, limitedStatus] = await curl(`${proxy.url}/spot/api/v1/market/orderbook/level1?symbol=BTC-USDT`);
    expect([JSON.parse(limitedBody!).code, limitedStatus]).toEqual(['429000', '429']);
    expect(arrivals(bed)).toEqual([
      'spot GET /api/v1/market/orderbook/level1?symbol=BTC-USDT ok',
      'spot POST /api/v1/hf/orders ok',
      'futures GET /api/v1/timestamp ok',
    ]);
  });
});
