import { spawnRedisServer } from './redisServer.js';

export interface FoundRedis {
  readonly url: string;
  readonly source: 'REDIS_URL' | 'testcontainers' | 'redis-server';
  stop(): Promise<void>;
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error('timeout')), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * Finds a Redis for the test suite, in this order: `REDIS_URL`; a container through testcontainers when a
 * container runtime answers; a local `redis-server` binary on a free port; else a clear error.
 */
export async function findRedis(): Promise<FoundRedis> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, source: 'REDIS_URL', stop: async () => {} };

  try {
    const tc = await import('testcontainers');
    await withTimeout(tc.getContainerRuntimeClient(), 5_000);
    const container = await withTimeout(new tc.GenericContainer('redis:7-alpine').withExposedPorts(6379).start(), 120_000);
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      source: 'testcontainers',
      stop: async () => void (await container.stop()),
    };
  } catch {
    // no container runtime here: fall through to a local binary
  }

  try {
    const local = await spawnRedisServer();
    return { url: local.url, source: 'redis-server', stop: local.stop };
  } catch (err) {
    throw new Error(
      'No Redis for the tests: set REDIS_URL, run a container runtime (testcontainers), or install redis-server ' +
        `(apt-get install redis-server). Last error: ${(err as Error).message}`,
    );
  }
}
