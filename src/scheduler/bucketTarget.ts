import type { BucketConfig } from '../store/types.js';
import { InvalidArgumentError, UnknownPoolError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { parsePoolName, POOL_NAMES, type PoolName } from '../kucoin/pools.js';
import type { RequestPlanner } from './requestPlan.js';

/**
 * Bucket targets that can be paused or tightened: a pool, the egress IP (Cloudflare), the system guard, a key's
 * circuit guard (`key:<keyId>`, keyId a short hash) or a host's guard (`host:spot`).
 */
export type BucketTarget = PoolName | Lowercase<PoolName> | 'cloudflare' | 'system' | `key:${string}` | `host:${HostName}`;

/** What `resume` clears: a bucket target, or one endpoint's (UID, endpoint) pause (after a 200002). */
export type ResumeTarget = BucketTarget | { readonly endpoint: string; readonly host?: string };

/** The bucket a target names; an InvalidArgumentError or UnknownPoolError for anything else. */
export function bucketOfTarget(planner: RequestPlanner, target: BucketTarget): BucketConfig {
  if (target === 'cloudflare') return planner.ipBucket();
  if (target === 'system') return planner.systemBucket();
  if (typeof target === 'string' && target.startsWith('key:')) {
    const keyId = target.slice(4);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(keyId))
      throw new InvalidArgumentError(`Expected key:<keyId> with a keyId of A-Z a-z 0-9 _ -, got ${JSON.stringify(target.slice(0, 80))}`);
    return planner.keyGuard(keyId);
  }
  if (target === 'host:spot' || target === 'host:futures' || target === 'host:broker') return planner.hostGuard(target.slice(5) as HostName);
  const pool = typeof target === 'string' ? parsePoolName(target) : undefined;
  if (!pool) throw new UnknownPoolError(String(target), [...POOL_NAMES, 'cloudflare', 'system']);
  return planner.poolBucket(pool);
}
