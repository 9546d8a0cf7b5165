// npm run bench:proxy [-- --help]: what the proxy costs and what it holds, each figure against a baseline measured
// in the same run. Writes nothing.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { apiKeyHash } from '../src/index.js';
import { authHeaders } from '../src/kucoin/signing.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import { KEY, UID } from '../test/helpers/proxySetup.js';
import { startProxyProcess } from '../test/helpers/proxyProcess.js';
import { runProxyFleet, type FleetResult } from '../test/proxyFleetRun.js';
import { benchArgs, benchNumber, benchRedisUrl } from './benchArgs.js';
import { measure, type Measured } from './stats.js';

const USAGE = `Usage: npm run bench:proxy -- [options]

Measures the KuCoin proxy (kucoin-scheduler proxy, a separate process on Redis) against the gateway simulator,
each figure against its baseline in the same run:

  overhead     p50 / p99 of a request through the proxy against the same request sent directly (loopback)
  throughput   requests per second through one proxy process against direct, 64 in flight
  fleet        2 proxies, 2 Python bots and a ccxt bot through them, a library bot: share of the Spot quota
               used, KuCoin's 429000 and 1015 (0 expected), cancel latency; baseline: the same bots sent directly
  expired      signed requests near their 5 s: how many reached KuCoin with an expired KC-API-TIMESTAMP

About 3 minutes at the defaults. Prints the figures and whether each target is met.

  --redis URL       the Redis to use  (default REDIS_URL, else redis://127.0.0.1:6379)
  --requests N      requests per overhead measurement  (default 3000)
  --fleet-seconds N how long the fleet sends  (default 65: two whole 30 s windows of KuCoin's VIP 0 Spot quota)
  --skip LIST       parts to skip, comma-separated: overhead, throughput, fleet, expired
  -h, --help        this text
`;

const args = benchArgs('bench:proxy', USAGE, {
  redis: { type: 'string' },
  requests: { type: 'string', default: '3000' },
  'fleet-seconds': { type: 'string', default: '65' },
  skip: { type: 'string', default: '' },
});
const redisUrl = benchRedisUrl('bench:proxy', args.redis);
const requests = benchNumber('bench:proxy', '--requests', args.requests, 100, 1_000_000, true);
const fleetSeconds = benchNumber('bench:proxy', '--fleet-seconds', args['fleet-seconds'], 5, 3_600);
const skip = new Set(args.skip.split(',').filter(Boolean));
for (const s of skip) {
  if (!['overhead', 'throughput', 'fleet', 'expired'].includes(s)) {
    process.stderr.write(`bench:proxy: --skip expects overhead, throughput, fleet or expired, got "${s}"\nSee: npm run bench:proxy -- --help\n`);
    process.exit(2);
  }
}
const log = (line: string) => process.stderr.write(`${line}\n`);
const lines: string[] = [];
const targets: { label: string; met: boolean; value: string }[] = [];
const ms = (x: number) => `${x.toFixed(3)} ms`;

/** A simulator whose quotas never make anyone wait, and a proxy process in front of it on Redis. */
/** CPU time (user + system) a process has used so far, in ms; undefined where /proc is not there. */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime and stime, in clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

