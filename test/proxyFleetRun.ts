// The proxy fleet, as OS processes on one Redis against the gateway simulator: 2 proxies (`kucoin-scheduler proxy`,
// two "hosts"), 3 bot processes through them in two languages (2 Python requests bots, 1 Node ccxt bot) and 1 Node
// bot on the library directly (KucoinClient). Used by test/proxyFleet.test.ts (a few seconds) and bench/proxyFleet.ts.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiKeyHash } from '../src/index.js';
import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import type { FleetBotConfig, FleetBotReport } from './fixtures/proxyFleetBot.js';
import { KEY, UID } from './helpers/proxySetup.js';
import { forkWorker } from './helpers/processes.js';
import { startProxyProcess } from './helpers/proxyProcess.js';

const PYTHON = '/usr/bin/python3';
const pythonBot = fileURLToPath(new URL('./fixtures/proxy_bot.py', import.meta.url));

export interface FleetOptions {
  readonly redisUrl: string;
  /** How long the bots send. */
  readonly seconds: number;
  /** The account's Spot pool, in the simulator and every scheduler. */
  readonly spot: { readonly limit: number; readonly windowMs: number };
  /** Loops (threads) per bot process. */
  readonly concurrency: number;
  /** The baseline: the Python and ccxt bots send to the simulator directly (no proxy); the library bot is unchanged. @default false */
  readonly direct?: boolean;
}

export interface FleetResult {
  /** Each bot's report, by name. */
  readonly bots: Record<string, FleetBotReport>;
  /** Every outcome the simulator counted ('ok', '429000', '1015'...). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Weight the simulator admitted in each Spot window that lay wholly inside the run, over its limit. */
  readonly utilization: number;
  readonly windows: number;
  /** Requests each proxy forwarded and answered locally. */
  readonly proxies: { forwarded: number; refused: Record<string, number> }[];
  /** Latency of successful requests over all bots, by priority: p50 and p99 in ms. */
  readonly latency: Record<'critical' | 'high' | 'normal', { p50: number; p99: number; n: number }>;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
};

function python(url: string, seconds: number, threads: number, name: string): Promise<FleetBotReport> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [pythonBot, 'load', url, String(seconds), String(threads)],
      {
        env: { ...process.env, KUCOIN_KEY: KEY.key, KUCOIN_SECRET: KEY.secret, KUCOIN_PASSPHRASE: KEY.passphrase, BOT_NAME: name },
        timeout: (seconds + 60) * 1000,
      },
      (error, stdout, stderr) => (error ? reject(new Error(`${name}: ${error.message} ${stderr}`)) : resolve(JSON.parse(stdout) as FleetBotReport)),
    );
  });
}

export async function runProxyFleet(o: FleetOptions): Promise<FleetResult> {
  const sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: UID }], pools: { Spot: o.spot }, cloudflare: false });
  const dir = mkdtempSync(join(tmpdir(), 'ks-proxy-fleet-'));
  const prefix = `ks-fleet-${randomUUID()}`;
  const config = join(dir, 'proxy.json');
  writeFileSync(config, JSON.stringify({ upstreams: sim.urls, scheduler: { pools: { spot: o.spot }, cloudflare: false } }));
  const args = ['--redis', o.redisUrl, '--prefix', prefix, '--listen', '127.0.0.1:0', '--account', `${apiKeyHash(KEY.key)}=${UID}`, '--config', config];
  const proxies = [startProxyProcess(args), startProxyProcess(args)];
  try {
    const [a, b] = await Promise.all(proxies.map((p) => p.url));
    const started = Date.now(); // before any bot: the first server window opens after this
    const bot = (config: Omit<FleetBotConfig, 'uid' | 'key' | 'spot' | 'seconds' | 'concurrency'>) =>
      forkWorker<FleetBotReport>('proxyFleetBot.ts', { uid: UID, key: KEY, spot: o.spot, seconds: o.seconds, concurrency: o.concurrency, ...config });
    const via = (url: string) => (o.direct ? sim.urls : { spot: `${url}/spot`, futures: `${url}/futures`, broker: `${url}/broker` });
    const ccxtBot = bot({ mode: 'ccxt', baseUrls: via(b!) });
    const libraryBot = bot({ mode: 'library', baseUrls: sim.urls, redisUrl: o.redisUrl, prefix });
    await Promise.all([ccxtBot.ready, libraryBot.ready]);
    const [pyA, pyB, ccxtReport, libraryReport] = await Promise.all([
      python(via(a!).spot, o.seconds, o.concurrency, 'python-a'),
      python(via(b!).spot, o.seconds, o.concurrency, 'python-b'),
      ccxtBot.done,
      libraryBot.done,
    ]);
    const ended = Date.now();
    const counts: { forwarded: number; refused: Record<string, number> }[] = [];
    for (const p of proxies) {
      const exited = new Promise((r) => p.child.once('exit', r));
      p.child.kill('SIGTERM');
      await exited;
      const closed = p.lines().find((l) => l.event === 'closed') as { forwarded: number } | undefined;
      const refused: Record<string, number> = {};
      for (const l of p.lines()) if (l.event === 'refused') refused[String(l.code)] = (refused[String(l.code)] ?? 0) + 1;
      counts.push({ forwarded: closed?.forwarded ?? -1, refused });
    }
    const stats = sim.stats();
    const full = (stats.windows[`uid:${UID}:Spot`] ?? []).filter((w) => w.start >= started && w.start + o.spot.windowMs <= ended);
    const bots = { 'python-a': pyA, 'python-b': pyB, ccxt: ccxtReport, library: libraryReport };
    const all = Object.values(bots);
    const latency = Object.fromEntries(
      (['critical', 'high', 'normal'] as const).map((k) => {
        const xs = all.flatMap((r) => r.latency[k]);
        return [k, { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), n: xs.length }];
      }),
    ) as FleetResult['latency'];
    return {
      bots,
      outcomes: stats.outcomes,
      utilization: full.length ? full.reduce((s, w) => s + w.weight, 0) / (full.length * o.spot.limit) : Number.NaN,
      windows: full.length,
      proxies: counts,
      latency,
    };
  } finally {
    for (const p of proxies) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
