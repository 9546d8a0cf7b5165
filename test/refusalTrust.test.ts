// issue 21, 3: a refusal is believed only where KuCoin sends one (its status and its body shape,
// docs/RATE-LIMITS.md section 4); anything else on an order that is not safe to repeat may have executed and is
// sent once. KucoinClient and the official SDK (kucoin-universal-sdk) against the gateway simulator.
import { ClientOptionBuilder, DefaultClient, Spot, TransportOptionBuilder } from 'kucoin-universal-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, KucoinClient, MemoryStore, withKucoinScheduler } from '../src/index.js';
import { classifyReply } from '../src/kucoin/errorFeedback.js';
import { isSafeToRepeat } from '../src/send/safeToRepeat.js';
import { InjectedCodes, type CodeInjection } from '../src/simulator/injectedCodes.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';

const CREDS = { key: 'key-trust-1', secret: 'secret-trust-value', passphrase: 'pass-trust-value' };
const RATE_LIMITED_PAGE = '<html><body><h1>Error 1015</h1><h2>You are being rate limited</h2></body></html>';
const TOO_MANY = 'Too many requests in a short period of time, please retry later';

let sim: GatewaySimulator | undefined;
let client: KucoinClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = sim = undefined;
});

async function setup() {
  const codes = new InjectedCodes();
  // a short Spot window: a believed 429000 pauses until its reset, a few hundred ms here
  sim = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'u1' }], codes, pools: { Spot: { windowMs: 300 } } });
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
  client = new KucoinClient({
    scheduler,
    credentials: { ...CREDS, keyVersion: '2' },
    baseUrls: sim.urls,
    transportRetries: 2,
    errorActions: { retryLaterBackoff: { baseMs: 10, maxMs: 40 } }, // a 5xx backs the host off: short here
  });
  return { sim, codes, scheduler, client };
}

const orderSends = (s: GatewaySimulator) => s.stats().arrivals.filter((a) => a.endpoint === '/api/v1/hf/orders').length;

/** Replies that carry a refusal's code or page under a status KuCoin never refuses with. */
const NOT_KUCOIN_REFUSALS: readonly [string, Omit<CodeInjection, 'count' | 'endpoint'>][] = [
  ['500 {429000}', { code: '429000', status: 500 }],
  ['500 {429001}', { code: '429001', status: 500 }],
  ['500 {429002}', { code: '429002', status: 500 }],
  ['503 {429000}', { code: '429000', status: 503 }],
  ['200 {429000}', { code: '429000', status: 200 }],
  ['403 {429002}', { code: '429002', status: 403 }],
  ['500 {200002 too many}', { code: '200002', status: 500, msg: TOO_MANY }],
  ['502 rate-limited page', { code: '1015', status: 502, body: RATE_LIMITED_PAGE }],
  ['503 rate-limited page', { code: '1015', status: 503, body: RATE_LIMITED_PAGE }],
  ['500 "you are being rate limited"', { code: '1015', status: 500, body: 'You are being rate limited' }],
  ['200 "You are being rate limited"', { code: '1015', status: 200, body: 'You are being rate limited' }],
  ['200 "error code: 1015"', { code: '1015', status: 200, body: 'error code: 1015' }],
  ['404 rate-limited page', { code: '1015', status: 404, body: RATE_LIMITED_PAGE }],
];

