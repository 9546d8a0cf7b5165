import { describe, expect, it } from 'vitest';
import { AmbiguousEndpointError, createScheduler, EndpointTable, InvalidEndpointError, MemoryStore } from '../src/index.js';
import { UnknownEndpointError } from '../src/errors.js';
import { guessTemplate } from '../src/kucoin/endpointTable.js';
import { unlisted } from '../src/kucoin/unlisted.js';
import { ENDPOINT_ROWS } from '../src/kucoin/endpoints.generated.js';
import { resolveOptions } from '../src/scheduler/options.js';
import { MAX_ENDPOINT_BUCKETS, RequestPlanner } from '../src/scheduler/requestPlan.js';

const table = new EndpointTable({ unknownWeight: 30 });

describe('EndpointTable', () => {
  it('holds all 333 generated endpoints (250 from the official SDK spec, 83 unified-account routes)', () => {
    expect(ENDPOINT_ROWS).toHaveLength(333);
    expect(table.size).toBe(333);
  });

  it('knows the unified-account (UTA) routes in their v1 and v2 forms', () => {
    expect(table.lookup('GET /api/ua/v1/account/mode')).toMatchObject({ pool: 'UnifiedAccount', weight: 30, known: true });
    expect(table.lookup('GET /api/ua/v2/account/mode')).toMatchObject({ pool: 'UnifiedAccount', weight: 30, known: true });
    expect(table.lookup('POST /api/ua/v1/unified/order/place')).toMatchObject({ path: '/api/ua/v1/{accountMode}/order/place', weight: 1 });
    expect(table.lookup('POST /api/ua/v2/unified/order/cancel')).toMatchObject({ pool: 'UnifiedAccount', weight: 1 });
    expect(table.lookup('GET /api/ua/v1/market/ticker?symbol=BTC-USDT')).toMatchObject({ pool: 'Public', weight: 15 });
    expect(table.lookup('GET /api/ua/v1/unified/account/leverage').path).toBe('/api/ua/v1/unified/account/leverage');
  });

  it('matches a concrete path to its template', () => {
    const info = table.lookup('DELETE /api/v1/hf/orders/123?symbol=BTC-USDT');
    expect(info).toMatchObject({ path: '/api/v1/hf/orders/{orderId}', pool: 'Spot', weight: 1, known: true });
  });

  it('prefers a literal segment over a template', () => {
    expect(table.lookup('POST /api/v1/orders/multi', 'futures')).toMatchObject({ path: '/api/v1/orders/multi', weight: 20 });
    expect(table.lookup('DELETE /api/v1/orders/abc', 'futures').path).toBe('/api/v1/orders/{orderId}');
  });

  it('lets the host decide a path that exists on several hosts', () => {
    expect(table.lookup('POST /api/v1/orders', 'spot').pool).toBe('Spot');
    expect(table.lookup('POST /api/v1/orders', 'api-futures.kucoin.com')).toMatchObject({ pool: 'Futures', weight: 2 });
    expect(table.lookup('POST /api/v1/orders', 'https://api-futures.kucoin.com')).toMatchObject({ pool: 'Futures' });
    expect(() => table.lookup('POST /api/v1/orders')).toThrow(AmbiguousEndpointError);
  });

  it('knows the weights of the examples in RATE-LIMITS.md', () => {
    expect(table.lookup('POST /api/v1/hf/orders').weight).toBe(1);
    expect(table.lookup('GET /api/v1/market/orderbook/level1?symbol=BTC-USDT')).toMatchObject({ pool: 'Public', weight: 2 });
    expect(table.lookup('GET /api/v1/market/allTickers')).toMatchObject({ pool: 'Public', weight: 15 });
    expect(table.lookup('GET /api/v1/accounts')).toMatchObject({ pool: 'Management', weight: 5 });
  });

  it('charges the conservative default to an unknown endpoint, and to one listed without a weight', () => {
    expect(table.lookup('GET /api/v9/nothing', 'futures')).toMatchObject({ known: false, pool: 'Futures', weight: 30, weightAssumed: true });
    expect(table.lookup('GET /api/v1/recentFills', 'futures')).toMatchObject({ known: true, weight: 30, weightAssumed: true });
  });

  it('rejects malformed endpoints and hosts with a typed error', () => {
    for (const bad of ['', 'GET', '/api/v1/accounts', 'FETCH /api/v1/accounts', 'GET api/v1/accounts']) {
      expect(() => table.lookup(bad), bad).toThrow(InvalidEndpointError);
    }
    expect(() => table.lookup('GET /api/v1/accounts', 'binance.com')).toThrow(InvalidEndpointError);
  });
});

