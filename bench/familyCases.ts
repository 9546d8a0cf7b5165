// The workload family of the quota bench (issue 17): cases drawn from a seeded generator, so a promise is
// measured over many shapes (tier mix, closed or open loop, lanes, processes, window, limit, latency, a hidden
// consumer of unknown phase), not over the one workload somebody wrote. Every case runs at the library's
// defaults; only the pool quotas are given (and Cloudflare is off in the scheduler and the simulator alike, as
// in the issue: at these rates its 500 requests / 10 s would bind before any pool does).
import type { Priority } from '../src/index.js';

export interface FamilyCase {
  /** `family` for a drawn case, else the named row's name. */
  readonly name: string;
  /** The seed that drew it (`npm run bench -- --family 1 --seed N` runs it again); undefined for a named row. */
  readonly seed: number | undefined;
  readonly processes: number;
  /** Request loops per process. */
  readonly lanes: number;
  /**
   * `closed`: every lane sends its next request as soon as the last one settled, picking its tier from `mix`.
   * `open`: critical and high arrive as Poisson streams at their share of the quota (they fit in it), normal and
   * low are closed lanes that fill the rest.
   */
  readonly loop: 'closed' | 'open';
  /** Share of requests per tier (critical: a cancel, high: an order, normal: a Spot read, low: Public market data). */
  readonly mix: Readonly<Record<Priority, number>>;
  readonly windowMs: number;
  /** Spot and Public quotas per window (weight). */
  readonly spotLimit: number;
  readonly publicLimit: number;
  /** Latency the simulator adds to each reply, uniform in [min, max] ms. */
  readonly latencyMs: { readonly min: number; readonly max: number };
  /** Share of the Spot quota a hidden consumer (a web UI on the same UID) spends; it opens the windows. */
  readonly hiddenShare: number;
  /** Run time, in windows. */
  readonly windows: number;
  /**
   * The pool whose quota the workload runs into first (see `bindingPool`): in a closed loop a lane waits for each
   * of its requests, so the pool that binds holds the others' demand down, and only its quota can be filled.
   */
  readonly binding: 'Spot' | 'Public';
  /**
   * Fairness rows: each process's bot weight (the scheduler's `botWeight`), every lane at one priority
   * (`normal`) and wanting more than it gets. Undefined: every process at the default weight.
   */
  readonly botWeights?: readonly number[];
}

/** Weight each tier's request costs, and its pool (KuCoin's table). */
export const TIER_REQUESTS: Readonly<
  Record<Priority, { readonly method: 'GET' | 'POST' | 'DELETE'; readonly path: string; readonly pool: 'Spot' | 'Public'; readonly weight: number }>
> = {
  critical: { method: 'DELETE', path: '/api/v1/hf/orders/{id}', pool: 'Spot', weight: 1 },
  high: { method: 'POST', path: '/api/v1/hf/orders', pool: 'Spot', weight: 1 },
  normal: { method: 'GET', path: '/api/v1/hf/orders/active', pool: 'Spot', weight: 2 },
  low: { method: 'GET', path: '/api/v1/market/orderbook/level1', pool: 'Public', weight: 2 },
};

/** The issue's closed-loop mix: 16 lanes per process, 40 % orders, 20 % cancels, 20 % reads, 20 % market data. */
export const CLOSED_MIX: FamilyCase = {
  name: 'closed-mix',
  binding: 'Spot',
  seed: undefined,
  processes: 4,
  lanes: 16,
  loop: 'closed',
  mix: { critical: 0.2, high: 0.4, normal: 0.2, low: 0.2 },
  windowMs: 3000,
  spotLimit: 600,
  publicLimit: 400,
  latencyMs: { min: 2, max: 15 },
  hiddenShare: 0,
  windows: 8,
};

/** Four bots of one priority with weights 1, 1, 2, 4, each wanting the whole pool. */
export const FAIR: FamilyCase = {
  name: 'fair',
  binding: 'Spot',
  seed: undefined,
  processes: 4,
  lanes: 8,
  loop: 'closed',
  mix: { critical: 0, high: 0, normal: 1, low: 0 },
  windowMs: 3000,
  spotLimit: 600,
  publicLimit: 400,
  latencyMs: { min: 2, max: 15 },
  hiddenShare: 0,
  windows: 8,
  botWeights: [1, 1, 2, 4],
};

export const NAMED_FAMILY_ROWS: readonly FamilyCase[] = [CLOSED_MIX, FAIR];

/** mulberry32: a small seeded generator, the same draws on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Most weight per second a drawn pool gets: the whole fleet (up to 8 processes, the simulator and Redis) runs on
 * the bench machine, and a higher rate measures the machine, not the scheduler. KuCoin's VIP0 Spot pool is
 * 133 / s (4,000 / 30 s).
 */
export const MAX_RATE_PER_S = 400;

