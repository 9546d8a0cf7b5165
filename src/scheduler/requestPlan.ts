import { createHash } from 'node:crypto';
import { PRIORITIES, type BucketCharge, type BucketConfig, type Priority } from '../store/types.js';
import {
  describeValue,
  InvalidArgumentError,
  InvalidEndpointError,
  InvalidPriorityError,
  InvalidWeightError,
  UnknownEndpointError,
  UnknownPoolError,
} from '../errors.js';
import { EndpointTable, parseHost } from '../kucoin/endpointTable.js';
import type { CheckedEndpoint, EndpointInfo, HostName } from '../kucoin/endpointTypes.js';
import { parsePoolName, POOL_NAMES, type PoolName } from '../kucoin/pools.js';
import { resolveBot, type BotOption, type ResolvedOptions } from './options.js';
import type { Sender } from '../store/senders.js';

/**
 * What one call to `schedule` asks for. Give `endpoint` (pool and weight come from the table) or `pool`.
 * `E` is the endpoint's string type, inferred by `schedule` and `wrap` to check a literal against the table.
 */
export interface ScheduleOptions<E extends string = string> {
  /**
   * `'METHOD /path'` with a concrete path, e.g. `'DELETE /api/v1/hf/orders/123'`. A literal must be an endpoint of
   * KuCoin's table (KnownEndpoint: a typo does not type-check) or one declared with `unlisted('POST /api/v1/x')`.
   */
  readonly endpoint?: CheckedEndpoint<E>;
  /** `spot`, `futures`, `broker` or a KuCoin hostname: decides paths that exist on several hosts. */
  readonly host?: string;
  /**
   * The pool to charge, when no endpoint is given. Beside an endpoint missing from the table it names that
   * endpoint's pool (else the host's main pool is guessed); beside a known endpoint it must agree with the table.
   */
  readonly pool?: string;
  /** Weight to charge; with `endpoint` it overrides the table. @default the table's weight, or 1 with `pool` */
  readonly weight?: number;
  /** @default 'normal' */
  readonly priority?: Priority;
  /** Aborting rejects the wait with AbortError; nothing is charged. */
  readonly signal?: AbortSignal;
  /** Longest wait for admission, a number >= 0 (Infinity waits for ever); past it the request rejects with MaxWaitExceededError. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
  /**
   * An id of the API key the request is signed with (a short hash, never the key): adds the key's circuit guard
   * `key:<keyId>:circuit` (charged nothing) that an auth failure pauses for every process. @default none
   */
  readonly keyId?: string;
  /**
   * The bot this request is for in fair shares (a name, or `{ name, weight }`: weight 1 by default): a process
   * serving several bots (a proxy) names each. @default the scheduler's `bot`
   */
  readonly bot?: BotOption;
}

export interface RequestPlan {
  /** Requests of one lane queue together: one lane per pool bucket and endpoint. */
  readonly lane: string;
  /** The (UID, endpoint) bucket, when the request named an endpoint. */
  readonly endpointBucket: BucketConfig | undefined;
  readonly pool: PoolName;
  /**
   * True when the pool was guessed: the endpoint is missing from the table and no `pool` was given. Its
   * replies' headers then describe a pool other than the one charged.
   */
  readonly poolAssumed: boolean;
  readonly weight: number;
  readonly priority: Priority;
  readonly charges: readonly BucketCharge[];
  readonly endpoint: string | undefined;
  readonly maxWaitMs: number;
  /** The caller's signal, as read (once) from the schedule options. */
  readonly signal: AbortSignal | undefined;
  /** Set when the endpoint was not in the table (or had no weight there). */
  readonly assumed: EndpointInfo | undefined;
  /** The host the endpoint was found on (undefined for a request naming only a pool and no host). */
  readonly host: HostName | undefined;
  /** The key's circuit guard (`keyId` given), and the host's guard (a 501000 or a retry-later backoff pauses it). */
  readonly keyGuard: BucketConfig | undefined;
  readonly hostGuard: BucketConfig | undefined;
  /** The key (short hash) the request is signed with, as given; `keyGuard` is its circuit guard. */
  readonly keyId: string | undefined;
  /** The bot the request is for (fair shares, and what waits above a tier). */
  readonly sender: Sender;
}

