import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** A client of the suite's Redis, and a random key prefix so tests never share keys. */
export function testRedis(): { client: Redis; prefix: string } {
  return { client: new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 }), prefix: `ks-test-${randomUUID()}` };
}
