/**
 * Each proxy's traffic, published in the deployment's Redis so `kucoin-scheduler status` shows what the proxies
 * forward and refuse. One hash per quota group, one field per proxy process (JSON), rewritten every `everyMs`;
 * a field not rewritten for 3 x everyMs is a proxy that is gone (the hash expires when no proxy writes it).
 *
 * | key                        | type | holds                                   |
 * |----------------------------|------|-----------------------------------------|
 * | `<prefix>:{<group>}:px`    | hash | proxy id -> ProxyRecord (JSON)          |
 */
import type { ProxyStatsSnapshot } from './proxyStats.js';

/** What the status record needs of an ioredis client (Redis or Cluster: one key per call). */
export interface ProxyStatusRedis {
  hset(key: string, field: string, value: string): Promise<unknown>;
  hdel(key: string, field: string): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  pexpire(key: string, ms: number): Promise<unknown>;
}

export interface ProxyStatusOptions {
  /** The deployment's Redis client (the proxy does not close it). */
  readonly client: ProxyStatusRedis;
  /** The RedisStore prefix of the deployment. @default 'kucoin-scheduler' */
  readonly prefix?: string;
  /** How often the record is rewritten. @default 2_000 */
  readonly everyMs?: number;
}

/** One proxy's record, as `status` reads it. */
export interface ProxyRecord {
  readonly id: string;
  readonly url: string;
  readonly pid: number;
  readonly startedAt: number;
  /** When it was written (epoch ms, the proxy's clock). */
  readonly updatedAt: number;
  readonly everyMs: number;
  readonly stats: ProxyStatsSnapshot;
}

/** The hash of a quota group's proxy records. */
export function proxyStatusKey(prefix: string, group: string): string {
  return `${prefix}:{${group}}:px`;
}

/** The records of the proxies alive at `now` (written within 3 x their interval), oldest start first. */
export async function readProxyRecords(client: Pick<ProxyStatusRedis, 'hgetall'>, prefix: string, group: string, now: number): Promise<ProxyRecord[]> {
  const all = await client.hgetall(proxyStatusKey(prefix, group));
  const records: ProxyRecord[] = [];
  for (const value of Object.values(all ?? {})) {
    try {
      const r = JSON.parse(value) as ProxyRecord;
      if (typeof r.updatedAt === 'number' && typeof r.everyMs === 'number' && r.updatedAt + 3 * r.everyMs > now) records.push(r);
    } catch {
      // a field that is not a record: skipped
    }
  }
  return records.sort((a, b) => a.startedAt - b.startedAt);
}

/** Writes this proxy's record every `everyMs` until stopped; a Redis fault skips one write (the next one catches up). */
export class ProxyStatusPublisher {
  readonly #key: string;
  readonly #everyMs: number;
  readonly #timer: NodeJS.Timeout;
  readonly #startedAt = Date.now();

  constructor(
    private readonly options: ProxyStatusOptions,
    group: string,
    private readonly id: string,
    private readonly url: () => string,
    private readonly stats: () => ProxyStatsSnapshot,
  ) {
    this.#key = proxyStatusKey(options.prefix ?? 'kucoin-scheduler', group);
    this.#everyMs = options.everyMs ?? 2_000;
    this.#timer = setInterval(() => void this.write(), this.#everyMs);
    this.#timer.unref();
  }

  async write(): Promise<void> {
    const record: ProxyRecord = {
      id: this.id,
      url: this.url(),
      pid: process.pid,
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
      everyMs: this.#everyMs,
      stats: this.stats(),
    };
    try {
      await this.options.client.hset(this.#key, this.id, JSON.stringify(record));
      await this.options.client.pexpire(this.#key, 3 * this.#everyMs);
    } catch {
      // Redis unreachable: status shows this proxy again after the next write
    }
  }

  /** Stops writing and removes the record. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    try {
      await this.options.client.hdel(this.#key, this.id);
    } catch {
      // it expires on its own
    }
  }
}
