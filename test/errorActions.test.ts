// issue 11 part 2: every KuCoin code acts as its row of the error-code table says, against the gateway simulator
// (codes injected with src/simulator/injectedCodes.ts). One process, MemoryStore; the fleet-wide actions are
// proven with 2 OS processes in errorActionsFleet.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, KucoinApiError, KucoinClient, MemoryStore, type SchedulerOptions } from '../src/index.js';
import { InjectedCodes } from '../src/simulator/injectedCodes.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { ErrorActionOptions } from '../src/send/errorActions.js';

const CREDS = { key: 'key-actions-1', secret: 'secret-actions-value', passphrase: 'pass-actions-value', keyVersion: '2' as const };
let sim: GatewaySimulator | undefined;
let client: KucoinClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = sim = undefined;
});

async function setup(
  clientOptions: { clock?: () => number; errorActions?: ErrorActionOptions; transportRetries?: number } = {},
  schedOptions: Partial<SchedulerOptions> = {},
) {
  const codes = new InjectedCodes();
  sim = await startGatewaySimulator({ accounts: [{ key: CREDS.key, secret: CREDS.secret, passphrase: CREDS.passphrase, uid: 'u1' }], codes });
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0, ...schedOptions });
  client = new KucoinClient({ scheduler, credentials: CREDS, baseUrls: sim.urls, ...clientOptions });
  return { sim, codes, scheduler, client };
}

const arrivals = (s: GatewaySimulator, path?: string) => s.stats().arrivals.filter((a) => a.client !== 'hidden' && (path === undefined || a.endpoint === path));
const order = (clientOid?: string) => ({
  method: 'POST' as const,
  path: '/api/v1/hf/orders',
  body: { symbol: 'BTC-USDT', side: 'buy', ...(clientOid ? { clientOid } : {}) },
});

describe('clock (400002)', () => {
  it('a bot whose clock runs 8 s fast learns the offset from GET /api/v1/timestamp, signs with it and places its orders', async () => {
    const { sim, client } = await setup({ clock: () => Date.now() + 8_000 });
    const placed: string[] = [];
    const failed: string[] = [];
    for (let i = 0; i < 5; i++) {
      await client
        .request<{ orderId: string }>(order(`clk-${i}`))
        .then((r) => placed.push(r.data.orderId))
        .catch((e: KucoinApiError) => failed.push(`${e.kucoinCode}/${e.category}/${e.action}`));
    }
    const out = sim.stats().outcomes;
    console.log(
      `clock +8 s: placed ${placed.length} of 5, failed [${failed.join(', ')}], 400002 answered ${out['400002'] ?? 0}, offset learned ${client.clockOffsetMs} ms, timestamp reads ${arrivals(sim, '/api/v1/timestamp').length}`,
    );
    expect(placed).toHaveLength(5);
    expect(out['400002']).toBe(1); // one refusal, then every send is signed with the offset
    expect(Math.abs(client.clockOffsetMs + 8_000)).toBeLessThan(500);
    expect(arrivals(sim, '/api/v1/timestamp')).toHaveLength(1); // charged through the scheduler, once
  });

  it('re-sends once only: a 400002 that persists fails with category clock', async () => {
    const { sim, codes, client } = await setup();
    codes.inject({ code: '400002', endpoint: 'POST /api/v1/hf/orders' });
    const err = await client.request(order('clk-x')).catch((e) => e);
    expect(err).toMatchObject({ code: 'KS_KUCOIN_API', kucoinCode: '400002', category: 'clock', action: 'clock-synced', attempts: 2 });
    expect(arrivals(sim, '/api/v1/hf/orders')).toHaveLength(2);
  });
});

