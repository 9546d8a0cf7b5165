import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { BucketConfig } from '../src/index.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { SharedIpWorkerConfig, SharedIpWorkerReport } from './fixtures/sharedIpWorker.js';
import { forkWorker, type Worker } from './helpers/processes.js';

/**
 * Issue case 4: hosts left at the default `ip` share ONE bucket identity for the Public pool (and Cloudflare),
 * but KuCoin counts each real egress IP on its own, in windows of its own phase. Replies from one IP place a
 * window the other IP does not have: aligning to it frees weight while the other IP's window is still open.
 *
 * The scenario: host A (IP 10.0.0.1) sends a little and hears back at once, so its replies place the window;
 * host B (IP 10.0.0.2) starts half a window later, floods, and its replies come back slowly (a long link), so
 * nothing contradicts A's window before it ends. Aligned to A's end, the bucket frees B's weight in the middle
 * of B's window: before the fix B's first window was offered 180 of 100 (27 x 429000). With `alignPhase: false`
 * (what the scheduler sets for the default `ip`) every span of window + margin holds the limit, whatever IP.
 */

const LIMIT = 100;
const WINDOW_MS = 2000;

let sim: GatewaySimulator | undefined;
let workers: Worker<SharedIpWorkerReport>[] = [];
afterEach(async () => {
  for (const w of workers) w.child.kill();
  workers = [];
  await sim?.close();
  sim = undefined;
});

interface Host {
  id: string;
  ip: string;
  startDelayMs: number;
  concurrency: number;
  thinkMs: number;
  replyDelayMs: number;
}

async function run(alignPhase: boolean | undefined, hosts: Host[], durationMs: number) {
  sim = await startGatewaySimulator({ cloudflare: false, pools: { Public: { limit: LIMIT, windowMs: WINDOW_MS } } });
  const bucket: BucketConfig = {
    group: 'shared-ip',
    id: 'ip:default:Public',
    limit: LIMIT,
    windowMs: WINDOW_MS,
    marginMs: 250,
    burst: 0,
    refillPerMs: 0,
    ...(alignPhase === undefined ? {} : { alignPhase }),
  };
  const prefix = `ks-test-${randomUUID()}`;
  for (const h of hosts) {
    const config: SharedIpWorkerConfig = {
      ...h,
      share: 1,
      redisUrl: inject('redisUrl'),
      prefix,
      url: sim.urls.spot,
      bucket,
      path: '/api/v3/currencies',
      weight: 3,
    };
    workers.push(forkWorker<SharedIpWorkerReport>('sharedIpWorker.ts', config));
  }
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.send({ type: 'go', durationMs });
  const reports = await Promise.all(workers.map((w) => w.done));
  const stats = sim.stats();
  const perIp = hosts.map((h) => {
    const windows = (stats.windows[`ip:${h.ip}:Public`] ?? []).map((w) => w.offered);
    return { ip: h.ip, windows, maxOffered: Math.max(0, ...windows) };
  });
  const rejected = stats.outcomes['429000'] ?? 0;
  console.log(
    `shared ip (alignPhase ${String(alignPhase)}): Public ${LIMIT} / ${WINDOW_MS} ms per IP; ` +
      perIp.map((p) => `${p.ip} offered per window [${p.windows.join(', ')}]`).join('; ') +
      `; 429000: ${rejected}; phase conflicts reported: ${reports.reduce((a, r) => a + r.phaseConflicts, 0)}`,
  );
  return { perIp, rejected, reports };
}

describe('one bucket identity for two egress IPs (the default ip) against the simulator, 2 OS processes', () => {
  it('alignPhase false: a slow-reply IP next to a prompt one stays <= the limit in every window of each IP, 0 x 429000', async () => {
    const { perIp, rejected, reports } = await run(
      false,
      [
        { id: 'host-a', ip: '10.0.0.1', startDelayMs: 0, concurrency: 1, thinkMs: 300, replyDelayMs: 0 },
        { id: 'host-b', ip: '10.0.0.2', startDelayMs: WINDOW_MS / 2, concurrency: 40, thinkMs: 0, replyDelayMs: WINDOW_MS / 2 + 100 },
      ],
      2 * WINDOW_MS + 1500,
    );
    for (const p of perIp) expect(p.maxOffered, p.ip).toBeLessThanOrEqual(LIMIT);
    expect(rejected).toBe(0);
    expect(reports.every((r) => r.sent > 0)).toBe(true);
    expect(perIp[1]!.maxOffered).toBeGreaterThan(LIMIT / 2); // B really pressed on its windows
  }, 30_000);

  it('alignment on, replies prompt from both IPs: the contradiction is detected (phase conflict), <= the limit per IP window, 0 x 429000', async () => {
    const { perIp, rejected, reports } = await run(
      undefined,
      [
        // A leaves room, so B's first request opens B's window mid-way through A's
        { id: 'host-a', ip: '10.0.0.1', startDelayMs: 0, concurrency: 2, thinkMs: 100, replyDelayMs: 0 },
        { id: 'host-b', ip: '10.0.0.2', startDelayMs: Math.round(WINDOW_MS * 0.45), concurrency: 4, thinkMs: 0, replyDelayMs: 0 },
      ],
      2 * WINDOW_MS + 500,
    );
    expect(reports.reduce((a, r) => a + r.phaseConflicts, 0)).toBeGreaterThan(0);
    for (const p of perIp) expect(p.maxOffered, p.ip).toBeLessThanOrEqual(LIMIT);
    expect(rejected).toBe(0);
  }, 30_000);
});
