// Section 2b: the workload family (issue 17). Each case: N bot processes of one UID through a RedisStore, the
// gateway simulator counting what arrives; the figures come from what the server received.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PRIORITIES, type Priority } from '../src/index.js';
import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { Arrival } from '../src/simulator/simStats.js';
import type { FamilyCase } from './familyCases.js';
import type { FamilyReport, FamilyWorkerConfig } from './familyWorker.js';
import { quantile } from './stats.js';

/** One pool's figures over the server windows wholly within the run (from the first bot arrival to the last). */
export interface PoolFigures {
  readonly windows: number;
  /** Weight executed / (quota - the hidden consumer's weight), summed over those windows. */
  readonly perWindow: number;
  /** The worst single window of those. */
  readonly worstWindow: number;
  /** From the first whole window's start to the last one's end: executed / (quota x span / window - hidden); gaps count. */
  readonly span: number;
  /** Weight executed in each window. */
  readonly windowWeights: readonly number[];
}

export interface FamilyRow {
  readonly case: FamilyCase;
  /** Both pools (Public's identity is the default ip: no phase alignment); the case's `binding` pool is the target. */
  readonly pools: Readonly<Record<'Spot' | 'Public', PoolFigures>>;
  readonly rejected429000: number;
  /** Most 429000 in one server window (any pool). */
  readonly worst429000PerWindow: number;
  readonly waits: Record<Priority, { n: number; failed: number; admissionP50: number; admissionP99: number; totalP99: number; errors: Record<string, number> }>;
  /** The bot processes' event-loop delay p99, ms: the worst process's (undefined in results written before it). */
  readonly eventLoopP99Ms?: number;
  /** Fairness rows: each bot's share of the Spot weight executed / its weighted fair share (1 = exact). */
  readonly fairness?: readonly number[];
}

/** The figures of the pool a case binds on. */
export const bindingFigures = (r: FamilyRow): PoolFigures => r.pools[r.case.binding];

const ACCOUNT = { key: 'family-key', secret: 'family-secret', passphrase: 'family-pass', uid: 'family-uid' };
/** Each worker's warm-up (familyWorker.ts): its own account, egress IP and key prefix; its arrivals are left out. */
const WARM_UP = {
  account: { key: 'family-warmup-key', secret: 'family-warmup-secret', passphrase: 'family-warmup-pass', uid: 'family-warmup-uid' },
  ip: '192.0.2.1',
  durationMs: 1_000,
};

