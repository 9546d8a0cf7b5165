import { PRIORITIES, type BucketCharge, type BucketConfig, type Priority } from './buckets/types.js';
import { InvalidArgumentError, InvalidEndpointError, InvalidPriorityError, InvalidWeightError, UnknownPoolError } from './errors.js';
import { EndpointTable } from './kucoin/endpointTable.js';
import type { EndpointInfo } from './kucoin/endpointTypes.js';
import { parsePoolName, POOL_NAMES, type PoolName } from './kucoin/pools.js';
import type { ResolvedOptions } from './options.js';

/** What one call to `schedule` asks for. Give `endpoint` (pool and weight come from the table) or `pool`. */
export interface ScheduleOptions {
  /** `'METHOD /path'` with a concrete path, e.g. `'DELETE /api/v1/hf/orders/123'`. */
  readonly endpoint?: string;
  /** `spot`, `futures`, `broker` or a KuCoin hostname: decides paths that exist on several hosts. */
  readonly host?: string;
  /** The pool to charge, when no endpoint is given. */
  readonly pool?: string;
  /** Weight to charge; with `endpoint` it overrides the table. @default the table's weight, or 1 with `pool` */
  readonly weight?: number;
  /** @default 'normal' */
  readonly priority?: Priority;
  /** Aborting rejects the wait with AbortError; nothing is charged. */
  readonly signal?: AbortSignal;
  /** Longest wait for admission; past it the request rejects with MaxWaitExceededError. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
}

export interface RequestPlan {
  /** Requests of one lane queue together: one lane per pool bucket and endpoint. */
  readonly lane: string;
  /** The (UID, endpoint) bucket, when the request named an endpoint. */
  readonly endpointBucket: BucketConfig | undefined;
  readonly pool: PoolName;
  readonly weight: number;
  readonly priority: Priority;
  readonly charges: readonly BucketCharge[];
  readonly endpoint: string | undefined;
  readonly maxWaitMs: number;
  /** Set when the endpoint was not in the table (or had no weight there). */
  readonly assumed: EndpointInfo | undefined;
}

const PRIORITY_SET = new Set<string>(PRIORITIES);