describe('retry later', () => {
  it('reads and clientOid orders are re-sent after a jittered host backoff; an order without a clientOid never is', async () => {
    const { sim, codes, client, scheduler } = await setup({
      errorActions: { retryLaterBackoff: { baseMs: 100, maxMs: 400, jitter: 0.5 } },
      transportRetries: 2,
    });
    const pauses: number[] = [];
    scheduler.on('hostPaused', (e) => pauses.push(e.pausedUntil - Date.now()));
    codes.inject({ code: '230005', endpoint: 'GET /api/v1/accounts', count: 2 });
    const read = await client.request({ method: 'GET', path: '/api/v1/accounts' });
    codes.inject({ code: '230005', endpoint: 'POST /api/v1/hf/orders', count: 1 });
    const withOid = await client.request(order('rl-1'));
    codes.inject({ code: '230005', endpoint: 'POST /api/v1/hf/orders', count: 1 });
    const before = arrivals(sim, '/api/v1/hf/orders').length;
    const noOid = await client.request(order()).catch((e) => e);
    const noOidSends = arrivals(sim, '/api/v1/hf/orders').length - before;
    const reads = arrivals(sim, '/api/v1/accounts');
    const gaps = reads.slice(1).map((a, i) => a.at - reads[i]!.at);
    console.log(
      `retry-later: read attempts ${read.attempts} (gaps ${gaps.join('/')} ms), clientOid order attempts ${withOid.attempts}, no-clientOid order sends ${noOidSends} (${noOid.category}/${noOid.action}); host pauses ${pauses.map((p) => Math.round(p)).join('/')} ms`,
    );
    expect(read.attempts).toBe(3);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(40); // backed off (base 100 ms, jitter +-25 %)
    expect(withOid.attempts).toBe(2);
    expect(noOid).toBeInstanceOf(KucoinApiError);
    expect(noOid).toMatchObject({ kucoinCode: '230005', category: 'retry-later', retryable: true, action: 'host-backoff', attempts: 1 });
    expect(noOidSends).toBe(1);
    for (const p of pauses) expect(p).toBeLessThanOrEqual(400 * 1.25 + 5); // bounded by maxMs (+ jitter)
  });
});

describe('auth: a circuit per key', () => {
  it('opens at the first auth failure: nothing more is sent, KS_KEY_CIRCUIT_OPEN, an event; a probe closes it; the key never shows', async () => {
    const { sim, codes, client, scheduler } = await setup({ errorActions: { keyCircuitOpenMs: 300 } });
    const events: { state: string; keyId: string; openUntil: number }[] = [];
    scheduler.on('keyCircuit', (e) => events.push(e));
    codes.inject({ code: '400006', count: 1 });
    const first = await client.request({ method: 'GET', path: '/api/v1/accounts' }).catch((e) => e);
    const afterFirst = arrivals(sim).length;
    const fast = await Promise.all(Array.from({ length: 20 }, () => client!.request({ method: 'GET', path: '/api/v1/accounts' }).catch((e) => e)));
    const sentWhileOpen = arrivals(sim).length - afterFirst;
    console.log(
      `auth circuit: first ${first.kucoinCode}/${first.category}/${first.action}; 20 more while open -> ${fast.filter((e) => e.code === 'KS_KEY_CIRCUIT_OPEN').length} KS_KEY_CIRCUIT_OPEN, ${sentWhileOpen} sent`,
    );
    expect(first).toMatchObject({ kucoinCode: '400006', category: 'auth', retryable: false, action: 'key-circuit-opened' });
    expect(fast.every((e) => e.code === 'KS_KEY_CIRCUIT_OPEN')).toBe(true);
    expect(sentWhileOpen).toBe(0);
    await new Promise((r) => setTimeout(r, 320));
    const probe = await client.request({ method: 'GET', path: '/api/v1/accounts' });
    expect(probe.code).toBe('200000');
    expect(events.map((e) => e.state)).toEqual(['open', 'half-open', 'closed']);
    const again = await client.request({ method: 'GET', path: '/api/v1/accounts' });
    expect(again.code).toBe('200000');
    const text = JSON.stringify([events, fast.map((e) => e.message), first.message]);
    expect(text).not.toContain(CREDS.key);
    expect(text).not.toContain(CREDS.secret);
    expect(events[0]!.keyId).toMatch(/^[0-9a-f]{12}$/);
  });

  it('a failed probe opens the circuit again, longer; while the probe is in flight other requests are not sent', async () => {
    const { sim, codes, client, scheduler } = await setup({ errorActions: { keyCircuitOpenMs: 200 } });
    const opens: number[] = [];
    scheduler.on('keyCircuit', (e) => e.state === 'open' && opens.push(e.openUntil - Date.now()));
    codes.inject({ code: '400003', count: 2 });
    await client.request({ method: 'GET', path: '/api/v1/accounts' }).catch(() => {});
    await new Promise((r) => setTimeout(r, 220));
    const [probe, ...others] = await Promise.all(Array.from({ length: 5 }, () => client!.request({ method: 'GET', path: '/api/v1/accounts' }).catch((e) => e)));
    console.log(`failed probe: open for ${opens.map((o) => Math.round(o)).join(' then ')} ms; sends ${arrivals(sim).length} (1 failure + 1 probe)`);
    expect(probe).toMatchObject({ kucoinCode: '400003', action: 'key-circuit-opened' });
    expect(others.every((e) => e.code === 'KS_KEY_CIRCUIT_OPEN')).toBe(true);
    expect(arrivals(sim)).toHaveLength(2);
    expect(opens).toHaveLength(2);
    expect(opens[1]!).toBeGreaterThan(opens[0]! * 1.5); // re-opened longer: 2 x 200 ms
  });
});

