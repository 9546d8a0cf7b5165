import { randomBytes } from 'node:crypto';
import type { Sender } from '../store/senders.js';
import { MemoryStore } from '../store/memoryStore.js';
import { PRIORITIES, type Priority, type Store } from '../store/types.js';
import { describeValue, InvalidArgumentError, KucoinSchedulerError, UnknownPoolError } from '../errors.js';
import { expectOption, numberOption, objectOption, type NumberRange } from '../util/optionChecks.js';
import { EndpointTable, parseEndpoint, parseHost } from '../kucoin/endpointTable.js';
import { CLOUDFLARE_IP_LIMIT, parsePoolName, POOL_NAMES, POOLS, quotaFor, type PoolName } from '../kucoin/pools.js';

/** Per-pool overrides. Every field is optional; the rest comes from KuCoin's published table. */
export interface PoolOptions {
  /** Weight per window, an integer 1..1e9. @default the VIP table's quota for `vipLevel` */
  readonly limit?: number;
  /** An integer 1..86_400_000. @default 30_000 */
  readonly windowMs?: number;
  /** Token-bucket capacity for pacing, in weight; 0 turns pacing off. @default 25 % of the limit */
  readonly burst?: number;
  /** Token refill per second. @default limit / window, so pacing alone never holds back a steady rate */
  readonly refillPerSec?: number;
}

/** A fixed limit per window: `limit` requests (or weight) every `windowMs`. */
export interface WindowLimit {
  /** Requests (or weight) per window, an integer 1..1e9. */
  readonly limit: number;
  /** An integer 1..86_400_000. */
  readonly windowMs: number;
}

/** Options of `createScheduler`: only `uid` is required; every other field documents its default. */
export interface SchedulerOptions {
  /** The account (UID): private pools are shared by every process with the same UID. Required. */
  readonly uid: string;
  /**
   * The egress IP identity: the Public pool and Cloudflare's limit are shared by every process
   * with the same value. Set it to the host's egress IP address; hosts behind one NAT use the same value.
   * @default 'default': every process of the deployment shares one IP budget, and since those processes
   * may leave through several IPs, whose replies describe several server windows, the IP buckets never
   * align to a server window's phase (safe whatever the IPs; a set `ip` gets the last ~1 % of the Public pool)
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
   * `{ 'futures POST /api/v1/orders': { limit: 30, windowMs: 3000 } }`. Keys are `host METHOD /path`, with
   * the path as a template or a concrete path (it is matched to the endpoint table's template).
   * @default {}
   */
  readonly endpointLimits?: Readonly<Record<string, WindowLimit>>;
  /**
   * Guard for the spread of transit time (dmax - dmin, including the delay between admission and the
   * request leaving this process): every span of windowMs + transitMarginMs holds at most the limit.
   * Left unset, each pool bucket measures it from its replies (2 x the spread of `sentAt + reset` within a
   * server window + 10 ms, within [100, 2000] ms, once 8 replies measured it) and holds 250 ms until then;
   * set, it is fixed (a tuned value, never measured).
   * @default measured per bucket, 250 until measured
   */
  readonly transitMarginMs?: number;
  /** Share of each bucket a tier may fill; critical may fill all of it. @default { high: 0.95, normal: 0.85, low: 0.7 } */
  readonly shares?: Partial<Record<Exclude<Priority, 'critical'>, number>>;
  /** Weight charged for an endpoint missing from the table or listed without a weight. @default 30 */
  readonly unknownEndpointWeight?: number;
  /**
   * Reject an endpoint missing from KuCoin's table (a typo such as `'POST /api/v1/hf/order'`) at schedule time
   * with UnknownEndpointError, instead of charging it `unknownEndpointWeight` on a guessed pool. A request that
   * names `pool` and `weight` beside an unlisted endpoint still goes (its cost is stated, not guessed).
   * @default false
   */
  readonly strictEndpoints?: boolean;
  /** Most requests queued per priority in this process (an integer >= 1); more reject with QueueFullError. @default 10_000 */
  readonly maxQueued?: number;
  /** A request waiting this long moves up one tier (up to high), so low priority never starves. @default 60_000 */
  readonly agingMs?: number;
  /** Random delay up to this (0..60_000) added to each non-critical wait, so processes do not wake in step. @default 20 */
  readonly jitterMs?: number;
  /** Longest wait for admission when a request sets no `maxWaitMs` (Infinity waits for ever). @default 120_000 */
  readonly maxWaitMs?: number;
  /** How the scheduler reacts to the gateway's signals (see FEEDBACK_RULES). */
  readonly feedback?: FeedbackOptions;
  /**
   * Priorities that fail closed (reject with StoreUnavailableError) instead of admitting under the local
   * share while a ResilientStore is degraded. @default [] (every priority keeps working)
   */
  readonly failClosed?: readonly Priority[];
  /**
   * The bot this scheduler's requests are for, in fair shares: within a priority (high, normal, low), every bot
   * that wants more than it gets is admitted at least its weighted share of what that priority is admitted, and
   * what one leaves flows to the others, across processes (through the store). A name alone has weight 1; a
   * request may name another bot (`ScheduleOptions.bot`). Names: 1-64 characters of A-Z a-z 0-9 _ . : -.
   * @default { name: a random name per scheduler (each process its own share), weight: 1 }
   */
  readonly bot?: BotOption;
}

