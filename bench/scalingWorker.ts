// One process of the scaling bench: acquisitions as fast as it can (64 in flight), nobody ever waits.
import { Redis } from 'ioredis';
import { createScheduler, RedisStore } from '../src/index.js';

const cfg = JSON.parse(process.env.KS_WORKER ?? '{}') as { redisUrl: string; prefix: string };
const redis = new Redis(cfg.redisUrl);
const scheduler = createScheduler({
  uid: 'bench-uid',
  store: new RedisStore({ client: redis, prefix: cfg.prefix }),
  cloudflare: false,
  pools: { spot: { limit: 1e9, burst: 0 } },
});
let admitted = 0;
let stop = false;
const noop = async () => void admitted++;

process.on('message', async (m: { type: string; durationMs: number }) => {
  if (m.type !== 'go') return;
  setTimeout(() => (stop = true), m.durationMs);
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (!stop) await scheduler.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, noop);
    }),
  );
  process.send!({ type: 'done', admitted });
  await scheduler.close();
  redis.disconnect();
  process.exit(0);
});
process.send!({ type: 'ready' });
