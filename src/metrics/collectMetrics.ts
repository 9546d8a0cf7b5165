import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { InvalidArgumentError } from '../errors.js';
import type { Scheduler, SchedulerSnapshot } from '../scheduler/scheduler.js';
import { PRIORITIES } from '../store/types.js';

/** Options of `collectMetrics`. */
export interface MetricsOptions {
  /** Where the metrics are registered. @default prom-client's global `register` */
  readonly registry?: Registry;
  /** Prefix of every metric name. @default 'kucoin_scheduler_' */
  readonly prefix?: string;
  /** Labels added to every metric, e.g. `{ account: 'main' }` when one process runs several schedulers. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Upper bounds (seconds) of the wait histogram's buckets. @default [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120] */
  readonly waitBuckets?: readonly number[];
}

const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120];

/** Every metric name, after the prefix. */
export const METRIC_NAMES = [
  'scrape_errors_total',
  'bucket_used_weight',
  'bucket_limit_weight',
  'bucket_effective_limit_weight',
  'bucket_factor',
  'bucket_paused',
  'bucket_hidden_weight',
  'endpoint_buckets',
  'endpoint_buckets_paused',
  'queued_requests',
  'running_requests',
  'admission_wait_seconds',
  'admitted_weight_total',
  'rejected_total',
  'signals_total',
  'store_degraded',
  'store_degraded_total',
  'store_errors_total',
] as const;

/** Endpoint buckets (one per endpoint, up to 1024 per scheduler) labelled in the bucket gauges at most. */
export const MAX_ENDPOINT_BUCKET_SERIES = 50;

/**
 * An endpoint bucket's id: `uid:<uid>:ep:<host> <METHOD> <path>` (src/scheduler/requestPlan.ts). No other bucket id holds a
 * space (a uid, an IP identity and a key id never do).
 */
const ENDPOINT_BUCKET_ID = /^uid:\S+:ep:\S+ /;

type BucketSnapshot = SchedulerSnapshot['buckets'][number];

/**
 * The buckets the gauges label at one scrape: every pool, IP, system and guard bucket; of the endpoint buckets
 * only those that say something (paused, tightened, charged or with hidden weight: one with a configured limit,
 * or paused by a 200002), at most MAX_ENDPOINT_BUCKET_SERIES, the paused first (latest pause first), then the
 * most used. An unconfigured endpoint bucket at rest (weight 0, nothing to show) is only counted.
 */
function labelledBuckets(buckets: readonly BucketSnapshot[]): { shown: BucketSnapshot[]; endpoints: number; pausedEndpoints: number } {
  const shown: BucketSnapshot[] = [];
  const telling: BucketSnapshot[] = [];
  let endpoints = 0;
  let pausedEndpoints = 0;
  for (const b of buckets) {
    if (!ENDPOINT_BUCKET_ID.test(b.id)) {
      shown.push(b);
      continue;
    }
    endpoints++;
    const paused = b.pausedUntil > b.now;
    if (paused) pausedEndpoints++;
    if (paused || b.used > 0 || b.factor < 1 || b.hidden > 0) telling.push(b);
  }
  telling.sort((x, y) => (y.pausedUntil > y.now ? y.pausedUntil : 0) - (x.pausedUntil > x.now ? x.pausedUntil : 0) || y.used - x.used);
  shown.push(...telling.slice(0, MAX_ENDPOINT_BUCKET_SERIES));
  return { shown, endpoints, pausedEndpoints };
}

