import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, KucoinApiError, KucoinClient, KucoinRequestError, kucoinScheduling, MemoryStore, type SchedulerOptions } from '../src/index.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';

const CREDS = { key: 'key-1', secret: 'super-secret-value', passphrase: 'pass-phrase-value', keyVersion: '2' as const };
let sim: GatewaySimulator | undefined;
let client: KucoinClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = sim = undefined;
});

async function setup(simOptions: GatewaySimulatorOptions = {}, schedOptions: Partial<SchedulerOptions> = {}, timeoutMs?: number) {
  sim = await startGatewaySimulator({
    accounts: [{ key: CREDS.key, secret: CREDS.secret, passphrase: CREDS.passphrase, uid: 'u1', vipLevel: 0 }],
    ...simOptions,
  });
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0, ...schedOptions });
  client = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: sim.urls, ...(timeoutMs ? { timeoutMs } : {}) });
  return { sim, scheduler, client };
}

describe('KucoinClient', () => {
  it('signs, sends byte-identical query and body, and returns data and the rate-limit headers', async () => {
    const { client } = await setup();
    const placed = await client.request<{ orderId: string }>({
      method: 'POST',
      path: '/api/v1/hf/orders',
      body: { symbol: 'BTC-USDT', side: 'buy', clientOid: 'c1' },
      priority: 'high',
    });
    expect(placed.data.orderId).toMatch(/^sim-/);
    expect(placed.rateLimit).toMatchObject({ limit: 4000, remaining: 3999 });
    const accounts = await client.request({ method: 'GET', path: '/api/v1/accounts', query: { currency: 'BTC', type: 'trade' } });
    expect(accounts.code).toBe('200000');
  });

  it('learns a VIP level other than the configured one once a second reply confirms it', async () => {
    const { client, scheduler } = await setup({ accounts: [{ key: CREDS.key, secret: CREDS.secret, passphrase: CREDS.passphrase, uid: 'u1', vipLevel: 3 }] });
    const spot = async () => (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
    await client.request({ method: 'GET', path: '/api/v1/hf/orders/active', query: { symbol: 'BTC-USDT' } });
    expect(await spot()).toMatchObject({ limit: 4000 }); // a raise waits for a second, later reply
    await client.request({ method: 'GET', path: '/api/v1/hf/orders/active', query: { symbol: 'BTC-USDT' } });
    expect(await spot()).toMatchObject({ limit: 10_000, effectiveLimit: 10_000 });
  });

  it('sends again a request refused by a signal, after the pause, and reports it in attempts', async () => {
    const { client, sim } = await setup(
      { endpointLimits: { 'futures POST /api/v1/orders': { limit: 1, windowMs: 60_000 } } },
      { feedback: { endpointPauseMs: 300 } },
    );
    await client.request({ method: 'POST', path: '/api/v1/orders', host: 'futures', body: { clientOid: 'f1' } });
    const err = await client.request({ method: 'POST', path: '/api/v1/orders', host: 'futures', body: { clientOid: 'f2' } }).catch((e) => e);
    // the simulator blocks 10 s, the scheduler pauses 300 ms per 200002: it tries 4 times then reports
    expect(err).toBeInstanceOf(KucoinApiError);
    expect(err).toMatchObject({ code: 'KS_KUCOIN_API', kucoinCode: '200002', signal: '200002', attempts: 4 });
    expect(sim.stats().outcomes['200002']).toBe(4);
  });

  it('business errors are typed and not retried; no secret ever appears in an error', async () => {
    const { client, sim } = await setup();
    await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { clientOid: 'dup' } });
    const err = await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { clientOid: 'dup' } }).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_KUCOIN_API', kucoinCode: '126044', status: 200, signal: undefined, attempts: 1 });
    const bad = new KucoinClient({ scheduler: createScheduler({ uid: 'u1' }), credentials: { ...CREDS, secret: 'wrong-secret-value' }, baseUrls: sim.urls });
    const authErr = await bad.request({ method: 'GET', path: '/api/v1/accounts' }).catch((e) => e);
    await bad.close();
    expect(authErr).toMatchObject({ kucoinCode: '400004', status: 401 });
    for (const e of [err, authErr]) {
      const dump = `${e.message} ${JSON.stringify(e)} ${e.stack}`;
      for (const secret of [CREDS.secret, CREDS.passphrase, 'wrong-secret-value']) expect(dump).not.toContain(secret);
    }
  });

  it('after a 5xx retries reads and orders with a clientOid only; the exchange never gets an order twice', async () => {
    const { client, sim } = await setup();
    sim.failNext(1, 'http-503', 'GET /api/v1/accounts');
    expect((await client.request({ method: 'GET', path: '/api/v1/accounts' })).attempts).toBe(2);

    sim.failNext(1, 'http-503', 'DELETE /api/v1/hf/orders/{orderId}');
    const cancel = await client.request({ method: 'DELETE', path: '/api/v1/hf/orders/o1', query: { symbol: 'BTC-USDT' } }).catch((e) => e);
    expect(cancel).toBeInstanceOf(KucoinRequestError);
    expect(cancel).toMatchObject({ code: 'KS_REQUEST_FAILED', attempts: 1, maybeExecuted: true });

    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const noOid = await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT' } }).catch((e) => e);
    expect(noOid).toMatchObject({ code: 'KS_REQUEST_FAILED', attempts: 1 });

    sim.failNext(1, 'http-503', 'POST /api/v1/hf/orders');
    const withOid = await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT', clientOid: 'safe-1' } }).catch((e) => e);
    expect(withOid).toMatchObject({ kucoinCode: '126044', attempts: 2 }); // executed once; the retry was refused as a duplicate
    const orders = sim.stats().arrivals.filter((a) => a.endpoint === '/api/v1/hf/orders' && a.method === 'POST');
    expect(orders.map((a) => a.outcome)).toEqual(['http-503', 'http-503', '126044']);
  });

  it('after a timeout retries a read, and never a cancel without clientOid', async () => {
    const { client, sim } = await setup({}, {}, 200);
    sim.failNext(1, 'hang', 'GET /api/v1/accounts');
    expect((await client.request({ method: 'GET', path: '/api/v1/accounts' })).attempts).toBe(2);
    sim.failNext(1, 'hang', 'DELETE /api/v1/hf/orders/{orderId}');
    const err = await client.request({ method: 'DELETE', path: '/api/v1/hf/orders/o9' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_REQUEST_FAILED', attempts: 1 });
    expect(String(err.cause?.code)).toMatch(/UND_ERR_(HEADERS|BODY)_TIMEOUT/);
  });

  it('on 429002 spreads the origin over more connections and sends again', async () => {
    const { client, sim } = await setup({ perConnection: { limit: 5, windowMs: 60_000 } });
    const before = client.requestsPerConnection('spot');
    for (let i = 0; i < 30; i++) await client.request({ method: 'GET', path: '/api/v1/timestamp' });
    expect(sim.stats().outcomes['429002']).toBeGreaterThan(0);
    expect(client.requestsPerConnection('spot')).toBeLessThan(before);
    expect(sim.stats().outcomes.ok).toBe(30);
  });

  it('no secret in any event or snapshot, under signals too', async () => {
    const { client, scheduler, sim } = await setup(
      { endpointLimits: { 'spot POST /api/v1/hf/orders': { limit: 1, windowMs: 60_000 } } },
      { feedback: { endpointPauseMs: 50, maxAttempts: 2 } },
    );
    const seen: unknown[] = [];
    for (const name of ['admitted', 'waited', 'rejected', 'feedback', 'unknownEndpoint', 'storeError'] as const) scheduler.on(name, (e) => seen.push(e));
    await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { clientOid: 's1' } });
    await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { clientOid: 's2' } }).catch(() => undefined);
    seen.push(await scheduler.snapshot(), sim.stats().outcomes);
    const dump = JSON.stringify(seen);
    expect(dump).toContain('200002'); // the events really were recorded
    for (const secret of [CREDS.secret, CREDS.passphrase]) expect(dump).not.toContain(secret);
  });

  it('malformed gateway replies give typed errors, never a crash or a hang', async () => {
    const { createServer } = await import('node:http');
    const replies: [number, Record<string, string>, string][] = [
      [502, { 'content-type': 'text/html' }, '<html><body>Bad gateway</body></html>'],
      [200, { 'content-type': 'application/json' }, '{"code":"200000","data":{"orde'],
      [200, { 'gw-ratelimit-limit': 'lots', 'gw-ratelimit-remaining': '-5', 'gw-ratelimit-reset': '1e309' }, '{"code":"200000","data":null}'],
      [200, { 'gw-ratelimit-limit': '99999999999999', 'gw-ratelimit-reset': '-1' }, ''],
      [429, {}, 'not json'],
      [200, {}, 'null'],
    ];
    let i = 0;
    const srv = createServer((req, res) => {
      req.resume();
      const [status, headers, body] = replies[i++ % replies.length]!;
      res.writeHead(status, headers).end(body);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const scheduler = createScheduler({ uid: 'u1', jitterMs: 0, feedback: { maxAttempts: 1 } });
    const c = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: { spot: url }, transportRetries: 0 });
    const outcomes: string[] = [];
    for (let k = 0; k < replies.length; k++) {
      const r = await c.request({ method: 'POST', path: '/api/v1/hf/orders', body: {} }).then(
        (x) => `ok ${String(x.data)}`,
        (e) => e.code,
      );
      outcomes.push(r);
    }
    expect(outcomes).toEqual(['KS_REQUEST_FAILED', 'KS_KUCOIN_API', 'ok null', 'KS_KUCOIN_API', 'KS_KUCOIN_API', 'KS_KUCOIN_API']);
    const spot = (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
    expect(spot.limit).toBe(4000); // garbage headers taught nothing
    await c.close();
    srv.close();
  });

  it('validates its input at once', async () => {
    const scheduler = createScheduler({ uid: 'u1' });
    expect(() => new KucoinClient({} as never)).toThrow(/scheduler/);
    expect(() => new KucoinClient({ scheduler, credentials: { key: '', secret: 's', passphrase: 'p' } })).toThrow(/credentials/);
    expect(() => new KucoinClient({ scheduler, baseUrls: { spot: 'not a url' } })).toThrow(/baseUrls.spot/);
    const c = new KucoinClient({ scheduler });
    await expect(c.request({ method: 'FETCH' as never, path: '/x' })).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
    await expect(c.request({ method: 'GET', path: 'api/v1' })).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
    await expect(c.request({ method: 'GET', path: '/api/v1/x', host: 'binance' })).rejects.toMatchObject({ code: 'KS_INVALID_ENDPOINT' });
    await c.close();
  });
});

