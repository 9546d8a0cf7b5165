// Redis Cluster with replicas: the master holding the account's slot is killed mid-run. The schedulers keep
// admitting (their local share for a lease, then cancels only), never over the quota, and go back to sharing on the
// promoted replica.
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { request } from 'undici';
import { afterAll, expect, it } from 'vitest';
import { createRedisStore, createScheduler } from '../src/index.js';
import { startCountingServer, type CountingServer } from '../src/simulator/countingServer.js';
import { startRedisCluster, type LocalCluster } from './helpers/redisCluster.js';

let cluster: LocalCluster | undefined;
let server: CountingServer | undefined;
const clients: Cluster[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
  await cluster?.stop();
});

it('a master fails over mid-run: cancels never stall, the rest resumes, no burst over the quota', async () => {
  const LIMIT = 200;
  const WINDOW_MS = 2000;
  cluster = await startRedisCluster(3, 1);
  server = await startCountingServer({ limit: LIMIT, windowMs: WINDOW_MS });
  const uid = 'failover-uid';
  const prefix = `ks-test-${randomUUID()}`;
  const connect = () => {
    const c = new Cluster(cluster!.startupNodes, { enableOfflineQueue: false, clusterRetryStrategy: () => 100, redisOptions: { maxRetriesPerRequest: 0 } });
    c.on('error', () => undefined); // while the master is down
    clients.push(c);
    return c;
  };
  const ready = async (c: Cluster) => {
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    return c;
  };
  const clientsReady = await Promise.all([ready(connect()), ready(connect())]);
  const bots = clientsReady.map((client) => {
    const store = createRedisStore({ client, prefix, heartbeatMs: 200, commandTimeoutMs: 300 });
    const s = createScheduler({ uid, store, cloudflare: false, transitMarginMs: 75, pools: { spot: { limit: LIMIT, windowMs: WINDOW_MS } } });
    const events: string[] = [];
    s.on('degraded', () => events.push('degraded'));
    s.on('recovered', () => events.push('recovered'));
    return { s, events };
  });
  const stop = new AbortController();
  let sent = 0;
  const sends: { at: number; priority: string }[] = [];
  const loop = async (s: (typeof bots)[number]['s'], priority: 'critical' | 'high' | 'low') => {
    while (!stop.signal.aborted) {
      await s
        .schedule({ pool: 'spot', weight: 2, priority, signal: stop.signal }, async () => {
          sent++;
          sends.push({ at: Date.now(), priority });
          const res = await request(`${server!.url}/x`, { method: 'POST', headers: { 'x-ks-weight': '2' } });
          await res.body.text();
        })
        .catch(() => undefined);
    }
  };
  const running = bots.flatMap((b) => [loop(b.s, 'critical'), loop(b.s, 'high'), loop(b.s, 'low')]);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 2500));
  // the master that owns the account's slot
  const admin = new Cluster(cluster.startupNodes);
  clients.push(admin);
  const slot = Number(await admin.cluster('KEYSLOT', `{${uid}}`));
  const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
  const port = slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
  const master = cluster.nodes.find((n) => n.port === port)!;
  const killedAt = Date.now();
  await master.stop();
  await new Promise((r) => setTimeout(r, 7000)); // node timeout 2 s, then a replica takes over
  stop.abort();
  await Promise.all(running);
  const { windows, rejected429000 } = server.stats();
  const during = windows.filter((w) => w.start > killedAt && w.start < killedAt + 4000);
  console.log(
    `cluster failover: master :${port} killed at +${killedAt - t0} ms; windows: ${windows.map((w) => `+${w.start - t0}:${w.offered}`).join(' ')} (limit ${LIMIT}); 429000 ${rejected429000}; events ${bots.map((b) => b.events.join('>')).join(' | ')}; sent ${sent}`,
  );
  for (const w of windows) expect(w.offered).toBeLessThanOrEqual(LIMIT);
  expect(rejected429000).toBe(0);
  expect(during.reduce((x, w) => x + w.weight, 0)).toBeGreaterThan(0);
  // Redis lost: each process admits under its share for a lease (2 heartbeats), then cancels only (issue 20's lease:
  // a process cannot tell a failover from being cut off alone); cancels never stall, the rest resumes on recovery
  const failover = sends.filter((x) => x.at > killedAt + 1000 && x.at < killedAt + 4000);
  expect(failover.filter((x) => x.priority === 'critical').length).toBeGreaterThan(0);
  expect(sends.filter((x) => x.at > killedAt + 4000 && x.priority !== 'critical').length).toBeGreaterThan(0);
  for (const b of bots) expect(b.events).toContain('degraded');
  for (const b of bots) expect(b.events.at(-1)).toBe('recovered');
  for (const b of bots) await b.s.close();
}, 60_000);
