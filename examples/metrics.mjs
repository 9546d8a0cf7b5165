// Prometheus metrics: collectMetrics (from 'kucoin-scheduler/metrics', needs prom-client) fills a registry
// that your /metrics endpoint serves. Here a tiny HTTP server serves it and the example scrapes it once.
import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import { createScheduler } from 'kucoin-scheduler';
import { collectMetrics } from 'kucoin-scheduler/metrics';

const scheduler = createScheduler({ uid: '123456789' });
const registry = new Registry();
const stop = collectMetrics(scheduler, { registry });
const server = createServer(async (_req, res) => {
  res.setHeader('content-type', registry.contentType).end(await registry.metrics());
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

await scheduler.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, async () => 'order');
const text = await (await fetch(`http://127.0.0.1:${server.address().port}/metrics`)).text(); // what Prometheus scrapes
console.log(text.split('\n').find((line) => line.startsWith('kucoin_scheduler_bucket_used_weight{bucket="uid:123456789:Spot"}')));

server.close();
stop();
await scheduler.close();
