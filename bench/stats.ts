/** Latency samples (ms) → p50/p99 and a rate. */
export interface Measured {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly perSecond: number;
  readonly samples: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN;
}

/**
 * Runs `op` `total` times with `concurrency` in flight; measures each call's latency and the overall rate.
 * A short warm-up comes first and is not counted.
 */
export async function measure(op: () => Promise<unknown>, total: number, concurrency: number): Promise<Measured> {
  for (let i = 0; i < Math.min(200, total / 10); i++) await op();
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const t = performance.now();
        await op();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), perSecond: latencies.length / elapsed, samples: latencies.length };
}