const PRIORITY_SET = new Set<string>(PRIORITIES);
const SCHEDULE_FIELDS = ['endpoint', 'host', 'pool', 'weight', 'priority', 'signal', 'maxWaitMs', 'keyId', 'bot'] as const;
type ScheduleFields = { readonly [K in (typeof SCHEDULE_FIELDS)[number]]: unknown };

/** Endpoint bucket configs kept; past this the least recently used is dropped (rebuilt on its next use). */
export const MAX_ENDPOINT_BUCKETS = 1024;
/** Endpoint bucket ids stay this short: a longer `host METHOD /path` is cut and its hash appended. */
const MAX_ENDPOINT_KEY_LENGTH = 160;
const UNSAFE_ID_CHARACTERS = /[\p{Cc}\u2028\u2029]/u;

/**
 * The schedule options as a plain object, each field read once (own or inherited): a getter or Proxy is read
 * exactly once, and one that throws is an InvalidArgumentError, not whatever it threw. Spread or keep this
 * instead of the caller's object (`wrap` calls `schedule` again for every call and attempt).
 */
export function snapshotScheduleOptions(opts: unknown): ScheduleOptions {
  const fields = readScheduleOptions(opts);
  const out: Record<string, unknown> = {};
  for (const key of SCHEDULE_FIELDS) if (fields[key] !== undefined) out[key] = fields[key];
  return out as ScheduleOptions;
}

/** Priority and endpoint for a `rejected` event, read without ever throwing (the options may be hostile). */
export function rejectedFields(opts: unknown): { priority: Priority | undefined; endpoint: string | undefined } {
  try {
    const o = opts as { priority?: unknown; endpoint?: unknown } | null | undefined;
    const priority = o?.priority;
    const endpoint = o?.endpoint;
    return {
      priority: typeof priority === 'string' && PRIORITY_SET.has(priority) ? (priority as Priority) : undefined,
      endpoint: typeof endpoint === 'string' && endpoint.length <= 512 ? endpoint : undefined,
    };
  } catch {
    return { priority: undefined, endpoint: undefined };
  }
}

function readScheduleOptions(opts: unknown): ScheduleFields {
  if (opts === null || typeof opts !== 'object') {
    throw new InvalidArgumentError(`Expected schedule options { endpoint } or { pool, weight }, got ${describeValue(opts)}`);
  }
  const fields: Record<string, unknown> = {};
  for (const key of SCHEDULE_FIELDS) {
    try {
      fields[key] = (opts as Record<string, unknown>)[key];
    } catch (error) {
      throw new InvalidArgumentError(`Expected readable schedule options, but reading \`${key}\` threw ${describeValue(error)}`, { cause: error });
    }
  }
  return fields as ScheduleFields;
}

/**
 * A real AbortSignal: `instanceof` alone lets `Object.create(AbortSignal.prototype)` through, whose
 * `aborted` getter throws when read later.
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  try {
    return value instanceof AbortSignal && typeof value.aborted === 'boolean';
  } catch {
    return false; // a Proxy whose getPrototypeOf trap throws, or a signal-shaped object without a signal's state
  }
}

/** `host METHOD /path`, as it appears in a bucket id: no control characters, at most 160 characters. */
function endpointKeyForId(key: string): string {
  if (key.length <= MAX_ENDPOINT_KEY_LENGTH && !UNSAFE_ID_CHARACTERS.test(key)) return key;
  // a parsed path holds no '#' (the fragment is cut off), so a hashed key never equals a plain one
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 24);
  return `${key.slice(0, MAX_ENDPOINT_KEY_LENGTH - 26).replace(new RegExp(UNSAFE_ID_CHARACTERS.source, 'gu'), '?')}~#${hash}`;
}

