import { MemoryStore } from './buckets/memoryStore.js';
import type { Priority, Store } from './buckets/types.js';
import { InvalidArgumentError, UnknownPoolError } from './errors.js';
import { CLOUDFLARE_IP_LIMIT, parsePoolName, POOL_NAMES, POOLS, quotaFor, type PoolName } from './kucoin/pools.js';

/** Per-pool overrides. Every field is optional; the rest comes from KuCoin's published table. */
export interface PoolOptions {
  /** Weight per window. @default the VIP table's quota for `vipLevel` */
  readonly limit?: number;
  /** @default 30_000 */
  readonly windowMs?: number;
  /** Token-bucket capacity for pacing, in weight; 0 turns pacing off. @default 25 % of the limit */
  readonly burst?: number;
  /** Token refill per second. @default limit / window, so pacing alone never holds back a steady rate */
  readonly refillPerSec?: number;
}

export interface WindowLimit {
  readonly limit: number;
  readonly windowMs: number;
}

export interface SchedulerOptions {
  /** The account (UID): private pools are shared by every process with the same UID. Required. */
  readonly uid: string;
  /**
   * The egress IP identity: the Public pool and Cloudflare's request limit are shared by every process
   * with the same value. Processes behind one NAT must use the same value.
   * @default 'default' (every process of the deployment shares one IP budget: safe, if conservative)
   */
  readonly ip?: string;
  /** The account's VIP level (0..12): picks the quotas. @default 0 */
  readonly vipLevel?: number;
  /** Where bucket state lives. @default a new MemoryStore (this process only) */
  readonly store?: Store;
  /**
   * Buckets acquired together must share a quota group (one Redis hash tag). Several accounts that share
   * one egress IP must use one group so their Public and Cloudflare buckets are shared.
   * @default the uid
   */
  readonly quotaGroup?: string;
  /** Per-pool overrides, by pool name (any case). */
  readonly pools?: Partial<Record<string, PoolOptions>>;
  /**
   * Cloudflare's per-IP request limit, counted in requests; `false` to turn it off. `burst` paces it like a
   * pool. @default { limit: 500, windowMs: 10_000, burst: 125 }
   */
  readonly cloudflare?: (WindowLimit & { readonly burst?: number }) | false;
  /**
   * Optional per-(UID, endpoint) limits, e.g. the legacy futures limits that answer 200002:
   * `{ 'futures POST /api/v1/orders': { limit: 30, windowMs: 3000 } }`. Keys are `host METHOD /path-template`.
   * @default {}
   */
  readonly endpointLimits?: Readonly<Record<string, WindowLimit>>;
  /**
   * Guard for the spread of transit time (dmax - dmin, including the delay between admission and the
   * request leaving this process): every span of windowMs + transitMarginMs holds at most the limit.
   * @default 250
   */
  readonly transitMarginMs?: number;
  /** Share of each bucket a tier may fill; critical may fill all of it. @default { high: 0.95, normal: 0.85, low: 0.7 } */
  readonly shares?: Partial<Record<Exclude<Priority, 'critical'>, number>>;
  /** Weight charged for an endpoint missing from the table or listed without a weight. @default 30 */
  readonly unknownEndpointWeight?: number;
  /** Most requests queued per priority in this process; more reject with QueueFullError. @default 10_000 */
  readonly maxQueued?: number;
  /** A request waiting this long moves up one tier (up to high), so low priority never starves. @default 60_000 */
  readonly agingMs?: number;
  /** Random delay up to this added to each non-critical wait, so processes do not wake in step. @default 20 */
  readonly jitterMs?: number;
  /** Longest wait for admission when a request sets no `maxWaitMs`. @default 120_000 */
  readonly maxWaitMs?: number;
  /** How the scheduler reacts to the gateway's signals (see FEEDBACK_RULES). */
  readonly feedback?: FeedbackOptions;
  /**
   * Priorities that fail closed (reject with StoreUnavailableError) instead of admitting under the local
   * share while a ResilientStore is degraded. @default [] (every priority keeps working)
   */
  readonly failClosed?: readonly Priority[];
}