describe('EndpointTable: every template form matches (issue 10, 4)', () => {
  /** A concrete value for a template parameter: sizes are numbers, everything else an id-like value. */
  const valueFor = (name: string): string => (/size|depth/i.test(name) ? '20' : `x${name.length}y7`);
  const concrete = (template: string): string => template.replace(/\{([^{}]+)\}/g, (_, name: string) => valueFor(name));

  it('a concrete path made from each of the 250 templates resolves to that template, its pool and weight', () => {
    const misses: string[] = [];
    for (const [host, method, template, pool, weight] of ENDPOINT_ROWS) {
      const path = concrete(template);
      const info = table.lookup(`${method} ${path}`, host);
      if (info.path !== template || info.pool !== pool || info.weight !== (weight ?? 30) || !info.known) {
        misses.push(`${host} ${method} ${path} -> ${info.path} ${info.pool}:${info.weight} (want ${template} ${pool}:${weight ?? 30})`);
      }
    }
    expect(misses).toEqual([]);
  });

  it('a parameter inside a segment: level2_20 is the Public pool at weight 2, depth20 too; the literal parts must match', () => {
    expect(table.lookup('GET /api/v1/market/orderbook/level2_20?symbol=BTC-USDT')).toMatchObject({
      path: '/api/v1/market/orderbook/level2_{size}',
      pool: 'Public',
      weight: 2,
      known: true,
    });
    expect(table.lookup('GET /api/v1/market/orderbook/level2_100')).toMatchObject({
      path: '/api/v1/market/orderbook/level2_{size}',
      pool: 'Public',
      known: true,
    });
    expect(table.lookup('GET /api/v1/market/orderbook/callauction/level2_50')).toMatchObject({
      path: '/api/v1/market/orderbook/callauction/level2_{size}',
      known: true,
    });
    expect(table.lookup('GET /api/v1/level2/depth20', 'futures')).toMatchObject({ path: '/api/v1/level2/depth{size}', pool: 'Public', known: true });
    expect(table.lookup('GET /api/v1/market/orderbook/level2_', 'spot').known).toBe(false); // the parameter takes a character at least
    expect(table.lookup('GET /api/v1/market/orderbook/level3_20', 'spot').known).toBe(false);
  });
});

describe('EndpointTable: unknown paths and hostile input', () => {
  it('guesses a template for a path it does not know: a segment no KuCoin path uses becomes {id}, with or without digits', () => {
    const cases: [string, string][] = [
      ['/api/v9/orders/123', '/api/v9/orders/{id}'],
      ['/api/v9/orders/456/details', '/api/v9/orders/{id}/details'],
      ['/api/v9/orders/5c35c02703aa673ceec2a168', '/api/v9/orders/{id}'],
      ['/api/v9/orders/8f14e45f-ceea-467f-a0e4-3d1f2b7c9a10', '/api/v9/orders/{id}'],
      ['/api/v9/orders/sim-a1b2c3d4', '/api/v9/orders/{id}'],
      ['/api/v9/users/alice%40example.com', '/api/v9/users/{id}'],
      ['/api/v9/orders/{thingId}', '/api/v9/orders/{id}'],
      [`/api/v9/orders/${'A'.repeat(40)}`, '/api/v9/orders/{id}'],
      // ids without digits (issue 21): symbols, currencies, names
      ['/api/v9/ticker/ausdt', '/api/v9/ticker/{id}'],
      ['/api/v9/ticker/BTC-USDT', '/api/v9/ticker/{id}'],
      ['/api/v9/market/level2/XBTUSDTM', '/api/v9/market/level2/{id}'],
      ['/api/v9/things/abc', '/api/v9/things/{id}'],
      ['/api/v9/things/abc/details', '/api/v9/things/{id}/details'],
      // names stay: api, the version, the resource after them, and the words KuCoin's paths use
      ['/api/v1/allTickers', '/api/v1/allTickers'],
      ['/api/v1/brand-new', '/api/v1/brand-new'],
      ['/api/v12/market/orderbook/level2', '/api/v12/market/orderbook/level2'],
      ['/api/kyc/ndBroker/things', '/api/kyc/ndBroker/{id}'],
      // a resource that looks like an id is one
      ['/api/v9/123/details', '/api/v9/{id}/details'],
      ['/api/v9/5c35c02703aa673ceec2a168', '/api/v9/{id}'],
    ];
    for (const [path, template] of cases) expect(guessTemplate(path), path).toBe(template);
    const a = table.lookup('DELETE /api/v9/things/123');
    const b = table.lookup('DELETE /api/v9/things/abc');
    expect(a).toMatchObject({ known: false, path: '/api/v9/things/{id}' });
    expect(b.path).toBe(a.path);
  });

  it("keeps every known template's shape: each of the 250 paths, its parameters filled with ids with and without digits, guesses its own template", () => {
    const ids = ['BTC-USDT', 'ausdt', 'XBTUSDTM', 'USDT', '5c35c02703aa673ceec2a168', '20', 'sim-a1b2'];
    const wrong: string[] = [];
    for (const [i, row] of ENDPOINT_ROWS.entries()) {
      const id = ids[i % ids.length]!;
      const filled = row[2].replace(/\{[^{}]+\}/g, id);
      const expected = row[2]
        .split('/')
        .map((segment) => (segment.includes('{') ? '{id}' : segment))
        .join('/');
      if (guessTemplate(filled) !== expected) wrong.push(`${row[2]} (${filled}) -> ${guessTemplate(filled)}`);
      // and the table still resolves the filled path to its row
      const info = table.lookup(`${row[1]} ${filled}`, row[0]);
      if (!info.known || info.method !== row[1]) wrong.push(`${row[0]} ${row[1]} ${filled} resolved to ${info.path}`);
    }
    expect(wrong).toEqual([]);
  });

  it('5,000 unknown paths with ids without digits make a handful of templates', () => {
    const symbols = Array.from(
      { length: 5_000 },
      (_, i) => `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + (((i / 26) % 26) | 0))}${'xyz'[i % 3]}usdt`,
    );
    const templates = new Set<string>();
    for (const [i, s] of symbols.entries()) {
      const shape = ['/api/v9/ticker/', '/api/v9/market/stats/', '/api/v2/prices/'][i % 3]!;
      templates.add(table.lookup(`GET ${shape}${s}`, 'spot').path);
    }
    expect([...templates].sort()).toEqual(['/api/v2/prices/{id}', '/api/v9/market/stats/{id}', '/api/v9/ticker/{id}']);
  });

  it('rejects a non-string host or endpoint, control characters and huge endpoints with a typed error', () => {
    const bad: [unknown, unknown][] = [
      ['GET /api/v1/accounts', 42],
      ['GET /api/v1/accounts', Symbol('spot')],
      ['GET /api/v1/accounts', '__proto__'],
      ['GET /api/v1/accounts', 'constructor'],
      ['GET /api/v1/accounts', 'x'.repeat(100_000)],
      [Symbol('GET /x'), undefined],
      [10n, undefined],
      [{ toString: () => 'GET /api/v1/accounts' }, undefined],
      ['GET /api/v1/acc\u0000ounts', undefined],
      ['GET /api/v1/acc\u007founts', undefined],
      ['GET /api/v1/acc\u0085ounts', undefined],
      [`GET /${'a'.repeat(9000)}`, undefined],
    ];
    for (const [endpoint, host] of bad) {
      expect(() => table.lookup(endpoint as string, host as string), String(typeof endpoint === 'string' ? endpoint.slice(0, 40) : typeof endpoint)).toThrow(
        InvalidEndpointError,
      );
    }
  });
});

