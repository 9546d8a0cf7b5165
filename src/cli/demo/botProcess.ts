// One bot process of `kucoin-scheduler demo --redis URL --processes N`: runs the workload, reports over IPC.
import { createRedisStore, createScheduler, type Priority } from '../../index.js';
import { connectRedis, type CliRedis } from '../redisConnection.js';
import { DEMO_ACCOUNT, rawSender, runBots, scheduledSender, type RequestRecord } from './workload.js';

export interface BotConfig {
  readonly id: string;
  readonly urls: { spot: string; futures: string; broker: string };
  readonly redisUrl: string | undefined;
  readonly prefix: string;
  readonly useScheduler: boolean;
  readonly agingMs: number;
}

/** What a bot process sends its parent every 500 ms and at the end. */
export type BotMessage =
  { type: 'stats'; records: RequestRecord[]; queued: Record<Priority, number>; waits: Record<string, number> } | { type: 'ready' } | { type: 'done' };

const send = (m: BotMessage) => process.send?.(m);

async function main(cfg: BotConfig): Promise<void> {
  const stop = new AbortController();
  process.on('SIGINT', () => stop.abort()); // the terminal sends it to every process of the group
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') stop.abort();
  });
  const redis: CliRedis | undefined = cfg.useScheduler && cfg.redisUrl ? await connectRedis(new URL(cfg.redisUrl)) : undefined;
  // createRedisStore: the store that beats as a live process, so the demo and `status` count this one
  const store = redis ? createRedisStore({ client: redis, prefix: cfg.prefix }) : undefined;
  const scheduler = store ? createScheduler({ uid: DEMO_ACCOUNT.uid, agingMs: cfg.agingMs, store }) : undefined;
  let waits: Record<string, number> = {};
  scheduler?.on('waited', (e) => (waits[e.bucketId] = (waits[e.bucketId] ?? 0) + e.waitMs));
  const sender = scheduler ? scheduledSender(scheduler, cfg.urls, DEMO_ACCOUNT, cfg.id) : rawSender(cfg.urls, DEMO_ACCOUNT, cfg.id);
  let batch: RequestRecord[] = [];

  const flush = async () => {
    const queued = { critical: 0, high: 0, normal: 0, low: 0 };
    for (const q of scheduler ? Object.values((await scheduler.snapshot()).queued) : []) for (const k of Object.keys(queued) as Priority[]) queued[k] += q[k];
    send({ type: 'stats', records: batch, queued, waits });
    batch = [];
    waits = {};
  };
  const ticker = setInterval(() => void flush().catch(() => undefined), 500);
  send({ type: 'ready' });
  await runBots(sender, stop.signal, (r) => batch.push(r), cfg.id);
  clearInterval(ticker);
  await flush();
  await sender.close();
  await scheduler?.close();
  await store?.close();
  await redis?.quit().catch(() => redis.disconnect());
  send({ type: 'done' });
  process.disconnect?.();
}

await main(JSON.parse(process.env.KS_BOT ?? '{}') as BotConfig).catch((err: Error) => {
  process.stderr.write(`bot process: ${err.message}\n`);
  process.exitCode = 1;
  process.disconnect?.();
});
