// Section 2: quota fidelity. N processes, one UID, the gateway simulator counting what arrives.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Priority } from '../src/index.js';
import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { FidelityReport, FidelityWorkerConfig, Mode } from './fidelityWorker.js';
import { quantile } from './stats.js';

export interface FidelityRow {
  readonly mode: Mode;
  readonly processes: number;
  readonly windows: number;
  /** Weight executed in the first `windows` whole windows of time from the first arrival / their quota. */
  readonly utilization: number;
  readonly rejected429000: number;
  readonly blocks1015: number;
  readonly waits: Record<Priority, { p50: number; p99: number; n: number; failed: number }>;
  /** Weight executed per second and 429000 per second, for the chart. */
  readonly series: { readonly t: number; readonly weight: number; readonly refused: number }[];
}

export const FIDELITY = { limit: 2000, windowMs: 5000, windows: 4.5, cloudflare: { limit: 5000, windowMs: 10_000 } };
const ACCOUNT = { key: 'bench-key', secret: 'bench-secret', passphrase: 'bench-pass', uid: 'bench-uid' };

export async function runFidelity(redisUrl: string, mode: Mode, processes: number): Promise<FidelityRow> {
  const sim = await startGatewaySimulator({
    accounts: [ACCOUNT],
    pools: { Spot: { limit: FIDELITY.limit, windowMs: FIDELITY.windowMs } },
    cloudflare: { ...FIDELITY.cloudflare, blockMs: 30_000 },
    latencyMs: { min: 1, max: 5 },
  });
  const prefix = `bench-fid-${randomUUID()}`;
  const file = fileURLToPath(new URL('./fidelityWorker.ts', import.meta.url));
  const children = Array.from({ length: processes }, (_, i) => {
    const config: FidelityWorkerConfig = { id: `p${i + 1}`, mode, redisUrl, prefix, urls: sim.urls, account: ACCOUNT, limit: FIDELITY.limit, windowMs: FIDELITY.windowMs, cloudflare: FIDELITY.cloudflare };
    return fork(file, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, KS_WORKER: JSON.stringify(config) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
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

  const windows = stats.windows[`uid:${ACCOUNT.uid}:Spot`] ?? [];
  const t0 = windows[0]?.start ?? 0;
  // weight executed over a fixed span of whole windows from the first arrival, the same for every mode
  const spanWindows = Math.floor(FIDELITY.windows);
  const executed = stats.arrivals.filter((a) => a.pool === 'Spot' && a.outcome === 'ok' && a.at < t0 + spanWindows * FIDELITY.windowMs).reduce((x, a) => x + a.weight, 0);
  const seconds = Math.ceil(durationMs / 1000) + 1;
  const series = Array.from({ length: seconds }, (_, t) => ({ t, weight: 0, refused: 0 }));
  for (const a of stats.arrivals) {
    const s = series[Math.floor((a.at - t0) / 1000)];
    if (!s || a.pool !== 'Spot') continue;
    if (a.outcome === 'ok') s.weight += a.weight;
    if (a.outcome === '429000') s.refused++;
  }
  const waits = Object.fromEntries(
    (['critical', 'high', 'normal', 'low'] as const).map((p) => {
      const w = reports.flatMap((r) => r[p].waits).sort((a, b) => a - b);
      return [p, { p50: quantile(w, 0.5), p99: quantile(w, 0.99), n: reports.reduce((x, r) => x + r[p].ok, 0), failed: reports.reduce((x, r) => x + r[p].failed, 0) }];
    }),
  ) as FidelityRow['waits'];
  return {
    mode,
    processes,
    windows: spanWindows,
    utilization: executed / (FIDELITY.limit * spanWindows),
    rejected429000: stats.outcomes['429000'] ?? 0,
    blocks1015: stats.blocks.filter((b) => b.scope === 'ip').length,
    waits,
    series,
  };
}
