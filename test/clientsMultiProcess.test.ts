// issue 10: the official SDK and ccxt, each in 3 OS processes sharing one Redis, against the gateway simulator
// over HTTP: with the scheduler 0 x 429000, no cancel failed for a rate limit, every signal shared; and the
// gateway's figures for the bare clients beside them.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../src/simulator/gatewaySimulator.js';
import type { Arrival } from '../src/simulator/simStats.js';
import type { SdkClientsWorkerConfig, SdkClientsWorkerReport } from './fixtures/sdkClientsWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const ACCOUNT = { key: 'mp-key', secret: 'mp-secret', passphrase: 'mp-pass', uid: 'u-mp' };
const PROCESSES = 3;
const GRACE_MS = 100;
const SIM: GatewaySimulatorOptions = {
  pools: { Spot: { limit: 150, windowMs: 2_000 }, Public: { limit: 100, windowMs: 2_000 } },
  cloudflare: { limit: 150, windowMs: 3_000, blockMs: 1_500 },
};
const SCHEDULER: SdkClientsWorkerConfig['scheduler'] = {
  pools: { spot: { limit: 150, windowMs: 2_000 }, public: { limit: 100, windowMs: 2_000 } },
  cloudflare: { limit: 150, windowMs: 3_000 },
  transitMarginMs: 50,
  jitterMs: 5,
};

let sim: GatewaySimulator | undefined;
let workers: Worker<SdkClientsWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) w.child.kill();
  workers = [];
  await sim?.close();
  sim = undefined;
});

interface Run {
  client: 'sdk' | 'ccxt';
  scheduled: boolean;
  scheduler?: SdkClientsWorkerConfig['scheduler'];
  durationMs: number;
  trigger?: { atMs: number; run: (s: GatewaySimulator) => void };
}

async function run(r: Run) {
  sim = await startGatewaySimulator({ accounts: [ACCOUNT], ...SIM });
  const prefix = `ks-test-${randomUUID()}`;
  for (let i = 0; i < PROCESSES; i++) {
    const config: SdkClientsWorkerConfig = {
      id: `p${i + 1}`,
      client: r.client,
      scheduled: r.scheduled,
      redisUrl: inject('redisUrl'),
      prefix,
      uid: ACCOUNT.uid,
      urls: sim.urls,
      credentials: ACCOUNT,
      scheduler: r.scheduler ?? SCHEDULER,
      orderLoops: 2,
      readLoops: 2,
    };
    workers.push(forkWorker<SdkClientsWorkerReport>('sdkClientsWorker.ts', config));
  }
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.send({ type: 'go', durationMs: r.durationMs });
  const s = sim;
  const timer = r.trigger ? setTimeout(() => r.trigger!.run(s), r.trigger.atMs) : undefined;
  const reports = await Promise.all(workers.map((w) => w.done));
  clearTimeout(timer);
  const stats = sim.stats();
  const arrivals = stats.arrivals.filter((a) => a.client !== 'hidden');
  const sum = (pick: (rep: SdkClientsWorkerReport) => Record<string, number>) =>
    reports.reduce<Record<string, number>>((acc, rep) => {
      for (const [k, v] of Object.entries(pick(rep))) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {});
  const ok = sum((rep) => rep.ok);
  const failed = sum((rep) => rep.failed);
  const signals = sum((rep) => rep.signals);
  const line = `${r.client} ${r.scheduled ? 'with the scheduler' : 'bare'}, ${PROCESSES} processes, ${r.durationMs} ms: gateway ${JSON.stringify(stats.outcomes)}; ok ${JSON.stringify(ok)}; failed ${JSON.stringify(failed)}; feedback events ${JSON.stringify(signals)}`;
  console.log(line);
  return { arrivals, stats, ok, failed, signals, reports, line, s };
}

/** From the first `signal` (plus grace) until `end`, nothing from any process reaches the scope; work resumes after. */
function quietAfter(name: string, arrivals: readonly Arrival[], inScope: (a: Arrival) => boolean, signal: string, end: (first: Arrival) => number) {
  const first = arrivals.find((a) => inScope(a) && a.outcome === signal);
  expect(first, `${name}: the signal was met`).toBeDefined();
  const until = end(first!);
  const during = arrivals.filter((a) => inScope(a) && a.at >= first!.at + GRACE_MS && a.at < until);
  const senders = new Set(arrivals.filter(inScope).map((a) => a.client));
  const resumed = arrivals.filter((a) => inScope(a) && a.at >= until && a.outcome === 'ok').length;
  console.log(
    `${name}: first from ${first!.client}; scope paused ${until - first!.at} ms; arrivals during the pause (after ${GRACE_MS} ms grace): ${during.length}; ok after: ${resumed}; senders ${[...senders].join(', ')}`,
  );
  expect(senders.size).toBe(PROCESSES);
  expect(during).toEqual([]);
  expect(resumed).toBeGreaterThan(0);
}

for (const client of ['sdk', 'ccxt'] as const) {
  describe(`${client}: ${PROCESSES} OS processes, one Redis, the simulator over HTTP`, () => {
    it('bare (no scheduler): the gateway figures to compare with', async () => {
      const { stats } = await run({ client, scheduled: false, durationMs: 3_000 });
      expect(stats.requests).toBeGreaterThan(0);
    }, 60_000);

    it('with the scheduler: 0 x 429000, 0 x 1015, no cancel failed for a rate limit', async () => {
      const { stats, failed, ok } = await run({ client, scheduled: true, durationMs: 4_000 });
      expect(stats.outcomes['429000'] ?? 0).toBe(0);
      expect(stats.outcomes['1015'] ?? 0).toBe(0);
      expect(failed['cancel:rate-limit'] ?? 0).toBe(0);
      expect(ok.cancel).toBeGreaterThan(0);
    }, 60_000);

    it('every signal is shared: a 429000 met by one process pauses the Spot pool for all, a 1015 the IP for all; refused cancels are re-sent', async () => {
      // the scheduler believes Cloudflare allows 400 / 3 s: the gateway's 150 blocks the IP once
      const { arrivals, s, failed } = await run({
        client,
        scheduled: true,
        scheduler: { ...SCHEDULER, cloudflare: { limit: 400, windowMs: 3_000 } },
        durationMs: 5_000,
        trigger: { atMs: 800, run: (sim) => sim.exhaust(ACCOUNT.uid, 'Spot') },
      });
      const windows = s.stats().windows[`uid:${ACCOUNT.uid}:Spot`]!;
      quietAfter(
        `${client} 429000`,
        arrivals,
        (a) => a.pool === 'Spot',
        '429000',
        (first) => windows.find((w) => first.at >= w.start && first.at < w.end)!.end,
      );
      const block = s.stats().blocks.find((b) => b.scope === 'ip')!;
      quietAfter(
        `${client} 1015`,
        arrivals,
        () => true,
        '1015',
        () => block.until,
      );
      expect(failed['cancel:rate-limit'] ?? 0).toBe(0);
    }, 60_000);
  });
}