describe('KucoinClient: an order without a clientOid', () => {
  it('is sent exactly once when a reply carries a refusal under a status KuCoin never refuses with', async () => {
    const { sim, codes, client } = await setup();
    const seen: string[] = [];
    let twice = 0;
    for (const [name, injection] of NOT_KUCOIN_REFUSALS) {
      for (const clientOid of [undefined, '', '   ']) {
        codes.inject({ ...injection, endpoint: 'POST /api/v1/hf/orders', count: 10 });
        const before = orderSends(sim);
        const body = { symbol: 'BTC-USDT', side: 'buy', ...(clientOid === undefined ? {} : { clientOid }) };
        const err = await client.request({ method: 'POST', path: '/api/v1/hf/orders', body }).catch((e) => e);
        const sends = orderSends(sim) - before;
        codes.clear();
        // a typed error that does not call it a refusal (no signal: it may have executed)
        if (sends !== 1 || err?.signal !== undefined || !(err?.code === 'KS_KUCOIN_API' || err?.code === 'KS_REQUEST_FAILED')) twice++;
        seen.push(`${name} clientOid ${JSON.stringify(clientOid)}: ${sends} send(s), ${err?.code} signal ${err?.signal}`);
      }
    }
    console.log(`${twice} of ${seen.length} replies sent an order without a clientOid more than once (or called it refused):\n  ${seen.join('\n  ')}`);
    expect(twice).toBe(0);
  });

  it("is still sent again after KuCoin's own refusals (429 + 429000, 429 + 429002): they were not executed", async () => {
    const { sim, codes, client } = await setup();
    codes.inject({ code: '429000', endpoint: 'POST /api/v1/hf/orders', count: 1 });
    const placed = await client.request<{ orderId: string }>({ method: 'POST', path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT', side: 'buy' } });
    expect(placed.attempts).toBe(2);
    expect(placed.data.orderId).toMatch(/^sim-/);
    expect(orderSends(sim)).toBe(2);
    codes.inject({ code: '429002', endpoint: 'POST /api/v1/hf/orders', count: 1 });
    const again = await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT', side: 'buy' } });
    expect(again.attempts).toBe(2);
  });

  it('a 5xx refusal look-alike on a read or a clientOid order is retried as a 5xx (host backoff), within transportRetries', async () => {
    const { sim, codes, client } = await setup();
    codes.inject({ code: '429000', status: 500, endpoint: 'POST /api/v1/hf/orders', count: 1 });
    const placed = await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT', side: 'buy', clientOid: 'trust-1' } });
    expect(placed.attempts).toBe(2);
    codes.inject({ code: '429000', status: 500, endpoint: 'GET /api/v1/accounts', count: 5 });
    const err = await client.request({ method: 'GET', path: '/api/v1/accounts' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_REQUEST_FAILED', attempts: 3 }); // 1 + transportRetries, not feedback.maxAttempts
    expect(sim.stats().arrivals.filter((a) => a.endpoint === '/api/v1/accounts')).toHaveLength(3);
  });
});

describe('kucoin-universal-sdk: an order without a clientOid (or with clientOid "")', () => {
  async function sdk() {
    const codes = new InjectedCodes();
    sim = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'u1' }], codes });
    const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
    const transport = withKucoinScheduler(new TransportOptionBuilder().setKeepAlive(true), { scheduler, baseUrls: sim.urls, credentials: CREDS }).build();
    const option = new ClientOptionBuilder()
      .setKey(CREDS.key)
      .setSecret(CREDS.secret)
      .setPassphrase(CREDS.passphrase)
      .setSpotEndpoint(sim.urls.spot)
      .setFuturesEndpoint(sim.urls.futures)
      .setBrokerEndpoint(sim.urls.broker)
      .setTransportOption(transport)
      .build();
    return { sim, codes, scheduler, orders: new DefaultClient(option).restService().getSpotService().getOrderApi() };
  }
  const order = (clientOid: string | undefined) => {
    const R = Spot.Order.AddOrderReq;
    const b = R.builder().setSymbol('BTC-USDT').setSide(R.SideEnum.BUY).setType(R.TypeEnum.LIMIT).setPrice('1').setSize('1');
    return (clientOid === undefined ? b : b.setClientOid(clientOid)).build();
  };

  it('is sent once after an HTTP 200 plain-text "rate limited", a 500 carrying 429000 or 429002, a 503', async () => {
    const { sim, codes, scheduler, orders } = await sdk();
    const seen: string[] = [];
    let twice = 0;
    const replies: [string, Omit<CodeInjection, 'count' | 'endpoint'>][] = [
      ['200 "You are being rate limited"', { code: '1015', status: 200, body: 'You are being rate limited' }],
      ['200 rate-limited page', { code: '1015', status: 200, body: RATE_LIMITED_PAGE }],
      ['500 {429000}', { code: '429000', status: 500 }],
      ['500 {429002}', { code: '429002', status: 500 }],
      ['502 rate-limited page', { code: '1015', status: 502, body: RATE_LIMITED_PAGE }],
      ['503 {503000}', { code: '503000' }],
    ];
    for (const [name, injection] of replies) {
      for (const clientOid of [undefined, '']) {
        codes.inject({ ...injection, endpoint: 'POST /api/v1/hf/orders', count: 10 });
        const before = orderSends(sim);
        const outcome = await orders.addOrder(order(clientOid)).then(
          () => 'placed',
          () => 'failed',
        );
        const sends = orderSends(sim) - before;
        codes.clear();
        await scheduler.resume(); // the next case does not wait out this one's host backoff
        if (sends !== 1) twice++;
        seen.push(`${name} clientOid ${JSON.stringify(clientOid)}: ${sends} send(s), ${outcome}`);
      }
    }
    console.log(`SDK: ${twice} of ${seen.length} replies sent an order without a clientOid more than once:\n  ${seen.join('\n  ')}`);
    expect(twice).toBe(0);
  });
});

