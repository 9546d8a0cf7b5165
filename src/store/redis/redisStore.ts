import { InvalidArgumentError, StoreError } from '../../errors.js';
import type {
  AcquireRequest,
  AcquireResult,
  BucketConfig,
  BucketState,
  DenyReason,
  Observation,
  ObserveResult,
  Penalty,
  PenaltyResult,
  Store,
} from '../types.js';
import { normalizeObservation, normalizePenalty, normalizeUntil, validateFactor, validateRelease, validateSender } from '../validate.js';
import { bucketKeys, heartbeatKey, holdKey } from './keys.js';
import { LuaScript, type RedisLike } from './luaScript.js';
import { ObserveBatches } from './observeBatches.js';
import { parseReply, scriptArgs, type ScriptArgs, type ScriptBucket, type ScriptName, type ScriptRow } from './scriptLayout.js';

/** Options of `new RedisStore(...)`: the Redis client (ioredis `Redis` or `Cluster`) and the key prefix the fleet shares. */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` (or anything with `evalsha` and `eval`). The caller owns and closes it. */
  readonly client: RedisLike;
  /**
   * Namespace of every key, one per deployment or tenant, so two deployments never share keys.
   * @default 'kucoin-scheduler'
   */
  readonly prefix?: string;
  /**
   * Clock in epoch ms passed to the scripts instead of Redis `TIME`. For tests only: in production every
   * process must share Redis's clock.
   * @default undefined (Redis TIME)
   */
  readonly clock?: () => number;
  /**
   * A script Redis has not answered in this long fails with StoreError, so a slow or partitioned Redis is
   * noticed (and a ResilientStore degrades) instead of hanging every request.
   * @default 1000
   */
  readonly commandTimeoutMs?: number;
}

const SCRIPTS: { readonly [S in ScriptName]: LuaScript } = {
  acquire: new LuaScript('acquire'),
  release: new LuaScript('release'),
  inspect: new LuaScript('inspect'),
  observe: new LuaScript('observe'),
  pause: new LuaScript('pause'),
  resume: new LuaScript('resume'),
  setFactor: new LuaScript('setFactor'),
  penalize: new LuaScript('penalize'),
  absorb: new LuaScript('absorb'),
  heartbeat: new LuaScript('heartbeat'),
  hold: new LuaScript('hold'),
  leave: new LuaScript('leave'),
};

/** A process whose last heartbeat is older than its lease (see heartbeat.lua), and when its ttl in the set ends. */
export interface OverdueProcess {
  readonly processId: string;
  /** Store time (Redis TIME, or the test clock) at which it drops out of the set. */
  readonly expiresAt: number;
}

/** Most replies' observations of one bucket written in one observe call (see ObserveBatches). */
const MAX_OBSERVE_ROWS = 64;

const REASONS = new Set<string>(['paused', 'window', 'pacing', 'fairShare']);
const LIMIT_OUTCOMES = new Set<string>(['none', 'same', 'learned', 'pending', 'refused']);

/**
 * Bucket state in Redis, shared by every process of a quota group. One script acquires all buckets of a
 * request in one round trip, with Redis TIME as the clock. Arguments and replies follow scriptLayout.ts.
 */
export class RedisStore implements Store {
  readonly #client: RedisLike;
  readonly #prefix: string;
  readonly #clock: (() => number) | undefined;
  readonly #timeoutMs: number;
  /** Per bucket (its config object: one per bucket id in a scheduler), the observations waiting for a call. */
  readonly #observations = new ObserveBatches<BucketConfig, ScriptRow<'observe'>, ObserveResult>(
    (bucket, rows) => this.#observe(bucket, rows),
    MAX_OBSERVE_ROWS,
  );

  constructor(options: RedisStoreOptions) {
    if (!options?.client || typeof options.client.evalsha !== 'function') {
      throw new InvalidArgumentError('Expected options.client to be an ioredis Redis or Cluster instance');
    }
    const prefix = options.prefix ?? 'kucoin-scheduler';
    if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
      throw new InvalidArgumentError(`Expected prefix to be a non-empty string without braces, got ${JSON.stringify(prefix)}`);
    }
    this.#client = options.client;
    this.#prefix = prefix;
    this.#clock = options.clock;
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new InvalidArgumentError(`Expected commandTimeoutMs to be a number > 0, got ${String(options.commandTimeoutMs)}`);
    }
  }

  /** Runs `script` on `buckets` (their keys and config blocks) with its named arguments; `time` is added here. */
  #run<S extends ScriptName>(
    script: S,
    args: Omit<ScriptArgs<S>, 'time'>,
    buckets: readonly ScriptBucket[],
    keys?: readonly string[],
    rows?: readonly ScriptRow<S>[],
  ): Promise<unknown> {
    const all = { ...args, time: this.#clock ? String(this.#clock()) : '' } as unknown as ScriptArgs<S>;
    const k = keys ?? buckets.flatMap((b) => bucketKeys(this.#prefix, b.bucket));
    return SCRIPTS[script].run(this.#client, k, scriptArgs(script, all, buckets, rows), this.#timeoutMs);
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const sender = validateSender(request.sender);
    const reply = await this.#run(
      'acquire',
      { share: request.share, count: request.count ?? 1, tier: request.tier ?? -1, senderId: sender?.id ?? '', senderWeight: sender?.weight ?? 0 },
      request.charges,
    );
    const { fields: r, each } = parseReply('acquire', reply);
    const now = Number(r.now);
    if (r.admitted === '1') return { admitted: true, now, count: Number(r.count), counted: each.map((e) => Number(e.counted)) };
    const bucket = request.charges[Number(r.bucket) - 1]?.bucket;
    if (r.admitted !== '0' || !bucket || !REASONS.has(r.reason)) throw new StoreError(`Unexpected reply from the acquire script: ${JSON.stringify(reply)}`);
    return { admitted: false, now, waitMs: Number(r.waitMs), bucketId: bucket.id, reason: r.reason as DenyReason };
  }

  async release(request: AcquireRequest, count: number, at: number): Promise<void> {
    validateRelease(request, count, at);
    if (count === 0 || request.charges.length === 0) return;
    await this.#run('release', { share: request.share, count, at }, request.charges);
  }

  async resume(bucket: BucketConfig): Promise<void> {
    await this.#run('resume', {}, [{ bucket, weight: 0 }]);
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    await this.#run('pause', { untilMs: normalizeUntil(untilMs) }, [{ bucket, weight: 0 }]);
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    validateFactor(factor);
    await this.#run('setFactor', { factor }, [{ bucket, weight: 0 }]);
  }

  /**
   * Applies one reply's headers. Replies of a bucket that come back while its last observation is being written
   * go together in the next call (ObserveBatches): the script applies them in order, as one call each would.
   */
  async observe(bucket: BucketConfig, observation: Observation): Promise<ObserveResult> {
    const o = normalizeObservation(observation, bucket);
    return this.#observations.add(bucket, {
      sentAt: o.sentAt,
      limit: o.limit,
      remaining: o.remaining,
      resetMs: o.resetMs,
      recoverStep: o.recoverStep!,
      minLimit: o.minLimit,
      maxLimit: o.maxLimit,
      weight: o.weight!,
    });
  }

  async #observe(bucket: BucketConfig, rows: readonly ScriptRow<'observe'>[]): Promise<ObserveResult[]> {
    const reply = await this.#run('observe', {}, [{ bucket, weight: 0 }], undefined, rows);
    const { fields, each } = parseReply('observe', reply);
    if (Number(fields.count) !== rows.length || each.length !== rows.length) {
      throw new StoreError(`Unexpected reply from the observe script: ${rows.length} rows sent, ${fields.count} applied`);
    }
    return each.map((r) => {
      if (!LIMIT_OUTCOMES.has(r.limit)) throw new StoreError(`Unexpected reply from the observe script: limit ${JSON.stringify(r.limit)}`);
      return {
        applied: r.applied === '1',
        limit: r.limit as ObserveResult['limit'],
        limitInForce: Number(r.limitInForce),
        phaseConflict: r.phaseConflict === '1',
        freed: Number(r.freed),
      };
    });
  }

  async penalize(bucket: BucketConfig, penalty: Penalty): Promise<PenaltyResult> {
    const p = normalizePenalty(penalty);
    const bo = p.backoff;
    const args = {
      pauseMs: p.pauseMs ?? 0,
      spent: p.spent ? 1 : 0,
      tightenBy: p.tighten?.by ?? 0,
      tightenMin: p.tighten?.min ?? 0,
      backoffBaseMs: bo?.baseMs ?? 0,
      backoffMaxMs: bo?.maxMs ?? 0,
      backoffJitter: bo?.jitter ?? 0,
      backoffRandom: bo?.random ?? 0,
      backoffResetAfterMs: bo?.resetAfterMs ?? 0,
    };
    const { fields: r } = parseReply('penalize', await this.#run('penalize', args, [{ bucket, weight: 0 }]));
    return { pausedUntil: Number(r.pausedUntil), factor: Number(r.factor), tightened: r.tightened === '1', now: Number(r.now) };
  }

  async inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]> {
    // one script call per hash tag: a Cluster cannot run one script across slots
    const byGroup = new Map<string, BucketConfig[]>();
    for (const b of buckets) byGroup.set(b.group, [...(byGroup.get(b.group) ?? []), b]);
    const states = new Map<BucketConfig, BucketState>();
    for (const group of byGroup.values()) {
      const reply = await this.#run(
        'inspect',
        {},
        group.map((bucket) => ({ bucket, weight: 0 })),
      );
      const { fields, each } = parseReply('inspect', reply);
      const now = Number(fields.now);
      if (each.length !== group.length) throw new StoreError(`Unexpected reply from the inspect script: ${JSON.stringify(reply)}`);
      group.forEach((b, i) => {
        const s = each[i]!;
        states.set(b, {
          id: b.id,
          used: Number(s.used),
          limit: Number(s.limit),
          effectiveLimit: Number(s.effectiveLimit),
          factor: Number(s.factor),
          tokens: Number(s.tokens),
          pausedUntil: Number(s.pausedUntil),
          hidden: Number(s.hidden),
          windowEndLow: Number(s.wlo),
          windowEndHigh: Number(s.whi),
          now,
        });
      });
    }
    return buckets.map((b) => states.get(b)!);
  }

  /** Marks this process alive in `group` for `ttlMs`; returns how many processes are alive there. */
  async heartbeat(group: string, processId: string, ttlMs: number): Promise<number> {
    return (await this.leasedHeartbeat(group, processId, ttlMs, ttlMs)).live;
  }

  /**
   * Marks this process alive in `group` for `ttlMs`; returns how many processes are alive there, and those whose last
   * heartbeat is older than `leaseMs` (<= ttlMs): see heartbeat.lua.
   */
  async leasedHeartbeat(group: string, processId: string, ttlMs: number, leaseMs: number): Promise<{ live: number; overdue: OverdueProcess[] }> {
    const args = { processId, ttlMs: Math.ceil(ttlMs), leaseMs: Math.ceil(leaseMs) };
    const { fields, each } = parseReply('heartbeat', await this.#run('heartbeat', args, [], [heartbeatKey(this.#prefix, group)]));
    return { live: Number(fields.live), overdue: each.map((e) => ({ processId: e.processId, expiresAt: Number(e.expiresAt) })) };
  }

  /** Removes this process from `group`'s heartbeats (it closed); returns how many processes are left there. */
  async leave(group: string, processId: string): Promise<number> {
    return Number(parseReply('leave', await this.#run('leave', { processId }, [], [heartbeatKey(this.#prefix, group)])).fields.live);
  }

  /**
   * Holds back `weight` of `bucket` for a process that may be cut off (see hold.lua): charged once per process and
   * bucket until `holdUntil` (store time); true when this call charged it.
   */
  async hold(bucket: BucketConfig, weight: number, processId: string, holdUntil: number): Promise<boolean> {
    const keys = [...bucketKeys(this.#prefix, bucket), holdKey(this.#prefix, bucket, processId)];
    const reply = await this.#run('hold', { holdUntil: Math.ceil(holdUntil) }, [{ bucket, weight }], keys);
    return parseReply('hold', reply).fields.held === '1';
  }

  /** Charges weight already sent while Redis was unreachable (see absorb.lua). */
  async absorb(bucket: BucketConfig, weight: number): Promise<void> {
    await this.#run('absorb', {}, [{ bucket, weight }]);
  }

  /** The caller owns the Redis client: closing the store leaves it open. */
  async close(): Promise<void> {}
}
