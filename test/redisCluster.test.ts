import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScheduler, RedisStore } from '../src/index.js';
import { startRedisCluster, type LocalCluster } from './helpers/redisCluster.js';
import { describeStoreBehaviour } from './storeSuite.js';

let cluster: LocalCluster;
const clients: Cluster[] = [];
const connect = () => {
  const c = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

describeStoreBehaviour('RedisStore on a 3-master Redis Cluster', async (clock) => {
  const store = new RedisStore({ client: connect(), prefix: `ks-test-${randomUUID()}`, clock });
  return { store, cleanup: async () => {} };
});

describe('RedisStore on a 3-master Redis Cluster', () => {
  it('spreads accounts over the masters, each account in one slot, and schedules with Redis TIME', async () => {
    const client = connect();
    const prefix = `ks-test-${randomUUID()}`;
    const store = new RedisStore({ client, prefix });
    const uids = Array.from({ length: 12 }, (_, i) => `acct${i}`);
    for (const uid of uids) {
      const s = createScheduler({ uid, store, pools: { spot: { limit: 5, burst: 0 } } });
      // pool + Cloudflare bucket in one script: would fail with CROSSSLOT if they did not share the slot
      for (let i = 0; i < 5; i++) await s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'critical' }, () => 1);
      await expect(s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'critical', maxWaitMs: 0 }, () => 1)).rejects.toMatchObject({
        code: 'KS_MAX_WAIT_EXCEEDED',
      });
      const snap = await s.snapshot();
      expect(snap.buckets.find((b) => b.id === `uid:${uid}:Spot`)!.used).toBe(5);
    }
    const mastersWithKeys = new Set<number>();
    for (const node of cluster.nodes) {
      const keys = await client
        .nodes('master')
        .find((n) => n.options.port === node.port)!
        .keys(`${prefix}:*`);
      if (keys.length > 0) mastersWithKeys.add(node.port);
    }
    expect(mastersWithKeys.size).toBeGreaterThan(1);
  });
});