describe('the rule, as a table', () => {
  it('classifyReply: a signal only under the status KuCoin refuses with (or an unknown one); `refused` only with a known status', () => {
    const cf = { server: 'cloudflare', 'cf-ray': '1-X' };
    const cases: [string, Parameters<typeof classifyReply>[0], string | undefined, boolean][] = [
      ['429 429000', { status: 429, body: { code: '429000' } }, '429000', true],
      ['429 429001', { status: 429, body: { code: '429001' } }, '429001', true],
      ['429 429002', { status: 429, body: { code: '429002' } }, '429002', true],
      ['200 200002 too many', { status: 200, body: { code: '200002', msg: TOO_MANY } }, '200002', true],
      ['429 cloudflare page', { status: 429, headers: cf, body: RATE_LIMITED_PAGE }, '1015', true],
      ['403 cloudflare page', { status: 403, headers: cf, body: RATE_LIMITED_PAGE }, '1015', true],
      ['429 no code', { status: 429, body: 'slow down' }, 'http-429', true],
      ['403 no code', { status: 403, body: '' }, 'http-403', true],
      ['no status 429000 (an error message)', { body: '{"code":"429000"}' }, '429000', false],
      ['no status page', { body: RATE_LIMITED_PAGE }, '1015', false],
      ['500 429000', { status: 500, body: { code: '429000' } }, undefined, false],
      ['502 429002', { status: 502, body: { code: '429002' } }, undefined, false],
      ['200 429000', { status: 200, body: { code: '429000' } }, undefined, false],
      ['403 429000', { status: 403, body: { code: '429000' } }, undefined, false],
      ['500 200002 too many', { status: 500, body: { code: '200002', msg: TOO_MANY } }, undefined, false],
      ['502 page', { status: 502, body: RATE_LIMITED_PAGE }, undefined, false],
      ['502 cloudflare page', { status: 502, headers: cf, body: RATE_LIMITED_PAGE }, undefined, false],
      ['200 plain text', { status: 200, body: 'You are being rate limited' }, undefined, false],
      ['200 plain text bytes', { status: 200, body: new TextEncoder().encode('error code: 1015') }, undefined, false],
    ];
    const wrong = cases
      .map(([name, reply, signal, refused]) => ({ name, got: classifyReply(reply), signal, refused }))
      .filter((c) => c.got.signal !== c.signal || c.got.refused !== c.refused)
      .map((c) => `${c.name}: ${c.got.signal}/${c.got.refused}, expected ${c.signal}/${c.refused}`);
    expect(wrong).toEqual([]);
  });

  it('isSafeToRepeat: a read, or a body whose clientOid is a non-blank string; never throws', () => {
    const hostile = {
      get clientOid(): string {
        throw new Error('getter');
      },
    };
    const cases: [string, unknown, boolean][] = [
      ['GET', undefined, true],
      ['get', '', true],
      ['POST', '{"clientOid":"a-1"}', true],
      ['POST', ' {"clientOid":"a-1"}', true],
      ['POST', new TextEncoder().encode('{"clientOid":"a-1"}'), true],
      ['POST', { clientOid: 'a-1' }, true],
      ['POST', '{"clientOid":""}', false],
      ['POST', '{"clientOid":"   "}', false],
      ['POST', '{"clientOid":"\\t\\n"}', false],
      ['POST', '{"clientOid":"a","clientOid":""}', false], // the last key is the one parsed
      ['POST', '{"clientOid":123}', false],
      ['POST', '{"clientOid":null}', false],
      ['POST', '{"orderList":[{"clientOid":"a"}]}', false],
      ['POST', '[{"clientOid":"a"}]', false],
      ['POST', '{"clientOid":"a"', false],
      ['POST', { clientOid: '' }, false],
      ['POST', hostile, false],
      ['POST', undefined, false],
      ['POST', null, false],
      ['PUT', 'clientOid=a', false],
    ];
    const wrong = cases.filter(([m, body, safe]) => isSafeToRepeat(m, body) !== safe).map(([m, body]) => `${m} ${JSON.stringify(body)}`);
    expect(wrong).toEqual([]);
  });
});
