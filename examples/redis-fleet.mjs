// Two bot processes of one account share one quota through Redis. Run: REDIS_URL=redis://127.0.0.1:6379 node examples/redis-fleet.mjs
// The parent starts the simulator and forks this file twice; each child is a bot that closes cleanly.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createRedisStore, createScheduler, KucoinClient } from 'kucoin-scheduler';
import { credentials, startSimulator, uid } from './simulator.mjs';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

if (process.env.BOT_NAME) {
  // a bot: one scheduler per process, every process with the same uid and prefix
  const redis = new Redis(redisUrl, { enableOfflineQueue: false });
  const store = createRedisStore({ client: redis, prefix: process.env.PREFIX });
  const scheduler = createScheduler({ uid, store, bot: process.env.BOT_NAME });
  const client = new KucoinClient({ scheduler, credentials, baseUrls: JSON.parse(process.env.SIM_URLS) });
  for (let i = 0; i < 10; i++) {
    await client.request({ method: 'POST', path: '/api/v1/hf/orders', body: { symbol: 'BTC-USDT', side: 'buy', clientOid: `${process.env.BOT_NAME}-${i}` } });
  }
  const used = (await scheduler.snapshot()).buckets.find((b) => b.id === `uid:${uid}:Spot`).used;
  process.send({ used });
  // closing order: the client, the scheduler (waits for running requests), the store, then Redis
  await client.close();
  await scheduler.close();
  await store.close();
  await redis.quit();
} else {
  const sim = await startSimulator();
  const prefix = `example-${randomUUID()}`; // one prefix per deployment; random here so runs never mix
  const bots = ['bot-a', 'bot-b'].map((name) =>
    fork(fileURLToPath(import.meta.url), { env: { ...process.env, BOT_NAME: name, PREFIX: prefix, SIM_URLS: JSON.stringify(sim.urls) } }),
  );
  const seen = await Promise.all(bots.map(async (bot) => (await once(bot, 'message'))[0].used));
  const codes = await Promise.all(bots.map(async (bot) => bot.exitCode ?? (await once(bot, 'exit'))[0]));
  const ok = sim.stats().outcomes.ok;
  console.log(`2 bots exited ${codes.join(' ')}; ${ok} orders accepted; the shared Spot bucket held ${Math.max(...seen)} of them`);
  // a real deployment keeps its prefix; this one-off run deletes its keys to leave Redis as it found it
  const redis = new Redis(redisUrl);
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 })) if (keys.length) await redis.del(...keys);
  await redis.quit();
  await sim.close();
}
