import { RedisStore, type RedisStoreOptions } from './redis/redisStore.js';
import { ResilientStore, type ResilientStoreOptions } from './resilientStore.js';

/**
 * The store to use in production: a RedisStore shared by every process, that keeps admitting under a local
 * share of each quota when Redis becomes unreachable, for one lease (2 heartbeats), then critical requests only
 * (see ResilientStore and docs/redis-failures.md). Until Redis has answered once
 * (store health `connecting`) nothing is admitted: requests wait in their queues and go as soon as it has.
 * For the ioredis client, set `enableOfflineQueue: false` so commands fail at once while it reconnects.
 */
export function createRedisStore(options: RedisStoreOptions & Omit<ResilientStoreOptions, 'primary'>): ResilientStore {
  return new ResilientStore({ ...options, primary: new RedisStore(options) });
}
