import type { RedisLike } from '../buckets/redis/luaScript.js';
import { CliFailure } from './cliErrors.js';

/** What the CLI uses of an ioredis client. */
export interface CliRedis extends RedisLike {
  ping(): Promise<string>;
  time(): Promise<[string, string]>;
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: 'WITHSCORES'): Promise<string[]>;
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  del(...keys: string[]): Promise<number>;
  /** The proxies' status records (src/proxy/proxyStatus.ts). */
  hset(key: string, field: string, value: string): Promise<unknown>;
  hdel(key: string, field: string): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  pexpire(key: string, ms: number): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  readonly options: { retryStrategy?: (times: number) => number | null };
  connect(): Promise<void>;
}

type RedisConstructor = new (url: string, options: Record<string, unknown>) => CliRedis;

/**
 * Connects to Redis with the caller's URL (AUTH and TLS as ioredis reads them from it) and checks it answers.
 * ioredis is an optional peer dependency of the package: a clear CliFailure says so when it is missing,
 * and when Redis cannot be reached. The URL's password never appears in a message.
 * @param timeoutMs how long the first connection may take @default 3000
 */
export async function connectRedis(url: URL, timeoutMs = 3000): Promise<CliRedis> {
  let Redis: RedisConstructor;
  try {
    ({ Redis } = (await import('ioredis')) as unknown as { Redis: RedisConstructor });
  } catch {
    throw new CliFailure('This command needs ioredis, an optional peer dependency of kucoin-scheduler: npm install ioredis');
  }
  let lastError: Error | undefined;
  const client = new Redis(url.href, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', (err) => (lastError = err)); // reported below, never printed by ioredis itself
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    const why = (lastError ?? (err as Error)).message;
    throw new CliFailure(`Redis at ${url.host} did not answer: ${why}`);
  }
  // once connected, ride out short outages (status --watch)
  client.options.retryStrategy = (times) => Math.min(times * 200, 2000);
  return client;
}

/** Redis's clock, in epoch ms (the one every process's scripts use). */
export async function redisTimeMs(client: CliRedis): Promise<number> {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
