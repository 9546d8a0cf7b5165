import { expect, inject, it } from 'vitest';
import { heapTrend, soak } from './soakRun.js';

it('soak (short form): 3 processes for 16 s: no stall, never over the limit, memory flat, queues drained', async () => {
  const r = await soak(inject('redisUrl'), 3, 16_000);
  const trends = r.reports.map(heapTrend);
  console.log(
    `soak: ${r.windows.length} windows, weight ${r.windows.map((w) => w.offered).join(' ')} / ${r.limit}; 429000 ${r.rejected429000}; idle seconds ${r.idleSeconds}; ` +
      `heap MB first->last ${trends.map((t) => `${t.first.toFixed(1)}->${t.last.toFixed(1)}`).join(', ')}; queued at end ${r.reports.map((x) => x.queuedAtEnd).join(', ')}; sent ${r.reports.map((x) => x.sent).join(', ')}`,
  );
  for (const w of r.windows) expect(w.offered).toBeLessThanOrEqual(r.limit);
  expect(r.rejected429000).toBe(0);
  expect(r.idleSeconds).toBe(0);
  for (const x of r.reports) expect(x.queuedAtEnd).toBe(0);
  for (const t of trends) expect(t.last).toBeLessThan(t.first * 1.5 + 5);
}, 60_000);
