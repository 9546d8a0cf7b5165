// issue 11 part 2: the actions shared by every process, proven with 2 OS processes, one Redis and the gateway
// simulator: after the first auth failure (or 501000) seen by either process, how many requests still reach the
// gateway. Before these actions each process kept sending until its own requests failed.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { InjectedCodes, type CodeInjection } from '../src/simulator/injectedCodes.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { ErrorActionsWorkerConfig, ErrorActionsWorkerReport } from './fixtures/errorActionsWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

const ACCOUNT = { key: 'fleet-key-value', secret: 'fleet-secret-value', passphrase: 'fleet-pass-value', uid: 'u-fleet' };
const PROCESSES = 2;
const CONCURRENCY = 2;
const DURATION_MS = 2_500;
const INJECT_AFTER_MS = 800;

let sim: GatewaySimulator | undefined;
let workers: Worker<ErrorActionsWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) w.child.kill();
  workers = [];
  await sim?.close();
  sim = undefined;
});

async function run(injection: Omit<CodeInjection, 'from'>, errorActions: ErrorActionsWorkerConfig['errorActions']) {
  const codes = new InjectedCodes();
  sim = await startGatewaySimulator({ accounts: [ACCOUNT], codes, latencyMs: { min: 2, max: 6 } });
  const prefix = `ks-test-${randomUUID()}`;
  workers = Array.from({ length: PROCESSES }, (_, i) =>
    forkWorker<ErrorActionsWorkerReport>('errorActionsWorker.ts', {
      id: `p${i + 1}`,
      redisUrl: inject('redisUrl'),
      prefix,
      urls: sim!.urls,
      credentials: { key: ACCOUNT.key, secret: ACCOUNT.secret, passphrase: ACCOUNT.passphrase },
      errorActions,
      concurrency: CONCURRENCY,
      durationMs: DURATION_MS,
    } satisfies ErrorActionsWorkerConfig),
  );
  await Promise.all(workers.map((w) => w.ready));
  const from = Date.now() + INJECT_AFTER_MS;
  const handle = codes.inject({ ...injection, from });
  for (const w of workers) w.child.send({ type: 'go' });
  const reports = await Promise.all(workers.map((w) => w.done));
  const arrivals = sim.stats().arrivals.filter((a) => a.client !== 'hidden' && a.client !== undefined);
  const first = arrivals.find((a) => a.outcome === injection.code);
  return { reports, arrivals, first, answered: handle.answered };
}

describe('fleet-wide actions (2 processes, one Redis)', () => {
  it('auth failure: one process sees it, every process stops sending with the key at once', async () => {
    const { reports, arrivals, first, answered } = await run({ code: '400004' }, { keyCircuitOpenMs: 10_000 });
    expect(first).toBeDefined();
    const after = arrivals.filter((a) => a.at > first!.at);
    const byProcess = Object.fromEntries(['p1', 'p2'].map((p) => [p, after.filter((a) => a.client === p).length]));
    console.log(
      `auth (400004 from ${INJECT_AFTER_MS} ms on, key revoked): ${arrivals.length} requests in all, ${after.length} received after the first failure (${JSON.stringify(byProcess)}), ${answered} answered 400004; reports ${JSON.stringify(reports.map((r) => ({ ok: r.ok, errors: r.errors, events: [...new Set(r.events)] })))}`,
    );
    expect(after.length).toBeLessThanOrEqual(PROCESSES * CONCURRENCY); // only what was already in flight
    const circuitOpen = (r: ErrorActionsWorkerReport) =>
      Object.entries(r.errors)
        .filter(([k]) => k.startsWith('KS_KEY_CIRCUIT_OPEN'))
        .reduce((n, [, v]) => n + v, 0);
    for (const r of reports) expect(circuitOpen(r)).toBeGreaterThan(0); // each process fails fast, typed
    for (const r of reports) expect(r.events).toContain('keyCircuit:open');
    const text = JSON.stringify(reports);
    expect(text).not.toContain(ACCOUNT.key);
  });

  it('501000: one process sees it, every process stops sending to that host for the pause', async () => {
    const PAUSE_MS = 1_000;
    const { reports, arrivals, first } = await run({ code: '501000', count: 1 }, { serviceStoppingPauseMs: PAUSE_MS });
    expect(first).toBeDefined();
    const during = arrivals.filter((a) => a.at > first!.at && a.at < first!.at + PAUSE_MS - 50);
    const resumed = arrivals.filter((a) => a.at >= first!.at + PAUSE_MS);
    console.log(
      `501000 (once, at ${INJECT_AFTER_MS} ms): ${arrivals.length} requests in all, ${during.length} received during the ${PAUSE_MS} ms pause after it, ${resumed.length} after the pause; reports ${JSON.stringify(reports.map((r) => ({ ok: r.ok, errors: r.errors, events: [...new Set(r.events)] })))}`,
    );
    expect(during.length).toBeLessThanOrEqual(PROCESSES * CONCURRENCY);
    expect(resumed.length).toBeGreaterThan(0);
  });
});