/** A bot in fair shares: its name, or its name and weight (> 0, at most 1e6; a name alone weighs 1). */
export type BotOption = string | { readonly name: string; readonly weight?: number };

/** How replies are fed back: tightening after a 429000, the bounds on pauses taken from replies, the attempts per request. */
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
  /**
   * On a Cloudflare 1015 the IP bucket's factor is multiplied by this, at most once per block: the real
   * per-IP limit is below the assumed one, so the fleet must not send at the old rate when the block ends.
   * @default 0.5
   */
  readonly cloudflareTightenBy?: number;
  /** The IP bucket's factor never goes below this. @default 0.1 */
  readonly cloudflareMinFactor?: number;
  /** Longest pause a reply's `Retry-After` may impose (a garbage value cannot stop requests for days). @default 120_000 */
  readonly maxRetryAfterMs?: number;
  /** Attempts of one request (first send included) when the gateway refuses it with a signal. @default 4 */
  readonly maxAttempts?: number;
}

export interface ResolvedFeedback {
  readonly tightenBy: number;
  readonly minFactor: number;
  readonly recoverStep: number;
  readonly systemBackoff: { readonly baseMs: number; readonly maxMs: number; readonly jitter: number; readonly resetAfterMs: number };
  readonly endpointPauseMs: number;
  readonly cloudflareTightenBy: number;
  readonly cloudflareMinFactor: number;
  readonly maxRetryAfterMs: number;
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
  /** True when `ip` was left at its default: it may stand for several egress IPs. */
  readonly ipIsDefault: boolean;
  readonly vipLevel: number;
  readonly store: Store;
  readonly ownsStore: boolean;
  readonly quotaGroup: string;
  readonly pools: Readonly<Record<PoolName, ResolvedPool>>;
  readonly cloudflare: (WindowLimit & { readonly burst: number }) | false;
  /** By canonical key `host METHOD /path-template` (host spot, futures or broker). */
  readonly endpointLimits: ReadonlyMap<string, WindowLimit>;
  readonly transitMarginMs: number;
  /** True when transitMarginMs was left unset: each bucket measures its margin (BucketConfig.measureMargin). */
  readonly measureTransitMargin: boolean;
  readonly shares: Readonly<Record<Priority, number>>;
  readonly unknownEndpointWeight: number;
  readonly strictEndpoints: boolean;
  readonly maxQueued: number;
  readonly agingMs: number;
  readonly jitterMs: number;
  readonly maxWaitMs: number;
  readonly feedback: ResolvedFeedback;
  readonly failClosed: ReadonlySet<Priority>;
  /** The default sender of this scheduler's requests (fair shares and what waits, senders.ts). */
  readonly bot: Sender;
}

