// The proxy's /metrics, through prom-client (an optional peer dependency). Loaded only when a proxy serves
// metrics, by a dynamic import, with prom-client handed in: the package's main entry never loads prom-client.
import type * as PromClient from 'prom-client';
import { collectMetrics } from '../metrics/collectMetrics.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { ProxyStats } from './proxyStats.js';

const SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/**
 * A registry of the proxy's own metrics (prefix `kucoin_proxy_`) and of every account's scheduler (prefix
 * `kucoin_scheduler_`, see collectMetrics; a second account's scheduler gets `kucoin_scheduler_<uid>_`):
 *
 * - `kucoin_proxy_forwarded_total`, `kucoin_proxy_replies_total{class}`, `kucoin_proxy_refused_total{code}`,
 *   `kucoin_proxy_signals_total{signal}`, `kucoin_proxy_in_flight`, `kucoin_proxy_websockets`;
 * - `kucoin_proxy_seconds{part}` (histogram): `total` (arrival to answer), `wait` (admission), `upstream` (KuCoin).
 */
export function proxyRegistry(
  prom: typeof PromClient,
  stats: ProxyStats,
  schedulers: readonly { readonly uid: string; readonly scheduler: Scheduler }[],
): PromClient.Registry {
  const { Counter, Gauge, Histogram, Registry } = prom;
  const registry = new Registry();
  const registers = [registry];
  const fromMap = (name: string, help: string, label: string, map: () => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        // the counts are kept in ProxyStats: each scrape reports them as they are
        this.reset();
        for (const [key, value] of Object.entries(map())) this.inc({ [label]: key }, value);
      },
    });
  new Counter({
    name: 'kucoin_proxy_forwarded_total',
    help: 'Requests sent to KuCoin (a re-sent refusal counts each send)',
    registers,
    collect() {
      this.reset();
      this.inc(stats.forwarded);
    },
  });
  fromMap('kucoin_proxy_replies_total', "KuCoin's replies, by HTTP status class", 'class', () => stats.replies);
  fromMap(
    'kucoin_proxy_refused_total',
    'Requests the proxy answered itself, by code (429000: not admitted in time, nothing sent)',
    'code',
    () => stats.refused,
  );
  fromMap('kucoin_proxy_signals_total', "KuCoin's rate-limit signals, by signal", 'signal', () => stats.signals);
  new Gauge({
    name: 'kucoin_proxy_in_flight',
    help: 'Requests in the proxy (waiting for admission or forwarded)',
    registers,
    collect() {
      this.set(stats.inFlight);
    },
  });
  new Gauge({
    name: 'kucoin_proxy_websockets',
    help: 'WebSocket connections relayed now',
    registers,
    collect() {
      this.set(stats.websockets);
    },
  });
  const seconds = new Histogram({ name: 'kucoin_proxy_seconds', help: 'Time per request, by part', labelNames: ['part'], buckets: SECONDS, registers });
  stats.onTiming((part, s) => seconds.observe({ part }, s));
  schedulers.forEach(({ uid, scheduler }, i) => {
    collectMetrics(scheduler, { registry, prefix: i === 0 ? 'kucoin_scheduler_' : `kucoin_scheduler_${uid.replace(/[^A-Za-z0-9_]/g, '_')}_`, labels: { uid } });
  });
  return registry;
}