/** A local HTTP server on port 0 that counts what reaches it and answers `{"code":"200000"}` (or hangs). */
async function countingServer(hang = false) {
  const { createServer } = await import('node:http');
  let requests = 0;
  const srv = createServer((req, res) => {
    requests++;
    req.resume();
    if (!hang) res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":"200000","data":null}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  return {
    url,
    requests: () => requests,
    close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))),
  };
}

const spotUsed = async (scheduler: ReturnType<typeof createScheduler>) => (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!.used;

describe('KucoinClient input validation', () => {
  it('rejects malformed options at construction with KS_INVALID_ARGUMENT (timeoutMs 0 hung, -1 charged unsent requests)', async () => {
    const scheduler = createScheduler({ uid: 'u1' });
    const bad: [string, Record<string, unknown>][] = [
      ['timeoutMs 0', { timeoutMs: 0 }],
      ['timeoutMs NaN', { timeoutMs: Number.NaN }],
      ['timeoutMs -1', { timeoutMs: -1 }],
      ['timeoutMs Infinity', { timeoutMs: Number.POSITIVE_INFINITY }],
      ['timeoutMs 1e12', { timeoutMs: 1e12 }],
      ['timeoutMs "100"', { timeoutMs: '100' }],
      ['connections 0', { connections: 0 }],
      ['connections 1.5', { connections: 1.5 }],
      ['connections "4"', { connections: '4' }],
      ['transportRetries -1', { transportRetries: -1 }],
      ['transportRetries 0.5', { transportRetries: 0.5 }],
      ['transportRetries 1e6', { transportRetries: 1e6 }],
      ['headers value 5', { headers: { 'x-id': 5 } }],
      ['headers CRLF', { headers: { 'x-id': 'a\r\nx-evil: 1' } }],
      ['headers bad name', { headers: { 'bad name': 'x' } }],
      ['headers host', { headers: { Host: 'evil' } }],
      ['headers signing', { headers: { 'KC-API-KEY': 'other' } }],
      ['headers string', { headers: 'x-id: 1' }],
      ['baseUrls ftp', { baseUrls: { spot: 'ftp://127.0.0.1' } }],
      ['baseUrls number', { baseUrls: { spot: 5 } }],
      ['baseUrls unknown host', { baseUrls: { binance: 'https://api.binance.com' } }],
      ['baseUrls with query', { baseUrls: { spot: 'https://api.kucoin.com/?x=1' } }],
      ['baseUrls with credentials', { baseUrls: { spot: 'https://user:hunter2@api.kucoin.com' } }],
      ['credentials secret 5', { credentials: { key: 'k', secret: 5, passphrase: 'p' } }],
      ['credentials key CRLF', { credentials: { key: 'k\r\n', secret: 's', passphrase: 'p' } }],
      ['credentials keyVersion 9', { credentials: { key: 'k', secret: 's', passphrase: 'p', keyVersion: 9 } }],
      ['scheduler {}', { scheduler: {} }],
    ];
    const accepted: string[] = [];
    for (const [name, options] of bad) {
      try {
        const c = new KucoinClient({ scheduler, ...options } as never);
        accepted.push(name);
        await c.close();
      } catch (error) {
        expect(error, name).toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
        expect((error as Error).message, name).not.toContain('hunter2');
      }
    }
    expect(accepted).toEqual([]);
    expect(() => new KucoinClient(null as never)).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }));
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
      },
    );
    expect(() => new KucoinClient(hostile as never)).toThrow(expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }));
    // valid edge values still work
    const ok = new KucoinClient({
      scheduler,
      timeoutMs: 1,
      connections: 1,
      transportRetries: 0,
      headers: { 'x-id': 'bot-1' },
      baseUrls: { spot: 'http://127.0.0.1:1/prefix' },
    });
    await ok.close();
    await scheduler.close();
  });

  it('request input faults reject with a typed error at once: nothing sent, nothing charged', async () => {
    const server = await countingServer();
    const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
    const c = new KucoinClient({ scheduler, baseUrls: { spot: server.url }, transportRetries: 0 });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const base = { method: 'POST', path: '/api/v1/hf/orders' };
    const bad: [string, unknown][] = [
      ['null', null],
      ['a string', 'GET /api/v1/accounts'],
      ['method 5', { method: 5, path: '/api/v1/accounts' }],
      ['method Symbol', { method: Symbol('GET'), path: '/api/v1/accounts' }],
      ['path 5', { method: 'GET', path: 5 }],
      ['path with a space', { method: 'GET', path: '/api/v1/acc ounts' }],
      ['path with CRLF', { method: 'GET', path: '/api/v1/accounts\r\nx: 1' }],
      ['path with #', { method: 'GET', path: '/api/v1/accounts#x' }],
      ['path non-ASCII', { method: 'GET', path: '/api/v1/accounts/é' }],
      ['path 1 MB', { method: 'GET', path: `/${'a'.repeat(1_000_000)}` }],
      ['query NaN', { method: 'GET', path: '/api/v1/accounts', query: { a: Number.NaN } }],
      ['query object', { method: 'GET', path: '/api/v1/accounts', query: { a: {} } }],
      ['query Symbol', { method: 'GET', path: '/api/v1/accounts', query: { a: Symbol('x') } }],
      ['query BigInt', { method: 'GET', path: '/api/v1/accounts', query: { a: 1n } }],
      ['query lone surrogate', { method: 'GET', path: '/api/v1/accounts', query: { a: '\ud800' } }],
      ['query array', { method: 'GET', path: '/api/v1/accounts', query: ['a'] }],
      ['query huge', { method: 'GET', path: '/api/v1/accounts', query: { a: 'x'.repeat(100_000) } }],
      ['body circular', { ...base, body: circular }],
      ['body BigInt', { ...base, body: { size: 1n } }],
      ['body function', { ...base, body: () => 1 }],
      [
        'body throwing toJSON',
        {
          ...base,
          body: {
            toJSON: () => {
              throw new Error('nope');
            },
          },
        },
      ],
      ['body 2 MB', { ...base, body: { pad: 'x'.repeat(2_000_000) } }],
      ['host 5', { ...base, host: 5 }],
      ['host Symbol', { ...base, host: Symbol('spot') }],
      ['host __proto__', { ...base, host: '__proto__' }],
      ['priority BigInt', { ...base, priority: 1n }],
      ['priority urgent', { ...base, priority: 'urgent' }],
      ['signal {}', { ...base, signal: { aborted: false } }],
      ['maxWaitMs NaN', { ...base, maxWaitMs: Number.NaN }],
      ['maxWaitMs -1', { ...base, maxWaitMs: -1 }],
      ['maxWaitMs "5"', { ...base, maxWaitMs: '5' }],
      [
        'throwing getter',
        Object.defineProperty({ ...base }, 'body', {
          get: () => {
            throw new Error('getter');
          },
          enumerable: true,
        }),
      ],
      [
        'Proxy',
        new Proxy(base, {
          get: () => {
            throw new Error('trap');
          },
        }),
      ],
    ];
    const outcomes: string[] = [];
    for (const [name, req] of bad) {
      const outcome = await c.request(req as never).then(
        () => 'resolved',
        (e: { code?: string; constructor: { name: string } }) => e.code ?? `untyped ${e.constructor.name}`,
      );
      outcomes.push(`${name}: ${outcome}`);
    }
    const untyped = outcomes.filter((o) => !/: KS_INVALID_(ARGUMENT|ENDPOINT|PRIORITY)$/.test(o));
    expect(untyped).toEqual([]);
    expect(server.requests()).toBe(0);
    expect(await spotUsed(scheduler)).toBe(0);
    // and a good request still goes through
    await expect(
      c.request({ method: 'GET', path: '/api/v1/hf/orders/active', query: { symbol: 'BTC-USDT', n: 1, flag: true, skip: undefined } }),
    ).resolves.toMatchObject({ code: '200000' });
    expect(server.requests()).toBe(1);
    await c.close();
    await scheduler.close();
    await server.close();
  });

  it('the clientOid deciding a retry is the one serialised, not one a getter answers later', async () => {
    const { createServer } = await import('node:http');
    const bodies: string[] = [];
    const srv = createServer((req, res) => {
      let text = '';
      req
        .on('data', (d) => (text += d))
        .on('end', () => {
          bodies.push(text);
          res.writeHead(503).end('unavailable');
        });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const scheduler = createScheduler({ uid: 'u1', jitterMs: 0 });
    const c = new KucoinClient({ scheduler, baseUrls: { spot: url }, transportRetries: 2 });
    let reads = 0;
    // serialised without a clientOid (the getter answers undefined first), then claims one
    const body = {
      symbol: 'BTC-USDT',
      get clientOid() {
        return reads++ === 0 ? undefined : 'late-oid';
      },
    };
    const err = await c.request({ method: 'POST', path: '/api/v1/hf/orders', body }).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_REQUEST_FAILED', attempts: 1 });
    expect(bodies).toEqual(['{"symbol":"BTC-USDT"}']); // sent once: an order without clientOid is never repeated
    await c.close();
    await scheduler.close();
    await new Promise<void>((r) => srv.close(() => r()));
  });
});