/**
 * The pool a case's demand runs into first. Closed loop: requests per second r cost r x (Spot weight per request)
 * and r x (Public weight per request), so r stops at the smaller of quota rate / weight per request. Open loop:
 * critical and high take their share of Spot; the lanes' reads split Spot (normal) and Public (low).
 */
export function bindingPool(c: Pick<FamilyCase, 'loop' | 'mix' | 'spotLimit' | 'publicLimit'>): 'Spot' | 'Public' {
  const w = TIER_REQUESTS;
  const { critical, high, normal, low } = c.mix;
  if (c.loop === 'closed') {
    const spot = critical * w.critical.weight + high * w.high.weight + normal * w.normal.weight;
    const pub = low * w.low.weight;
    return pub > 0 && c.publicLimit / pub < c.spotLimit / spot ? 'Public' : 'Spot';
  }
  const spotLeft = c.spotLimit * Math.max(0, 1 - critical - high);
  const spot = (normal * w.normal.weight) / (normal + low);
  const pub = (low * w.low.weight) / (normal + low);
  return pub > 0 && c.publicLimit / pub < spotLeft / spot ? 'Public' : 'Spot';
}

/** Draws one case of the family from `seed`. */
export function drawCase(seed: number): FamilyCase {
  const r = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const logUniform = (lo: number, hi: number) => Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)));
  const windowMs = r() < 0.25 ? 30_000 : 3000;
  const spotLimit = Math.round(Math.min(logUniform(300, 4000), (MAX_RATE_PER_S * windowMs) / 1000));
  const publicLimit = Math.round(spotLimit * (0.5 + r() * 0.5));
  const critical = 0.02 + r() * 0.38;
  // the rest split among high, normal and low at random
  const parts = [r() + 0.1, r() + 0.1, r() + 0.1];
  const sum = parts.reduce((a, b) => a + b, 0);
  const mix = { critical, high: ((1 - critical) * parts[0]!) / sum, normal: ((1 - critical) * parts[1]!) / sum, low: ((1 - critical) * parts[2]!) / sum };
  const loop = r() < 0.6 ? 'closed' : 'open';
  let processes = int(1, 8);
  let lanes = int(2, 32);
  const max = Math.max(2, logUniform(2, 200));
  let latencyMs = { min: Math.max(1, Math.round(r() * max)), max: Math.round(max) };
  const hiddenShare = r() < 0.5 ? 0 : 0.05 + r() * 0.15;
  // every case must want more than the quota of the pool that binds (a sender with no limiter would fill each of
  // its windows): where the drawn lanes cannot, there are more lanes, then more processes, then a shorter latency
  const binding = bindingPool({ loop, mix, spotLimit, publicLimit });
  const w = TIER_REQUESTS;
  const perRequest =
    binding === 'Public'
      ? (w.low.weight * mix.low) / (loop === 'open' ? mix.normal + mix.low : 1)
      : loop === 'open'
        ? (w.normal.weight * mix.normal) / (mix.normal + mix.low)
        : w.critical.weight * mix.critical + w.high.weight * mix.high + w.normal.weight * mix.normal;
  const wanted = (2 * (binding === 'Public' ? publicLimit : spotLimit)) / (windowMs / 1000);
  const offered = () => processes * lanes * (1000 / ((latencyMs.min + latencyMs.max) / 2 + 2)) * perRequest;
  while (offered() < wanted && lanes < 32) lanes++;
  while (offered() < wanted && processes < 8) processes++;
  while (offered() < wanted && latencyMs.max > 2) latencyMs = { min: Math.max(1, Math.floor(latencyMs.min / 2)), max: Math.ceil(latencyMs.max / 2) };
  return {
    name: 'family',
    seed,
    binding,
    processes,
    lanes,
    loop,
    mix,
    windowMs,
    spotLimit,
    publicLimit,
    latencyMs,
    hiddenShare,
    windows: windowMs >= 30_000 ? 3.5 : 7,
  };
}

/** `count` cases drawn from seeds `seed`, `seed + 1`, ... */
export function drawFamily(seed: number, count: number): FamilyCase[] {
  return Array.from({ length: count }, (_, i) => drawCase(seed + i));
}

export function describeCase(c: FamilyCase): string {
  const pct = (x: number) => `${Math.round(100 * x)}`;
  const mix = `c${pct(c.mix.critical)}/h${pct(c.mix.high)}/n${pct(c.mix.normal)}/l${pct(c.mix.low)}`;
  const who = c.seed === undefined ? c.name : `seed ${c.seed}`;
  const bots = c.botWeights ? `, bot weights ${c.botWeights.join(':')}` : '';
  return `${who}: ${c.processes} p x ${c.lanes} ${c.loop} lanes, ${mix}, Spot ${c.spotLimit} / Public ${c.publicLimit} per ${c.windowMs / 1000} s (${c.binding} binds), ${c.latencyMs.min}-${c.latencyMs.max} ms${c.hiddenShare ? `, hidden ${pct(c.hiddenShare)} %` : ''}${bots}`;
}
