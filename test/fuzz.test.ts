/**
 * Fuzzing the public entry points with hostile input: createScheduler, schedule, wrap, KucoinClient.request
 * (against a real HTTP server on port 0) and classifyReply / replyFromError. Each call must end in a valid
 * result or a KucoinSchedulerError with a code from the entry point's list, within a time bound, and a
 * rejected request must leave every bucket uncharged. Fixed seed (FUZZ_SEED overrides it): fast-check
 * prints the seed and the counterexample's path on failure; replay with `FUZZ_SEED=<seed>`.
 */
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classifyReply,
  createScheduler,
  KucoinClient,
  KucoinSchedulerError,
  MemoryStore,
  PRIORITIES,
  replyFromError,
  type Scheduler,
  type SchedulerOptions,
} from '../src/index.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const HANG_MS = 2_000;

const OPTION_CODES = ['KS_INVALID_ARGUMENT', 'KS_UNKNOWN_POOL'];
const INPUT_CODES = ['KS_INVALID_ARGUMENT', 'KS_UNKNOWN_POOL', 'KS_INVALID_ENDPOINT', 'KS_AMBIGUOUS_ENDPOINT', 'KS_INVALID_WEIGHT', 'KS_INVALID_PRIORITY'];
const WAIT_CODES = ['KS_ABORTED', 'KS_MAX_WAIT_EXCEEDED'];
const SENT_CODES = ['KS_KUCOIN_API', 'KS_REQUEST_FAILED'];

// ---- hostile values ------------------------------------------------------------------------------------
// fast-check inspects generated values itself (clone checks, printing), so hostile values are generated as
// recipes, labelled for the failure report, and built only inside the property.

class Recipe {
  constructor(
    readonly label: string,
    readonly build: () => unknown,
  ) {}
  [fc.toStringMethod](): string {
    return this.label;
  }
}

const throwing = (): never => {
  throw new Error('hostile trap');
};
/** Every trap throws: reading anything from it throws. */
const trapProxy = new Proxy({}, { get: throwing, has: throwing, ownKeys: throwing, getPrototypeOf: throwing, getOwnPropertyDescriptor: throwing });
const revoked = Proxy.revocable({}, {});
revoked.revoke();
const circular: Record<string, unknown> = { name: 'loop' };
circular.self = circular;
const abortedSignal = AbortSignal.abort(new Error('gone'));

const plain = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Recipe> => arb.map((v) => new Recipe(fc.stringify(v), () => v));
const made = (label: string, build: () => unknown): Recipe => new Recipe(label, build);

const hostile: fc.Arbitrary<Recipe> = fc.oneof(
  plain(fc.constantFrom(undefined, null, true, false, 0, -0, -1, 0.5, 1e300, -1e300, 2 ** 31, Number.MAX_SAFE_INTEGER + 2)),
  plain(fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)),
  plain(fc.double()),
  plain(fc.integer()),
  plain(fc.bigInt()),
  plain(fc.string()),
  plain(fc.string({ unit: 'binary' })),
  fc.constant(made("'x' x 100_000", () => 'x'.repeat(100_000))),
  fc.constantFrom(
    made('Symbol(hostile)', () => Symbol('hostile')),
    made('Symbol.iterator', () => Symbol.iterator),
  ),
  fc.constantFrom(
    made('a Proxy whose traps throw', () => trapProxy),
    made('a revoked Proxy', () => revoked.proxy),
    made('a circular object', () => circular),
    made('Object.create(null)', () => Object.create(null)),
    made('{ toString, valueOf that throw }', () => ({ toString: throwing, valueOf: throwing })),
    made('JSON with own __proto__ / constructor', () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')),
  ),
  fc.constantFrom(
    made('an aborted signal', () => abortedSignal),
    made('a signal-like object', () => ({ aborted: false, addEventListener() {}, removeEventListener() {} })),
    made('Object.create(AbortSignal.prototype)', () => Object.create(AbortSignal.prototype)),
    made('a function', () => () => 'a function'),
  ),
  plain(fc.array(fc.anything(), { maxLength: 3 })),
  plain(fc.object({ maxDepth: 2 })),
);

/** Mostly plausible values (so valid paths are exercised too), sometimes hostile ones. */
const field = <T>(plausible: fc.Arbitrary<T>): fc.Arbitrary<Recipe> => fc.oneof({ weight: 3, arbitrary: plain(plausible) }, { weight: 1, arbitrary: hostile });

