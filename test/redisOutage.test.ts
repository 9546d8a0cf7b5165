// Redis killed and restarted under load from several OS processes: they keep working under their local
// share, never overrun the quota, and resume sharing when Redis returns. The counting server is the judge.
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { startCountingServer, type CountingServer } from '../src/simulator/countingServer.js';
import type { WorkerConfig, WorkerReport } from './fixtures/spotWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';

const PROCESSES = 3;
const LIMIT = 300;
const WINDOW_MS = 2000;
let server: CountingServer | undefined;
let redis: LocalRedis | undefined;
const workers: Worker<WorkerReport>[] = [];
afterAll(async () => {
  for (const w of workers) w.child.kill();
  await server?.close();
  await redis?.stop();
});

it(`${PROCESSES} processes keep working through a Redis kill and restart, never over the limit`, async () => {
  redis = await spawnRedisServer();
  const port = redis.port;
  server = await startCountingServer({ limit: LIMIT, windowMs: WINDOW_MS });
  const config: WorkerConfig = {
    redisUrl: redis.url,
    prefix: `ks-test-${randomUUID()}`,
    serverUrl: server.url,
    uid: 'outage-uid',
    limit: LIMIT,
    windowMs: WINDOW_MS,
    marginMs: 75,
    concurrency: { high: 4, normal: 2, low: 4 },
    criticalEveryMs: 150,
    agingMs: 60_000,
    resilient: true,
  };
  for (let i = 0; i < PROCESSES; i++) workers.push(forkWorker<WorkerReport>('spotWorker.ts', config));
  await Promise.all(workers.map((w) => w.ready));
  const t0 = Date.now();
  for (const w of workers) w.child.send({ type: 'go', durationMs: 11_000 });
  await new Promise((r) => setTimeout(r, 3500));
  const killedAt = Date.now();
  await redis.stop();
  await new Promise((r) => setTimeout(r, 3000));
  redis = await spawnRedisServer([], port); // empty: no persistence
  const restartedAt = Date.now();
  const reports = await Promise.all(workers.map((w) => w.done));

  const { windows, rejected429000 } = server.stats();
  const lines = windows.map(
    (w) =>
      `  window at +${String(w.start - t0).padStart(5)} ms: weight ${String(w.offered).padStart(4)} / ${LIMIT}${w.start < restartedAt && w.end > killedAt ? '  (Redis down during it)' : ''}`,
  );
  const duringOutage = windows.filter((w) => w.start >= killedAt && w.start < restartedAt).reduce((x, w) => x + w.weight, 0);
  console.log(
    [
      `Redis outage: ${PROCESSES} processes, limit ${LIMIT} / ${WINDOW_MS} ms; Redis killed at +${killedAt - t0} ms, back (empty) at +${restartedAt - t0} ms`,
      ...lines,
      `  429000: ${rejected429000}; degraded events per process: ${reports.map((r) => r.degraded).join(', ')}; recovered: ${reports.map((r) => r.recovered).join(', ')}; store errors seen by lanes: ${reports.map((r) => r.storeErrors).join(', ')}`,
      `  weight received in windows opened while Redis was down: ${duringOutage}`,
    ].join('\n'),
  );
  for (const w of windows) expect(w.offered).toBeLessThanOrEqual(LIMIT);
  expect(rejected429000).toBe(0);
  expect(duringOutage).toBeGreaterThan(0); // kept working
  for (const r of reports) {
    expect(r.degraded).toBeGreaterThanOrEqual(1);
    expect(r.recovered).toBeGreaterThanOrEqual(1);
  }
  expect(windows.some((w) => w.start > restartedAt + 1000 && w.weight > LIMIT * 0.5)).toBe(true); // shared again
}, 60_000);