/** Largest limit, burst or weight an option may name (KuCoin's largest quota is 40_000). */
export const MAX_LIMIT = 1_000_000_000;
/** Longest window or pause an option may name: one day. */
export const MAX_WINDOW_MS = 86_400_000;
/** The methods every store must have (the Store interface). */
const STORE_METHODS = ['acquire', 'release', 'inspect', 'observe', 'penalize', 'pause', 'resume', 'setFactor', 'close'] as const;

const LIMIT: NumberRange = { min: 1, max: MAX_LIMIT, integer: true };
const WINDOW: NumberRange = { min: 1, max: MAX_WINDOW_MS, integer: true };
const BURST: NumberRange = { min: 0, max: MAX_LIMIT };
const DELAY: NumberRange = { min: 0, max: MAX_WINDOW_MS };
const PAUSE: NumberRange = { min: 0, max: MAX_WINDOW_MS, above: true };
const FRACTION: NumberRange = { min: 0, max: 1, above: true };

function identity(name: string, value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) value = String(value);
  expectOption(
    typeof value === 'string' && value.length > 0 && value.length <= 128 && !/[{}\s\p{Cc}]/u.test(value),
    name,
    'a non-empty string (at most 128 characters) without spaces, control characters or braces',
    value,
  );
  return value as string;
}

/**
 * Applies every default in one place and validates eagerly: each option is read once, and anything malformed
 * (wrong type, NaN, out of range, a getter that throws) is an InvalidArgumentError naming the option.
 */