/** A record whose fields are recipes, as one recipe. */
function record(fields: Record<string, fc.Arbitrary<Recipe>>): fc.Arbitrary<Recipe> {
  return fc.record(fields, { requiredKeys: [] }).map((r) => recipeOfEntries(Object.entries(r) as [string, Recipe][]));
}

function dictionary(keys: fc.Arbitrary<string>, values: fc.Arbitrary<Recipe>, maxKeys: number): fc.Arbitrary<Recipe> {
  return fc.array(fc.tuple(keys, values), { maxLength: maxKeys }).map(recipeOfEntries);
}

function recipeOfEntries(entries: [string, Recipe][]): Recipe {
  return made(`{ ${entries.map(([k, v]) => `${k}: ${v.label}`).join(', ')} }`, () => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of entries) Object.defineProperty(o, k, { value: v.build(), enumerable: true, writable: true, configurable: true });
    return o;
  });
}

/** The record, or the same fields inherited (`Object.create(record)`): both must behave alike. */
function ownOrInherited(base: fc.Arbitrary<Recipe>): fc.Arbitrary<Recipe> {
  return fc.oneof(
    { weight: 6, arbitrary: base },
    { weight: 1, arbitrary: base.map((r) => made(`Object.create(${r.label})`, () => Object.create(r.build() as object) as unknown)) },
  );
}

/** The options object itself hostile: not an object, a Proxy whose trap throws, a throwing getter. */
function hostileContainer(base: fc.Arbitrary<Recipe>): fc.Arbitrary<Recipe> {
  const keys = fc.constantFrom(
    'endpoint',
    'pool',
    'weight',
    'priority',
    'signal',
    'maxWaitMs',
    'host',
    'uid',
    'pools',
    'store',
    'method',
    'path',
    'body',
    'query',
    'replyOf',
  );
  return fc.oneof(
    hostile,
    fc
      .tuple(base, keys)
      .map(([r, key]) =>
        made(`${r.label} with a throwing getter ${key}`, () => Object.defineProperty({ ...(r.build() as object) }, key, { get: throwing, enumerable: true })),
      ),
    fc
      .tuple(base, fc.constantFrom('get', 'has', 'ownKeys', 'getOwnPropertyDescriptor'))
      .map(([r, trap]) => made(`Proxy(${r.label}) whose ${trap} throws`, () => new Proxy(r.build() as object, { [trap]: throwing }))),
  );
}

/** Anything: plausible fields, inherited fields, or a hostile container. */
function hostileObject(base: fc.Arbitrary<Recipe>): fc.Arbitrary<Recipe> {
  return fc.oneof({ weight: 3, arbitrary: ownOrInherited(base) }, { weight: 1, arbitrary: hostileContainer(base) });
}

function expectTyped(error: unknown, codes: readonly string[], context: string): void {
  if (!(error instanceof KucoinSchedulerError) || !codes.includes(error.code)) {
    const what = error instanceof Error ? `${error.constructor.name} ${(error as { code?: unknown }).code ?? ''}: ${error.message}` : String(error);
    throw new Error(`${context}: expected a KucoinSchedulerError with a code in [${codes.join(', ')}], got ${what}`);
  }
}

/** Settles with the promise's outcome, or throws when it has not settled within `ms` (a hang). */
async function within<T>(promise: Promise<T>, ms: number, context: string): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${context}: did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function totalUsed(scheduler: Scheduler): Promise<number> {
  return (await scheduler.snapshot()).buckets.reduce((sum, b) => sum + b.used, 0);
}

/** A fresh scheduler that admits any one valid request at once: pacing off, nothing used yet. */
function freshScheduler(): Scheduler {
  const noPacing = { burst: 0 };
  return createScheduler({
    uid: 'fuzz',
    store: new MemoryStore(),
    jitterMs: 0,
    transitMarginMs: 0,
    pools: {
      spot: noPacing,
      futures: noPacing,
      management: noPacing,
      public: noPacing,
      broker: noPacing,
      earn: noPacing,
      copytrading: noPacing,
      unifiedaccount: noPacing,
    },
    cloudflare: { limit: 500, windowMs: 10_000, burst: 0 },
    // a signal's pause stays well inside the hang bound
    feedback: { endpointPauseMs: 20, maxAttempts: 2 },
  });
}

