// Section 2: quota fidelity. N processes, one UID, the gateway simulator counting what arrives.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Priority } from '../src/index.js';
import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import { loopsFor, type FidelityCase } from './fidelityCases.js';
import type { FidelityReport, FidelityWorkerConfig, Mode } from './fidelityWorker.js';
import { quantile } from './stats.js';

export interface FidelityRow {
  readonly mode: Mode;
  /** The case's name (fidelityCases.ts); absent in results written before cases existed. */
  readonly case?: string;
  readonly processes: number;
  readonly windows: number;
  /** Weight executed in the first `windows` whole windows of time from the first arrival / their quota. */
  readonly utilization: number;
  /**
   * Per server window wholly within the run (from the first arrival of a bot to its last): weight executed /
   * (quota - the hidden consumer's weight in it), summed over those windows.
   */
  readonly utilizationOfRest?: number;
  /** The same for the first of those windows (the first full window after start). */
  readonly firstWindow?: number;
  readonly rejected429000: number;
  readonly blocks1015: number;
  readonly waits: Record<Priority, { p50: number; p99: number; n: number; failed: number }>;
  /** Weight executed per second and 429000 per second, for the chart. */
  readonly series: { readonly t: number; readonly weight: number; readonly refused: number }[];
}

export const FIDELITY = { limit: 2000, windowMs: 5000, windows: 4.5, cloudflare: { limit: 5000, windowMs: 10_000 } };
const ACCOUNT = { key: 'bench-key', secret: 'bench-secret', passphrase: 'bench-pass', uid: 'bench-uid' };

export async function runFidelity(redisUrl: string, mode: Mode, processes: number, benchCase: FidelityCase): Promise<FidelityRow> {
  const hiddenEveryMs = 100;
  const hiddenWeight = (FIDELITY.limit * benchCase.hiddenShare * hiddenEveryMs) / FIDELITY.windowMs;
  const sim = await startGatewaySimulator({
    accounts: [ACCOUNT],
    pools: { Spot: { limit: FIDELITY.limit, windowMs: FIDELITY.windowMs } },
    cloudflare: { ...FIDELITY.cloudflare, blockMs: 30_000 },
    latencyMs: benchCase.latencyMs,
    ...(hiddenWeight > 0 ? { hiddenConsumers: [{ uid: ACCOUNT.uid, pool: 'Spot' as const, weight: hiddenWeight, everyMs: hiddenEveryMs }] } : {}),
  });
  const prefix = `bench-fid-${randomUUID()}`;
  const file = fileURLToPath(new URL('./fidelityWorker.ts', import.meta.url));
  const children = Array.from({ length: processes }, (_, i) => {
    const config: FidelityWorkerConfig = {
      id: `p${i + 1}`,
      mode,
      redisUrl,
      prefix,
      urls: sim.urls,
      account: ACCOUNT,
      limit: FIDELITY.limit,
      windowMs: FIDELITY.windowMs,
      cloudflare: FIDELITY.cloudflare,
      workload: benchCase.workload,
      loops: loopsFor(benchCase),
      ...(benchCase.tunedMarginMs === undefined ? {} : { transitMarginMs: benchCase.tunedMarginMs }),
    };
    return fork(file, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, KS_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
  });
  const message = (c: (typeof children)[number], type: string) =>
    new Promise<{ report?: FidelityReport }>((resolve) => c.on('message', (m: { type: string; report?: FidelityReport }) => m.type === type && resolve(m)));
  await Promise.all(children.map((c) => message(c, 'ready')));
  const durationMs = FIDELITY.windows * FIDELITY.windowMs;
  const done = children.map((c) => message(c, 'done'));
  for (const c of children) c.send({ type: 'go', durationMs });
  const reports = (await Promise.all(done)).map((m) => m.report!);
  const stats = sim.stats();
  await sim.close();

  const spot = stats.arrivals.filter((a) => a.pool === 'Spot');
  const t0 = spot.find((a) => a.client !== 'hidden')?.at ?? 0;
  // weight executed over a fixed span of whole windows from the first arrival, the same for every mode
  const spanWindows = Math.floor(FIDELITY.windows);
  const sum = (from: number, until: number, outcome: string) =>
    spot.filter((a) => a.outcome === outcome && a.at >= from && a.at < until).reduce((x, a) => x + a.weight, 0);
  const end = t0 + spanWindows * FIDELITY.windowMs;
  const executed = sum(t0, end, 'ok');
  // beside a hidden consumer (which opens the server windows), by server window: those wholly within the run
  const lastBot = spot.reduce((x, a) => (a.client !== 'hidden' ? Math.max(x, a.at) : x), 0);
  const whole = (stats.windows[`uid:${ACCOUNT.uid}:Spot`] ?? []).filter((w) => w.start >= t0 && w.end <= lastBot + 1);
  const ofRest = (ws: readonly { start: number; end: number }[]) => {
    const done = ws.reduce((x, w) => x + sum(w.start, w.end, 'ok'), 0);
    const left = ws.reduce((x, w) => x + FIDELITY.limit - sum(w.start, w.end, 'hidden'), 0);
    return left > 0 ? done / left : Number.NaN;
  };
  // KS_BENCH_DEBUG=1: each server window's weight by kind of request and outcome (stderr)
  if (process.env.KS_BENCH_DEBUG) {
    const kind = (a: (typeof spot)[number]) =>
      (a.client === 'hidden' ? 'hidden' : a.method === 'DELETE' ? 'critical' : a.method === 'POST' ? 'high' : 'get') +
      (a.outcome === 'ok' || a.outcome === 'hidden' ? '' : `:${a.outcome}`);
    for (const w of whole) {
      const by: Record<string, number> = {};
      for (const a of spot) if (a.at >= w.start && a.at < w.end) by[kind(a)] = (by[kind(a)] ?? 0) + a.weight;
      process.stderr.write(`[window ${Math.round(w.start - t0)}-${Math.round(w.end - t0)} ms] ${JSON.stringify(by)}\n`);
    }
  }
  const seconds = Math.ceil(durationMs / 1000) + 1;
  const series = Array.from({ length: seconds }, (_, t) => ({ t, weight: 0, refused: 0 }));
  for (const a of spot) {
    const s = series[Math.floor((a.at - t0) / 1000)];
    if (!s) continue;
    if (a.outcome === 'ok') s.weight += a.weight;
    if (a.outcome === '429000') s.refused++;
  }
  const waits = Object.fromEntries(
    (['critical', 'high', 'normal', 'low'] as const).map((p) => {
      const w = reports.flatMap((r) => r[p].waits).sort((a, b) => a - b);
      return [
        p,
        { p50: quantile(w, 0.5), p99: quantile(w, 0.99), n: reports.reduce((x, r) => x + r[p].ok, 0), failed: reports.reduce((x, r) => x + r[p].failed, 0) },
      ];
    }),
  ) as FidelityRow['waits'];
  const quota = FIDELITY.limit * spanWindows;
  return {
    mode,
    case: benchCase.name,
    processes,
    windows: spanWindows,
    utilization: executed / quota,
    utilizationOfRest: ofRest(whole),
    firstWindow: ofRest(whole.slice(0, 1)),
    rejected429000: stats.outcomes['429000'] ?? 0,
    blocks1015: stats.blocks.filter((b) => b.scope === 'ip').length,
    waits,
    series,
  };
}
