import type { RedisLike } from '../store/redis/luaScript.js';
import { CliFailure } from './cliErrors.js';
import { databaseOf } from './flags.js';

/** What the CLI uses of an ioredis client. */
export interface CliRedis extends RedisLike {
  ping(): Promise<string>;
  time(): Promise<[string, string]>;
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: 'WITHSCORES'): Promise<string[]>;
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  del(...keys: string[]): Promise<number>;
  select(db: number): Promise<unknown>;
  dbsize(): Promise<number>;
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

/** A message with the URL's password taken out, as written and decoded (a server may echo what it was sent). */
function redacted(message: string, url: URL): string {
  let out = message;
  if (url.password !== '') for (const form of new Set([url.password, safeDecode(url.password)])) out = out.split(form).join('***');
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Connects to Redis with the caller's URL (AUTH and TLS as ioredis reads them from it), checks it answers, and
 * selects the URL's database itself: ioredis only reports a SELECT that failed as an `error` event and goes on
 * in database 0, so a command would read and delete another database's keys. A SELECT refused is a CliFailure.
 * ioredis is an optional peer dependency of the package: a clear CliFailure says so when it is missing,
 * and when Redis cannot be reached. The URL's password never appears in a message.
 * @param timeoutMs how long the first connection may take @default 3000
 * @param reconnect ride out short outages once connected (status --watch); false: a dropped connection fails the
 *   command instead of coming back (a reconnection SELECTs again, and a SELECT that fails there goes unseen) @default true
 */
export async function connectRedis(url: URL, timeoutMs = 3000, reconnect = true): Promise<CliRedis> {
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
    throw new CliFailure(`Redis at ${url.host} did not answer: ${redacted(String(why), url)}`);
  }
  const db = databaseOf(url);
  try {
    if ((await client.select(db)) !== 'OK') throw new Error('it did not answer OK');
  } catch (err) {
    client.disconnect();
    throw new CliFailure(`Redis at ${url.host} refused SELECT ${db} (${redacted(String((err as Error).message), url)}): nothing was read or written`);
  }
  // once connected, ride out short outages (status --watch)
  if (reconnect) client.options.retryStrategy = (times) => Math.min(times * 200, 2000);
  return client;
}

/** Redis's clock, in epoch ms (the one every process's scripts use). */
export async function redisTimeMs(client: CliRedis): Promise<number> {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