describe('kucoinScheduling (undici interceptor)', () => {
  it('schedules requests made through a composed undici dispatcher and feeds their headers back', async () => {
    sim = await startGatewaySimulator({ accounts: [{ key: 'k', secret: 's', passphrase: 'p', uid: 'u1', vipLevel: 5 }], requireSignature: false });
    // room for two requests of weight 15 under the configured limit: the second reply confirms the raise
    const scheduler = createScheduler({ uid: 'u1', jitterMs: 0, pools: { public: { limit: 40, burst: 0 } } });
    const admitted: string[] = [];
    scheduler.on('admitted', (e) => admitted.push(`${e.pool}:${e.weight}`));
    const agent = new Agent().compose(kucoinScheduling({ scheduler, host: 'spot' }));
    const publicLimit = async () => (await scheduler.snapshot()).buckets.find((b) => b.id === 'ip:default:Public')!.limit;
    for (let i = 0; i < 2; i++) {
      const res = await request(`${sim.urls.spot}/api/v1/market/allTickers`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { code: string }).code).toBe('200000');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await publicLimit()).toBe(2000); // learned from the simulator's headers, not the configured 40
    const twice = await Promise.all([1, 2].map(() => request(`${sim!.urls.spot}/api/v1/market/allTickers`, { dispatcher: agent }).then((r) => r.body.text())));
    expect(twice).toHaveLength(2);
    expect(admitted).toEqual(['Public:15', 'Public:15', 'Public:15', 'Public:15']);
    const err = await request(`${sim.urls.spot}/api/v1/market/allTickers`, {
      dispatcher: new Agent().compose(kucoinScheduling({ scheduler: createScheduler({ uid: 'u2', pools: { public: { limit: 10 } } }) })),
    }).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_INVALID_WEIGHT' }); // weight 15 can never fit a limit of 10
    await agent.close();
  });

  it('a refusal through the interceptor is fed back and re-sent: the caller sees only the last reply (issue 10: one attempt loop)', async () => {
    sim = await startGatewaySimulator({ cloudflare: { limit: 2, windowMs: 10_000, blockMs: 1_000 }, requireSignature: false });
    const scheduler = createScheduler({ uid: 'u1', jitterMs: 0 });
    const signals: string[] = [];
    scheduler.on('feedback', (e) => signals.push(e.signal));
    const agent = new Agent().compose(kucoinScheduling({ scheduler, host: 'spot' }));
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(`${sim.urls.spot}/api/v1/timestamp`, { dispatcher: agent });
      codes.push(`${res.statusCode} ${((await res.body.json()) as { code: string }).code}`);
    }
    const outcomes = sim.stats().arrivals.map((a) => a.outcome);
    console.log(
      `undici interceptor under a 1015 block: caller saw ${JSON.stringify(codes)}; gateway ${JSON.stringify(outcomes)}; feedback ${JSON.stringify(signals)}`,
    );
    expect(codes).toEqual(['200 200000', '200 200000', '200 200000']);
    expect(outcomes).toEqual(['ok', 'ok', '1015', 'ok']);
    expect(signals).toEqual(['1015']);
    await agent.close();
  });
});