/**
 * Exposes a scheduler to Prometheus through prom-client (an optional peer dependency):
 *
 * - per bucket, read from `snapshot()` at each scrape (so what every process shares in Redis):
 *   `bucket_used_weight`, `bucket_limit_weight`, `bucket_effective_limit_weight`, `bucket_factor`,
 *   `bucket_paused` (1 while paused), `bucket_hidden_weight`; the series follow the live buckets (a bucket the
 *   scheduler dropped loses its series at the next scrape): every pool, IP, system and guard bucket, and at most
 *   MAX_ENDPOINT_BUCKET_SERIES endpoint buckets that have something to show (`labelledBuckets`);
 *   `endpoint_buckets` and `endpoint_buckets_paused` count them all; and this process's
 *   `queued_requests{priority}`, `running_requests{priority}`;
 * - `admission_wait_seconds{priority,pool}` (histogram: its `_count` is admissions per priority) and
 *   `admitted_weight_total{priority,pool}`, from `admitted` events; `rejected_total{priority,code}`;
 * - `signals_total{signal,scope}`, from `feedback` events (429000, 1015, 429001, 429002, 200002...);
 * - store health: `store_degraded` (1 while Redis is unreachable and the local share admits),
 *   `store_degraded_total`, `store_errors_total`, `scrape_errors_total` (a snapshot that failed; the
 *   bucket gauges then keep their last values).
 *
 * Returns a function that removes the listeners and unregisters the metrics. One call per scheduler and
 * registry; with several schedulers in one registry, give each its own `prefix`.
 */