describe('service stopping (501000)', () => {
  it('stops sending to that host for a while; other hosts go on', async () => {
    const { sim, codes, client } = await setup({ errorActions: { serviceStoppingPauseMs: 500 } });
    codes.inject({ code: '501000', count: 1, endpoint: 'GET /api/v1/accounts' });
    const t0 = Date.now();
    const err = await client.request({ method: 'GET', path: '/api/v1/accounts' }).catch((e) => e);
    const futures = await client.request({ method: 'GET', path: '/api/v1/account-overview', host: 'futures' });
    const futuresAfterMs = Date.now() - t0;
    const next = await client.request({ method: 'GET', path: '/api/v1/hf/orders/active', query: { symbol: 'BTC-USDT' } });
    const spotAfterMs = Date.now() - t0;
    console.log(
      `501000: ${err.kucoinCode}/${err.category}/${err.action}; futures answered after ${futuresAfterMs} ms, next spot request after ${spotAfterMs} ms (pause 500 ms)`,
    );
    expect(err).toMatchObject({ kucoinCode: '501000', category: 'service-stopping', action: 'host-paused', attempts: 1 });
    expect(futures.code).toBe('200000');
    expect(futuresAfterMs).toBeLessThan(300);
    expect(next.code).toBe('200000');
    expect(spotAfterMs).toBeGreaterThanOrEqual(450);
    expect(arrivals(sim, '/api/v1/accounts')).toHaveLength(1);
  });
});

describe('business, request, region-kyc, restricted', () => {
  it('are never re-sent and never a rate signal', async () => {
    const { sim, codes, client, scheduler } = await setup({ transportRetries: 2 });
    const feedback: string[] = [];
    scheduler.on('feedback', (e) => feedback.push(e.signal));
    const cases = [
      { code: '200004', category: 'business' },
      { code: '400301', category: 'region-kyc' },
      { code: '400700', category: 'restricted' },
      { code: '404000', category: 'request' },
    ];
    const seen: string[] = [];
    for (const [i, c] of cases.entries()) {
      codes.inject({ code: c.code, count: 1, endpoint: 'POST /api/v1/hf/orders' });
      const before = arrivals(sim, '/api/v1/hf/orders').length;
      const err = await client.request(order(`biz-${i}`)).catch((e) => e);
      const sends = arrivals(sim, '/api/v1/hf/orders').length - before;
      seen.push(`${c.code}:${err.category}/${err.action}/${err.retryable}/${sends}`);
      expect(err).toMatchObject({ code: 'KS_KUCOIN_API', kucoinCode: c.code, category: c.category, retryable: false, action: 'none', attempts: 1 });
      expect(sends).toBe(1);
    }
    const paused = (await scheduler.snapshot()).buckets.filter((b) => b.pausedUntil > Date.now()).map((b) => b.id);
    console.log(`fail at once: ${seen.join(' ')}; feedback signals ${feedback.length}; paused buckets [${paused.join(', ')}]`);
    expect(feedback).toEqual([]);
    expect(paused).toEqual([]);
  });
});

describe('wrap: the classification of an SDK error', () => {
  it('an error thrown through wrap carries category, retryable and action (classificationOf); a business error is not re-sent', async () => {
    const { classificationOf } = await import('../src/send/attemptLoop.js');
    const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
    let calls = 0;
    const place = scheduler.wrap(
      async () => {
        calls++;
        throw Object.assign(new Error('Balance insufficient'), { code: '200004', msg: 'Balance insufficient' });
      },
      { endpoint: 'POST /api/v1/hf/orders' },
    );
    const err = await place().catch((e) => e);
    console.log(`wrap: ${JSON.stringify(classificationOf(err))} after ${calls} call(s)`);
    expect(classificationOf(err)).toEqual({ category: 'business', retryable: false, action: 'none' });
    expect(calls).toBe(1);
    expect(Object.keys(err)).not.toContain('classification'); // not enumerable: the caller's error is otherwise untouched
  });
});