// ---- arbitraries per entry point -----------------------------------------------------------------------

const endpoints = fc.constantFrom(
  'GET /api/v1/accounts',
  'POST /api/v1/hf/orders',
  'DELETE /api/v1/hf/orders/5c35c02703aa673ceec2a168',
  'POST /api/v1/orders',
  'GET /api/v1/market/allTickers?x=1',
  'GET /api/v9/unknown/42',
  'GET /api/v1/acc\u0000ounts',
  'nonsense',
  '',
);
const signals = fc.constantFrom(
  made('new AbortController().signal', () => new AbortController().signal),
  made('an aborted signal', () => abortedSignal),
  made('AbortSignal.timeout(5)', () => AbortSignal.timeout(5)),
);
const maybeSignal = fc.oneof({ weight: 3, arbitrary: signals }, { weight: 1, arbitrary: hostile });

const scheduleFields = record({
  endpoint: field(endpoints),
  host: field(fc.constantFrom('spot', 'futures', 'broker', 'api-futures.kucoin.com', 'https://api.kucoin.com', 'binance', '__proto__')),
  pool: field(fc.constantFrom('spot', 'Futures', 'PUBLIC', 'management', 'nope', 'constructor')),
  weight: field(fc.oneof(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 5000 }))),
  priority: field(fc.constantFrom(...PRIORITIES, 'urgent')),
  signal: maybeSignal,
  maxWaitMs: field(fc.constantFrom(0, 1, 50, 120_000, 3e9, Number.POSITIVE_INFINITY)),
});
/** Hostile field values in a plain (or inheriting) object. */
const scheduleOptions = ownOrInherited(scheduleFields);

const number = (values: number[]) => field(fc.constantFrom(...values));
const schedulerOptions = hostileObject(
  record({
    uid: field(fc.constantFrom('u1', 123_456, 'has space', '{brace}', '')),
    ip: field(fc.constantFrom('host-a', 'fe80::1', '10.0.0.1')),
    vipLevel: number([0, 3, 12, 13, 1.5]),
    quotaGroup: field(fc.constantFrom('g1', 'acct')),
    pools: fc.oneof(
      dictionary(
        fc.constantFrom('spot', 'Futures', 'public', 'nope', '__proto__'),
        fc.oneof(
          record({
            limit: number([1, 10, 100, 4000, 0.5, 0]),
            windowMs: number([1, 1000, 30_000, 0, 1e12]),
            burst: number([0, 5, 1e12]),
            refillPerSec: number([1, 100, 0]),
          }),
          hostile,
        ),
        3,
      ),
      hostile,
    ),
    cloudflare: fc.oneof(
      plain(fc.constant(false)),
      record({ limit: number([1, 500, 0.5]), windowMs: number([1000, 10_000, 0]), burst: number([0, 10]) }),
      hostile,
    ),
    endpointLimits: fc.oneof(
      dictionary(
        fc.constantFrom('futures POST /api/v1/orders', 'spot DELETE /api/v1/hf/orders/1', 'GET /x', 'binance GET /x', ''),
        fc.oneof(record({ limit: number([1, 30, 0.5]), windowMs: number([3000, 0]) }), hostile),
        2,
      ),
      hostile,
    ),
    transitMarginMs: number([0, 250, -1, 1e12]),
    shares: fc.oneof(record({ high: number([0.95, 1, 0, 2]), normal: number([0.85, 0.5]), low: number([0.7, 0.1]) }), hostile),
    unknownEndpointWeight: number([1, 30, 0, 1e12]),
    maxQueued: number([1, 10, 10_000, 0, 0.5]),
    agingMs: number([1000, 60_000, 0]),
    jitterMs: number([0, 20, 1e6]),
    maxWaitMs: number([0, 50, 120_000, Number.POSITIVE_INFINITY, -1]),
    feedback: fc.oneof(
      record({
        tightenBy: number([0.9, 0, 1.5]),
        minFactor: number([0.5]),
        recoverStep: number([0.1]),
        maxAttempts: number([1, 4, 20, 21, 0, 2.5]),
        endpointPauseMs: number([10_000, 0]),
        maxRetryAfterMs: number([120_000, 0]),
        systemBackoff: fc.oneof(
          record({ baseMs: number([500, 0]), maxMs: number([30_000, 100]), jitter: number([0.5, 2]), resetAfterMs: number([60_000]) }),
          hostile,
        ),
      }),
      hostile,
    ),
    failClosed: field(fc.array(fc.constantFrom('critical', 'high', 'urgent'), { maxLength: 3 })),
  }),
);

