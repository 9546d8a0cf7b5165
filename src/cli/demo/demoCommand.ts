// kucoin-scheduler demo (npm run demo in the repository): bots sharing one KuCoin account (one UID, one IP)
// against the gateway simulator, with a live view and a summary.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRedisStore, createScheduler, type Priority, type ResilientStore, type Scheduler } from '../../index.js';
import { startGatewaySimulator } from '../../simulator/gatewaySimulator.js';
import { UsageError } from '../cliErrors.js';
import type { CliIo } from '../cliIo.js';
import { numberFlag, parseFlags, redisUrlFlag } from '../flags.js';
import { liveProcesses } from '../liveProcesses.js';
import { connectRedis, redisTimeMs, type CliRedis } from '../redisConnection.js';
import type { BotConfig, BotMessage } from './botProcess.js';
import { DEMO_SETTINGS } from './demoSettings.js';
import { LiveScreen } from './liveScreen.js';
import { renderLive, renderSummary, type PoolView, type ViewState } from './liveView.js';
import { WaitTally } from './waitTally.js';
import { DEMO_ACCOUNT, rawSender, runBots, scheduledSender, type RequestRecord } from './workload.js';

export const DEMO_HELP = `kucoin-scheduler demo: several trading bots sharing one KuCoin account

Starts a local KuCoin gateway simulator (VIP0 quotas: Spot 4000 / 30 s per UID, Public 2000 / 30 s per IP,
Management 2000 / 30 s, Cloudflare ~500 requests / 10 s per IP with a 30 s block) and runs market-data
pollers, order placers, an open-orders poller, a balance poller and cancel bursts on risk events, all on
one UID and one IP. A live view shows each pool's weight in the current server window, queues, waits, the
rate-limit signals met and which limit binds; a summary follows.

The demo sets agingMs to ${DEMO_SETTINGS.agingMs / 1000} s (the library's default is 60 s), so that waiting low and normal
requests visibly move up a tier within the run.

Usage: kucoin-scheduler demo [options]      (in the repository: npm run demo -- [options])

  --seconds N       how long the bots run  (default 30)
  --redis URL       share the quota through Redis (createRedisStore) instead of the in-process MemoryStore;
                    the demo prints its prefix, to point \`kucoin-scheduler status\` at it
  --processes N     run the bots as N separate OS processes (needs --redis with the scheduler)
  --prefix P        the Redis key prefix (default ks-demo-<random>): demos given one prefix share one quota
  --metrics PORT    serve the scheduler's Prometheus metrics on http://0.0.0.0:PORT/metrics (needs prom-client)
  --no-scheduler    the same bots sending straight out, to see the 429000s and 1015 blocks it avoids
  -h, --help        this text

Ctrl-C ends it early and still prints the summary.
`;

const EMPTY_QUEUES = (): Record<Priority, number> => ({ critical: 0, high: 0, normal: 0, low: 0 });

function addQueues(into: Record<Priority, number>, q: Readonly<Record<Priority, number>>): void {
  for (const k of Object.keys(into) as Priority[]) into[k] += q[k];
}

/** Which file a bot process runs: the compiled .js in the package, the .ts (through tsx) in the repository. */
function botEntry(): { file: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  return { file: fileURLToPath(new URL(ts ? './botProcess.ts' : './botProcess.js', import.meta.url)), execArgv: ts ? ['--import', 'tsx'] : [] };
}