describe('RequestPlanner: endpoint buckets stay bounded', () => {
  const planner = () => new RequestPlanner(resolveOptions({ uid: 'u1', store: new MemoryStore() }));
  /** A distinct, all-letter path segment per i (no id-like look, so the template guess keeps it). */
  const word = (i: number) => {
    let w = '';
    for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) w = String.fromCharCode(97 + ((n - 1) % 26)) + w;
    return w;
  };
  // words KuCoin's paths use stay names in a guessed template
  const WORDS = [...new Set(ENDPOINT_ROWS.flatMap((r) => r[2].split('/').filter((x) => x !== '' && !x.includes('{') && !/^v\d+$/.test(x))))];

  it('20k ids of one unknown endpoint share one endpoint bucket', () => {
    const p = planner();
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++)
      ids.add(p.plan({ endpoint: `GET /api/v9/orders/${i % 2 ? i : `${word(i).toUpperCase()}-USDT`}`, maxWaitMs: 0 }).endpointBucket!.id);
    console.log(`20k ids of one unknown endpoint: ${ids.size} endpoint bucket(s), ${p.allBuckets().length} buckets listed`);
    expect([...ids]).toEqual(['uid:u1:ep:spot GET /api/v9/orders/{id}']);
  });

  it('20k distinct unknown endpoints keep at most MAX_ENDPOINT_BUCKETS configs; a dropped one is rebuilt identical', () => {
    const p = planner();
    const first = p.plan({ endpoint: `GET /api/v9/${word(0)}/list` }).endpointBucket!;
    for (let i = 1; i < 20_000; i++) p.plan({ endpoint: `GET /api/v9/${word(i)}/list` });
    const listed = p.allBuckets().length;
    console.log(`20k distinct unknown endpoints: ${listed} buckets listed (limit ${MAX_ENDPOINT_BUCKETS} endpoint buckets + 10 fixed)`);
    expect(MAX_ENDPOINT_BUCKETS).toBe(1024);
    expect(listed).toBeLessThanOrEqual(MAX_ENDPOINT_BUCKETS + 10);
    expect(p.allBuckets().some((b) => b.id === first.id)).toBe(false); // the least recently used went first
    expect(p.plan({ endpoint: `GET /api/v9/${word(0)}/list` }).endpointBucket).toEqual(first);
  });

  it('an endpoint bucket id is bounded in length and free of control characters', () => {
    const p = planner();
    const long = (n: number) => `GET /api/v9/${Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]).join('/')}`;
    const a = p.plan({ endpoint: long(600) }).endpointBucket!.id;
    const b = p.plan({ endpoint: long(601) }).endpointBucket!.id;
    console.log(`endpoint bucket id of a ${long(600).length}-character endpoint: ${a.length} characters`);
    expect(a.length).toBeLessThanOrEqual(200);
    expect(a).not.toBe(b);
    expect(a).toMatch(new RegExp(`^uid:u1:ep:spot GET /api/v9/${WORDS.slice(0, 3).join('/')}/.*~#[0-9a-f]{24}$`));
    for (const id of [a, b]) expect(id).not.toMatch(/[\p{Cc}]/u);
    expect(() => p.plan({ endpoint: 'GET /api/v9/a\u0001b' })).toThrow(InvalidEndpointError);
  });

  it('endpointLimits keys are matched by template, whatever their spelling', async () => {
    const s = createScheduler({
      uid: 'u1',
      store: new MemoryStore(),
      jitterMs: 0,
      endpointLimits: { 'api-futures.kucoin.com delete /api/v1/orders/abc123': { limit: 1, windowMs: 60_000 } },
    });
    await s.schedule({ endpoint: 'DELETE /api/v1/orders/o-1', host: 'futures', priority: 'critical' }, () => undefined);
    const second = await s
      .schedule({ endpoint: 'DELETE /api/v1/orders/o-2', host: 'futures', priority: 'critical', maxWaitMs: 0 }, () => 'ran')
      .catch((e) => e.code);
    expect(second).toBe('KS_MAX_WAIT_EXCEEDED'); // the configured limit of 1 applies to the template
    // a limit of 1 leaves 0.85 to normal requests: refused at once, not left to wait for ever
    await expect(s.schedule({ endpoint: 'DELETE /api/v1/orders/o-3', host: 'futures' }, () => 'ran')).rejects.toMatchObject({ code: 'KS_INVALID_WEIGHT' });
    expect(() => createScheduler({ uid: 'u1', endpointLimits: { 'GET /api/v1/orders': { limit: 1, windowMs: 1000 } } })).toThrow(
      expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }),
    );
    expect(() => createScheduler({ uid: 'u1', endpointLimits: { 'binance GET /x': { limit: 1, windowMs: 1000 } } })).toThrow(
      expect.objectContaining({ code: 'KS_INVALID_ARGUMENT' }),
    );
    await s.close();
  });
});