export function resolveOptions(options: SchedulerOptions): ResolvedOptions {
  try {
    return resolve(options);
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected readable scheduler options, but reading them threw ${describeValue(error)}`, { cause: error });
  }
}

function resolve(options: SchedulerOptions): ResolvedOptions {
  expectOption(options !== null && typeof options === 'object', 'the scheduler options', 'an object with at least `uid`', options);
  const uid = identity('uid', options.uid);
  const givenIp: unknown = options.ip;
  const ip = identity('ip', givenIp ?? 'default');
  const vipLevel = numberOption('vipLevel', options.vipLevel ?? 0, { min: 0, max: 12, integer: true });
  const givenStore: unknown = options.store ?? undefined;
  const store = (givenStore ?? new MemoryStore()) as Store;
  expectOption(
    typeof store === 'object' && store !== null && STORE_METHODS.every((m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function'),
    'store',
    'a Store (MemoryStore, RedisStore or ResilientStore)',
    store,
  );
  const quotaGroup = identity('quotaGroup', options.quotaGroup ?? uid);

  return {
    uid,
    ip,
    ipIsDefault: givenIp === undefined || givenIp === null,
    vipLevel,
    store,
    ownsStore: givenStore === undefined,
    quotaGroup,
    pools: resolvePools(options.pools, vipLevel),
    cloudflare: resolveCloudflare(options.cloudflare),
    endpointLimits: resolveEndpointLimits(options.endpointLimits, options.unknownEndpointWeight),
    transitMarginMs: numberOption('transitMarginMs', options.transitMarginMs ?? 250, DELAY),
    measureTransitMargin: options.transitMarginMs === undefined,
    shares: resolveShares(options.shares),
    unknownEndpointWeight: numberOption('unknownEndpointWeight', options.unknownEndpointWeight ?? 30, { min: 0, max: MAX_LIMIT, above: true }),
    strictEndpoints: strictEndpointsOption(options.strictEndpoints),
    maxQueued: numberOption('maxQueued', options.maxQueued ?? 10_000, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true }),
    agingMs: numberOption('agingMs', options.agingMs ?? 60_000, { min: 0, max: Number.MAX_SAFE_INTEGER, above: true }),
    jitterMs: numberOption('jitterMs', options.jitterMs ?? 20, { min: 0, max: 60_000 }),
    maxWaitMs: numberOption('maxWaitMs', options.maxWaitMs ?? 120_000, { min: 0, max: Number.POSITIVE_INFINITY }),
    feedback: resolveFeedback(objectOption('feedback', options.feedback) ?? {}),
    failClosed: resolveFailClosed(options.failClosed ?? []),
    bot: resolveBot('bot', options.bot ?? `p${randomBytes(6).toString('hex')}`),
  };
}

const BOT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A bot option (scheduler-wide or one request's) as the store keeps it. */
export function resolveBot(name: string, value: unknown): Sender {
  const o = typeof value === 'string' ? { name: value } : objectOption(name, value);
  expectOption(o !== undefined, name, 'a bot name or { name, weight }', value);
  const botName: unknown = o!.name;
  expectOption(typeof botName === 'string' && BOT_NAME.test(botName), `${name}.name`, '1-64 characters of A-Z a-z 0-9 _ . : -', botName);
  const weight = numberOption(`${name}.weight`, o!.weight ?? 1, { min: 0, max: 1_000_000, above: true });
  return { id: botName as string, weight };
}

function resolvePools(value: unknown, vipLevel: number): Record<PoolName, ResolvedPool> {
  const overrides = new Map<PoolName, Readonly<Record<string, unknown>>>();
  for (const [key, override] of Object.entries(objectOption('pools', value) ?? {})) {
    const name = parsePoolName(key);
    if (!name) throw new UnknownPoolError(key, POOL_NAMES);
    const o = objectOption(`pools.${key}`, override);
    if (o) overrides.set(name, o);
  }
  return Object.fromEntries(
    POOL_NAMES.map((name) => {
      const o = overrides.get(name) ?? {};
      const limit = numberOption(`pools.${name}.limit`, o.limit ?? quotaFor(name, vipLevel), LIMIT);
      const windowMs = numberOption(`pools.${name}.windowMs`, o.windowMs ?? POOLS[name].windowMs, WINDOW);
      const burst = numberOption(`pools.${name}.burst`, o.burst ?? limit * 0.25, BURST);
      const refillPerSec = numberOption(`pools.${name}.refillPerSec`, o.refillPerSec ?? (limit * 1000) / windowMs, { min: 0, max: MAX_LIMIT, above: true });
      const pool: ResolvedPool = { name, subject: POOLS[name].subject, limit, windowMs, burst, refillPerMs: refillPerSec / 1000 };
      return [name, pool];
    }),
  ) as Record<PoolName, ResolvedPool>;
}

function resolveCloudflare(value: unknown): ResolvedOptions['cloudflare'] {
  if (value === false) return false;
  const cf = value === undefined || value === null ? CLOUDFLARE_IP_LIMIT : value;
  expectOption(typeof cf === 'object' && !Array.isArray(cf), 'cloudflare', 'false or { limit, windowMs, burst? }', cf);
  const o = cf as Readonly<Record<string, unknown>>;
  const limit = numberOption('cloudflare.limit', o.limit, LIMIT);
  const windowMs = numberOption('cloudflare.windowMs', o.windowMs, WINDOW);
  return { limit, windowMs, burst: numberOption('cloudflare.burst', o.burst ?? limit * 0.25, BURST) };
}

/** Keys become canonical (`futures POST /api/v1/orders/{orderId}`), so a concrete path or another spelling still matches. */
function resolveEndpointLimits(value: unknown, unknownEndpointWeight: unknown): Map<string, WindowLimit> {
  const limits = new Map<string, WindowLimit>();
  const entries = Object.entries(objectOption('endpointLimits', value) ?? {});
  if (entries.length === 0) return limits;
  const table = new EndpointTable({ unknownWeight: typeof unknownEndpointWeight === 'number' ? unknownEndpointWeight : 30 });
  for (const [key, entry] of entries) {
    const name = `endpointLimits[${describeValue(key)}]`;
    const match = /^\s*(\S+)\s+(\S+\s+\S+)\s*$/.exec(key);
    let canonical: string;
    try {
      if (!match) throw new InvalidArgumentError('not of the form "host METHOD /path"');
      const host = parseHost(match[1]!);
      const { method } = parseEndpoint(match[2]!);
      canonical = `${host} ${method} ${table.lookup(match[2]!, host).path}`;
    } catch (error) {
      throw new InvalidArgumentError(
        `Expected endpointLimits keys to be "host METHOD /path" (e.g. "futures POST /api/v1/orders"), got ${describeValue(key)}: ${(error as Error).message}`,
      );
    }
    const o = objectOption(name, entry);
    expectOption(o !== undefined, name, '{ limit, windowMs }', entry);
    if (limits.has(canonical)) throw new InvalidArgumentError(`Expected one endpointLimits entry per endpoint, got two for ${canonical}`);
    limits.set(canonical, { limit: numberOption(`${name}.limit`, o!.limit, LIMIT), windowMs: numberOption(`${name}.windowMs`, o!.windowMs, WINDOW) });
  }
  return limits;
}

function resolveShares(value: unknown): Record<Priority, number> {
  const s = objectOption('shares', value) ?? {};
  return {
    critical: 1,
    high: numberOption('shares.high', s.high ?? 0.95, FRACTION),
    normal: numberOption('shares.normal', s.normal ?? 0.85, FRACTION),
    low: numberOption('shares.low', s.low ?? 0.7, FRACTION),
  };
}

function resolveFailClosed(list: unknown): ReadonlySet<Priority> {
  const what = 'an array of priorities (critical, high, normal, low)';
  expectOption(Array.isArray(list) && list.length <= PRIORITIES.length * 4, 'failClosed', what, list);
  (list as unknown[]).forEach((p, i) =>
    expectOption(typeof p === 'string' && (PRIORITIES as readonly string[]).includes(p), `failClosed[${i}]`, 'a priority (critical, high, normal, low)', p),
  );
  return new Set(list as Priority[]);
}

function resolveFeedback(f: Readonly<Record<string, unknown>>): ResolvedFeedback {
  const b = objectOption('feedback.systemBackoff', f.systemBackoff) ?? {};
  const baseMs = numberOption('feedback.systemBackoff.baseMs', b.baseMs ?? 500, PAUSE);
  return {
    tightenBy: numberOption('feedback.tightenBy', f.tightenBy ?? 0.9, FRACTION),
    minFactor: numberOption('feedback.minFactor', f.minFactor ?? 0.5, FRACTION),
    recoverStep: numberOption('feedback.recoverStep', f.recoverStep ?? 0.1, FRACTION),
    systemBackoff: {
      baseMs,
      maxMs: numberOption('feedback.systemBackoff.maxMs', b.maxMs ?? Math.max(30_000, baseMs), { ...PAUSE, min: baseMs, above: false }),
      jitter: numberOption('feedback.systemBackoff.jitter', b.jitter ?? 0.5, FRACTION),
      resetAfterMs: numberOption('feedback.systemBackoff.resetAfterMs', b.resetAfterMs ?? 60_000, PAUSE),
    },
    endpointPauseMs: numberOption('feedback.endpointPauseMs', f.endpointPauseMs ?? 10_000, PAUSE),
    cloudflareTightenBy: numberOption('feedback.cloudflareTightenBy', f.cloudflareTightenBy ?? 0.5, FRACTION),
    cloudflareMinFactor: numberOption('feedback.cloudflareMinFactor', f.cloudflareMinFactor ?? 0.1, FRACTION),
    maxRetryAfterMs: numberOption('feedback.maxRetryAfterMs', f.maxRetryAfterMs ?? 120_000, PAUSE),
    maxAttempts: numberOption('feedback.maxAttempts', f.maxAttempts ?? 4, { min: 1, max: 20, integer: true }),
  };
}

function strictEndpointsOption(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`Expected strictEndpoints to be true or false, got ${describeValue(value)}`);
  return value;
}