export async function runFamilyCase(redisUrl: string, c: FamilyCase): Promise<FamilyRow> {
  // whole weights, as KuCoin charges them: the interval is what spends the share
  const hiddenWeight = Math.max(1, Math.round((c.spotLimit * c.hiddenShare) / (c.windowMs / 100)));
  const hiddenEveryMs = c.hiddenShare > 0 ? Math.round((hiddenWeight * c.windowMs) / (c.spotLimit * c.hiddenShare)) : 0;
  const sim = await startGatewaySimulator({
    accounts: [ACCOUNT, WARM_UP.account],
    pools: { Spot: { limit: c.spotLimit, windowMs: c.windowMs }, Public: { limit: c.publicLimit, windowMs: c.windowMs } },
    cloudflare: false,
    latencyMs: c.latencyMs,
    ...(c.hiddenShare > 0 ? { hiddenConsumers: [{ uid: ACCOUNT.uid, pool: 'Spot' as const, weight: hiddenWeight, everyMs: hiddenEveryMs }] } : {}),
  });
  const prefix = `bench-family-${randomUUID()}`;
  const file = fileURLToPath(new URL('./familyWorker.ts', import.meta.url));
  const children = Array.from({ length: c.processes }, (_, i) => {
    const config: FamilyWorkerConfig = { id: `p${i + 1}`, index: i, redisUrl, prefix, urls: sim.urls, account: ACCOUNT, warmUp: WARM_UP, case: c };
    return fork(file, [], {
      execArgv: ['--import', 'tsx', ...(process.env.KS_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KS_BENCH_PROF}`] : [])],
      env: { ...process.env, KS_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
  });
  // a worker that dies before it says `type` (a crash, a syntax error) ends the case with an error: nothing hangs
  const message = (child: (typeof children)[number], type: string) =>
    new Promise<{ report?: FamilyReport; eventLoopP99Ms?: number }>((resolve, reject) => {
      child.on('message', (m: { type: string; report?: FamilyReport; eventLoopP99Ms?: number }) => m.type === type && resolve(m));
      child.on('exit', (code, signal) => reject(new Error(`family worker exited (${signal ?? `code ${String(code)}`}) before '${type}'`)));
    });
  const orStop = async <T>(all: Promise<T>): Promise<T> => {
    try {
      return await all;
    } catch (error) {
      for (const child of children) child.kill();
      await sim.close();
      throw error;
    }
  };
  await orStop(Promise.all(children.map((child) => message(child, 'ready'))));
  const durationMs = c.windows * c.windowMs;
  const done = children.map((child) => message(child, 'done'));
  for (const child of children) child.send({ type: 'go', durationMs });
  const dones = await orStop(Promise.all(done));
  const reports = dones.map((m) => m.report!);
  const eventLoopP99Ms = Math.max(...dones.map((m) => m.eventLoopP99Ms ?? Number.NaN));
  const stats = sim.stats();
  await sim.close();

  // the warm-ups' arrivals are on their own account and IP, before the run: left out of everything
  const arrivals = stats.arrivals.filter((a) => a.client !== 'warmup');
  const bots = arrivals.filter((a) => a.client !== 'hidden');
  const t0 = bots[0]?.at ?? 0;
  const lastBot = bots.reduce((x, a) => Math.max(x, a.at), 0);
  // the server windows of the run (the warm-ups' are on their own account and IP)
  const runWindows = Object.entries(stats.windows).filter(([k]) => !k.includes(WARM_UP.account.uid) && !k.includes(WARM_UP.ip));
  const windowsOf = (suffix: string) =>
    runWindows
      .filter(([k]) => k.endsWith(suffix))
      .flatMap(([, ws]) => ws)
      .filter((w) => w.start >= t0 && w.end <= lastBot + 1);
  const weightIn = (pool: string, from: number, until: number, test: (a: Arrival) => boolean) =>
    arrivals.filter((a) => a.pool === pool && a.at >= from && a.at < until && test(a)).reduce((x, a) => x + a.weight, 0);
  const ok = (a: Arrival) => a.outcome === 'ok';
  const hidden = (a: Arrival) => a.outcome === 'hidden';

  const figuresOf = (pool: 'Spot' | 'Public', limit: number): PoolFigures => {
    const windows = windowsOf(`:${pool}`);
    const rest = (w: { start: number; end: number }) => limit - weightIn(pool, w.start, w.end, hidden);
    const windowWeights = windows.map((w) => weightIn(pool, w.start, w.end, ok));
    const first = windows[0];
    const last = windows[windows.length - 1];
    return {
      windows: windows.length,
      perWindow: sumRatio(windowWeights, windows.map(rest)),
      worstWindow: windows.length ? Math.min(...windows.map((w, i) => windowWeights[i]! / rest(w))) : Number.NaN,
      span:
        first && last
          ? weightIn(pool, first.start, last.end, ok) / ((limit * (last.end - first.start)) / c.windowMs - weightIn(pool, first.start, last.end, hidden))
          : Number.NaN,
      windowWeights,
    };
  };
  const pools = { Spot: figuresOf('Spot', c.spotLimit), Public: figuresOf('Public', c.publicLimit) };
  const spotWindows = windowsOf(':Spot');
  const first = spotWindows[0];
  const last = spotWindows[spotWindows.length - 1];
  const worst429000PerWindow = runWindows.flatMap(([, ws]) => ws).reduce((x, w) => Math.max(x, w.rejected), 0);

  let fairness: number[] | undefined;
  if (c.botWeights && first && last) {
    const by = c.botWeights.map((_, i) => weightIn('Spot', first.start, last.end, (a) => ok(a) && a.client === `p${i + 1}`));
    const total = by.reduce((a, b) => a + b, 0);
    const weights = c.botWeights.reduce((a, b) => a + b, 0);
    fairness = by.map((w, i) => w / total / (c.botWeights![i]! / weights));
  }
  const waits = Object.fromEntries(
    PRIORITIES.map((p) => {
      const admission = reports.flatMap((r) => r[p].admission).sort((a, b) => a - b);
      const total = reports.flatMap((r) => r[p].total).sort((a, b) => a - b);
      const errors: Record<string, number> = {};
      for (const r of reports) for (const [k, v] of Object.entries(r[p].errors)) errors[k] = (errors[k] ?? 0) + v;
      return [
        p,
        {
          n: reports.reduce((x, r) => x + r[p].ok, 0),
          failed: reports.reduce((x, r) => x + r[p].failed, 0),
          admissionP50: quantile(admission, 0.5),
          admissionP99: quantile(admission, 0.99),
          totalP99: quantile(total, 0.99),
          errors,
        },
      ];
    }),
  ) as FamilyRow['waits'];
  if (process.env.KS_BENCH_DEBUG) {
    // the Spot weight the bots got through in the run's first 5 s, per 100 ms, and each bucket's first server windows
    // (ms from the first bot arrival)
    const start = Array.from({ length: 50 }, (_, i) => weightIn('Spot', t0 + i * 100, t0 + (i + 1) * 100, (a) => ok(a) && a.client !== 'hidden'));
    process.stderr.write(
      `[start] ${JSON.stringify(runWindows.map(([k, ws]) => [k, ws.slice(0, 3).map((w) => [w.start - t0, w.end - t0])]))} per 100 ms ${start.join(' ')}\n`,
    );
    const refused = runWindows.flatMap(([k, ws]) => ws.filter((w) => w.rejected > 0).map((w) => `${k} ${Math.round(w.start - t0)} ms: ${w.rejected}`));
    if (refused.length > 0) process.stderr.write(`[429000] ${refused.join('; ')}\n`);
    for (const w of spotWindows) {
      const by: Record<string, number> = {};
      for (const a of arrivals)
        if (a.pool === 'Spot' && a.at >= w.start && a.at < w.end) {
          const kind = `${a.client === 'hidden' ? 'hidden' : a.method}${a.outcome === 'ok' || a.outcome === 'hidden' ? '' : `:${a.outcome}`}`;
          by[kind] = (by[kind] ?? 0) + a.weight;
        }
      const slots = Array.from({ length: 10 }, (_, i) =>
        weightIn('Spot', w.start + (i * c.windowMs) / 10, w.start + ((i + 1) * c.windowMs) / 10, (a) => ok(a) && a.client !== 'hidden'),
      );
      process.stderr.write(
        `[window ${Math.round(w.start - t0)} (${w.start % 100_000})-${Math.round(w.end - t0)} ms] ${JSON.stringify(by)} tenths ${slots.join(' ')}\n`,
      );
    }
  }
  return {
    case: c,
    pools,
    rejected429000: arrivals.filter((a) => a.outcome === '429000').length,
    worst429000PerWindow,
    waits,
    eventLoopP99Ms,
    ...(fairness ? { fairness } : {}),
  };
}

function sumRatio(parts: readonly number[], wholes: readonly number[]): number {
  const whole = wholes.reduce((a, b) => a + b, 0);
  return whole > 0 ? parts.reduce((a, b) => a + b, 0) / whole : Number.NaN;
}