/** Turns `schedule` options into the buckets to acquire; validates everything before anything is queued. */
export class RequestPlanner {
  readonly #options: ResolvedOptions;
  readonly #table: EndpointTable;
  /** Pool, IP and system buckets: a fixed handful. */
  readonly #buckets = new Map<string, BucketConfig>();
  /** Endpoint buckets, least recently used first; bounded by MAX_ENDPOINT_BUCKETS. */
  readonly #endpointBuckets = new Map<string, BucketConfig>();
  /** Key circuit and host guards. */
  readonly #guards = new Map<string, BucketConfig>();

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#table = new EndpointTable({ unknownWeight: options.unknownEndpointWeight });
  }

  get table(): EndpointTable {
    return this.#table;
  }

  #config(id: string, limit: number, windowMs: number, burst: number, refillPerMs: number, alignPhase = true, coldStart = false): BucketConfig {
    const measureMargin = this.#options.measureTransitMargin;
    return {
      group: this.#options.quotaGroup,
      id,
      limit,
      windowMs,
      marginMs: this.#options.transitMarginMs,
      ...(measureMargin ? { measureMargin } : {}),
      burst,
      refillPerMs,
      alignPhase,
      ...(coldStart ? { coldStart } : {}),
    };
  }

  #bucket(id: string, limit: number, windowMs: number, burst: number, refillPerMs: number, alignPhase = true, coldStart = false): BucketConfig {
    let b = this.#buckets.get(id);
    if (!b) {
      b = this.#config(id, limit, windowMs, burst, refillPerMs, alignPhase, coldStart);
      this.#buckets.set(id, b);
    }
    return b;
  }

  /** The bucket of a pool for this scheduler's UID (private pools) or IP (Public). */
  poolBucket(pool: PoolName): BucketConfig {
    const p = this.#options.pools[pool];
    // the account's pools carry cancels (a cold start keeps room for the first ones); Public carries market data
    if (p.subject === 'uid') return this.#bucket(`uid:${this.#options.uid}:${pool}`, p.limit, p.windowMs, p.burst, p.refillPerMs, true, true);
    // the default identity may stand for several egress IPs, each with its own server window: no phase
    return this.#bucket(`ip:${this.#options.ip}:${pool}`, p.limit, p.windowMs, p.burst, p.refillPerMs, !this.#options.ipIsDefault);
  }

  /**
   * The egress IP's bucket: Cloudflare's request limit (charged 1 a request) when enabled, else a guard
   * charged nothing that still lets a 1015 pause every request behind the IP.
   */
  ipBucket(): BucketConfig {
    const cf = this.#options.cloudflare;
    if (!cf) return this.#bucket(`ip:${this.#options.ip}:cloudflare`, 1, 1000, 0, 0);
    // paced like the pools: `burst` at once (a quarter of the limit by default), then the limit per window
    return this.#bucket(
      `ip:${this.#options.ip}:cloudflare`,
      cf.limit,
      cf.windowMs,
      cf.burst,
      cf.burst > 0 ? cf.limit / cf.windowMs : 0,
      !this.#options.ipIsDefault,
      true, // every request counts here, cancels too
    );
  }

  /** A guard charged nothing, in every request: a 429001 (system-wide) backoff pauses it. */
  systemBucket(): BucketConfig {
    return this.#bucket('system', 1, 1000, 0, 0);
  }

  /** A guard charged nothing: an auth failure with the key `keyId` (a short hash) pauses it for every process. */
  keyGuard(keyId: string): BucketConfig {
    return this.#guard(`key:${keyId}:circuit`);
  }

  /** A guard charged nothing: a 501000 (service stopping) or a retry-later backoff pauses the host for every process. */
  hostGuard(host: HostName): BucketConfig {
    return this.#guard(`host:${host}:guard`);
  }

  /** The key and host guards used so far (not in `allBuckets`: one per key and host, kept apart from the pools). */
  guardBuckets(): BucketConfig[] {
    return [...this.#guards.values()];
  }

  #guard(id: string): BucketConfig {
    let b = this.#guards.get(id);
    if (!b) this.#guards.set(id, (b = this.#config(id, 1, 1000, 0, 0)));
    return b;
  }

  /**
   * The (UID, endpoint) bucket: a configured legacy limit, or a guard a 200002 can pause. The planner keeps
   * the MAX_ENDPOINT_BUCKETS most recently used; a config is a pure function of its key, so one dropped
   * is rebuilt identical (same id, same state in the store) on its next use.
   */
  endpointBucket(info: EndpointInfo): { bucket: BucketConfig; weight: number } {
    const key = `${info.host} ${info.method} ${info.path}`;
    const limit = this.#options.endpointLimits.get(key);
    let bucket = this.#endpointBuckets.get(key);
    if (bucket) {
      this.#endpointBuckets.delete(key); // most recently used goes last
    } else {
      bucket = this.#config(`uid:${this.#options.uid}:ep:${endpointKeyForId(key)}`, limit?.limit ?? 1, limit?.windowMs ?? 1000, 0, 0);
      if (this.#endpointBuckets.size >= MAX_ENDPOINT_BUCKETS) this.#endpointBuckets.delete(this.#endpointBuckets.keys().next().value!);
    }
    this.#endpointBuckets.set(key, bucket);
    return { bucket, weight: limit ? 1 : 0 };
  }

  /** Every pool, IP and system bucket this scheduler can charge, and the endpoint buckets it still keeps. */
  allBuckets(): BucketConfig[] {
    const list = POOL_NAMES.map((p) => this.poolBucket(p));
    list.push(this.ipBucket(), this.systemBucket());
    for (const b of this.#buckets.values()) if (!list.includes(b)) list.push(b);
    list.push(...this.#endpointBuckets.values());
    return list;
  }

  /** Validates schedule options (each read once) and plans the request; every fault is a typed error. */
  plan(opts: ScheduleOptions): RequestPlan {
    const o = readScheduleOptions(opts);
    const priority = o.priority ?? 'normal';
    if (typeof priority !== 'string' || !PRIORITY_SET.has(priority)) throw new InvalidPriorityError(priority);
    const maxWaitMs = o.maxWaitMs ?? this.#options.maxWaitMs;
    if (typeof maxWaitMs !== 'number' || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
      throw new InvalidArgumentError(`Expected maxWaitMs to be a number >= 0 (Infinity waits for ever), got ${describeValue(maxWaitMs)}`);
    }
    const signal = o.signal;
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw new InvalidArgumentError(`Expected signal to be an AbortSignal, got ${describeValue(signal)}`);
    }
    if (o.host !== undefined && typeof o.host !== 'string') {
      throw new InvalidEndpointError(`Expected host to be spot, futures, broker or a KuCoin hostname, got ${describeValue(o.host)}`);
    }
    if (o.pool !== undefined && typeof o.pool !== 'string') throw new UnknownPoolError(o.pool, POOL_NAMES);
    if (o.weight !== undefined && (typeof o.weight !== 'number' || !Number.isFinite(o.weight) || o.weight <= 0)) {
      throw new InvalidWeightError(`Expected weight to be a finite number > 0, got ${describeValue(o.weight)}`);
    }
    const host = o.host as string | undefined;
    const parsedHost = host !== undefined ? parseHost(host) : undefined; // a bad host is refused even when only a pool is named
    if (o.keyId !== undefined && (typeof o.keyId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.keyId))) {
      throw new InvalidArgumentError(`Expected keyId to be 1-64 characters of A-Z a-z 0-9 _ - (a short hash, never the key), got ${describeValue(o.keyId)}`);
    }
    const sender = o.bot === undefined ? this.#options.bot : resolveBot('bot', o.bot);
    const named = o.pool === undefined ? undefined : parsePoolName(o.pool as string);
    if (o.pool !== undefined && !named) throw new UnknownPoolError(o.pool, POOL_NAMES);
    const explicitWeight = o.weight as number | undefined;

    let pool: PoolName;
    let weight: number;
    let info: EndpointInfo | undefined;
    let endpoint: string | undefined;
    if (o.endpoint !== undefined) {
      if (typeof o.endpoint !== 'string') {
        throw new InvalidEndpointError(`Expected endpoint to be a string like "GET /api/v1/accounts", got ${describeValue(o.endpoint)}`);
      }
      endpoint = o.endpoint;
      info = this.#table.lookup(endpoint, host);
      if (!info.known && this.#options.strictEndpoints && !(named && explicitWeight !== undefined)) {
        throw new UnknownEndpointError(endpoint, this.#table.nearest(endpoint));
      }
      // an endpoint missing from the table is charged to the pool named, if one was
      pool = !info.known && named ? named : info.pool;
      weight = explicitWeight ?? info.weight;
      if (named && named !== pool) {
        throw new InvalidArgumentError(`Endpoint ${describeValue(endpoint)} is charged to ${pool}, but pool ${describeValue(o.pool)} was given`);
      }
    } else if (named) {
      pool = named;
      weight = explicitWeight ?? 1;
    } else {
      throw new InvalidEndpointError('Expected `endpoint` ("METHOD /path") or `pool` in the schedule options');
    }

    const bucket = this.poolBucket(pool);
    if (!Number.isFinite(weight) || weight < 0) {
      throw new InvalidWeightError(`Expected weight to be a finite number > 0, got ${describeValue(weight)}`);
    }
    const cap = bucket.limit * this.#options.shares[priority as Priority];
    if (weight > cap) {
      throw new InvalidWeightError(
        `Weight ${weight} can never be admitted: ${priority} requests may use at most ${cap} of the ${pool} pool's limit ${bucket.limit}`,
      );
    }

    const charges: BucketCharge[] = [
      { bucket, weight },
      { bucket: this.ipBucket(), weight: this.#options.cloudflare ? 1 : 0 },
      { bucket: this.systemBucket(), weight: 0 },
    ];
    const endpointCharge = info ? this.endpointBucket(info) : undefined;
    if (endpointCharge) {
      const endpointCap = endpointCharge.bucket.limit * this.#options.shares[priority as Priority];
      if (endpointCharge.weight > endpointCap) {
        throw new InvalidWeightError(
          `A ${priority} request to ${info!.host} ${info!.method} ${info!.path} can never be admitted: its endpointLimits limit ${endpointCharge.bucket.limit} leaves ${endpointCap} to ${priority} requests; raise the limit or use priority critical`,
        );
      }
      charges.push(endpointCharge);
    }
    const planHost = info?.host ?? parsedHost;
    const hostGuard = planHost ? this.hostGuard(planHost) : undefined;
    const keyGuard = o.keyId !== undefined ? this.keyGuard(o.keyId as string) : undefined;
    if (hostGuard) charges.push({ bucket: hostGuard, weight: 0 });
    if (keyGuard) charges.push({ bucket: keyGuard, weight: 0 });
    return {
      // requests with the same buckets queue together: a paused endpoint never holds back another one; a bot named
      // per request queues apart, so a bot held back for its share does not hold back another (senders.ts)
      lane: `${endpointCharge ? `${bucket.id}|${endpointCharge.bucket.id}` : bucket.id}${sender === this.#options.bot ? '' : `|bot:${sender.id}`}`,
      endpointBucket: endpointCharge?.bucket,
      pool,
      poolAssumed: info !== undefined && !info.known && !named,
      weight,
      priority: priority as Priority,
      charges,
      endpoint,
      maxWaitMs,
      signal,
      assumed: info && (info.weightAssumed || !info.known) && explicitWeight === undefined ? info : undefined,
      host: planHost,
      keyGuard,
      hostGuard,
      keyId: keyGuard ? (o.keyId as string) : undefined,
      sender,
    };
  }
}
