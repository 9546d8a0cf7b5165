// A soak run: several processes on one account for a while, through Redis, against the counting server.
// Used by test/soak.test.ts (short form) and `npm run soak` (long form).
import { randomUUID } from 'node:crypto';
import { startCountingServer } from '../src/simulator/countingServer.js';
import type { WorkerConfig, WorkerReport } from './fixtures/spotWorker.js';
import { forkWorker } from './helpers/processes.js';

export interface SoakResult {
  readonly windows: readonly { start: number; offered: number; weight: number }[];
  readonly limit: number;
  readonly rejected429000: number;
  readonly reports: readonly WorkerReport[];
  /** Seconds (from the start) in which nothing arrived although demand never stopped. */
  readonly idleSeconds: number;
  readonly t0: number;
}

export async function soak(redisUrl: string, processes: number, durationMs: number): Promise<SoakResult> {
  const limit = 300;
  const server = await startCountingServer({ limit, windowMs: 2000 });
  const config: WorkerConfig = {
    redisUrl,
    prefix: `ks-soak-${randomUUID()}`,
    serverUrl: server.url,
    uid: 'soak-uid',
    limit,
    windowMs: 2000,
    marginMs: 75,
    concurrency: { high: 3, normal: 2, low: 3 },
    criticalEveryMs: 200,
    agingMs: 4000,
    resilient: true,
  };
  const workers = Array.from({ length: processes }, () => forkWorker<WorkerReport>('spotWorker.ts', config, ['--expose-gc']));
  try {
    await Promise.all(workers.map((w) => w.ready));
    const t0 = Date.now();
    for (const w of workers) w.child.send({ type: 'go', durationMs });
    const reports = await Promise.all(workers.map((w) => w.done));
    const { windows, rejected429000 } = server.stats();
    let idleSeconds = 0;
    for (let s = 1; s < Math.floor(durationMs / 1000) - 1; s++)
      if (!windows.some((w) => w.start - t0 <= s * 1000 + 999 && w.end - t0 > s * 1000)) idleSeconds++;
    return { windows, limit, rejected429000, reports, idleSeconds, t0 };
  } finally {
    for (const w of workers) w.child.kill();
    await server.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Heap (MB) at the start and the end of each process's run: medians of its first and last thirds. */
export function heapTrend(r: WorkerReport): { first: number; last: number } {
  const third = Math.max(1, Math.floor(r.heapMb.length / 3));
  return { first: median(r.heapMb.slice(1, 1 + third)), last: median(r.heapMb.slice(-third)) };
}
