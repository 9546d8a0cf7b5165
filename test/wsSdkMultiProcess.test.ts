// kucoin-universal-sdk's WebSockets in three OS processes of one account, on the simulators: with
// withKucoinWebSockets on one Redis the fleet holds the server's session limit (0 x 509), a process waits for
// a slot and gets the one a killed process held once its lease ends, and a server restart is ridden out inside
// the connect budget. Scaled: 2 sessions per IP, 4 connects per 2 s, 2 s silent-session time, 3 s leases.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startGatewaySimulator, startWsSimulator, type GatewaySimulator, type WsSimulator } from '../src/simulator/index.js';
import type { SdkWsWorkerConfig, SdkWsWorkerReport } from './fixtures/sdkWsWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const CREDS = { key: 'sdkmp-key', secret: 'sdkmp-secret', passphrase: 'sdkmp-pass' };
const SESSIONS = 2;

let ws: WsSimulator | undefined;
let gateway: GatewaySimulator | undefined;
let workers: Worker<SdkWsWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  workers = [];
  await gateway?.close();
  await ws?.close();
  gateway = ws = undefined;
});

describe('kucoin-universal-sdk WebSockets across three OS processes', () => {
  it('fleet budgets: 0 x 509, a waiting process gets a killed one slot after its lease, a server restart within the connect budget', async () => {
    ws = await startWsSimulator({ sessionLimit: SESSIONS, connects: { limit: 4, windowMs: 2_000 }, pingIntervalMs: 1_000, pingTimeoutMs: 1_000 });
    gateway = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'sdkmp' }], websocket: ws });
    const base: Omit<SdkWsWorkerConfig, 'symbols'> = {
      redisUrl: inject('redisUrl'),
      prefix: `ks-test-${randomUUID()}`,
      urls: gateway.urls,
      credentials: CREDS,
      uid: 'sdkmp',
      mode: 'fleet',
      ws: {
        sessionLimit: SESSIONS,
        connects: { limit: 4, windowMs: 2_000, marginMs: 200 },
        leaseMs: 3_000,
        heartbeatMs: 150,
        leaseMarginMs: 200,
        maxWaitMs: 15_000,
        reconnect: { baseMs: 100, maxMs: 1_000 },
      },
      reconnectIntervalMs: 5_000,
    };
    const symbolsOf = (p: number) => Array.from({ length: 60 }, (_, i) => `P${p}S${i}-USDT`);
    workers = [0, 1, 2].map((p) => forkWorker<SdkWsWorkerReport>('sdkWsWorker.ts', { ...base, symbols: symbolsOf(p) } satisfies SdkWsWorkerConfig));
    await Promise.all(workers.map((w) => w.ready));
    const startedAt = Date.now();
    for (const w of workers) w.child.send({ type: 'go' });

    // two processes are served (one session each), the third waits for a slot
    const done = workers.map((w, p) => w.done.then((r) => ({ p, ...r, at: Date.now() })));
    const settled: Awaited<(typeof done)[number]>[] = [];
    for (const d of done) void d.then((r) => settled.push(r));
    await expect.poll(() => settled.length, { timeout: 8_000 }).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(settled.map((r) => r.outcome)).toEqual(['served', 'served']);
    expect(ws.stats().sessionsNow['ip:127.0.0.1']).toBe(SESSIONS);
    const waiter = [0, 1, 2].find((p) => !settled.some((r) => r.p === p))!;
    const served = [...settled];

    // kill a served process: its sockets close at once, its slot is free for the fleet once its lease ends
    const victim = served[0]!.p;
    const killedAt = Date.now();
    workers[victim]!.child.kill('SIGKILL');
    const late = await done[waiter]!;
    expect(late.outcome).toBe('served');
    const reuseMs = late.at - killedAt;

    // a server restart: both survivors reconnect and subscribe again
    const alive = [0, 1, 2].filter((p) => p !== victim);
    const welcomesBefore = ws.stats().connects.filter((c) => c.outcome === 'welcome').length;
    ws.dropAll();
    const welcomes = () => ws!.stats().connects.filter((c) => c.outcome === 'welcome').length - welcomesBefore;
    await expect.poll(welcomes, { timeout: 8_000 }).toBe(2);
    for (const p of alive) await expect.poll(() => ws!.publish(`/market/ticker:P${p}S59-USDT`, { price: '1' }), { timeout: 8_000 }).toBe(1);
    const s = ws.stats();
    console.log(
      '[ws sdk, 3 processes]',
      JSON.stringify({
        count509: s.count509,
        maxSessions: s.maxSessions['ip:127.0.0.1'],
        connectsPerWindow: s.maxConnectsPerWindow['ip:127.0.0.1'],
        tokensIssued: s.tokensIssued,
        servedAfterMs: settled.map((r) => r.at - startedAt),
        killedSlotReusedAfterMs: reuseMs,
        welcomesAfterRestart: welcomes(),
      }),
    );
    expect(s.count509).toBe(0);
    expect(s.errors).toEqual({});
    expect(s.maxSessions['ip:127.0.0.1']).toBe(SESSIONS);
    expect(s.maxConnectsPerWindow['ip:127.0.0.1']).toBeLessThanOrEqual(4);
    expect(reuseMs).toBeGreaterThan(3_000 - 150 - 200);
    // one token per process (reused for its reconnects), each fetched through the scheduler by the SDK's REST client
    expect(s.tokensIssued).toBe(3);
    expect(gateway.stats().arrivals.filter((a) => a.endpoint === '/api/v1/bullet-public')).toHaveLength(3);
    for (const p of alive) workers[p]!.child.send({ type: 'exit' });
  });
});
