// Cloudflare learns from a 1015 (issue 9): the IP bucket assumes 500 requests / 10 s; when the real limit is
// lower, a 1015 tightens it below its assumption (as a 429000 tightens a pool), so the fleet is not blocked
// again as soon as the block ends. Real HTTP against the gateway simulator, which counts the blocks.
import { afterEach, expect, it } from 'vitest';
import { createScheduler, KucoinClient, MemoryStore } from '../src/index.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';

let sim: GatewaySimulator | undefined;
let client: KucoinClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = sim = undefined;
});

it('after a 1015 the IP bucket tightens below its assumption: one block, not one per block end', async () => {
  // the real limit is 150 requests / 2 s (blocks of 2 s); the scheduler assumes Cloudflare's 500 / 10 s
  sim = await startGatewaySimulator({ cloudflare: { limit: 150, windowMs: 2000, blockMs: 2000 } });
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), jitterMs: 0 });
  client = new KucoinClient({ scheduler, baseUrls: sim.urls });
  const stop = Date.now() + 8000;
  const loop = async () => {
    while (Date.now() < stop)
      await client!.request({ method: 'GET', path: '/api/v1/market/orderbook/level1', query: { symbol: 'BTC-USDT' }, maxWaitMs: 2000 }).catch(() => undefined);
  };
  await Promise.all(Array.from({ length: 8 }, loop));
  const stats = sim.stats();
  const blocks = stats.blocks.filter((b) => b.scope === 'ip').length;
  const [ip] = (await scheduler.snapshot()).buckets.filter((b) => b.id === 'ip:default:cloudflare');
  console.log(
    `8 s of public requests against a real limit of 150 / 2 s: ${blocks} x 1015 block(s), ${stats.outcomes.ok ?? 0} ok; IP bucket factor ${ip?.factor}`,
  );
  expect(stats.outcomes.ok ?? 0).toBeGreaterThan(150); // it keeps working after the block
  expect(blocks).toBe(1);
  expect(ip?.factor).toBeLessThan(1);
  // the factor does not come back on its own (no headers on that bucket); an operator's resume restores it
  await scheduler.resume('cloudflare');
  const [after] = (await scheduler.snapshot()).buckets.filter((b) => b.id === 'ip:default:cloudflare');
  expect(after).toMatchObject({ factor: 1, pausedUntil: 0 });
  await scheduler.close();
}, 20_000);
