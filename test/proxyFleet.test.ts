// The proxy fleet (issue 18): 2 proxies, 3 bot processes in two languages through them, 1 Node bot on the library,
// one Redis; the simulator checks what it received: no 429000, no 1015, cancels first. A few seconds; the long
// measurement is bench/proxyFleet.ts.
import { expect, inject, it } from 'vitest';
import { runProxyFleet } from './proxyFleetRun.js';

it('2 proxies, 2 Python bots and a ccxt bot through them, a library bot beside them: KuCoin sees 0 x 429000 and no 1015, cancels are never refused and go first', async () => {
  const r = await runProxyFleet({ redisUrl: inject('redisUrl'), seconds: 5, spot: { limit: 200, windowMs: 2_000 }, concurrency: 4 });
  console.log(
    `proxy fleet (5 s, Spot 200 / 2 s): simulator ${JSON.stringify(r.outcomes)}; utilization ${(100 * r.utilization).toFixed(1)} % of ${r.windows} whole windows; ` +
      `latency ms critical p50 ${r.latency.critical.p50.toFixed(1)} p99 ${r.latency.critical.p99.toFixed(1)} (n ${r.latency.critical.n}), ` +
      `high p50 ${r.latency.high.p50.toFixed(1)}, normal p50 ${r.latency.normal.p50.toFixed(1)}; proxies ${JSON.stringify(r.proxies)}; ` +
      `bots ${JSON.stringify(Object.fromEntries(Object.entries(r.bots).map(([k, b]) => [k, { ok: b.ok, local429: b.local429, kucoin429: b.kucoin429, other: b.other }])))}`,
  );
  expect(r.outcomes['429000'] ?? 0).toBe(0);
  expect(r.outcomes['1015'] ?? 0).toBe(0);
  expect(Object.keys(r.outcomes).filter((o) => o !== 'ok')).toEqual([]); // every signature verified, nothing else refused
  for (const [name, bot] of Object.entries(r.bots)) {
    expect(bot.ok, name).toBeGreaterThan(10);
    expect(bot.kucoin429, name).toBe(0);
    expect(bot.local429.critical, name).toBe(0); // cancels are never refused
    expect(bot.other, name).toEqual({});
  }
  // every bot, in both languages, through both proxies, got a share
  expect(r.proxies.every((p) => p.forwarded > 10)).toBe(true);
  // cancels go first: they wait less than the reads that compete with them
  expect(r.latency.critical.p50).toBeLessThan(r.latency.normal.p50);
  expect(r.utilization).toBeGreaterThan(0.8);
}, 60_000);
