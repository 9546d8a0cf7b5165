// kucoin-scheduler/metrics: Prometheus metrics through prom-client (an optional peer dependency; this entry
// point is separate so that the main one never loads it).
export { collectMetrics, type MetricsOptions } from './collectMetrics.js';
