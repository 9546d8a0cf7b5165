// One bot process of `npm run demo -- --redis URL --processes N`: runs the workload, reports over IPC.
import { Redis } from 'ioredis';
import { createScheduler, RedisStore } from '../src/index.js';
import { DEMO_ACCOUNT, rawSender, runBots, scheduledSender, type RequestRecord } from './workload.js';

interface BotConfig {
  id: string;
  urls: { spot: string; futures: string; broker: string };
  redisUrl: string | undefined;
  prefix: string;
  useScheduler: boolean;
}

const cfg = JSON.parse(process.env.KS_BOT ?? '{}') as BotConfig;
const stop = new AbortController();
const redis = cfg.useScheduler && cfg.redisUrl ? new Redis(cfg.redisUrl) : undefined;
const scheduler = redis ? createScheduler({ uid: DEMO_ACCOUNT.uid, store: new RedisStore({ client: redis, prefix: cfg.prefix }) }) : undefined;
const sender = scheduler ? scheduledSender(scheduler, cfg.urls, DEMO_ACCOUNT, cfg.id) : rawSender(cfg.urls, DEMO_ACCOUNT, cfg.id);
let batch: RequestRecord[] = [];

const flush = async () => {
  const queued = scheduler ? Object.values((await scheduler.snapshot()).queued) : [];
  const sum = { critical: 0, high: 0, normal: 0, low: 0 };
  for (const q of queued) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += q[k];
  process.send?.({ type: 'stats', records: batch, queued: sum });
  batch = [];
};
const ticker = setInterval(() => void flush(), 500);

process.on('SIGINT', () => stop.abort()); // the terminal sends it to every process of the group
process.on('message', (m: { type: string }) => {
  if (m.type === 'stop') stop.abort();
});
process.send?.({ type: 'ready' });
await runBots(sender, stop.signal, (r) => batch.push(r), cfg.id);
clearInterval(ticker);
await flush();
await sender.close();
await scheduler?.close();
redis?.disconnect();
process.send?.({ type: 'done' });
process.disconnect?.();