export function collectMetrics(scheduler: Scheduler, options: MetricsOptions = {}): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'kucoin_scheduler_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))
    throw new InvalidArgumentError(`Expected prefix to be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${JSON.stringify(prefix)}`);
  const constLabels = options.labels ?? {};
  const labelNames = Object.keys(constLabels);
  const registers = [registry];
  const taken = METRIC_NAMES.find((n) => registry.getSingleMetric(`${prefix}${n}`));
  if (taken)
    throw new InvalidArgumentError(
      `Expected a registry without ${prefix}${taken}: give each scheduler of one registry its own prefix (or call the function collectMetrics returned first)`,
    );
  const named = (name: (typeof METRIC_NAMES)[number]) => `${prefix}${name}`;

  // one snapshot per scrape: every gauge's collect() starts in the same tick and shares the one in flight
  type Scrape = { readonly snap: SchedulerSnapshot; readonly labelled: ReturnType<typeof labelledBuckets> };
  let inFlight: Promise<Scrape | undefined> | undefined;
  const snapshot = () =>
    (inFlight ??= scheduler
      .snapshot()
      .then((snap) => ({ snap, labelled: labelledBuckets(snap.buckets) }))
      .catch(() => {
        scrapeErrors.inc(constLabels);
        return undefined;
      })
      .finally(() => queueMicrotask(() => (inFlight = undefined))));

  const bucketGauge = (name: (typeof METRIC_NAMES)[number], help: string, value: (b: BucketSnapshot) => number) =>
    new Gauge({
      name: named(name),
      help,
      labelNames: [...labelNames, 'bucket'],
      registers,
      async collect() {
        const scrape = await snapshot();
        if (!scrape) return; // a failed snapshot: the last values stay
        this.reset(); // the series follow the live buckets: one dropped (or no longer shown) goes
        for (const b of scrape.labelled.shown) this.set({ ...constLabels, bucket: b.id }, value(b));
      },
    });

  const scrapeErrors = new Counter({
    name: named('scrape_errors_total'),
    help: 'Scrapes whose snapshot failed (bucket gauges kept their last values)',
    labelNames,
    registers,
    async collect() {
      await snapshot(); // so this scrape already counts its own failure
    },
  });
  // registered by being created (registers), read at scrape by their collect()
  bucketGauge('bucket_used_weight', 'Weight admitted in the current span of the bucket, by every process sharing it', (b) => b.used);
  bucketGauge('bucket_limit_weight', 'Limit of the bucket (learned from replies when known)', (b) => b.limit);
  bucketGauge('bucket_effective_limit_weight', 'What is admitted now: floor(limit x factor)', (b) => b.effectiveLimit);
  bucketGauge('bucket_factor', 'Factor a 429000 tightened the bucket to (1 = untouched)', (b) => b.factor);
  bucketGauge('bucket_paused', '1 while the bucket is paused (a rate-limit signal or an operator)', (b) => (b.pausedUntil > b.now ? 1 : 0));
  bucketGauge('bucket_hidden_weight', 'Weight the server charged that the scheduler did not send', (b) => b.hidden);
  const endpointCount = (name: (typeof METRIC_NAMES)[number], help: string, value: (l: ReturnType<typeof labelledBuckets>) => number) =>
    new Gauge({
      name: named(name),
      help,
      labelNames,
      registers,
      async collect() {
        const scrape = await snapshot();
        if (scrape) this.set(constLabels, value(scrape.labelled));
      },
    });
  endpointCount('endpoint_buckets', 'Endpoint buckets the scheduler keeps (one per endpoint used, at most 1024)', (l) => l.endpoints);
  endpointCount('endpoint_buckets_paused', 'Endpoint buckets paused now (a 200002, or an operator)', (l) => l.pausedEndpoints);
  new Gauge({
    name: named('queued_requests'),
    help: 'Requests waiting in this process, per priority',
    labelNames: [...labelNames, 'priority'],
    registers,
    async collect() {
      const snap = (await snapshot())?.snap;
      if (!snap) return;
      for (const p of PRIORITIES)
        this.set(
          { ...constLabels, priority: p },
          Object.values(snap.queued).reduce((x, lane) => x + lane[p], 0),
        );
    },
  });
  new Gauge({
    name: named('running_requests'),
    help: 'Requests admitted by this process whose function has not settled, per priority',
    labelNames: [...labelNames, 'priority'],
    registers,
    async collect() {
      const snap = (await snapshot())?.snap;
      if (snap) for (const p of PRIORITIES) this.set({ ...constLabels, priority: p }, snap.runningByPriority[p]);
    },
  });

  const wait = new Histogram({
    name: named('admission_wait_seconds'),
    help: 'Time from schedule() to admission, per priority and pool (count = admissions)',
    labelNames: [...labelNames, 'priority', 'pool'],
    buckets: [...(options.waitBuckets ?? WAIT_BUCKETS)],
    registers,
  });
  const weight = new Counter({
    name: named('admitted_weight_total'),
    help: 'Weight admitted, per priority and pool',
    labelNames: [...labelNames, 'priority', 'pool'],
    registers,
  });
  const rejected = new Counter({
    name: named('rejected_total'),
    help: 'Requests that ended without admission, per priority and error code',
    labelNames: [...labelNames, 'priority', 'code'],
    registers,
  });
  const signals = new Counter({
    name: named('signals_total'),
    help: 'Rate-limit signals the gateway sent, per signal and scope',
    labelNames: [...labelNames, 'signal', 'scope'],
    registers,
  });
  const degraded = new Gauge({
    name: named('store_degraded'),
    help: '1 while Redis is unreachable and this process admits under its local share',
    labelNames,
    registers,
  });
  const degradedTotal = new Counter({ name: named('store_degraded_total'), help: 'Times Redis became unreachable', labelNames, registers });
  const storeErrors = new Counter({ name: named('store_errors_total'), help: 'Store calls that failed (the lane retried)', labelNames, registers });
  degraded.set(constLabels, 0);

  const off = [
    scheduler.on('admitted', (e) => {
      wait.observe({ ...constLabels, priority: e.priority, pool: e.pool }, e.waitedMs / 1000);
      weight.inc({ ...constLabels, priority: e.priority, pool: e.pool }, e.weight);
    }),
    scheduler.on('rejected', (e) => rejected.inc({ ...constLabels, priority: e.priority ?? 'none', code: e.code })),
    scheduler.on('feedback', (e) => signals.inc({ ...constLabels, signal: e.signal, scope: e.scope })),
    scheduler.on('degraded', () => {
      degraded.set(constLabels, 1);
      degradedTotal.inc(constLabels);
    }),
    scheduler.on('recovered', () => degraded.set(constLabels, 0)),
    scheduler.on('storeError', () => storeErrors.inc(constLabels)),
  ];

  return () => {
    for (const f of off) f();
    for (const name of METRIC_NAMES) registry.removeSingleMetric(`${prefix}${name}`);
  };
}