describe('strictEndpoints', () => {
  it('rejects an endpoint missing from the table at schedule time, naming the nearest known one; nothing is charged', async () => {
    const s = createScheduler({ uid: 'strict', store: new MemoryStore(), strictEndpoints: true });
    const typo: string = 'POST /api/v1/hf/order';
    const error = await s.schedule({ endpoint: typo }, () => 'sent').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownEndpointError);
    expect(error).toMatchObject({ code: 'KS_UNKNOWN_ENDPOINT', endpoint: typo, nearest: 'POST /api/v1/hf/orders' });
    expect((error as Error).message).toContain('"POST /api/v1/hf/order" is not in KuCoin\'s endpoint table (nearest: "POST /api/v1/hf/orders")');
    expect((await s.snapshot()).buckets.find((b) => b.id === 'uid:strict:Spot')!.used).toBe(0);
    // known endpoints go; an unlisted one goes when its pool and weight are stated
    await expect(s.schedule({ endpoint: 'DELETE /api/v1/hf/orders/1?symbol=BTC-USDT' }, () => 'ok')).resolves.toBe('ok');
    await expect(s.schedule({ endpoint: unlisted('POST /api/v1/new-thing'), pool: 'spot', weight: 2 }, () => 'ok')).resolves.toBe('ok');
    await expect(s.schedule({ endpoint: unlisted('POST /api/v1/new-thing'), pool: 'spot' }, () => 'ok')).rejects.toThrow(UnknownEndpointError);
    await s.close();
  });

  it('is off by default (the typo is charged the conservative default weight), and validated', async () => {
    const s = createScheduler({ uid: 'lax', store: new MemoryStore() });
    await s.schedule({ endpoint: unlisted('POST /api/v1/hf/order') }, () => 'sent');
    expect((await s.snapshot()).buckets.find((b) => b.id === 'uid:lax:Spot')!.used).toBe(30);
    await s.close();
    expect(() => createScheduler({ uid: 'x', strictEndpoints: 'yes' as never })).toThrow('Expected strictEndpoints to be true or false, got "yes"');
  });
});