/** Turns `schedule` options into the buckets to acquire; validates everything before anything is queued. */
export class RequestPlanner {
  readonly #options: ResolvedOptions;
  readonly #table: EndpointTable;
  readonly #buckets = new Map<string, BucketConfig>();

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#table = new EndpointTable({ unknownWeight: options.unknownEndpointWeight });
  }

  get table(): EndpointTable {
    return this.#table;
  }

  #bucket(id: string, limit: number, windowMs: number, burst: number, refillPerMs: number): BucketConfig {
    let b = this.#buckets.get(id);
    if (!b) {
      b = { group: this.#options.quotaGroup, id, limit, windowMs, marginMs: this.#options.transitMarginMs, burst, refillPerMs };
      this.#buckets.set(id, b);
    }
    return b;
  }

  /** The bucket of a pool for this scheduler's UID (private pools) or IP (Public). */
  poolBucket(pool: PoolName): BucketConfig {
    const p = this.#options.pools[pool];
    const subject = p.subject === 'uid' ? `uid:${this.#options.uid}` : `ip:${this.#options.ip}`;
    return this.#bucket(`${subject}:${pool}`, p.limit, p.windowMs, p.burst, p.refillPerMs);
  }

  /**
   * The egress IP's bucket: Cloudflare's request limit (charged 1 a request) when enabled, else a guard
   * charged nothing that still lets a 1015 pause every request behind the IP.
   */
  ipBucket(): BucketConfig {
    const cf = this.#options.cloudflare;
    if (!cf) return this.#bucket(`ip:${this.#options.ip}:cloudflare`, 1, 1000, 0, 0);
    // paced like the pools: `burst` at once (a quarter of the limit by default), then the limit per window
    return this.#bucket(`ip:${this.#options.ip}:cloudflare`, cf.limit, cf.windowMs, cf.burst, cf.burst > 0 ? cf.limit / cf.windowMs : 0);
  }

  /** A guard charged nothing, in every request: a 429001 (system-wide) backoff pauses it. */
  systemBucket(): BucketConfig {
    return this.#bucket('system', 1, 1000, 0, 0);
  }

  /** The (UID, endpoint) bucket: a configured legacy limit, or a guard a 200002 can pause. */
  endpointBucket(info: EndpointInfo): { bucket: BucketConfig; weight: number } {
    const key = `${info.host} ${info.method} ${info.path}`;
    const limit = this.#options.endpointLimits.get(key);
    const bucket = this.#bucket(`uid:${this.#options.uid}:ep:${key}`, limit?.limit ?? 1, limit?.windowMs ?? 1000, 0, 0);
    return { bucket, weight: limit ? 1 : 0 };
  }

  /** Every pool, IP and system bucket this scheduler can charge, and the endpoint buckets it has used. */
  allBuckets(): BucketConfig[] {
    const list = POOL_NAMES.map((p) => this.poolBucket(p));
    list.push(this.ipBucket(), this.systemBucket());
    for (const b of this.#buckets.values()) if (!list.includes(b)) list.push(b);
    return list;
  }

  plan(opts: ScheduleOptions): RequestPlan {
    if (!opts || typeof opts !== 'object') throw new InvalidArgumentError('Expected schedule options { endpoint } or { pool, weight }');
    const priority = opts.priority ?? 'normal';
    if (!PRIORITY_SET.has(priority)) throw new InvalidPriorityError(priority);
    const maxWaitMs = opts.maxWaitMs ?? this.#options.maxWaitMs;
    if (typeof maxWaitMs !== 'number' || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
      throw new InvalidArgumentError(`Expected maxWaitMs to be a number >= 0, got ${String(maxWaitMs)}`);
    }
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('Expected signal to be an AbortSignal');
    }

    let pool: PoolName;
    let weight: number;
    let info: EndpointInfo | undefined;
    if (opts.endpoint !== undefined) {
      info = this.#table.lookup(opts.endpoint, opts.host);
      pool = info.pool;
      weight = opts.weight ?? info.weight;
      if (opts.pool !== undefined && parsePoolName(opts.pool) !== pool) {
        throw new InvalidArgumentError(`Endpoint ${opts.endpoint} is charged to ${pool}, but pool ${JSON.stringify(opts.pool)} was given`);
      }
    } else if (opts.pool !== undefined) {
      if (typeof opts.pool !== 'string') throw new UnknownPoolError(String(opts.pool), POOL_NAMES);
      const parsed = parsePoolName(opts.pool);
      if (!parsed) throw new UnknownPoolError(opts.pool, POOL_NAMES);
      pool = parsed;
      weight = opts.weight ?? 1;
    } else {
      throw new InvalidEndpointError('Expected `endpoint` ("METHOD /path") or `pool` in the schedule options');
    }

    const bucket = this.poolBucket(pool);
    const explicitWeight = opts.weight !== undefined;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || (explicitWeight && weight === 0)) {
      throw new InvalidWeightError(`Expected weight to be a finite number > 0, got ${String(weight)}`);
    }
    const cap = bucket.limit * this.#options.shares[priority];
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
    if (endpointCharge) charges.push(endpointCharge);
    return {
      // requests with the same buckets queue together: a paused endpoint never holds back another one
      lane: endpointCharge ? `${bucket.id}|${endpointCharge.bucket.id}` : bucket.id,
      endpointBucket: endpointCharge?.bucket,
      pool,
      weight,
      priority,
      charges,
      endpoint: opts.endpoint,
      maxWaitMs,
      assumed: info && (info.weightAssumed || !info.known) && !explicitWeight ? info : undefined,
    };
  }
}
