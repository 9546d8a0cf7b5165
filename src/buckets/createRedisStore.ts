import { RedisStore, type RedisStoreOptions } from './redis/redisStore.js';
import { ResilientStore, type ResilientStoreOptions } from './resilientStore.js';

/**
 * The store to use in production: a RedisStore shared by every process, that keeps admitting under a local
 * share of each quota when Redis is unreachable (see ResilientStore). For the ioredis client, set
 * `enableOfflineQueue: false` so commands fail at once while it reconnects.
 */
export function createRedisStore(options: RedisStoreOptions & Omit<ResilientStoreOptions, 'primary'>): ResilientStore {
  return new ResilientStore({ ...options, primary: new RedisStore(options) });
}
