import { heartbeatKey } from '../store/redis/keys.js';
import { type CliRedis } from './redisConnection.js';

/**
 * The processes alive in a quota group, read from the heartbeats every ResilientStore (createRedisStore)
 * writes: members whose expiry (the score, Redis time) is still ahead. A bare RedisStore writes none.
 */
export async function liveProcesses(client: CliRedis, prefix: string, group: string, nowMs: number): Promise<string[]> {
  const reply = await client.zrangebyscore(heartbeatKey(prefix, group), nowMs + 1, '+inf', 'WITHSCORES');
  return reply.filter((_, i) => i % 2 === 0);
}
