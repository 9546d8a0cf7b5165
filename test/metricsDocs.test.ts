// docs/metrics.md and the Grafana dashboard name only metrics the exporter writes, and the docs list every one.
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { createScheduler, MemoryStore } from '../src/index.js';
import { collectMetrics } from '../src/metrics/index.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
/** Metric names in a text, a histogram's series (`_bucket`, `_sum`, `_count`) named by the histogram. */
const namesIn = (text: string, histograms: ReadonlySet<string>) =>
  new Set(
    [...text.matchAll(/kucoin_scheduler_[a-z_]*[a-z]/g)].map(([n]) =>
      n.replace(/_(bucket|sum|count)$/, (s, _x, i: number) => (histograms.has(n.slice(0, i)) ? '' : s)),
    ),
  );

it('every metric the docs and the dashboard name is exported, and every exported metric and bucket kind is documented', async () => {
  const scheduler = createScheduler({ uid: 'u1', store: new MemoryStore(), endpointLimits: { 'futures POST /api/v1/orders': { limit: 10, windowMs: 1000 } } });
  const registry = new Registry();
  const stop = collectMetrics(scheduler, { registry });
  // a guard of each kind in the snapshot: host, key, endpoint
  await scheduler.schedule({ endpoint: 'POST /api/v1/orders', host: 'futures', keyId: 'k1' }, async () => 'ok');
  const metrics = await registry.getMetricsAsJSON();
  const exported = new Set(metrics.map((m) => m.name));
  const histograms = new Set(metrics.filter((m) => String(m.type) === 'histogram').map((m) => m.name));
  const docs = read('docs/metrics.md');
  const dashboard = JSON.parse(read('docs/grafana/kucoin-scheduler.json')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');

  expect([...namesIn(docs, histograms)].filter((n) => !exported.has(n))).toEqual([]);
  expect([...namesIn(exprs, histograms)].filter((n) => !exported.has(n))).toEqual([]);
  expect([...exported].filter((n) => !docs.includes(`\`${n}\``))).toEqual([]);
  expect(namesIn(exprs, histograms).size).toBeGreaterThanOrEqual(12);

  // every kind of bucket the gauges label is in the docs' table
  const kinds = new Set(
    (await scheduler.snapshot()).buckets.map((b) =>
      b.id
        .replace(/^uid:u1:ep:.*/, ':ep:')
        .replace(/^(uid|ip|key):[^:]+:/, '$1:')
        .replace(/^host:(\w+):guard$/, 'host:$1:guard'),
    ),
  );
  for (const kind of kinds) {
    const shown =
      kind === ':ep:'
        ? '`uid:<uid>:ep:<host> <METHOD> <path>`'
        : kind
            .replace(/^uid:/, ':')
            .replace(/^ip:/, 'ip:<ip>:')
            .replace(/^key:circuit$/, 'key:<keyId>:circuit');
    expect(docs, kind).toContain(shown);
  }
  stop();
  await scheduler.close();
});