// ---- properties ----------------------------------------------------------------------------------------

describe('fuzz: the scheduler', () => {
  it('createScheduler: random options give a working scheduler or KS_INVALID_ARGUMENT / KS_UNKNOWN_POOL (1000 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(schedulerOptions, async (options) => {
        let scheduler: Scheduler;
        try {
          scheduler = createScheduler(options.build() as SchedulerOptions);
        } catch (error) {
          expectTyped(error, OPTION_CODES, 'createScheduler');
          return;
        }
        // it works: a request is admitted, or refused with a typed error, quickly
        const outcome = await within(
          scheduler.schedule({ pool: 'spot', maxWaitMs: 20 }, () => 'ran'),
          HANG_MS,
          'schedule on a fuzzed scheduler',
        );
        if (!outcome.ok) expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES], 'schedule on a fuzzed scheduler');
        await within(scheduler.close(), HANG_MS, 'close');
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('schedule: hostile options settle typed (never charged) or run fn (charged once) (2000 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(scheduleOptions, async (opts) => {
        const scheduler = freshScheduler();
        let admitted: { pool: string; weight: number } | undefined;
        scheduler.on('admitted', (e) => (admitted = { pool: e.pool, weight: e.weight }));
        const token = Symbol('ran');
        const outcome = await within(
          scheduler.schedule(opts.build() as never, () => token),
          HANG_MS,
          'schedule',
        );
        const buckets = (await scheduler.snapshot()).buckets;
        if (outcome.ok) {
          expect(outcome.value).toBe(token);
          expect(admitted).toBeDefined();
          const pool = buckets.find((b) => b.id === `uid:fuzz:${admitted!.pool}` || b.id === `ip:default:${admitted!.pool}`)!;
          expect(pool.used).toBeCloseTo(admitted!.weight, 6);
        } else {
          expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES], 'schedule');
          const charged = buckets.filter((b) => b.used > 0).map((b) => `${b.id}=${b.used}`);
          expect(charged, 'a rejected request was charged').toEqual([]);
        }
        await within(scheduler.close(), HANG_MS, 'close');
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('schedule: a polluted Object.prototype neither crashes nor charges a rejected request (300 inputs)', async () => {
    const keys = ['priority', 'endpoint', 'pool', 'weight', 'maxWaitMs'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), hostile, scheduleOptions, async (key, value, opts) => {
        const scheduler = freshScheduler();
        const proto = Object.prototype as Record<string, unknown>;
        const built = opts.build();
        let outcome;
        proto[key] = value.build();
        try {
          outcome = await within(
            scheduler.schedule(built as never, () => 'ran'),
            HANG_MS,
            `schedule with Object.prototype.${key} polluted`,
          );
        } finally {
          delete proto[key];
        }
        if (!outcome.ok) {
          expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES], 'schedule (polluted)');
          expect(await totalUsed(scheduler)).toBe(0);
        }
        await within(scheduler.close(), HANG_MS, 'close');
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("wrap: hostile options are typed at wrap time; calls settle with fn's result, fn's own error, or a typed one (500 inputs)", async () => {
    const fnError = new Error('fn failed on its own');
    await fc.assert(
      fc.asyncProperty(scheduleOptions, fc.constantFrom('value', 'throws', 'signal'), async (opts, behaviour) => {
        const scheduler = freshScheduler();
        const fn = async (x: number) => {
          if (behaviour === 'throws') throw fnError;
          if (behaviour === 'signal')
            throw Object.assign(new Error('rate limited'), { code: '200002', msg: 'Too many requests in a short period of time, please retry later' });
          return x * 2;
        };
        let wrapped: ((x: number) => Promise<number>) | undefined;
        try {
          wrapped = scheduler.wrap(fn, opts.build() as never);
        } catch (error) {
          expectTyped(error, INPUT_CODES, 'wrap');
        }
        if (wrapped) {
          const outcome = await within(wrapped(21), HANG_MS, 'wrapped call');
          if (outcome.ok) expect(outcome.value).toBe(42);
          else if (outcome.error !== fnError && !(outcome.error instanceof Error && outcome.error.message === 'rate limited')) {
            expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES], 'wrapped call');
          }
        }
        await within(scheduler.close(), HANG_MS, 'close');
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('fuzz: hostile option objects', () => {
  // Proxies whose traps throw, throwing getters, non-objects as the options themselves. The scheduler must read
  // the options once, through the planner: a `rejected` event reading them again, or `wrap` spreading them for
  // every call, would throw the trap's own error.
  it('schedule: every hostile options object is a typed rejection, never charged (300 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(hostileContainer(scheduleFields), async (opts) => {
        const scheduler = freshScheduler();
        const outcome = await within(
          scheduler.schedule(opts.build() as never, () => 'ran'),
          HANG_MS,
          'schedule',
        );
        if (!outcome.ok) {
          expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES], 'schedule');
          expect(await totalUsed(scheduler)).toBe(0);
        }
        await within(scheduler.close(), HANG_MS, 'close');
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('wrap: a hostile options object is typed at wrap time, or each call behaves like the options read once (300 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(hostileContainer(scheduleFields), async (opts) => {
        const scheduler = freshScheduler();
        let wrapped: (() => Promise<string>) | undefined;
        try {
          wrapped = scheduler.wrap(async () => 'ran', opts.build() as never);
        } catch (error) {
          expectTyped(error, INPUT_CODES, 'wrap');
        }
        if (wrapped) {
          const outcome = await within(wrapped(), HANG_MS, 'wrapped call');
          if (!outcome.ok) expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES], 'wrapped call');
        }
        await within(scheduler.close(), HANG_MS, 'close');
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('wrap with inherited options runs like wrap with own ones', async () => {
    const scheduler = freshScheduler();
    const inherited = Object.create({ pool: 'spot', priority: 'high' }) as never;
    await expect(scheduler.wrap(async (x: number) => x + 1, inherited)(1)).resolves.toBe(2);
    await scheduler.close();
  });
});

describe('fuzz: KucoinClient.request against a real HTTP server', () => {
  let server: Server;
  let url = '';
  let requests = 0;
  /** What the server answers next: set per run. */
  let next: { status: number; headers: Record<string, string>; body: string } = { status: 200, headers: {}, body: '{"code":"200000"}' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(next.status, next.headers).end(next.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const headerValue = fc.oneof(
    fc.constantFrom('4000', '0', '-1', '1e309', 'lots', '99999999999', '30', 'Wed, 21 Oct 2037 07:28:00 GMT'),
    fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  );
  const reply = fc.record({
    status: fc.constantFrom(200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503),
    headers: fc.dictionary(
      fc.constantFrom('gw-ratelimit-limit', 'gw-ratelimit-remaining', 'gw-ratelimit-reset', 'retry-after', 'server', 'cf-ray', 'content-type'),
      headerValue,
      { maxKeys: 4 },
    ),
    body: fc.oneof(
      fc.constantFrom(
        '{"code":"200000","data":{"orderId":"o1"}}',
        '{"code":"200000","data":null}',
        '{"code":"429000","msg":"Too Many Requests"}',
        '{"code":"429001","msg":"SYSTEM LIMIT"}',
        '{"code":"429002","msg":"MULTY LIMIT PER CONNECTION"}',
        '{"code":"200002","msg":"Too many requests in a short period of time"}',
        '{"code":"126044","msg":"duplicate clientOid"}',
        '<html>error code: 1015 You are being rate limited</html>',
        '{"code":"2000',
        'null',
        '',
      ),
      fc.string({ maxLength: 40 }),
    ),
  });

  const request = hostileObject(
    record({
      method: field(fc.constantFrom('GET', 'post', 'DELETE', 'FETCH')),
      path: field(
        fc.constantFrom(
          '/api/v1/accounts',
          '/api/v1/hf/orders',
          '/api/v1/hf/orders/o-1',
          '/api/v9/unknown/1',
          '/api/v1/a b',
          '/api/v1/\u00e9',
          'api/v1/accounts',
          '/api/v1/accounts?x=1#frag',
        ),
      ),
      query: fc.oneof(dictionary(fc.constantFrom('symbol', 'n', 'bad'), field(fc.constantFrom('BTC-USDT', 1, true, undefined)), 2), hostile),
      body: fc.oneof(
        plain(fc.record({ symbol: fc.constant('BTC-USDT'), clientOid: fc.constantFrom(undefined, 'oid-1') }, { requiredKeys: ['symbol'] })),
        fc.constantFrom(
          made('{ nested: circular }', () => ({ nested: circular })),
          made('{ size: 1n }', () => ({ size: 1n })),
        ),
        hostile,
      ),
      host: field(fc.constantFrom('spot', 'futures', 'broker', 'binance')),
      priority: field(fc.constantFrom(...PRIORITIES)),
      signal: maybeSignal,
      maxWaitMs: field(fc.constantFrom(0, 50, 120_000, Number.POSITIVE_INFINITY)),
    }),
  );

  it('request: typed error or a valid result, within the bound; an input fault sends and charges nothing (700 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(request, reply, async (req, answer) => {
        next = answer;
        const scheduler = createScheduler({ uid: 'fuzz', store: new MemoryStore(), jitterMs: 0, feedback: { maxAttempts: 1 } });
        const client = new KucoinClient({ scheduler, baseUrls: { spot: url, futures: url, broker: url }, transportRetries: 0, timeoutMs: 1000 });
        const before = requests;
        const outcome = await within(client.request(req.build() as never), HANG_MS, 'client.request');
        if (outcome.ok) {
          expect(outcome.value).toMatchObject({ code: '200000', attempts: 1 });
          expect(outcome.value.status).toBeLessThan(300);
        } else {
          expectTyped(outcome.error, [...INPUT_CODES, ...WAIT_CODES, ...SENT_CODES], 'client.request');
          if (!SENT_CODES.includes((outcome.error as KucoinSchedulerError).code)) {
            expect(requests - before, 'a request rejected before sending reached the server').toBe(0);
            expect(await totalUsed(scheduler), 'a request rejected before sending was charged').toBe(0);
          }
        }
        await within(client.close(), HANG_MS, 'client.close');
        await within(scheduler.close(), HANG_MS, 'scheduler.close');
      }),
      { seed: SEED, numRuns: 700 },
    );
  });
});

