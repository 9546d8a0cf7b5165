// The cases of the quota-fidelity bench (issue 9): every one at the library's defaults, a tuned row only
// beside them and labelled as tuned.

export type Workload = 'single' | 'mixed';

export interface FidelityCase {
  /** Short name used by --cases and in the report. */
  readonly name: string;
  readonly label: string;
  /** `single`: every request at the default priority (normal); `mixed`: low flood, orders, poller, cancels. */
  readonly workload: Workload;
  /** Latency the simulator adds to each reply, uniform in [min, max] ms. */
  readonly latencyMs: { readonly min: number; readonly max: number };
  /** Share of the pool a hidden consumer (a web UI on the same UID) spends; 0 for none. */
  readonly hiddenShare: number;
  /** Set only for a tuned row: the transitMarginMs given to the scheduler. Undefined = the default. */
  readonly tunedMarginMs?: number;
  /** Whether Bottleneck and no limiter run beside it as baselines. */
  readonly baselines: boolean;
}

const LAN = { min: 2, max: 15 };
const WAN = { min: 50, max: 200 };

export const FIDELITY_CASES: readonly FidelityCase[] = [
  { name: 'single', label: 'single priority (normal only)', workload: 'single', latencyMs: LAN, hiddenShare: 0, baselines: false },
  { name: 'mixed', label: 'mixed, low-priority flood', workload: 'mixed', latencyMs: LAN, hiddenShare: 0, baselines: true },
  { name: 'hidden', label: 'mixed + hidden consumer 10 %', workload: 'mixed', latencyMs: LAN, hiddenShare: 0.1, baselines: false },
  { name: 'wan', label: 'mixed, 50-200 ms latency', workload: 'mixed', latencyMs: WAN, hiddenShare: 0, baselines: false },
  { name: 'tuned', label: 'mixed, TUNED transitMarginMs 50', workload: 'mixed', latencyMs: LAN, hiddenShare: 0, tunedMarginMs: 50, baselines: false },
];

/** Request loops per process: enough that one process alone saturates the pool at that latency. */
export function loopsFor(c: FidelityCase): number {
  return c.latencyMs.max >= 100 ? 12 : 1;
}
