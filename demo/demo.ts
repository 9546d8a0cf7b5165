// npm run demo [-- --help]
// Several bots in one process share one UID's Spot pool through the scheduler (embedded MemoryStore, no
// Redis) and send to a local server that counts weight in KuCoin's fixed windows and answers 429000
// when a window is spent. `--no-scheduler` runs the same bots without it.
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { createScheduler, type Priority } from '../src/index.js';
import { startCountingServer } from '../src/simulator/countingServer.js';

const HELP = `kucoin-scheduler demo: bots sharing one KuCoin quota

Usage: npm run demo -- [options]

  --seconds N       how long the bots run (default 12)
  --limit N         Spot pool weight per window (default 400; KuCoin's VIP0 is 4000 / 30 s)
  --window-ms N     window length (default 3000, short so a run shows several windows)
  --bots N          order-placing bots (default 3), plus one market-data poller and one canceller
  --no-scheduler    the same bots without the scheduler, to see the 429000s it avoids
  --help            this text
`;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '12' },
    limit: { type: 'string', default: '400' },
    'window-ms': { type: 'string', default: '3000' },
    bots: { type: 'string', default: '3' },
    'no-scheduler': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const num = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} expects a number > 0, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const seconds = num('seconds', values.seconds);
const limit = num('limit', values.limit);
const windowMs = num('window-ms', values['window-ms']);
const bots = num('bots', values.bots);
const useScheduler = !values['no-scheduler'];

const server = await startCountingServer({ limit, windowMs });
const scheduler = createScheduler({ uid: 'demo-uid', transitMarginMs: 50, agingMs: 2 * windowMs, pools: { spot: { limit, windowMs } }, cloudflare: false });
const agent = new Agent({ connections: 64 });
const stop = new AbortController();
const waits: Record<Priority, number[]> = { critical: [], high: [], normal: [], low: [] };
let got429 = 0;
let sent = 0;

async function send(priority: Priority, weight: number): Promise<void> {
  const t0 = Date.now();
  const call = async () => {
    waits[priority].push(Date.now() - t0);
    sent++;
    const res = await request(`${server.url}/api/v1/hf/orders`, { method: 'POST', headers: { 'x-ks-weight': String(weight) }, dispatcher: agent });
    await res.body.text();
    if (res.statusCode === 429) got429++;
  };
  try {
    if (useScheduler) await scheduler.schedule({ pool: 'spot', weight, priority, signal: stop.signal }, call);
    else await call();
  } catch (err) {
    if ((err as { code?: string }).code !== 'KS_ABORTED') throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = Date.now() + seconds * 1000;
const loop = async (priority: Priority, weight: number, pauseMs: number) => {
  while (Date.now() < until && !stop.signal.aborted) {
    await send(priority, weight);
    if (pauseMs > 0) await sleep(pauseMs);
  }
};

process.once('SIGINT', () => stop.abort());
const start = Date.now();
const ticker = setInterval(() => {
  const w = server.stats().windows.at(-1);
  const line = w
    ? `t=${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s  window weight ${String(w.weight).padStart(5)} / ${limit}  ends in ${String(Math.max(0, w.end - Date.now())).padStart(5)} ms  429000 so far ${server.stats().rejected429000}`
    : 'waiting for the first request';
  process.stdout.write(`${line}\n`);
}, 1000);

await Promise.all([
  ...Array.from({ length: bots }, () => loop('high', 1, 0)), // order placers
  loop('low', 2, 0), // market-data poller
  loop('normal', 5, 200), // balance poller
  (async () => {
    // risk events: a burst of cancels every few seconds
    while (Date.now() < until && !stop.signal.aborted) {
      await sleep(2500);
      await Promise.all(Array.from({ length: 10 }, () => send('critical', 1)));
    }
  })(),
]);
stop.abort();
clearInterval(ticker);

const { windows, rejected429000 } = server.stats();
const q = (a: number[], p: number) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN);
process.stdout.write(`\n${useScheduler ? 'with the scheduler' : 'WITHOUT the scheduler'}: ${sent} requests sent\n`);
for (const [i, w] of windows.entries()) {
  process.stdout.write(`  window ${i + 1}: weight arrived ${String(w.offered).padStart(5)} / ${limit}  admitted ${String(w.weight).padStart(5)}  rejected 429000 ${w.rejected}\n`);
}
process.stdout.write(`  429000 answers: ${rejected429000}\n`);
if (useScheduler) {
  for (const p of ['critical', 'high', 'normal', 'low'] as const) {
    process.stdout.write(`  ${p.padEnd(8)} ${String(waits[p].length).padStart(5)} admitted  wait p50 ${q(waits[p], 0.5)} ms  p99 ${q(waits[p], 0.99)} ms\n`);
  }
}
await scheduler.close();
await agent.close();
await server.close();