describe('fuzz: reading replies and errors', () => {
  const headerBag = fc.oneof(
    dictionary(
      fc.constantFrom('gw-ratelimit-limit', 'GW-RateLimit-Remaining', 'gw-ratelimit-reset', 'retry-after', 'Retry-After', 'server', 'cf-ray'),
      fc.oneof(hostile, plain(fc.constantFrom('4000', '-1', '30', 'cloudflare')), plain(fc.array(fc.constantFrom('1', '2')))),
      4,
    ),
    hostile,
    fc.constant(made('a fetch Headers', () => new Headers({ 'gw-ratelimit-limit': '6000', 'retry-after': '2' }))),
    fc.constant(made('{ get() that throws }', () => ({ get: throwing }))),
  );
  const body = fc.oneof(
    hostile,
    record({ code: field(fc.constantFrom('429000', '429001', '429002', '200002', 200000, '1015')), msg: field(fc.constantFrom('Too many requests', 'ok')) }),
    plain(fc.constantFrom('error code: 1015', '{"code":"429000"}', '{"code":')),
    fc.constant(made('bytes ff fe 7b', () => new Uint8Array([0xff, 0xfe, 0x7b]))),
  );
  const gatewayReply = hostileObject(record({ status: field(fc.constantFrom(200, 403, 429, 500, 0, -1)), headers: headerBag, body }));
  const signalsKnown = [undefined, '429000', '429001', '429002', '1015', '200002', 'http-429', 'http-403'];

  it('classifyReply never throws and returns a well-formed classification (1500 inputs)', () => {
    fc.assert(
      fc.property(gatewayReply, (reply) => {
        const c = classifyReply(reply.build() as never);
        expect(signalsKnown).toContain(c.signal);
        for (const v of [c.rateLimit.limit, c.rateLimit.remaining, c.rateLimit.resetMs]) expect(Number.isInteger(v) && v >= -1 && v <= 1e9).toBe(true);
        if (c.retryAfterMs !== undefined) expect(c.retryAfterMs >= 0 && c.retryAfterMs <= 3_600_000).toBe(true);
        if (c.status !== undefined) expect(Number.isFinite(c.status)).toBe(true);
        if (c.code !== undefined) expect(typeof c.code).toBe('string');
        if (c.msg !== undefined) expect(typeof c.msg).toBe('string');
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('replyFromError never throws; what it finds classifies without throwing (500 inputs)', () => {
    const error = fc.oneof(
      hostile,
      hostileObject(
        record({
          response: fc.oneof(record({ status: field(fc.constantFrom(429, 403)), headers: headerBag, data: body }), hostile),
          code: field(fc.constantFrom('429000', 'ECONNRESET', 200002)),
          message: field(fc.constantFrom('kucoin {"code":"429000"}', 'error code: 1015')),
          cause: hostile,
          getError: fc.constant(made('getError() that throws', () => throwing)),
          getCommonResponse: fc.constant(made('getCommonResponse() answering a trap Proxy', () => () => trapProxy)),
        }),
      ),
    );
    fc.assert(
      fc.property(error, (err) => {
        const reply = replyFromError(err.build());
        if (reply !== undefined) expect(signalsKnown).toContain(classifyReply(reply).signal);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('typed errors on bad input: the cases from the issue', () => {
  it('schedule rejects each with a typed code and charges nothing', async () => {
    const scheduler = freshScheduler();
    const cases: [string, unknown, string][] = [
      ['non-string host', { endpoint: 'GET /api/v1/accounts', host: 42 }, 'KS_INVALID_ENDPOINT'],
      ['non-string pool beside endpoint', { endpoint: 'GET /api/v1/accounts', pool: 42 }, 'KS_UNKNOWN_POOL'],
      ['Symbol endpoint', { endpoint: Symbol('GET /api/v1/accounts') }, 'KS_INVALID_ENDPOINT'],
      ['BigInt priority', { pool: 'spot', priority: 10n }, 'KS_INVALID_PRIORITY'],
      ['BigInt weight', { pool: 'spot', weight: 1n }, 'KS_INVALID_WEIGHT'],
      ['endpoint with a throwing toString', { endpoint: { toString: throwing } }, 'KS_INVALID_ENDPOINT'],
      ['fake AbortSignal', { pool: 'spot', signal: Object.create(AbortSignal.prototype) }, 'KS_INVALID_ARGUMENT'],
      ['NaN maxWaitMs', { pool: 'spot', maxWaitMs: Number.NaN }, 'KS_INVALID_ARGUMENT'],
      ['1 MB endpoint', { endpoint: `GET /${'a'.repeat(1_000_000)}` }, 'KS_INVALID_ENDPOINT'],
      ['throwing getter', Object.defineProperty({ pool: 'spot' }, 'weight', { get: throwing }), 'KS_INVALID_ARGUMENT'],
    ];
    const got: string[] = [];
    for (const [name, opts] of cases) {
      got.push(
        `${name}: ${await scheduler
          .schedule(opts as never, () => 'ran')
          .then(
            () => 'resolved',
            (e: { code?: string; constructor: { name: string } }) => e.code ?? `untyped ${e.constructor.name}`,
          )}`,
      );
    }
    expect(got).toEqual(cases.map(([name, , code]) => `${name}: ${code}`));
    expect(await totalUsed(scheduler)).toBe(0);
    await scheduler.close();
  });

  it('createScheduler refuses limits that could never admit anything, and type confusion, with a message that names the option', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['cloudflare.limit', { cloudflare: { limit: 0.5, windowMs: 10_000 } }],
      ['pools.Spot.limit', { pools: { spot: { limit: 0.5 } } }],
      ['endpointLimits', { endpointLimits: { 'futures POST /api/v1/orders': { limit: 0.5, windowMs: 3000 } } }],
      ['maxQueued', { maxQueued: 0.5 }],
      ['shares.high', { shares: { high: '0.5' } }],
      ['pools.spot', { pools: { spot: 5 } }],
      ['failClosed', { failClosed: [Symbol('critical')] }],
      ['uid', { uid: 10n }],
      ['vipLevel', { vipLevel: Symbol('1') }],
      ['jitterMs', { jitterMs: 1e9 }],
      ['feedback.maxAttempts', { feedback: { maxAttempts: 1n } }],
    ];
    const wrong: string[] = [];
    for (const [name, options] of cases) {
      try {
        createScheduler({ uid: 'u1', ...options } as SchedulerOptions);
        wrong.push(`${name}: accepted`);
      } catch (error) {
        const e = error as KucoinSchedulerError;
        if (e.code !== 'KS_INVALID_ARGUMENT' || !e.message.includes(name)) wrong.push(`${name}: ${e.code ?? e.constructor.name} ${e.message}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