export interface FeedbackOptions {
  /** On 429000 the pool's factor is multiplied by this, at most once per window. @default 0.9 */
  readonly tightenBy?: number;
  /** The factor never goes below this. @default 0.5 */
  readonly minFactor?: number;
  /** Factor regained per clean window. @default 0.1 */
  readonly recoverStep?: number;
  /** 429001 backoff shared by all processes. @default { baseMs: 500, maxMs: 30_000, jitter: 0.5, resetAfterMs: 60_000 } */
  readonly systemBackoff?: { readonly baseMs?: number; readonly maxMs?: number; readonly jitter?: number; readonly resetAfterMs?: number };
  /** Pause of a (UID, endpoint) after a rate-limit 200002. @default 10_000 */
  readonly endpointPauseMs?: number;
  /** Attempts of one request (first send included) when the gateway refuses it with a signal. @default 4 */
  readonly maxAttempts?: number;
}

export interface ResolvedFeedback {
  readonly tightenBy: number;
  readonly minFactor: number;
  readonly recoverStep: number;
  readonly systemBackoff: { readonly baseMs: number; readonly maxMs: number; readonly jitter: number; readonly resetAfterMs: number };
  readonly endpointPauseMs: number;
  readonly maxAttempts: number;
}

export interface ResolvedPool {
  readonly name: PoolName;
  readonly subject: 'uid' | 'ip';
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
  readonly refillPerMs: number;
}

export interface ResolvedOptions {
  readonly uid: string;
  readonly ip: string;
  readonly vipLevel: number;
  readonly store: Store;
  readonly ownsStore: boolean;
  readonly quotaGroup: string;
  readonly pools: Readonly<Record<PoolName, ResolvedPool>>;
  readonly cloudflare: (WindowLimit & { readonly burst: number }) | false;
  readonly endpointLimits: ReadonlyMap<string, WindowLimit>;
  readonly transitMarginMs: number;
  readonly shares: Readonly<Record<Priority, number>>;
  readonly unknownEndpointWeight: number;
  readonly maxQueued: number;
  readonly agingMs: number;
  readonly jitterMs: number;
  readonly maxWaitMs: number;
  readonly feedback: ResolvedFeedback;
  readonly failClosed: ReadonlySet<Priority>;
}

function expect(ok: boolean, name: string, what: string, got: unknown): void {
  if (!ok) throw new InvalidArgumentError(`Expected ${name} to be ${what}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`);
}

function positive(name: string, value: unknown, allowZero = false): number {
  expect(typeof value === 'number' && Number.isFinite(value) && (allowZero ? value >= 0 : value > 0), name, allowZero ? 'a finite number >= 0' : 'a finite number > 0', value);
  return value as number;
}

function identity(name: string, value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) value = String(value);
  expect(typeof value === 'string' && value.length > 0 && value.length <= 128 && !/[{}\s]/.test(value), name, 'a non-empty string without spaces or braces', value);
  return value as string;
}

