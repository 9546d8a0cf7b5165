// npm run demo [-- --help]
// Bots sharing one KuCoin account (one UID, one IP) against the gateway simulator, with a live view.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createScheduler, RedisStore, type Priority, type Scheduler } from '../src/index.js';
import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import { renderLive, renderSummary, type ViewState } from './liveView.js';
import { DEMO_ACCOUNT, rawSender, runBots, scheduledSender, type RequestRecord } from './workload.js';

const HELP = `kucoin-scheduler demo: several trading bots sharing one KuCoin account

Starts a local KuCoin gateway simulator (VIP0 quotas: Spot 4000 / 30 s per UID, Public 2000 / 30 s per IP,
Management 2000 / 30 s, Cloudflare ~500 requests / 10 s per IP with a 30 s block) and runs market-data
pollers, order placers, an open-orders poller, a balance poller and cancel bursts on risk events, all on
one UID and one IP. A live view shows each pool's weight in the current server window, queues, waits and
the rate-limit signals met; a summary follows.

Usage: npm run demo -- [options]

  --seconds N       how long the bots run (default 30)
  --redis URL       share the quota through Redis (RedisStore) instead of the in-process MemoryStore
  --processes N     run the bots as N separate OS processes (needs --redis with the scheduler)
  --no-scheduler    the same bots sending straight out, to see the 429000s and 1015 blocks it avoids
  --help            this text

Ctrl-C ends it early and still prints the summary.
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\nSee: npm run demo -- --help\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      redis: { type: 'string' },
      processes: { type: 'string', default: '1' },
      'no-scheduler': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const seconds = Number(values.seconds);
const processes = Number(values.processes);
if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) fail(`--seconds expects a number of seconds in (0, 3600], got ${JSON.stringify(values.seconds)}`);
if (!Number.isInteger(processes) || processes < 1 || processes > 32) fail(`--processes expects an integer 1..32, got ${JSON.stringify(values.processes)}`);
const useScheduler = !values['no-scheduler'];
if (useScheduler && processes > 1 && !values.redis) fail('--processes N shares the quota between processes through Redis: add --redis redis://host:port');

const sim = await startGatewaySimulator({ accounts: [DEMO_ACCOUNT], latencyMs: { min: 2, max: 10 } });
const stop = new AbortController();
const records: RequestRecord[] = [];
let queued: Record<Priority, number> | undefined = useScheduler ? { critical: 0, high: 0, normal: 0, low: 0 } : undefined;
const children: ChildProcess[] = [];
let scheduler: Scheduler | undefined;
let redis: Redis | undefined;
const prefix = `kucoin-scheduler-demo-${randomUUID()}`;
const storeLabel = values.redis ? `RedisStore at ${new URL(values.redis).host}` : 'MemoryStore';
const title = useScheduler ? `kucoin-scheduler demo: ${processes} bot process(es), ${storeLabel}` : `demo WITHOUT the scheduler: ${processes} bot process(es)`;

let botsDone: Promise<unknown>;
if (processes === 1) {
  if (useScheduler) {
    redis = values.redis ? new Redis(values.redis, { maxRetriesPerRequest: 2 }) : undefined;
    scheduler = createScheduler({ uid: DEMO_ACCOUNT.uid, ...(redis ? { store: new RedisStore({ client: redis, prefix }) } : {}) });
  }
  const sender = scheduler ? scheduledSender(scheduler, sim.urls, DEMO_ACCOUNT, 'p1') : rawSender(sim.urls, DEMO_ACCOUNT, 'p1');
  botsDone = runBots(sender, stop.signal, (r) => records.push(r), 'p1').finally(() => sender.close());
} else {
  const file = fileURLToPath(new URL('./botProcess.ts', import.meta.url));
  const perChild = new Map<ChildProcess, Record<Priority, number>>();
  botsDone = Promise.all(
    Array.from({ length: processes }, (_, i) => {
      const child = fork(file, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, KS_BOT: JSON.stringify({ id: `p${i + 1}`, urls: sim.urls, redisUrl: values.redis, prefix, useScheduler }) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      return new Promise<void>((resolve) => {
        child.on('message', (m: { type: string; records?: RequestRecord[]; queued?: Record<Priority, number> }) => {
          if (m.type === 'stats') {
            records.push(...(m.records ?? []));
            if (m.queued) perChild.set(child, m.queued);
            if (useScheduler) {
              queued = { critical: 0, high: 0, normal: 0, low: 0 };
              for (const q of perChild.values()) for (const k of Object.keys(queued) as Priority[]) queued[k] += q[k];
            }
          }
        });
        child.once('exit', () => resolve());
      });
    }),
  );
}

const startedAt = Date.now();
const durationMs = seconds * 1000;
const pools = [
  { label: 'Spot', key: `uid:${DEMO_ACCOUNT.uid}:Spot`, limit: 4000, windowMs: 30_000 },
  { label: 'Public', key: 'ip:127.0.0.1:Public', limit: 2000, windowMs: 30_000 },
  { label: 'Management', key: `uid:${DEMO_ACCOUNT.uid}:Management`, limit: 2000, windowMs: 30_000 },
];
const view = (): ViewState => ({ title, elapsedMs: Date.now() - startedAt, durationMs, stats: sim.stats(), pools, queued, records });

const tty = process.stdout.isTTY === true;
let drawn = 0;
let lastPlain = 0;
const draw = async () => {
  if (scheduler) {
    const q = { critical: 0, high: 0, normal: 0, low: 0 };
    for (const lane of Object.values((await scheduler.snapshot()).queued)) for (const k of Object.keys(q) as Priority[]) q[k] += lane[k];
    queued = q;
  }
  const lines = renderLive(view());
  if (tty) {
    process.stdout.write(`${drawn ? `\x1b[${drawn}A\x1b[0J` : ''}${lines.join('\n')}\n`);
    drawn = lines.length;
  } else if (Date.now() - lastPlain >= 5000) {
    lastPlain = Date.now();
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }
};
const ticker = setInterval(() => void draw(), tty ? 250 : 1000);
const end = () => {
  if (stop.signal.aborted) return;
  stop.abort();
  for (const c of children) if (c.connected) c.send({ type: 'stop' });
};
const timer = setTimeout(end, durationMs);
process.once('SIGINT', end);
process.once('SIGTERM', end);

await botsDone;
clearTimeout(timer);
clearInterval(ticker);
await draw();
process.stdout.write(`${renderSummary(view(), startedAt).join('\n')}\n`);
await scheduler?.close();
redis?.disconnect();
await sim.close();
