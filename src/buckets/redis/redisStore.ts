import { InvalidArgumentError, StoreError } from '../../errors.js';
import type { AcquireRequest, AcquireResult, BucketConfig, BucketState, DenyReason, Observation, Penalty, PenaltyResult, Store } from '../types.js';
import { validateFactor } from '../validate.js';
import { bucketArgs, bucketKeys, heartbeatKey } from './keys.js';
import { LuaScript, type RedisLike } from './luaScript.js';

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

const SCRIPTS = {
  acquire: new LuaScript('acquire'),
  pause: new LuaScript('pause'),
  setFactor: new LuaScript('setFactor'),
  inspect: new LuaScript('inspect'),
  observe: new LuaScript('observe'),
  penalize: new LuaScript('penalize'),
  heartbeat: new LuaScript('heartbeat'),
  absorb: new LuaScript('absorb'),
};

const REASONS = new Set<DenyReason>(['paused', 'window', 'pacing']);

/**
 * Bucket state in Redis, shared by every process of a quota group. One script acquires all buckets of a
 * request in one round trip, with Redis TIME as the clock.
 */
export class RedisStore implements Store {
  readonly #client: RedisLike;
  readonly #prefix: string;
  readonly #clock: (() => number) | undefined;
  readonly #timeoutMs: number;

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

  #run(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return script.run(this.#client, keys, args, this.#timeoutMs);
  }

  #time(): string {
    return this.#clock ? String(this.#clock()) : '';
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const keys = request.charges.flatMap((c) => bucketKeys(this.#prefix, c.bucket));
    const args = [this.#time(), request.share, request.charges.length, request.count ?? 1, ...request.charges.flatMap((c) => bucketArgs(c.bucket, c.weight))];
    const reply = await this.#run(SCRIPTS.acquire, keys, args);
    if (!Array.isArray(reply) || (reply[0] !== 1 && reply[0] !== 0)) {
      throw new StoreError(`Unexpected reply from the acquire script: ${JSON.stringify(reply)}`);
    }
    const now = Number(reply[1]);
    if (reply[0] === 1) return { admitted: true, now, count: Number(reply[2]), counted: reply.slice(3).map(Number) };
    const bucket = request.charges[Number(reply[3]) - 1]?.bucket;
    const reason = String(reply[4]) as DenyReason;
    if (!bucket || !REASONS.has(reason)) throw new StoreError(`Unexpected reply from the acquire script: ${JSON.stringify(reply)}`);
    return { admitted: false, now, waitMs: Number(reply[2]), bucketId: bucket.id, reason };
  }

  async pause(bucket: BucketConfig, untilMs: number): Promise<void> {
    if (!Number.isFinite(untilMs)) throw new InvalidArgumentError(`Expected untilMs to be a finite epoch time, got ${untilMs}`);
    await this.#run(SCRIPTS.pause, bucketKeys(this.#prefix, bucket), [this.#time(), ...bucketArgs(bucket, 0), Math.ceil(untilMs)]);
  }

  async setFactor(bucket: BucketConfig, factor: number): Promise<void> {
    validateFactor(factor);
    await this.#run(SCRIPTS.setFactor, bucketKeys(this.#prefix, bucket), [this.#time(), ...bucketArgs(bucket, 0), factor]);
  }

  async observe(bucket: BucketConfig, o: Observation): Promise<void> {
    const args = [this.#time(), ...bucketArgs(bucket, 0), o.sentAt, o.limit, o.remaining, o.resetMs, o.recoverStep ?? 0.1];
    await this.#run(SCRIPTS.observe, bucketKeys(this.#prefix, bucket), args);
  }

  async penalize(bucket: BucketConfig, p: Penalty): Promise<PenaltyResult> {
    const bo = p.backoff;
    const args = [
      this.#time(),
      ...bucketArgs(bucket, 0),
      p.pauseMs ?? 0,
      p.spent ? 1 : 0,
      p.tighten?.by ?? 0,
      p.tighten?.min ?? 0,
      bo?.baseMs ?? 0,
      bo?.maxMs ?? 0,
      bo?.jitter ?? 0,
      bo?.random ?? 0,
      bo?.resetAfterMs ?? 0,
    ];
    const reply = (await this.#run(SCRIPTS.penalize, bucketKeys(this.#prefix, bucket), args)) as unknown[];
    return { pausedUntil: Number(reply[0]), factor: Number(reply[1]), tightened: reply[2] === 1, now: Number(reply[3]) };
  }

  async inspect(buckets: readonly BucketConfig[]): Promise<BucketState[]> {
    // one script call per hash tag: a Cluster cannot run one script across slots
    const byGroup = new Map<string, BucketConfig[]>();
    for (const b of buckets) byGroup.set(b.group, [...(byGroup.get(b.group) ?? []), b]);
    const states = new Map<BucketConfig, BucketState>();
    for (const group of byGroup.values()) {
      const keys = group.flatMap((b) => bucketKeys(this.#prefix, b));
      const args = [this.#time(), group.length, ...group.flatMap((b) => bucketArgs(b, 0))];
      const reply = (await this.#run(SCRIPTS.inspect, keys, args)) as unknown[];
      const now = Number(reply[reply.length - 1]);
      group.forEach((b, i) => {
        const [used, effectiveLimit, factor, tokens, pausedUntil, limit, hidden, wlo, whi] = (reply[i] as string[]).map(Number);
        states.set(b, {
          id: b.id,
          used: used!,
          limit: limit!,
          effectiveLimit: effectiveLimit!,
          factor: factor!,
          tokens: tokens!,
          pausedUntil: pausedUntil!,
          hidden: hidden!,
          windowEndLow: wlo!,
          windowEndHigh: whi!,
          now,
        });
      });
    }
    return buckets.map((b) => states.get(b)!);
  }

  /** Marks this process alive in `group` for `ttlMs`; returns how many processes are alive there. */
  async heartbeat(group: string, processId: string, ttlMs: number): Promise<number> {
    return Number(await this.#run(SCRIPTS.heartbeat, [heartbeatKey(this.#prefix, group)], [this.#time(), processId, Math.ceil(ttlMs)]));
  }

  /** Charges weight already sent while Redis was unreachable (see absorb.lua). */
  async absorb(bucket: BucketConfig, weight: number): Promise<void> {
    await this.#run(SCRIPTS.absorb, bucketKeys(this.#prefix, bucket), [this.#time(), ...bucketArgs(bucket, weight)]);
  }

  /** The caller owns the Redis client: closing the store leaves it open. */
  async close(): Promise<void> {}
}
