import { InvalidArgumentError } from '../../errors.js';
import type { BucketConfig } from '../types.js';

/**
 * Every key the RedisStore writes. All keys of one quota group share the hash tag `{group}`, so one script
 * can touch them all, on a single server or a Cluster. A kind marker follows the tag (`b:`, `l:`, `hb`), so
 * no bucket id, whatever it holds (an endpoint id embeds a raw path, e.g. `GET /x:log`), can name another
 * bucket's key or the heartbeat set. Each key expires after it has been idle for a span (plus any pause,
 * hidden weight, known window or phase conflict still in force), so an account that stops leaves nothing.
 *
 * | key                          | type | holds                                                          |
 * |------------------------------|------|----------------------------------------------------------------|
 * | `<prefix>:{<group>}:b:<id>`  | hash | the bucket's state: `STATE_FIELDS` in scriptLayout.ts           |
 * | `<prefix>:{<group>}:l:<id>`  | list | admissions as "atMs:weight", oldest first, one per granule      |
 * | `<prefix>:{<group>}:hb`      | zset | live processes (ResilientStore heartbeats), score = expiry      |
 * | `<prefix>:{<group>}:h:<process>:<id>` | string | a cut-off process's share is held in the bucket (hold.lua) |
 *
 * A group may not contain braces: they would move the hash tag (and could make two groups' keys meet).
 */
export function bucketKeys(prefix: string, bucket: BucketConfig): [hash: string, log: string] {
  const tag = groupTag(prefix, bucket.group);
  return [`${tag}:b:${bucket.id}`, `${tag}:l:${bucket.id}`];
}

/** The sorted set of live processes of a group (heartbeats). */
export function heartbeatKey(prefix: string, group: string): string {
  return `${groupTag(prefix, group)}:hb`;
}

/** The guard of the hold of a process's share in a bucket (hold.lua): set once, until the hold ends. */
export function holdKey(prefix: string, bucket: BucketConfig, processId: string): string {
  return `${groupTag(prefix, bucket.group)}:h:${processId}:${bucket.id}`;
}

function groupTag(prefix: string, group: string): string {
  if (typeof group !== 'string' || group === '' || /[{}]/.test(group)) {
    throw new InvalidArgumentError(
      `Expected a quota group to be a non-empty string without braces, got ${typeof group === 'string' ? JSON.stringify(group) : typeof group}`,
    );
  }
  return `${prefix}:{${group}}`;
}
