// Section 1: what one acquisition costs, against a bare EVALSHA round trip and Bottleneck, in one run.
import { randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { createScheduler, MemoryStore, RedisStore, type Store } from '../src/index.js';
import { measure, type Measured } from './stats.js';

export interface OverheadRow {
  readonly name: string;
  readonly sequential: Measured;
  readonly concurrent64: Measured;
}

const N_SEQ = 3000;
const N_CONC = 6000;

/** A scheduler whose limits never make anyone wait: only the acquisition itself is measured. */
function unlimited(store: Store) {
  return createScheduler({ uid: 'bench', store, cloudflare: false, pools: { spot: { limit: 1e9, burst: 0 } } });
}

export async function runOverhead(redisUrl: string, progress: (msg: string) => void): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  const redis = new Redis(redisUrl);
  const noop = async () => undefined;

  progress('bare EVALSHA round trip (minimal script)');
  const sha = (await redis.script('LOAD', 'return 1')) as string;
  const key = `bench-floor-${randomUUID()}`;
  const evalsha = () => redis.evalsha(sha, 1, key);
  rows.push({ name: 'bare EVALSHA (floor)', sequential: await measure(evalsha, N_SEQ, 1), concurrent64: await measure(evalsha, N_CONC, 64) });

  for (const [name, make] of [
    ['kucoin-scheduler, MemoryStore', () => new MemoryStore()],
    ['kucoin-scheduler, RedisStore', () => new RedisStore({ client: redis, prefix: `bench-${randomUUID()}` })],
  ] as const) {
    progress(name);
    const s = unlimited(make());
    const op = () => s.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, noop);
    rows.push({ name, sequential: await measure(op, N_SEQ, 1), concurrent64: await measure(op, N_CONC, 64) });
    await s.close();
  }

  progress('Bottleneck, local');
  const local = new Bottleneck({ reservoir: 1e9 });
  const localOp = () => local.schedule({ weight: 1 }, noop);
  rows.push({ name: 'Bottleneck, local', sequential: await measure(localOp, N_SEQ, 1), concurrent64: await measure(localOp, N_CONC, 64) });

  progress('Bottleneck, Redis datastore (4000 weight / 30 s)');
  // as Bottleneck's README advises for a shared quota: a reservoir refreshed every window, in Redis
  const clustered = (id: string) =>
    new Bottleneck({
      id,
      datastore: 'ioredis',
      clearDatastore: true,
      clientOptions: { host: new URL(redisUrl).hostname, port: Number(new URL(redisUrl).port || 6379) },
      reservoir: 4000,
      reservoirRefreshAmount: 4000,
      reservoirRefreshInterval: 30_000,
    });
  const b1 = clustered(`bench-${randomUUID()}`);
  const b2 = clustered(`bench-${randomUUID()}`);
  await Promise.all([b1.ready(), b2.ready()]);
  // 1500 + 1500 jobs stay under each limiter's 4000 per 30 s, so no job waits for the refresh
  rows.push({
    name: 'Bottleneck, Redis datastore',
    sequential: await measure(() => b1.schedule({ weight: 1 }, noop), 1500, 1),
    concurrent64: await measure(() => b2.schedule({ weight: 1 }, noop), 1500, 64),
  });
  await Promise.all([b1.disconnect(), b2.disconnect()]);
  redis.disconnect();
  return rows;
}
