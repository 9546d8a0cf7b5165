// The WebSocket figures of issue 19: four OS processes of one account on the push simulator (which follows
// KuCoin's docs), every manager option at its default with every time divided by SCALE, so KuCoin's
// silent-session time (pingInterval + pingTimeout, 18 + 10 s) becomes 2 s, the shortest ping timing a token
// may set. Counts (sessions per server, topics, connects, uplink messages) are not scaled down unless a
// scenario says so. It prints 509s by kind, topics served of those asked, and how long slots took to come
// back after a kill or a partition. The same file runs against an older src/ (options it lacks are ignored,
// and the old defaults are scaled instead), which is how the "before" figures were taken.
//
//   npx tsx bench/wsFleet.ts [--scenario limits|sessions|partition] [--runs 3] [--redis redis://127.0.0.1:6379]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as lib from '../src/index.js';
import { startGatewaySimulator, startWsSimulator, type WsSimulatorOptions, type WsSimulatorStats } from '../src/simulator/index.js';
import { startTcpRelay } from '../test/fixtures/tcpRelay.js';
import type { WsWorkerConfig, WsWorkerReport } from '../test/fixtures/wsWorker.js';
import { forkWorker, type Worker } from '../test/helpers/processes.js';

const SCALE = 14;
const ms = (n: number) => Math.round(n / SCALE);
/** This src/ has the lease safety and learning of issue 19 (it exports withKucoinWebSockets since then). */
const NEW = 'withKucoinWebSockets' in lib;
const CREDS = { key: 'fleet-key', secret: 'fleet-secret-value', passphrase: 'fleet-pass-value', keyVersion: '2' as const };
const PROCESSES = 4;

/** The manager's defaults (README), every time / SCALE; the old defaults for an old src/. */
function defaults(): Partial<lib.WsManagerOptions> {
  const common = {
    connects: { limit: 30, windowMs: ms(60_000), marginMs: ms(2_000) },
    uplink: { limit: 100, windowMs: ms(10_000), marginMs: ms(250), reservedForPing: 5 },
    reconnect: { baseMs: ms(1_000), maxMs: ms(30_000), jitter: 0.5, maxAttempts: 20, resetAfterMs: ms(60_000) },
    busyBackoff: { baseMs: ms(2_000), maxMs: ms(60_000), jitter: 0.5, resetAfterMs: ms(300_000) },
    connectTimeoutMs: ms(10_000),
    ackTimeoutMs: ms(10_000),
    maxWaitMs: ms(120_000),
    idleCloseMs: ms(10_000),
    tokenMaxAgeMs: ms(600_000),
  };
  return NEW
    ? { ...common, leaseMs: ms(40_000), heartbeatMs: ms(2_000), leaseMarginMs: ms(2_000), learnForMs: ms(600_000), sessionRefusal: { pauseMs: ms(10_000) } }
    : // the old options: learnForMs lived in sessionRefusal then
      ({
        ...common,
        leaseMs: ms(30_000),
        heartbeatMs: ms(10_000),
        sessionRefusal: { pauseMs: ms(10_000), learnForMs: ms(600_000) },
      } as Partial<lib.WsManagerOptions>);
}

/** KuCoin's server, scaled the same way: 28 s of silence -> 2 s, 30 connects / 60 s, 100 messages / 10 s. */
function server(over: WsSimulatorOptions): WsSimulatorOptions {
  return { pingIntervalMs: 1_000, pingTimeoutMs: 1_000, connects: { limit: 30, windowMs: ms(60_000) }, uplink: { limit: 100, windowMs: ms(10_000) }, ...over };
}

interface Fleet {
  readonly stats: () => WsSimulatorStats;
  readonly workers: Worker<WsWorkerReport>[];
  readonly asked: number;
  close(): Promise<void>;
}

async function fleet(
  redisUrl: string,
  sim: WsSimulatorOptions,
  topicsPerProcess: number,
  over: Partial<lib.WsManagerOptions> = {},
  redisUrlOf: (p: number) => string = () => redisUrl,
): Promise<Fleet> {
  const ws = await startWsSimulator(server(sim));
  const gateway = await startGatewaySimulator({ accounts: [{ ...CREDS, uid: 'fleet' }], websocket: ws });
  const prefix = `ks-bench-${randomUUID()}`;
  const workers = Array.from({ length: PROCESSES }, (_, p) =>
    forkWorker<WsWorkerReport>('wsWorker.ts', {
      redisUrl: redisUrlOf(p),
      prefix,
      spotUrl: gateway.urls.spot,
      credentials: CREDS,
      uid: 'fleet',
      mode: 'shared',
      topics: Array.from({ length: topicsPerProcess }, (_, i) => `/market/ticker:P${p}X${i}-USDT`),
      options: { ...defaults(), ...over },
    } satisfies WsWorkerConfig),
  );
  await Promise.all(workers.map((w) => w.ready));
  return {
    stats: () => ws.stats(),
    workers,
    asked: PROCESSES * topicsPerProcess,
    async close() {
      for (const w of workers) {
        if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
        w.child.kill('SIGCONT');
        w.child.kill('SIGKILL');
      }
      await gateway.close();
      await ws.close();
    },
  };
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
async function until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(10)) if (ok()) return true;
  return ok();
}
const sessionsOf = (s: WsSimulatorStats) => s.sessionsNow['uid:fleet'] ?? 0;
const welcomesOf = (s: WsSimulatorStats) => s.connects.filter((c) => c.outcome === 'welcome');

