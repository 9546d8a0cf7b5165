// A bot process SIGKILLed mid-run leaks no capacity: its heartbeat expires and the others use the pool. The others
// hold back its share (LIMIT / 3) for one span once its heartbeat is overdue (src/store/resilient/lease.ts): what
// that costs is printed (docs/redis-failures.md quotes it).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, expect, inject, it } from 'vitest';
import { startCountingServer, type CountingServer } from '../src/simulator/countingServer.js';
import type { WorkerConfig, WorkerReport } from './fixtures/spotWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const LIMIT = 300;
const WINDOW_MS = 2000;
let server: CountingServer | undefined;
const workers: Worker<WorkerReport>[] = [];
const redis = new Redis(inject('redisUrl'));
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  redis.disconnect();
  await server?.close();
});

it('a process killed mid-request leaks no capacity; its heartbeat expires; the others go on', async () => {
  server = await startCountingServer({ limit: LIMIT, windowMs: WINDOW_MS });
  const prefix = `ks-test-${randomUUID()}`;
  const config: WorkerConfig = {
    redisUrl: inject('redisUrl'),
    prefix,
    serverUrl: server.url,
    uid: 'kill-uid',
    limit: LIMIT,
    windowMs: WINDOW_MS,
    marginMs: 75,
    concurrency: { high: 4, normal: 2, low: 4 },
    criticalEveryMs: 150,
    agingMs: 60_000,
    resilient: true,
  };
  for (let i = 0; i < 3; i++) workers.push(forkWorker<WorkerReport>('spotWorker.ts', config));
  await Promise.all(workers.map((w) => w.ready));
  const t0 = Date.now();
  for (const w of workers) w.child.send({ type: 'go', durationMs: 8000 });
  await new Promise((r) => setTimeout(r, 2500));
  const hb = `${prefix}:{kill-uid}:hb`;
  const before = await redis.zcard(hb);
  workers[0]!.child.kill('SIGKILL'); // mid-request: it always has requests in flight
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, 1000)); // heartbeat ttl is 3 x 200 ms
  // the hold of the killed process's share: one guard key per bucket the survivors read, alive until it ends
  const holdKeys: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:{kill-uid}:h:*`, 'COUNT', 1000);
    holdKeys.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  const holdEnds = await Promise.all(holdKeys.map(async (k) => Date.now() + (await redis.pttl(k)) - killedAt));
  await redis.zremrangebyscore(hb, '-inf', String(Date.now()));
  const after = await redis.zcard(hb);
  const reports = await Promise.all(workers.slice(1).map((w) => w.done));
  const { windows, rejected429000 } = server.stats();
  const later = windows.filter((w) => w.start > killedAt + 100 && w.end < t0 + 8000);
  console.log(
    [
      `process kill: live processes ${before} -> ${after}; windows after the kill: ${later.map((w) => `${w.offered}/${LIMIT}`).join(', ')}; 429000 ${rejected429000}; survivors sent ${reports.map((r) => r.sent).join(', ')}`,
      `  share held back: ${holdKeys.length} bucket(s), guards ending ${holdEnds.map((e) => `+${e} ms`).join(', ')} after the kill`,
      ...windows.map(
        (w) => `  window ${w.start - killedAt >= 0 ? '+' : ''}${w.start - killedAt} .. +${w.end - killedAt} ms from the kill: offered ${w.offered} / ${LIMIT}`,
      ),
    ].join('\n'),
  );
  expect(before).toBe(3);
  expect(after).toBe(2);
  expect(rejected429000).toBe(0);
  for (const w of windows) expect(w.offered).toBeLessThanOrEqual(LIMIT);
  expect(later.length).toBeGreaterThan(0);
  for (const w of later) expect(w.offered).toBeGreaterThanOrEqual(LIMIT * 0.9); // the dead process's share is used
}, 40_000);
