import type { BucketConfig } from '../types.js';

/**
 * Every key the RedisStore writes. All keys of one quota group share the hash tag `{group}`, so one script
 * can touch them all, on a single server or a Cluster. Each key expires after it has been idle for a span
 * (plus any pause), so an account that stops leaves nothing behind.
 *
 * | key                              | type | holds                                              |
 * |----------------------------------|------|----------------------------------------------------|
 * | `<prefix>:{<group>}:<bucket>`     | hash | used, tokens, tat (tokens refilled at), pause, factor |
 * | `<prefix>:{<group>}:<bucket>:log` | list | admissions as "atMs:weight", oldest first, one per granule |
 * | `<prefix>:{<group>}:hb`           | zset | live processes (ResilientStore heartbeats), score = expiry |
 */
export function bucketKeys(prefix: string, bucket: BucketConfig): [hash: string, log: string] {
  const hash = `${prefix}:{${bucket.group}}:${bucket.id}`;
  return [hash, `${hash}:log`];
}

/** The six per-bucket config values every script reads, in ARGV order. */
export function bucketArgs(bucket: BucketConfig, weight: number): number[] {
  return [weight, bucket.limit, bucket.windowMs, bucket.marginMs, bucket.burst, bucket.refillPerMs];
}

/** The sorted set of live processes of a group (heartbeats). */
export function heartbeatKey(prefix: string, group: string): string {
  return `${prefix}:{${group}}:hb`;
}
