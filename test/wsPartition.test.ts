// Issue 19 item 1: a process cut off from Redis while its sockets stay up, and a frozen process, never let
// the fleet dial into slots the server still counts as theirs. Four OS processes share one Redis (one of
// them through a relay that is then black-holed, one SIGSTOPped); the push simulator counts sessions as
// KuCoin does (a silent one until pingInterval + pingTimeout). Times scaled down: the server's silent-session
// time is 2 s (the shortest ping timing a token may set), the lease 3 s, heartbeats every 150 ms.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createWsManager, parseBullet, WsMemoryStore, type WsBudgetStore } from '../src/index.js';
import { startGatewaySimulator, startWsSimulator, type GatewaySimulator, type WsSimulator } from '../src/simulator/index.js';
import { startTcpRelay, type TcpRelay } from './fixtures/tcpRelay.js';
import type { WsWorkerConfig, WsWorkerReport } from './fixtures/wsWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const CREDS = { key: 'pt-key', secret: 'pt-secret-value', passphrase: 'pt-pass-value', keyVersion: '2' as const };
const SESSIONS = 6;
const LEASE_MS = 3_000;

let ws: WsSimulator | undefined;
let gateway: GatewaySimulator | undefined;
let relay: TcpRelay | undefined;
let workers: Worker<WsWorkerReport>[] = [];
afterEach(async () => {
  relay?.resume();
  for (const w of workers) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
    w.child.kill('SIGCONT');
    w.child.kill('SIGKILL');
  }
  workers = [];
  await gateway?.close();
  await ws?.close();
  await relay?.close();
  gateway = ws = relay = undefined;
});

