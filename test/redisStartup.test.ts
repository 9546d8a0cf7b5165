// Issue case 6: processes started together, with ioredis `enableOfflineQueue: false` (the README's set-up),
// each flooding one Spot pool the moment it starts, before its Redis client has connected. A process that
// has never reached Redis must not send under a guessed local share: the gateway simulator is the judge.
import { randomUUID } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { StartupWorkerConfig, StartupWorkerReport } from './fixtures/startupWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const PROCESSES = 8;
const LIMIT = 200;
const WINDOW_MS = 3000;
const ACCOUNT = { key: 'startup-key', secret: 'startup-secret', passphrase: 'startup-pass', uid: 'u-startup' };
let sim: GatewaySimulator | undefined;
const workers: Worker<StartupWorkerReport>[] = [];
afterAll(async () => {
  for (const w of workers) w.child.kill();
  await sim?.close();
});

it(`${PROCESSES} processes started together while their Redis clients connect: nothing sent before Redis is reached, first window within the limit`, async () => {
  sim = await startGatewaySimulator({ accounts: [ACCOUNT], pools: { Spot: { limit: LIMIT, windowMs: WINDOW_MS } }, cloudflare: false });
  const prefix = `ks-test-${randomUUID()}`;
  for (let i = 0; i < PROCESSES; i++) {
    const config: StartupWorkerConfig = {
      id: `p${i + 1}`,
      redisUrl: inject('redisUrl'),
      prefix,
      uid: ACCOUNT.uid,
      urls: sim.urls,
      credentials: ACCOUNT,
      limit: LIMIT,
      windowMs: WINDOW_MS,
      concurrency: 8,
    };
    workers.push(forkWorker<StartupWorkerReport>('startupWorker.ts', config));
  }
  await Promise.all(workers.map((w) => w.ready));
  const startAt = Date.now() + 200;
  for (const w of workers) w.child.send({ type: 'go', startAt, durationMs: 4500 });
  const reports = await Promise.all(workers.map((w) => w.done));
  const stats = sim.stats();
  const windows = stats.windows[`uid:${ACCOUNT.uid}:Spot`] ?? [];
  const first = windows[0]!;
  const arrivals = stats.arrivals.filter((a) => a.pool === 'Spot');
  const refusedFirst = arrivals.filter((a) => a.outcome === '429000' && a.at < first.end).length;
  console.log(
    [
      `start-up: ${PROCESSES} processes, Spot ${LIMIT} / ${WINDOW_MS} ms, started together at +0 ms`,
      ...windows.map((w, i) => `  window ${i + 1} at +${w.start - startAt} ms: offered ${w.offered}, charged ${w.weight} / ${LIMIT}, 429000 ${w.rejected}`),
      `  429000 in the first window: ${refusedFirst}; 429000 in all: ${stats.outcomes['429000'] ?? 0}`,
      `  health per process: ${reports.map((r) => r.health.join('>') || '-').join(' | ')}; store errors seen by lanes: ${reports.map((r) => r.storeErrors).join(', ')}`,
      `  ok per process: ${reports.map((r) => r.ok).join(', ')}; errors: ${JSON.stringify(reports.map((r) => r.errors))}`,
    ].join('\n'),
  );
  expect(refusedFirst).toBe(0);
  expect(first.offered).toBeLessThanOrEqual(LIMIT);
  expect(stats.outcomes['429000'] ?? 0).toBe(0);
  for (const r of reports) expect(r.health).not.toContain('degraded');
  expect(first.weight).toBeGreaterThan(LIMIT * 0.5); // they did work in it
}, 30_000);