function served(reports: readonly WsWorkerReport[]) {
  const refused: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.refused)) refused[k] = (refused[k] ?? 0) + v;
  return { served: reports.reduce((n, r) => n + r.served, 0), refused };
}

/** A server allowing fewer topics than the library's defaults (100 per message, 300 per session): 10 and 40. */
async function limits(redisUrl: string) {
  const f = await fleet(redisUrl, { sessionLimit: 50, topicsPerMessage: 10, topicsPerSession: 40 }, 100);
  try {
    for (const w of f.workers) w.child.send({ type: 'go' });
    const reports = await Promise.all(f.workers.map((w) => w.done));
    const s = f.stats();
    return { scenario: 'limits', by509: s.count509ByKind, asked: f.asked, ...served(reports), maxSessions: s.maxSessions['uid:fleet'] };
  } finally {
    await f.close();
  }
}

/** A server allowing 6 sessions while the library is at its default 50; each process asks for 2 sessions; once the fleet learned 6, a holder is killed. */
async function sessions(redisUrl: string) {
  const f = await fleet(redisUrl, { sessionLimit: 6 }, 600);
  try {
    const holders = new Set<number>();
    f.workers.forEach((w, p) => w.child.on('message', (m: { type: string; open?: number }) => m.type === 'connected' && (m.open ?? 0) > 0 && holders.add(p)));
    for (const w of f.workers) w.child.send({ type: 'go' });
    // the fleet has learned the server's 6 (a 509) and holds them all: from now on the store is the gate
    await until(() => sessionsOf(f.stats()) === 6 && holders.size > 0 && f.stats().count509ByKind.sessions > 0, 15_000);
    const victim = [...holders][0]!;
    const before = welcomesOf(f.stats()).length;
    const killedAt = Date.now();
    f.workers[victim]!.child.kill('SIGKILL');
    await until(() => welcomesOf(f.stats()).length > before, 10_000);
    const reusedAt = welcomesOf(f.stats())[before]?.at;
    const reports = await Promise.all(f.workers.filter((_, p) => p !== victim).map((w) => w.done));
    const s = f.stats();
    return {
      scenario: 'sessions + kill',
      by509: s.count509ByKind,
      asked: (PROCESSES - 1) * 600,
      ...served(reports),
      maxSessions: s.maxSessions['uid:fleet'],
      killedSlotReusedAfterMs: reusedAt === undefined ? undefined : reusedAt - killedAt,
    };
  } finally {
    await f.close();
  }
}

/**
 * Six sessions (the account's limit, configured: `sessionLimit: 6`), held by processes 0 and 1; then 0's Redis
 * link is black-holed while its sockets stay up, and 1 is frozen (SIGSTOP); 2 and 3 wait for slots.
 */
async function partition(redisUrl: string) {
  const relay = await startTcpRelay(redisUrl);
  const f = await fleet(redisUrl, { sessionLimit: 6 }, 900, { sessionLimit: 6 }, (p) => (p === 0 ? relay.url : redisUrl));
  try {
    const leaseLost: number[] = [];
    f.workers[0]!.child.on('message', (m: { type: string; at: number }) => m.type === 'leaseLost' && leaseLost.push(m.at));
    f.workers[0]!.child.send({ type: 'go' });
    await until(() => sessionsOf(f.stats()) === 3, 10_000);
    f.workers[1]!.child.send({ type: 'go' });
    await until(() => sessionsOf(f.stats()) === 6, 10_000);
    f.workers[2]!.child.send({ type: 'go' });
    f.workers[3]!.child.send({ type: 'go' });
    await sleep(500);
    const before = welcomesOf(f.stats()).length;
    const cutAt = Date.now();
    relay.pause();
    f.workers[1]!.child.kill('SIGSTOP');
    await until(() => welcomesOf(f.stats()).length - before >= 6 || f.stats().count509 > 0, 15_000);
    await sleep(500);
    const s = f.stats();
    const reused = welcomesOf(s).slice(before);
    return {
      scenario: 'partition + freeze',
      by509: s.count509ByKind,
      silentDrops: s.silentDrops,
      maxSessions: s.maxSessions['uid:fleet'],
      cutProcessClosedSocketsAfterMs: leaseLost.map((t) => t - cutAt),
      slotsReusedAfterMs: reused.map((w) => w.at - cutAt),
    };
  } finally {
    relay.resume();
    await f.close();
    await relay.close();
  }
}

const SCENARIOS = { limits, sessions, partition } as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      runs: { type: 'string', default: '1' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    },
  });
  const names = values.scenario ? [values.scenario as keyof typeof SCENARIOS] : (Object.keys(SCENARIOS) as (keyof typeof SCENARIOS)[]);
  console.log(`[ws fleet] src: ${NEW ? 'with' : 'without'} issue 19; ${PROCESSES} processes; times / ${SCALE}; defaults ${JSON.stringify(defaults())}`);
  for (const name of names) {
    if (!(name in SCENARIOS)) throw new Error(`Unknown scenario ${name}: one of ${Object.keys(SCENARIOS).join(', ')}`);
    for (let run = 1; run <= Number(values.runs); run++) console.log(`[ws fleet] ${JSON.stringify({ run, ...(await SCENARIOS[name](values.redis!)) })}`);
  }
}

await main();
process.exit(0);