describe('WebSocket sessions through a partition and a freeze (four OS processes)', () => {
  it('the process cut off from Redis closes its sockets before its leases end, the frozen one is dropped by the server first: 0 x 509', async () => {
    ws = await startWsSimulator({
      sessionLimit: SESSIONS,
      connects: { limit: 6, windowMs: 2_000 },
      topicsPerSession: 10,
      topicsPerMessage: 10,
      pingIntervalMs: 1_000,
      pingTimeoutMs: 1_000,
    });
    gateway = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'pt' }], websocket: ws });
    relay = await startTcpRelay(inject('redisUrl'));
    const base: Omit<WsWorkerConfig, 'topics'> = {
      redisUrl: inject('redisUrl'),
      prefix: `ks-test-${randomUUID()}`,
      spotUrl: gateway.urls.spot,
      credentials: CREDS,
      uid: 'pt',
      mode: 'shared',
      options: {
        sessionLimit: SESSIONS,
        connects: { limit: 6, windowMs: 2_000, marginMs: 200 },
        topicsPerMessage: 10,
        topicsPerSession: 10,
        leaseMs: LEASE_MS,
        heartbeatMs: 150,
        leaseMarginMs: 200,
        maxWaitMs: 60_000,
        reconnect: { baseMs: 100, maxMs: 1_000 },
        idleCloseMs: 100,
      },
    };
    // 0: Redis through the relay (cut later); 1: frozen later; 2, 3: wait for slots. 30 topics: 3 sessions each.
    workers = [0, 1, 2, 3].map((p) =>
      forkWorker<WsWorkerReport>('wsWorker.ts', {
        ...base,
        ...(p === 0 ? { redisUrl: relay!.url } : {}),
        topics: Array.from({ length: 30 }, (_, i) => `/market/ticker:W${p}X${i}-USDT`),
      } satisfies WsWorkerConfig),
    );
    await Promise.all(workers.map((w) => w.ready));
    const leaseLost: { reason: string; at: number }[] = [];
    workers[0]!.child.on('message', (m: { type: string; reason: string; at: number }) => m.type === 'leaseLost' && leaseLost.push(m));
    const sessionsNow = () => ws!.stats().sessionsNow['uid:pt'] ?? 0;
    const welcomes = () => ws!.stats().connects.filter((c) => c.outcome === 'welcome');

    // processes 0 and 1 hold every slot, then 2 and 3 ask for theirs and wait
    workers[0]!.child.send({ type: 'go' });
    await expect.poll(sessionsNow, { timeout: 8_000, interval: 20 }).toBe(3);
    workers[1]!.child.send({ type: 'go' });
    await expect.poll(sessionsNow, { timeout: 8_000, interval: 20 }).toBe(SESSIONS);
    workers[2]!.child.send({ type: 'go' });
    workers[3]!.child.send({ type: 'go' });
    await new Promise((r) => setTimeout(r, 500));
    expect(sessionsNow()).toBe(SESSIONS);

    const cutAt = Date.now();
    const welcomedBefore = welcomes().length;
    relay.pause(); // process 0: no reply from Redis from now on, its sockets to the push server stay up
    workers[1]!.child.kill('SIGSTOP'); // process 1: frozen, its sockets up and silent
    // the slots come back to the fleet once the leases end, and go to processes 2 and 3 (or a 509 says they were not free)
    const settled = () => welcomes().length - welcomedBefore >= SESSIONS || ws!.stats().count509 > 0;
    for (const until = Date.now() + 10_000; !settled() && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // a 509 right after the last welcome would show now

    const s = ws.stats();
    const after = s.sessionTimeline.filter(([at]) => at >= cutAt);
    const reused = welcomes().slice(welcomedBefore);
    console.log(
      '[ws partition + freeze]',
      JSON.stringify({
        count509: s.count509,
        byKind: s.count509ByKind,
        silentDrops: s.silentDrops,
        maxSessions: s.maxSessions['uid:pt'],
        cutProcessClosedItsSocketsAfterMs: leaseLost.map((l) => l.at - cutAt),
        firstSessionGoneAfterMs: (after.find(([, , n]) => n < SESSIONS)?.[0] ?? Number.NaN) - cutAt,
        slotsReusedAfterMs: reused.map((w) => w.at - cutAt),
      }),
    );
    expect(s.count509).toBe(0);
    expect(s.maxSessions['uid:pt']).toBe(SESSIONS);
    // process 0 closed its three sockets itself, before its leases could end
    expect(leaseLost.map((l) => l.reason)).toEqual(['unrenewed', 'unrenewed', 'unrenewed']);
    for (const l of leaseLost) expect(l.at - cutAt).toBeLessThan(LEASE_MS - 200);
    // process 1's sockets were dropped by the server for silence (400 ping timeout)
    expect(s.silentDrops).toBe(3);
    expect(reused).toHaveLength(SESSIONS);
    expect(reused[0]!.at - cutAt).toBeGreaterThan(LEASE_MS - 150 - 200);
    expect(sessionsNow()).toBe(SESSIONS);
  });

  it('in one process: once renewals fail, nothing is sent past lease end - leaseMarginMs - (pingInterval + pingTimeout); the socket closes then', async () => {
    ws = await startWsSimulator({ pingIntervalMs: 1_000, pingTimeoutMs: 1_000 });
    const sim = ws;
    const memory = new WsMemoryStore();
    let cut = false;
    let lastAsk = 0;
    const down = () => Promise.reject(new Error('store out of reach'));
    // the store as a cut-off process sees it: every call fails from `cut` on
    const store: WsBudgetStore = {
      acquireSession: (l, id) => (cut ? down() : memory.acquireSession(l, id)),
      acquireConnect: (l, id) => (cut ? down() : ((lastAsk = Date.now()), memory.acquireConnect(l, id))),
      renew: (l, ids) => (cut ? down() : ((lastAsk = Date.now()), memory.renew(l, ids))),
      release: (l, id, hold) => (cut ? down() : memory.release(l, id, hold)),
      penalize: (l, p) => (cut ? down() : memory.penalize(l, p)),
      learn: (l, w, v, f) => (cut ? down() : memory.learn(l, w, v, f)),
      inspect: (l) => memory.inspect(l),
    };
    const manager = createWsManager({
      tokenSource: async () => parseBullet(sim.issueToken({ kind: 'private', uid: 'u1', ip: 'x' }), Date.now()),
      kind: 'private',
      uid: 'u1',
      store,
      leaseMs: LEASE_MS,
      heartbeatMs: 150,
      leaseMarginMs: 200,
    });
    const lost: { reason: string; at: number }[] = [];
    manager.on('leaseLost', (e) => lost.push({ reason: e.reason, at: Date.now() }));
    try {
      await manager.subscribe('/market/ticker:BTC-USDT');
      await new Promise((r) => setTimeout(r, 1_200)); // a ping or two
      cut = true;
      const cutAt = Date.now();
      const askedBeforeCut = lastAsk;
      await expect.poll(() => lost.length, { timeout: 3_000, interval: 10 }).toBe(1);
      const deadline = askedBeforeCut + LEASE_MS - 200 - 2_000;
      const receivedAtClose = sim.stats().received;
      await expect.poll(() => sim.stats().sessionsNow['uid:u1'], { timeout: 2_000 }).toBe(0);
      console.log(
        `[ws lease deadline] renewals failing from the cut: socket closed ${lost[0]!.at - cutAt} ms after it, ${deadline - lost[0]!.at} ms before the deadline`,
      );
      expect(lost[0]!.reason).toBe('unrenewed');
      expect(lost[0]!.at).toBeLessThanOrEqual(deadline + 20);
      expect(lost[0]!.at).toBeGreaterThan(deadline - 200);
      await new Promise((r) => setTimeout(r, 1_200));
      expect(sim.stats().received).toBe(receivedAtClose); // nothing more sent: no ping, no dial got through
      expect(sim.stats().count509).toBe(0);
    } finally {
      cut = false;
      await manager.close();
    }
  });
});