export async function demoCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags('demo', argv, {
    seconds: { type: 'string', default: '30' },
    redis: { type: 'string' },
    processes: { type: 'string', default: '1' },
    'no-scheduler': { type: 'boolean', default: false },
    prefix: { type: 'string' },
    metrics: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(DEMO_HELP);
    return 0;
  }
  const seconds = numberFlag('demo', 'seconds', values.seconds, 0.1, 3600);
  const processes = numberFlag('demo', 'processes', values.processes, 1, 32, true);
  const useScheduler = !values['no-scheduler'];
  const redisUrl = values.redis !== undefined ? redisUrlFlag('demo', values.redis) : undefined;
  if (useScheduler && processes > 1 && !redisUrl)
    throw new UsageError('--processes N shares the quota between processes through Redis: add --redis redis://host:port', 'demo');
  const metricsPort = values.metrics !== undefined ? numberFlag('demo', 'metrics', values.metrics, 1, 65535, true) : undefined;
  if (metricsPort !== undefined && (processes > 1 || !useScheduler)) throw new UsageError('--metrics serves the one scheduler of --processes 1', 'demo');
  if (values.prefix !== undefined && !/^[\w.-]{1,100}$/.test(values.prefix))
    throw new UsageError('--prefix expects 1-100 characters of letters, digits, _ . -', 'demo');

  // Redis must answer before anything starts (a clear message, not a stack trace, when it does not); with several
  // processes each bot connects on its own, and this connection counts their heartbeats
  const redis: CliRedis | undefined = useScheduler && redisUrl ? await connectRedis(redisUrl) : undefined;

  const sim = await startGatewaySimulator({ accounts: [DEMO_ACCOUNT], latencyMs: { min: 2, max: 10 } });
  const stop = new AbortController();
  const records: RequestRecord[] = [];
  const waits = useScheduler ? new WaitTally() : undefined;
  let queued: Record<Priority, number> | undefined = useScheduler ? EMPTY_QUEUES() : undefined;
  const children: ChildProcess[] = [];
  let scheduler: Scheduler | undefined;
  let store: ResilientStore | undefined;
  // short enough to read off the screen and type: `kucoin-scheduler status --prefix ... --uid demo-uid`
  const prefix = values.prefix ?? `ks-demo-${randomUUID().slice(0, 8)}`;
  let live: number | undefined;
  let stopMetrics: (() => Promise<void>) | undefined;
  let mostLive: number | undefined;
  const storeLabel = redisUrl ? `Redis at ${redisUrl.host}` : 'MemoryStore';
  const bots = `${processes} bot process${processes === 1 ? '' : 'es'}`;
  const title = useScheduler ? `kucoin-scheduler demo: ${bots}, ${storeLabel}` : `demo WITHOUT the scheduler: ${bots}`;
  const note = useScheduler
    ? `demo setting: agingMs ${DEMO_SETTINGS.agingMs / 1000} s (library default 60 s)`
    : 'every bot sends at once, no limiter, no retry';

  let botsDone: Promise<unknown>;
  if (processes === 1) {
    if (useScheduler) {
      // createRedisStore: the store that beats as a live process, so `status` counts this one
      store = redis ? createRedisStore({ client: redis, prefix }) : undefined;
      scheduler = createScheduler({ uid: DEMO_ACCOUNT.uid, agingMs: DEMO_SETTINGS.agingMs, ...(store ? { store } : {}) });
      scheduler.on('waited', (e) => waits!.add(e.bucketId, e.waitMs));
      if (metricsPort !== undefined) stopMetrics = await serveMetrics(scheduler, metricsPort);
    }
    const sender = scheduler ? scheduledSender(scheduler, sim.urls, DEMO_ACCOUNT, 'p1') : rawSender(sim.urls, DEMO_ACCOUNT, 'p1');
    botsDone = runBots(sender, stop.signal, (r) => records.push(r), 'p1').finally(() => sender.close());
  } else {
    const { file, execArgv } = botEntry();
    const perChild = new Map<ChildProcess, Record<Priority, number>>();
    botsDone = Promise.all(
      Array.from({ length: processes }, (_, i) => {
        const config: BotConfig = { id: `p${i + 1}`, urls: sim.urls, redisUrl: redisUrl?.href, prefix, useScheduler, agingMs: DEMO_SETTINGS.agingMs };
        const child = fork(file, [], { execArgv, env: { ...process.env, KS_BOT: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        return new Promise<void>((resolve) => {
          child.on('message', (m: BotMessage) => {
            if (m.type !== 'stats') return;
            records.push(...m.records);
            for (const [bucketId, ms] of Object.entries(m.waits)) waits?.add(bucketId, ms);
            if (!useScheduler) return;
            perChild.set(child, m.queued);
            queued = EMPTY_QUEUES();
            for (const q of perChild.values()) addQueues(queued, q);
          });
          child.once('exit', () => resolve());
        });
      }),
    );
  }

  const startedAt = Date.now();
  const durationMs = seconds * 1000;
  const pools: PoolView[] = [
    { label: 'Spot', key: `uid:${DEMO_ACCOUNT.uid}:Spot`, limit: 4000, windowMs: 30_000 },
    { label: 'Public', key: 'ip:127.0.0.1:Public', limit: 2000, windowMs: 30_000 },
    { label: 'Management', key: `uid:${DEMO_ACCOUNT.uid}:Management`, limit: 2000, windowMs: 30_000 },
  ];
  const view = (): ViewState => ({
    title,
    note,
    ...(redis ? { redis: { prefix, uid: DEMO_ACCOUNT.uid, live, mostLive } } : {}),
    elapsedMs: Date.now() - startedAt,
    durationMs,
    stats: sim.stats(),
    pools,
    queued,
    records,
    waits: waits ? { recent: waits.recent(), total: waits.total } : undefined,
    cloudflare: { limit: 500, windowMs: 10_000 },
  });

  const screen = new LiveScreen(io.stdout);
  const draw = async (force = false) => {
    if (redis) {
      live = (await liveProcesses(redis, prefix, DEMO_ACCOUNT.uid, await redisTimeMs(redis))).length;
      mostLive = Math.max(mostLive ?? 0, live);
    }
    if (scheduler) {
      const q = EMPTY_QUEUES();
      for (const lane of Object.values((await scheduler.snapshot()).queued)) addQueues(q, lane);
      queued = q;
    }
    screen.draw(renderLive(view(), screen.width), force);
  };
  const ticker = setInterval(() => void draw().catch(() => undefined), screen.tty ? 250 : 1000);
  const end = () => {
    if (stop.signal.aborted) return;
    stop.abort();
    for (const c of children) if (c.connected) c.send({ type: 'stop' });
  };
  const timer = setTimeout(end, durationMs);
  const onAbort = () => end();
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await botsDone;
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    clearTimeout(timer);
    clearInterval(ticker);
    end();
  }
  await draw(true).catch(() => undefined);
  screen.release();
  io.stdout.write(`${renderSummary(view(), startedAt, screen.width).join('\n')}\n`);
  await stopMetrics?.();
  await scheduler?.close();
  await store?.close();
  await redis?.quit().catch(() => redis?.disconnect());
  await sim.close();
  return 0;
}

/** Serves the scheduler's metrics on every interface (a Prometheus in another container scrapes it); returns the stop. */
async function serveMetrics(scheduler: Scheduler, port: number): Promise<() => Promise<void>> {
  // loaded on demand: prom-client is an optional peer, and only the metrics entry point imports it statically
  const [{ collectMetrics }, { Registry }, { createServer }] = await Promise.all([
    import('../../metrics/index.js'),
    import('prom-client'),
    import('node:http'),
  ]);
  const registry = new Registry();
  const stop = collectMetrics(scheduler, { registry });
  const server = createServer((_req, res) => {
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return async () => {
    stop();
    await new Promise((resolve) => server.close(resolve));
  };
}
