import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { WsRedisStore } from '../src/index.js';
import { startGatewaySimulator, startWsSimulator, type GatewaySimulator, type WsSimulator, type WsSimulatorStats } from '../src/simulator/index.js';
import type { WsWorkerConfig, WsWorkerReport } from './fixtures/wsWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const CREDS = { key: 'mp-key', secret: 'mp-secret-value', passphrase: 'mp-pass-value', keyVersion: '2' as const };
// Small limits so the run is short: KuCoin's are 50 sessions, 30 connects / 60 s, 300 topics per session,
// 100 per message, 100 uplink messages / 10 s.
const LIMITS = { sessions: 6, connects: { limit: 4, windowMs: 2_000 }, perSession: 10, perMessage: 4, uplink: { limit: 5, windowMs: 1_000 } };
const PROCESSES = 4;
const TOPICS_PER_PROCESS = 25; // 3 sessions each: 12 asked for, 6 allowed
// KuCoin's silent-session time scaled to 2 s (the shortest ping timing a token may set), the lease to 3 s
const LEASE_MS = 3_000;

let ws: WsSimulator | undefined;
let gateway: GatewaySimulator | undefined;
let workers: Worker<WsWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  workers = [];
  await gateway?.close();
  await ws?.close();
  gateway = ws = undefined;
});

async function fleet(mode: WsWorkerConfig['mode'], maxWaitMs: number) {
  ws = await startWsSimulator({
    sessionLimit: LIMITS.sessions,
    connects: LIMITS.connects,
    topicsPerSession: LIMITS.perSession,
    topicsPerMessage: LIMITS.perMessage,
    uplink: LIMITS.uplink,
    pingIntervalMs: 1_000,
    pingTimeoutMs: 1_000,
  });
  gateway = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'mp' }], websocket: ws });
  const prefix = `ks-test-${randomUUID()}`;
  const base: Omit<WsWorkerConfig, 'topics'> = {
    redisUrl: inject('redisUrl'),
    prefix,
    spotUrl: gateway.urls.spot,
    credentials: CREDS,
    uid: 'mp',
    mode,
    options: {
      sessionLimit: LIMITS.sessions,
      connects: { ...LIMITS.connects, marginMs: 200 },
      topicsPerMessage: LIMITS.perMessage,
      topicsPerSession: LIMITS.perSession,
      uplink: { ...LIMITS.uplink, marginMs: 100, reservedForPing: 1 },
      leaseMs: LEASE_MS,
      heartbeatMs: 150,
      leaseMarginMs: 200,
      maxWaitMs,
      reconnect: { baseMs: 100, maxMs: 1_000 },
      idleCloseMs: 100,
    },
  };
  workers = Array.from({ length: PROCESSES }, (_, p) =>
    forkWorker<WsWorkerReport>('wsWorker.ts', {
      ...base,
      topics: Array.from({ length: TOPICS_PER_PROCESS }, (_, i) => `/market/ticker:P${p}X${i}-USDT`),
    } satisfies WsWorkerConfig),
  );
  await Promise.all(workers.map((w) => w.ready));
  return { ws, prefix };
}

/** Topics refused with KS_WS_NO_CAPACITY, whatever they waited for. */
const noCapacity = (r: WsWorkerReport) => Object.entries(r.refused).reduce((n, [k, v]) => (k.startsWith('KS_WS_NO_CAPACITY') ? n + v : n), 0);

function figures(s: WsSimulatorStats) {
  return {
    maxSessions: s.maxSessions['uid:mp'] ?? 0,
    connectsPerWindow: s.maxConnectsPerWindow['uid:mp'] ?? 0,
    connectsPerMinute: s.maxConnectsPerMinute['uid:mp'] ?? 0,
    count509: s.count509,
    errors: s.errors,
    maxUplink: s.maxUplinkPerWindow,
    maxTopicsPerSession: s.maxTopicsPerSession,
    maxTopicsPerMessage: s.maxTopicsPerMessage,
  };
}