async function bed(): Promise<{ sim: GatewaySimulator; proxyUrl: string; pid: number | undefined; stop: () => Promise<void> }> {
  const huge = { limit: 1_000_000_000, windowMs: 30_000 };
  const sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: UID }], pools: { Public: huge, Spot: huge }, cloudflare: false, maxArrivals: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-proxy-'));
  writeFileSync(join(dir, 'proxy.json'), JSON.stringify({ upstreams: sim.urls, scheduler: { pools: { public: huge, spot: huge }, cloudflare: false } }));
  const proxy = startProxyProcess([
    '--redis',
    redisUrl,
    '--prefix',
    `ks-bench-${randomUUID()}`,
    '--listen',
    '127.0.0.1:0',
    '--account',
    `${apiKeyHash(KEY.key)}=${UID}`,
    '--config',
    join(dir, 'proxy.json'),
  ]);
  const proxyUrl = await proxy.url;
  return {
    sim,
    proxyUrl,
    pid: proxy.child.pid,
    async stop() {
      const exited = new Promise((r) => proxy.child.once('exit', r));
      proxy.child.kill('SIGTERM');
      await exited;
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One signed read (GET /api/v1/hf/orders/active, Spot): what a bot does most. */
function signedRead(pool: Pool, prefix: string): () => Promise<void> {
  const target = '/api/v1/hf/orders/active?symbol=BTC-USDT';
  return async () => {
    const res = await pool.request({ path: `${prefix}${target}`, method: 'GET', headers: authHeaders(KEY, 'GET', target, '') });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  };
}

async function overheadAndThroughput(): Promise<void> {
  const b = await bed();
  const direct = new Pool(b.sim.urls.spot, { connections: 128 });
  const proxied = new Pool(b.proxyUrl, { connections: 128 });
  try {
    const rounds: { direct: Measured; proxied: Measured }[] = [];
    if (!skip.has('overhead')) {
      for (let i = 0; i < 3; i++) {
        log(`overhead round ${i + 1} of 3 (${requests} sequential signed reads each way)`);
        rounds.push({ direct: await measure(signedRead(direct, ''), requests, 1), proxied: await measure(signedRead(proxied, '/spot'), requests, 1) });
      }
      const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[1]!;
      const d50 = median(rounds.map((r) => r.direct.p50Ms));
      const d99 = median(rounds.map((r) => r.direct.p99Ms));
      const p50 = median(rounds.map((r) => r.proxied.p50Ms));
      const p99 = median(rounds.map((r) => r.proxied.p99Ms));
      lines.push(
        '| overhead (sequential, loopback, median of 3) | p50 | p99 |',
        '|---|---|---|',
        `| direct to the simulator (baseline) | ${ms(d50)} | ${ms(d99)} |`,
        `| through the proxy (RedisStore) | ${ms(p50)} | ${ms(p99)} |`,
        `| overhead | ${ms(p50 - d50)} | ${ms(p99 - d99)} |`,
        '',
      );
      targets.push({ label: 'overhead p50 <= 1 ms', met: p50 - d50 <= 1, value: ms(p50 - d50) });
      targets.push({ label: 'overhead p99 <= 5 ms', met: p99 - d99 <= 5, value: ms(p99 - d99) });
    }
    if (!skip.has('throughput')) {
      log('throughput: 64 in flight, direct then through the proxy');
      const n = Math.max(requests * 4, 10_000);
      const d = await measure(signedRead(direct, ''), n, 64);
      const before = cpuMs(b.pid);
      const p = await measure(signedRead(proxied, '/spot'), n, 64);
      const after = cpuMs(b.pid);
      // the proxy's own CPU per request: what one proxy process can carry on a core of its own
      const perRequest = before !== undefined && after !== undefined ? (after - before) / (n + Math.min(200, n / 10)) : Number.NaN;
      lines.push(
        '| throughput (64 in flight; load generator, simulator, proxy and Redis share the machine) | requests/s | p50 | p99 |',
        '|---|---|---|---|',
        `| direct to the simulator (baseline) | ${d.perSecond.toFixed(0)} | ${ms(d.p50Ms)} | ${ms(d.p99Ms)} |`,
        `| through one proxy process | ${p.perSecond.toFixed(0)} | ${ms(p.p50Ms)} | ${ms(p.p99Ms)} |`,
        `| the proxy process's CPU per request (user + system) | ${ms(perRequest)}: ${(1000 / perRequest).toFixed(0)} requests/s on a core of its own | | |`,
        '',
      );
      targets.push({
        label: 'requests/s through one proxy >= 3,000',
        met: p.perSecond >= 3000,
        value: `${p.perSecond.toFixed(0)} (direct ${d.perSecond.toFixed(0)}; proxy CPU ${ms(perRequest)} per request = ${(1000 / perRequest).toFixed(0)}/s on a core of its own)`,
      });
    }
  } finally {
    await direct.close();
    await proxied.close();
    await b.stop();
  }
}

function fleetRow(name: string, r: FleetResult): string {
  return `| ${name} | ${(100 * r.utilization).toFixed(1)} % (${r.windows} windows) | ${r.outcomes['429000'] ?? 0} | ${r.outcomes['1015'] ?? 0} | ${r.latency.critical.p50.toFixed(1)} / ${r.latency.critical.p99.toFixed(1)} ms | ${r.latency.normal.p50.toFixed(1)} / ${r.latency.normal.p99.toFixed(1)} ms | ${r.outcomes['400002'] ?? 0} |`;
}

async function fleet(): Promise<void> {
  const spot = { limit: 4_000, windowMs: 30_000 }; // KuCoin's VIP 0 Spot quota, the default
  log(`fleet through the proxies: ${fleetSeconds} s`);
  const proxied = await runProxyFleet({ redisUrl, seconds: fleetSeconds, spot, concurrency: 4 });
  log(`fleet baseline, the same bots sent directly: ${fleetSeconds} s`);
  const direct = await runProxyFleet({ redisUrl, seconds: fleetSeconds, spot, concurrency: 4, direct: true });
  lines.push(
    `| fleet (${fleetSeconds} s, Spot 4000 / 30 s) | quota used | 429000 | 1015 | cancel p50 / p99 | read p50 / p99 | 400002 |`,
    '|---|---|---|---|---|---|---|',
    fleetRow('3 bots through 2 proxies + 1 library bot', proxied),
    fleetRow('the same bots sent directly (baseline; the library bot still scheduled)', direct),
    '',
  );
  targets.push({ label: 'fleet >= 97 % of the quota', met: proxied.utilization >= 0.97, value: `${(100 * proxied.utilization).toFixed(1)} %` });
  targets.push({ label: 'fleet 0 x 429000', met: (proxied.outcomes['429000'] ?? 0) === 0, value: String(proxied.outcomes['429000'] ?? 0) });
  targets.push({ label: 'fleet critical p99 < 50 ms', met: proxied.latency.critical.p99 < 50, value: ms(proxied.latency.critical.p99) });
  targets.push({
    label: 'fleet: forwarded with an expired timestamp (400002) = 0',
    met: (proxied.outcomes['400002'] ?? 0) === 0,
    value: String(proxied.outcomes['400002'] ?? 0),
  });
}

/**
 * Signed requests 3.5-4.9 s old meet a pool that admits in bursts: none may reach KuCoin with an expired timestamp.
 * At the default margin (1 s kept for the way to KuCoin), and with none (the proxy forwards up to the 5 s itself).
 */
async function expired(marginMs: number | undefined): Promise<void> {
  const label = marginMs === undefined ? 'the default margin (1 s)' : `timestampMarginMs ${marginMs}`;
  log(`expired: 2000 signed reads, 3.5 to 4.9 s old, against a small pool, ${label}`);
  const sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: UID }], pools: { Spot: { limit: 40, windowMs: 1_000 } }, cloudflare: false });
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-expired-'));
  writeFileSync(
    join(dir, 'proxy.json'),
    JSON.stringify({
      upstreams: sim.urls,
      scheduler: { pools: { spot: { limit: 40, windowMs: 1_000 } }, cloudflare: false },
      ...(marginMs === undefined ? {} : { timestampMarginMs: marginMs }),
    }),
  );
  const proxy = startProxyProcess(['--listen', '127.0.0.1:0', '--account', `${apiKeyHash(KEY.key)}=${UID}`, '--config', join(dir, 'proxy.json')]);
  const pool = new Pool(await proxy.url, { connections: 256 });
  const target = '/api/v1/hf/orders/active?symbol=BTC-USDT';
  const answers: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: 2000 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i));
      const res = await pool.request({
        path: `/spot${target}`,
        method: 'GET',
        headers: authHeaders(KEY, 'GET', target, '', Date.now() - 3_500 - Math.floor(Math.random() * 1_400)),
      });
      const body = (await res.body.json()) as { code: string };
      const key = `${res.statusCode} ${body.code}${res.headers['x-ks-proxy'] ? ' (local)' : ''}`;
      answers[key] = (answers[key] ?? 0) + 1;
    }),
  );
  const exited = new Promise((r) => proxy.child.once('exit', r));
  proxy.child.kill('SIGTERM');
  await exited;
  await pool.close();
  const outcomes = sim.stats().outcomes;
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
  lines.push(
    `| signed reads 3.5-4.9 s old, 2000 over 2 s, Spot 40 / 1 s, ${label} | count |`,
    '|---|---|',
    ...Object.entries(answers).map(([k, v]) => `| bot got ${k} | ${v} |`),
    ...Object.entries(outcomes).map(([k, v]) => `| KuCoin (simulator) saw ${k} | ${v} |`),
    '',
  );
  if (marginMs === undefined)
    targets.push({ label: 'requests forwarded with an expired timestamp = 0', met: (outcomes['400002'] ?? 0) === 0, value: String(outcomes['400002'] ?? 0) });
}

const started = Date.now();
log(`bench:proxy against Redis ${new URL(redisUrl).host}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
if (!skip.has('overhead') || !skip.has('throughput')) await overheadAndThroughput();
if (!skip.has('fleet')) await fleet();
if (!skip.has('expired')) {
  await expired(undefined);
  await expired(0); // what the margin is for: without it, a request admitted at the last moment may arrive late
}
process.stdout.write(`${lines.join('\n')}\n`);
for (const t of targets) process.stdout.write(`${t.met ? 'MET ' : 'MISS'} ${t.label}: ${t.value}\n`);
process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(0)} s; machine ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'})\n`);
process.exit(0);
