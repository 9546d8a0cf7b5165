import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { classifyReply, createScheduler, FEEDBACK_RULES, MemoryStore, parseRateLimitHeaders, replyFromError } from '../src/index.js';

const rl = (limit: number, remaining: number, reset: number) => ({
  'gw-ratelimit-limit': String(limit),
  'gw-ratelimit-remaining': String(remaining),
  'gw-ratelimit-reset': String(reset),
});
const CF_PAGE =
  '<!DOCTYPE html><html><head><title>Access denied | api.kucoin.com used Cloudflare to restrict access</title></head><body><h1>Error 1015</h1><p>You are being rate limited</p><span>error code: 1015</span></body></html>';

describe('classifyReply', () => {
  it('reads the five signals and their scopes', () => {
    expect(classifyReply({ status: 429, headers: rl(4000, 0, 1234), body: { code: '429000', msg: 'Too Many Requests' } })).toMatchObject({
      signal: '429000',
      rateLimit: { limit: 4000, remaining: 0, resetMs: 1234 },
    });
    expect(
      classifyReply({ status: 429, body: '{"code":"429001","msg":"Too many total requests in a short period. Please retry later. (SYSTEM LIMIT)"}' }).signal,
    ).toBe('429001');
    expect(classifyReply({ status: 429, body: { code: '429002', msg: 'MULTY LIMIT PER CONNECTION' } }).signal).toBe('429002');
    expect(classifyReply({ status: 429, headers: { 'retry-after': '30', server: 'cloudflare', 'cf-ray': '8c1' }, body: CF_PAGE })).toMatchObject({
      signal: '1015',
      retryAfterMs: 30_000,
    });
    expect(classifyReply({ status: 200, body: { code: '200002', msg: 'Too many requests in a short period of time, please retry later' } }).signal).toBe(
      '200002',
    );
    for (const s of ['429000', '429001', '429002', '1015', '200002'] as const) expect(FEEDBACK_RULES[s].notExecuted).toBe(true);
    expect(FEEDBACK_RULES['1015'].scope).toBe('ip');
    expect(FEEDBACK_RULES['200002'].scope).toBe('endpoint');
  });

  it('does not take business errors for rate limits', () => {
    expect(classifyReply({ status: 200, body: { code: '200002', msg: 'Order cancel for this pair suspended' } }).signal).toBeUndefined();
    expect(classifyReply({ status: 200, body: { code: '200002', msg: 'The query scope for Level 3 cannot exceed xxx' } }).signal).toBeUndefined();
    expect(classifyReply({ status: 403, body: { code: '400007', msg: 'Access Denied' } }).signal).toBeUndefined();
    expect(classifyReply({ status: 200, body: { code: '200000', data: {} } })).toMatchObject({ signal: undefined, code: '200000' });
  });

  it('falls back on HTTP 429/403 without a known code, and on Cloudflare headers without the page', () => {
    expect(classifyReply({ status: 429, headers: { 'retry-after': '2' } })).toMatchObject({ signal: 'http-429', retryAfterMs: 2000 });
    expect(classifyReply({ status: 403, body: 'Forbidden' }).signal).toBe('http-403');
    expect(classifyReply({ status: 403, headers: { server: 'cloudflare' } })).toMatchObject({ signal: '1015', retryAfterMs: 30_000 });
  });

  it('treats missing, -1, garbage, negative or huge headers as unknown, and survives malformed bodies', () => {
    expect(parseRateLimitHeaders(undefined)).toEqual({ limit: -1, remaining: -1, resetMs: -1 });
    expect(parseRateLimitHeaders({ 'gw-ratelimit-limit': '-1', 'gw-ratelimit-remaining': 'abc', 'gw-ratelimit-reset': '99999999999' })).toEqual({
      limit: -1,
      remaining: -1,
      resetMs: -1,
    });
    expect(parseRateLimitHeaders(new Headers(rl(6000, 10, 5)))).toEqual({ limit: 6000, remaining: 10, resetMs: 5 });
    expect(parseRateLimitHeaders({ 'GW-RateLimit-Limit': ['4000', '1'] })).toMatchObject({ limit: 4000 });
    expect(classifyReply({ status: 200, body: '{"code":"4290' })).toMatchObject({ signal: undefined, code: undefined });
    expect(classifyReply({ status: Number.NaN, body: new Uint8Array([0xff, 0xfe]) }).signal).toBeUndefined();
    expect(classifyReply({ status: 429, headers: { 'retry-after': new Date(Date.now() + 5000).toUTCString() } }).retryAfterMs).toBeGreaterThan(3000);
  });
});