/** Applies every default in one place and validates eagerly. */
export function resolveOptions(options: SchedulerOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') throw new InvalidArgumentError('Expected an options object with at least `uid`');
  const uid = identity('uid', options.uid);
  const ip = identity('ip', options.ip ?? 'default');
  const vipLevel = options.vipLevel ?? 0;
  expect(Number.isInteger(vipLevel) && vipLevel >= 0 && vipLevel <= 12, 'vipLevel', 'an integer 0..12', vipLevel);
  const store = options.store ?? new MemoryStore();
  expect(typeof store.acquire === 'function', 'store', 'a Store (MemoryStore or RedisStore)', store);

  const overrides = new Map<PoolName, PoolOptions>();
  for (const [key, value] of Object.entries(options.pools ?? {})) {
    const name = parsePoolName(key);
    if (!name) throw new UnknownPoolError(key, POOL_NAMES);
    if (value) overrides.set(name, value);
  }
  const pools = Object.fromEntries(
    POOL_NAMES.map((name) => {
      const o = overrides.get(name) ?? {};
      const limit = positive(`pools.${name}.limit`, o.limit ?? quotaFor(name, vipLevel));
      const windowMs = positive(`pools.${name}.windowMs`, o.windowMs ?? POOLS[name].windowMs);
      const burst = positive(`pools.${name}.burst`, o.burst ?? limit * 0.25, true);
      const refillPerMs = positive(`pools.${name}.refillPerSec`, o.refillPerSec ?? (limit * 1000) / windowMs) / 1000;
      const pool: ResolvedPool = { name, subject: POOLS[name].subject, limit, windowMs, burst, refillPerMs };
      return [name, pool];
    }),
  ) as Record<PoolName, ResolvedPool>;

  let cloudflare: ResolvedOptions['cloudflare'] = false;
  if (options.cloudflare !== false) {
    const cf = options.cloudflare ?? CLOUDFLARE_IP_LIMIT;
    const limit = positive('cloudflare.limit', cf.limit);
    cloudflare = { limit, windowMs: positive('cloudflare.windowMs', cf.windowMs), burst: positive('cloudflare.burst', (cf as { burst?: number }).burst ?? limit * 0.25, true) };
  }
  const endpointLimits = new Map<string, WindowLimit>();
  for (const [key, value] of Object.entries(options.endpointLimits ?? {})) {
    positive(`endpointLimits[${key}].limit`, value?.limit);
    positive(`endpointLimits[${key}].windowMs`, value?.windowMs);
    endpointLimits.set(key, value);
  }

  const s = options.shares ?? {};
  const shares: Record<Priority, number> = { critical: 1, high: s.high ?? 0.95, normal: s.normal ?? 0.85, low: s.low ?? 0.7 };
  for (const p of ['high', 'normal', 'low'] as const) {
    expect(shares[p] > 0 && shares[p] <= 1, `shares.${p}`, 'a number in (0, 1]', shares[p]);
  }

  return {
    uid,
    ip,
    vipLevel,
    store,
    ownsStore: options.store === undefined,
    quotaGroup: identity('quotaGroup', options.quotaGroup ?? uid),
    pools,
    cloudflare,
    endpointLimits,
    transitMarginMs: positive('transitMarginMs', options.transitMarginMs ?? 250, true),
    shares,
    unknownEndpointWeight: positive('unknownEndpointWeight', options.unknownEndpointWeight ?? 30),
    maxQueued: positive('maxQueued', options.maxQueued ?? 10_000),
    agingMs: positive('agingMs', options.agingMs ?? 60_000),
    jitterMs: positive('jitterMs', options.jitterMs ?? 20, true),
    maxWaitMs: positive('maxWaitMs', options.maxWaitMs ?? 120_000, true),
    feedback: resolveFeedback(options.feedback ?? {}),
    failClosed: resolveFailClosed(options.failClosed ?? []),
  };
}

function resolveFailClosed(list: readonly Priority[]): ReadonlySet<Priority> {
  expect(Array.isArray(list) && list.every((p) => ['critical', 'high', 'normal', 'low'].includes(p)), 'failClosed', 'an array of priorities', list);
  return new Set(list);
}

function resolveFeedback(f: FeedbackOptions): ResolvedFeedback {
  const fraction = (name: string, v: number) => {
    expect(typeof v === 'number' && v > 0 && v <= 1, `feedback.${name}`, 'a number in (0, 1]', v);
    return v;
  };
  const b = f.systemBackoff ?? {};
  const maxAttempts = f.maxAttempts ?? 4;
  expect(Number.isInteger(maxAttempts) && maxAttempts >= 1 && maxAttempts <= 20, 'feedback.maxAttempts', 'an integer 1..20', maxAttempts);
  return {
    tightenBy: fraction('tightenBy', f.tightenBy ?? 0.9),
    minFactor: fraction('minFactor', f.minFactor ?? 0.5),
    recoverStep: fraction('recoverStep', f.recoverStep ?? 0.1),
    systemBackoff: {
      baseMs: positive('feedback.systemBackoff.baseMs', b.baseMs ?? 500),
      maxMs: positive('feedback.systemBackoff.maxMs', b.maxMs ?? 30_000),
      jitter: fraction('systemBackoff.jitter', b.jitter ?? 0.5),
      resetAfterMs: positive('feedback.systemBackoff.resetAfterMs', b.resetAfterMs ?? 60_000),
    },
    endpointPauseMs: positive('feedback.endpointPauseMs', f.endpointPauseMs ?? 10_000),
    maxAttempts,
  };
}