describe('WebSocket budgets shared by four OS processes', () => {
  it('before: every process on its own budget, the account is over its limits (509s)', async () => {
    const { ws } = await fleet('isolated', 2_000);
    for (const w of workers) w.child.send({ type: 'go' });
    const reports = await Promise.all(workers.map((w) => w.done));
    const f = figures(ws.stats());
    console.log('[ws multi-process, isolated budgets]', JSON.stringify(f), JSON.stringify(reports.map((r) => ({ served: r.served, refused: r.refused }))));
    expect(f.count509).toBeGreaterThan(0);
    for (const w of workers) w.child.send({ type: 'exit' });
  });

  it('after: shared budgets in Redis; at most the limits, 0 x 509, every topic served or refused typed; a killed process frees its sessions after the lease', async () => {
    const { ws, prefix } = await fleet('shared', 9_000);
    const limits = {
      subject: 'uid:mp',
      sessionLimit: LIMITS.sessions,
      leaseMs: LEASE_MS,
      connectLimit: LIMITS.connects.limit,
      connectSpanMs: LIMITS.connects.windowMs + 200,
    };
    const redis = new Redis(inject('redisUrl'));
    const store = new WsRedisStore({ client: redis, prefix });
    // the first process that holds an open connection is the one killed
    const victim = new Promise<Worker<WsWorkerReport>>((resolve) => {
      for (const w of workers) w.child.on('message', (m: { type: string; open?: number }) => m.type === 'connected' && (m.open ?? 0) >= 1 && resolve(w));
    });
    for (const w of workers) w.child.send({ type: 'go' });
    // all six slots in use, then kill a holder
    await expect.poll(async () => (await store.inspect(limits)).sessions, { timeout: 8_000, interval: 50 }).toBe(LIMITS.sessions);
    await expect.poll(() => ws.stats().sessionsNow['uid:mp'], { timeout: 8_000, interval: 50 }).toBe(LIMITS.sessions);
    const killed = await victim;
    const welcomesBefore = ws.stats().connects.filter((c) => c.outcome === 'welcome').length;
    const killedAt = Date.now();
    killed.child.kill('SIGKILL');
    // the server sees its sockets close at once; the store keeps its leases until they end
    await expect.poll(() => ws.stats().sessionsNow['uid:mp'], { timeout: 2_000, interval: 20 }).toBeLessThan(LIMITS.sessions);
    const freedOnServer = ws.stats().sessionsNow['uid:mp']!;
    expect((await store.inspect(limits)).sessions).toBe(LIMITS.sessions);
    // freed: the store counts fewer, or a waiting process already took the slot (a new welcome; the store held
    // every slot until then, so only a freed lease allows one); polling the count alone can miss that instant
    const welcomes = () => ws.stats().connects.filter((c) => c.outcome === 'welcome').length;
    await expect
      .poll(async () => (await store.inspect(limits)).sessions < LIMITS.sessions || welcomes() > welcomesBefore, { timeout: LEASE_MS + 1_000, interval: 20 })
      .toBe(true);
    const leaseFreedAfterMs = Date.now() - killedAt;
    // the freed slots go to processes still waiting
    await expect.poll(() => ws.stats().sessionsNow['uid:mp'], { timeout: 6_000, interval: 50 }).toBe(LIMITS.sessions);
    const welcomesAfter = welcomes();

    const alive = workers.filter((w) => w !== killed);
    const reports = await Promise.all(alive.map((w) => w.done));
    const f = figures(ws.stats());
    console.log(
      '[ws multi-process, shared budgets]',
      JSON.stringify({ ...f, sessionsOnServerRightAfterKill: freedOnServer, leaseFreedAfterMs, welcomesBefore, welcomesAfter }),
      JSON.stringify(reports.map((r) => ({ served: r.served, refused: r.refused }))),
    );

    expect(leaseFreedAfterMs).toBeGreaterThanOrEqual(LEASE_MS - 150 - 100); // renewed every 150 ms
    expect(welcomesAfter).toBeGreaterThan(welcomesBefore);
    expect(f.maxSessions).toBeLessThanOrEqual(LIMITS.sessions);
    expect(f.count509).toBe(0);
    expect(f.errors).toEqual({});
    expect(f.connectsPerWindow).toBeLessThanOrEqual(LIMITS.connects.limit);
    expect(f.maxUplink).toBeLessThanOrEqual(LIMITS.uplink.limit);
    expect(f.maxTopicsPerSession).toBeLessThanOrEqual(LIMITS.perSession);
    expect(f.maxTopicsPerMessage).toBeLessThanOrEqual(LIMITS.perMessage);
    for (const r of reports) {
      expect(r.untyped).toEqual([]);
      expect(r.served + noCapacity(r)).toBe(TOPICS_PER_PROCESS);
    }
    // more was asked for than the account allows: some topics were refused, typed
    expect(reports.reduce((n, r) => n + noCapacity(r), 0)).toBeGreaterThan(0);
    for (const w of alive) w.child.send({ type: 'exit' });
    redis.disconnect();
  });
});