describe('replyFromError', () => {
  it('finds the reply in a kucoin-universal-sdk RestError wrapping an AxiosError', () => {
    const axiosError = {
      message: 'Request failed with status code 429',
      response: { status: 429, headers: rl(4000, 0, 900), data: { code: '429000', msg: 'Too Many Requests' } },
    };
    const restError = { getCommonResponse: () => null, getError: () => axiosError, message: 'request error' };
    expect(classifyReply(replyFromError(restError)!)).toMatchObject({ signal: '429000', rateLimit: { resetMs: 900 } });
  });

  it('reads the 200002 of a kucoin-universal-sdk RestError from its RestResponse, which names it `msg` (issue 10, 3)', () => {
    // the SDK's checkRestResponseError: new RestError(this, new Error('Server returned error, code: {200002}, ...'))
    const common = {
      code: '200002',
      msg: 'Too many requests in a short period of time, please retry later',
      data: null,
      rateLimit: { limit: 4000, remaining: 3990, reset: 20_000 },
    };
    const restError = {
      getCommonResponse: () => common,
      getError: () => new Error('Server returned error, code: {200002}, message: {Too many requests...}'),
      message: 'Server returned error',
    };
    expect(classifyReply(replyFromError(restError)!)).toMatchObject({ signal: '200002', msg: common.msg, rateLimit: { limit: 4000, remaining: 3990 } });
  });

  it('finds it in a ccxt exception message (JSON body or Cloudflare page)', () => {
    expect(classifyReply(replyFromError(new Error('kucoin {"code":"429000","msg":"Too Many Requests"}'))!).signal).toBe('429000');
    expect(classifyReply(replyFromError(new Error(`kucoin GET https://api.kucoin.com/api/v1/timestamp 429 ${CF_PAGE}`))!).signal).toBe('1015');
  });

  it('finds it in plain objects, and returns undefined for unrelated errors', () => {
    expect(classifyReply(replyFromError({ code: '200002', msg: 'Too many requests in a short period of time, please retry later' })!).signal).toBe('200002');
    expect(classifyReply(replyFromError({ status: 429, headers: { 'retry-after': '1' } })!).signal).toBe('http-429');
    expect(replyFromError(new Error('ECONNRESET'))).toBeUndefined();
    expect(replyFromError(Object.assign(new Error('socket'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(replyFromError('boom')).toBeUndefined();
  });
});

describe('classifyReply and replyFromError on hostile input', () => {
  const throwing = () => {
    throw new Error('getter');
  };
  const trap = new Proxy({}, { get: throwing, has: throwing, ownKeys: throwing, getPrototypeOf: throwing });
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();

  it('classifyReply never throws: garbage reads as "nothing known"', () => {
    const replies: [string, unknown][] = [
      ['null', null],
      ['a string', 'HTTP 429'],
      ['a Proxy that throws', trap],
      ['a revoked Proxy', revoked.proxy],
      [
        'throwing status getter',
        {
          get status() {
            return throwing();
          },
        },
      ],
      ['headers Proxy', { status: 429, headers: trap }],
      ['headers get() throws', { status: 429, headers: { get: throwing } }],
      ['header value with throwing toString', { status: 429, headers: { 'retry-after': { toString: throwing } } }],
      ['header value Symbol', { status: 200, headers: { 'gw-ratelimit-limit': Symbol('x') } }],
      ['body Proxy', { status: 429, body: trap }],
      [
        'body code getter throws',
        {
          status: 429,
          body: {
            get code() {
              return throwing();
            },
          },
        },
      ],
      ['body code object with throwing toString', { status: 200, body: { code: { toString: throwing } } }],
      ['body code Symbol', { status: 200, body: { code: Symbol('429000') } }],
      ['body Symbol', { status: 200, body: Symbol('x') }],
      ['body BigInt', { status: 200, body: 429000n }],
      ['body function', { status: 200, body: throwing }],
      ['body 5 MB text', { status: 200, body: `{"code":"200000","pad":"${'x'.repeat(5_000_000)}` }],
      ['body nested JSON string', { status: 200, body: JSON.stringify(JSON.stringify({ code: '429000' })) }],
    ];
    const threw: string[] = [];
    for (const [name, reply] of replies) {
      try {
        const c = classifyReply(reply as never);
        expect(c.rateLimit, name).toEqual({ limit: -1, remaining: -1, resetMs: -1 });
      } catch (error) {
        threw.push(`${name}: ${(error as Error).message}`);
      }
    }
    expect(threw).toEqual([]);
    expect(classifyReply({ status: 429, body: { code: 429000 } }).signal).toBe('429000'); // a numeric code still reads
  });

  it('a polluted Object.prototype teaches nothing', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto['retry-after'] = '86400';
    proto['gw-ratelimit-limit'] = '1';
    try {
      expect(classifyReply({ status: 200, headers: {}, body: { code: '200000' } })).toMatchObject({ retryAfterMs: undefined, rateLimit: { limit: -1 } });
    } finally {
      delete proto['retry-after'];
      delete proto['gw-ratelimit-limit'];
    }
  });

  it('replyFromError never throws on a hostile error, and still finds a reply where one is readable', () => {
    const cyclic: Record<string, unknown> = { message: 'loop' };
    cyclic.cause = cyclic;
    const errors: [string, unknown][] = [
      ['a Proxy that throws', trap],
      ['a revoked Proxy', revoked.proxy],
      [
        'response getter throws',
        {
          get response() {
            return throwing();
          },
          message: 'x',
        },
      ],
      ['getError throws', { getError: throwing, getCommonResponse: throwing, message: 'x' }],
      ['getCommonResponse returns garbage', { getCommonResponse: () => ({ rateLimit: trap, code: trap }) }],
      ['cause Proxy', { cause: trap }],
      ['cyclic cause', cyclic],
      [
        'message getter throws',
        {
          get message() {
            return throwing();
          },
        },
      ],
      ['code object with throwing toString', { code: { toString: throwing }, status: 429 }],
      ['Symbol code', { code: Symbol('429000') }],
      ['10 MB message', new Error(`${'{'.repeat(10)}${'x'.repeat(10_000_000)}`)],
    ];
    const threw: string[] = [];
    for (const [name, err] of errors) {
      try {
        const reply = replyFromError(err);
        if (reply) classifyReply(reply);
      } catch (error) {
        threw.push(`${name}: ${(error as Error).message}`);
      }
    }
    expect(threw).toEqual([]);
    // the readable parts still count: a throwing message getter beside a real response
    const mixed = {
      get message() {
        return throwing();
      },
      response: { status: 429, data: { code: '429000' } },
    };
    expect(classifyReply(replyFromError(mixed)!).signal).toBe('429000');
  });
});

describe('Scheduler.feedback and wrap', () => {
  const T0 = 1_700_000_000_000;
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  function make() {
    return createScheduler({
      uid: 'u1',
      store: new MemoryStore(),
      jitterMs: 0,
      transitMarginMs: 0,
      pools: { spot: { limit: 100, burst: 0 }, public: { limit: 100, burst: 0 }, futures: { limit: 100, burst: 0 } },
    });
  }
  const admit = (s: ReturnType<typeof make>, opts: Parameters<ReturnType<typeof make>['schedule']>[0]) => s.schedule(opts, (a) => a);

  it('429000 pauses the (UID, pool) until the reset, marks it spent, tightens once per window', async () => {
    const s = make();
    const events: string[] = [];
    s.on('feedback', (e) => events.push(`${e.signal} ${e.scope} ${e.bucketId} tightened=${e.tightened}`));
    const a = await admit(s, { endpoint: 'POST /api/v1/hf/orders', priority: 'critical' });
    const out = await s.feedback(a, { status: 429, headers: rl(100, 0, 700), body: { code: '429000', msg: 'Too Many Requests' } });
    expect(out).toMatchObject({ signal: '429000', scope: 'pool', bucketId: 'uid:u1:Spot', pausedUntil: T0 + 700 });
    await s.feedback(a, { status: 429, headers: rl(100, 0, 690), body: { code: '429000' } });
    const spot = (await s.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
    expect(spot).toMatchObject({ factor: 0.9, pausedUntil: T0 + 700 });
    expect(events).toEqual(['429000 pool uid:u1:Spot tightened=true', '429000 pool uid:u1:Spot tightened=false']);
    const ran = vi.fn();
    const p = s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'critical' }, ran);
    const pub = vi.fn();
    await s.schedule({ endpoint: 'GET /api/v1/market/orderbook/level1', priority: 'critical' }, pub); // other pools go on
    expect(pub).toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(699);
    expect(ran).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(ran).toHaveBeenCalled();
  });

  it('1015 pauses every request behind the IP, public and private, for Retry-After', async () => {
    const s = make();
    const a = await admit(s, { endpoint: 'GET /api/v1/market/allTickers' });
    const out = await s.feedback(a, { status: 429, headers: { 'retry-after': '30', server: 'cloudflare' }, body: CF_PAGE });
    expect(out).toMatchObject({ signal: '1015', scope: 'ip', pausedUntil: T0 + 30_000 });
    const err = await s.schedule({ endpoint: 'POST /api/v1/orders', host: 'futures', maxWaitMs: 29_000 }, () => 1).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_MAX_WAIT_EXCEEDED', retryAfterMs: 30_000 });
  });

  it('200002 with "too many requests" pauses only that (UID, endpoint) for 10 s', async () => {
    const s = make();
    const a = await admit(s, { endpoint: 'POST /api/v1/orders', host: 'futures' });
    const out = await s.feedback(a, { status: 200, body: { code: '200002', msg: 'Too many requests in a short period of time, please retry later' } });
    expect(out).toMatchObject({ signal: '200002', scope: 'endpoint', bucketId: 'uid:u1:ep:futures POST /api/v1/orders', pausedUntil: T0 + 10_000 });
    await expect(s.schedule({ endpoint: 'POST /api/v1/orders', host: 'futures', maxWaitMs: 0 }, () => 1)).rejects.toMatchObject({
      code: 'KS_MAX_WAIT_EXCEEDED',
    });
    expect(await s.schedule({ endpoint: 'DELETE /api/v1/orders/abc', host: 'futures', maxWaitMs: 0 }, () => 'other endpoint ok')).toBe('other endpoint ok');
    const business = await s.feedback(a, { status: 200, body: { code: '200002', msg: 'Order cancel for this pair suspended' } });
    expect(business.signal).toBeUndefined();
  });

  it('429001 backs off system-wide, growing with each storm', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const s = make();
    const pauses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await admit(s, { pool: 'spot', priority: 'critical' });
      const out = await s.feedback(a, { status: 429, body: { code: '429001' } });
      pauses.push(out.pausedUntil - Date.now());
      await vi.advanceTimersByTimeAsync(out.pausedUntil - Date.now());
    }
    expect(pauses).toEqual([500, 1000, 2000]);
    vi.restoreAllMocks();
  });

  it('replies teach the limit for every later request: a raise once a later reply confirms it, a cut at once', async () => {
    const s = make();
    const spot = async () => (await s.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
    const a = await admit(s, { pool: 'spot', weight: 1, priority: 'critical' });
    await s.feedback(a, { status: 200, headers: rl(10_000, 9_999, 20_000), body: { code: '200000' } });
    expect(await spot()).toMatchObject({ limit: 100 }); // pending
    await vi.advanceTimersByTimeAsync(1);
    const b = await admit(s, { pool: 'spot', weight: 1, priority: 'critical' });
    await s.feedback(b, { status: 200, headers: rl(10_000, 9_998, 19_999), body: { code: '200000' } });
    expect(await spot()).toMatchObject({ limit: 10_000, effectiveLimit: 10_000 });
    const c = await admit(s, { pool: 'spot', weight: 1, priority: 'critical' });
    await s.feedback(c, { status: 200, headers: rl(6_000, 5_997, 19_998), body: { code: '200000' } });
    expect(await spot()).toMatchObject({ limit: 6_000 });
  });

  it('wrap sends a refused request again after the pause, keeps other errors, and bounds attempts', async () => {
    const s = make();
    let calls = 0;
    const fetchBalance = s.wrap(
      async (currency: string) => {
        calls++;
        if (calls === 1) throw new Error('kucoin {"code":"429000","msg":"Too Many Requests"}'); // ccxt style: no status, no headers
        return `balance ${currency}`;
      },
      { endpoint: 'GET /api/v1/accounts', priority: 'high' },
    );
    const p = fetchBalance('BTC');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await p).toBe('balance BTC');
    expect(calls).toBe(2);

    // issue 21: a refusal read without its status does not prove an order was not executed: sent once
    let orders = 0;
    const placeOrder = s.wrap(
      async () => {
        orders++;
        throw new Error('kucoin {"code":"429000","msg":"Too Many Requests"}');
      },
      { endpoint: 'POST /api/v1/hf/orders', priority: 'high' },
    );
    const q0 = placeOrder().catch((e) => e);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await q0).toBeInstanceOf(Error);
    expect(orders).toBe(1);

    const failing = s.wrap(
      async () => {
        throw new Error('insufficient balance');
      },
      { pool: 'spot' },
    );
    await expect(failing()).rejects.toThrow('insufficient balance');

    let storms = 0;
    const alwaysLimited = s.wrap(
      async () => {
        storms++;
        throw { status: 429, code: '429001', msg: 'Too many total requests' }; // KuCoin's shape: a refusal, whatever the request
      },
      { pool: 'futures', priority: 'critical' },
    );
    const q = alwaysLimited().catch((e) => e);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await q).toMatchObject({ code: '429001' });
    expect(storms).toBe(4); // feedback.maxAttempts
  });
});
