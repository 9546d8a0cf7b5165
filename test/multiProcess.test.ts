import { randomUUID } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import type { Priority } from '../src/index.js';
import { startCountingServer, type CountingServer } from '../src/simulator/countingServer.js';
import type { WorkerConfig, WorkerReport } from './fixtures/spotWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const PROCESSES = 4;
const LIMIT = 600;
const WINDOW_MS = 3000;
const MARGIN_MS = 75;
const DURATION_MS = 5 * WINDOW_MS + 500;

let server: CountingServer | undefined;
const workers: Worker<WorkerReport>[] = [];
afterAll(async () => {
  for (const w of workers) w.child.kill();
  await server?.close();
});

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

it(`${PROCESSES} OS processes share one UID's Spot pool through Redis: no window over the limit, >= 95 % used, critical never held a window`, async () => {
  server = await startCountingServer({ limit: LIMIT, windowMs: WINDOW_MS });
  const config: WorkerConfig = {
    redisUrl: inject('redisUrl'),
    prefix: `ks-test-${randomUUID()}`,
    serverUrl: server.url,
    uid: 'shared-uid',
    limit: LIMIT,
    windowMs: WINDOW_MS,
    marginMs: MARGIN_MS,
    concurrency: { high: 6, normal: 4, low: 6 },
    criticalEveryMs: 100,
    agingMs: 2 * WINDOW_MS,
  };
  for (let i = 0; i < PROCESSES; i++) workers.push(forkWorker<WorkerReport>('spotWorker.ts', config));
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.send({ type: 'go', durationMs: DURATION_MS });
  const reports = await Promise.all(workers.map((w) => w.done));

  const { windows, rejected429000 } = server.stats();
  const complete = windows.slice(0, -1); // the last window is cut short by the end of the run
  const lines = windows.map(
    (w, i) =>
      `  window ${i + 1}: +${String(w.start - windows[0]!.start).padStart(5)} ms  weight ${String(w.offered).padStart(4)} / ${LIMIT}  (${((100 * w.offered) / LIMIT).toFixed(1)} %, ${w.requests} requests)`,
  );
  const span = windows[windows.length - 1]!.start - windows[0]!.start;
  const usedWeight = complete.reduce((a, w) => a + w.weight, 0);
  const utilization = usedWeight / ((LIMIT * span) / WINDOW_MS);
  const waits = (p: Priority) => reports.flatMap((r) => r.waits[p]);
  const summary = (['critical', 'high', 'normal', 'low'] as const).map(
    (p) =>
      `  ${p.padEnd(8)} admitted ${String(waits(p).length).padStart(5)}  wait p50 ${quantile(waits(p), 0.5)} ms  p99 ${quantile(waits(p), 0.99)} ms  max ${Math.max(...waits(p))} ms`,
  );
  console.log(
    [
      `multi-process: ${PROCESSES} processes, Spot limit ${LIMIT} / ${WINDOW_MS} ms, margin ${MARGIN_MS} ms`,
      ...lines,
      `  utilization over time (complete windows, gaps included): ${(100 * utilization).toFixed(1)} %  (ceiling W/(W+margin) = ${((100 * WINDOW_MS) / (WINDOW_MS + MARGIN_MS)).toFixed(1)} %)`,
      `  429000 from the server: ${rejected429000}; 429 seen by workers: ${reports.reduce((a, r) => a + r.got429, 0)}`,
      ...summary,
      `  requests aborted at the end of the run (still queued): ${reports.reduce((a, r) => a + r.abortedAtEnd, 0)}`,
    ].join('\n'),
  );

  expect(complete.length).toBeGreaterThanOrEqual(3);
  for (const w of windows) expect(w.offered).toBeLessThanOrEqual(LIMIT);
  expect(rejected429000).toBe(0);
  expect(reports.reduce((a, r) => a + r.sentWeight, 0)).toBe(windows.reduce((a, w) => a + w.weight, 0)); // all sent arrived
  expect(utilization).toBeGreaterThanOrEqual(0.95);
  expect(Math.max(...waits('critical'))).toBeLessThan(WINDOW_MS);
  expect(waits('low').length).toBeGreaterThan(0); // aging: low is not starved by the high flood
}, 60_000);
