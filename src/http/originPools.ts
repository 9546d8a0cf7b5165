import { Pool } from 'undici';

export interface OriginPoolOptions {
  /** Connections per origin. @default 16 */
  readonly connections: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

const MIN_REQUESTS_PER_CONNECTION = 8;
const START_REQUESTS_PER_CONNECTION = 1_000;
const PERSIST_WINDOW_MS = 10_000;

interface Origin {
  pool: Pool;
  requestsPerConnection: number;
  limitedAt: number[];
}

/**
 * One undici Pool per origin (keep-alive). On 429002 ("too many requests on one connection") an origin's
 * connections are recycled after fewer requests each, spreading its load over more connections; if it
 * goes on, the origin is slowed (the returned delay grows).
 */
export class OriginPools {
  readonly #origins = new Map<string, Origin>();
  readonly #retired = new Set<Pool>();

  constructor(private readonly options: OriginPoolOptions) {}

  #create(origin: string, requestsPerConnection: number): Pool {
    return new Pool(origin, {
      connections: this.options.connections,
      pipelining: 1,
      headersTimeout: this.options.headersTimeoutMs,
      bodyTimeout: this.options.bodyTimeoutMs,
      keepAliveTimeout: this.options.keepAliveTimeoutMs,
      maxRequestsPerClient: requestsPerConnection,
    });
  }

  get(origin: string): Pool {
    let o = this.#origins.get(origin);
    if (!o) {
      o = { pool: this.#create(origin, START_REQUESTS_PER_CONNECTION), requestsPerConnection: START_REQUESTS_PER_CONNECTION, limitedAt: [] };
      this.#origins.set(origin, o);
    }
    return o.pool;
  }

  /** Requests per connection on an origin now (for tests and snapshots). */
  requestsPerConnection(origin: string): number {
    return this.#origins.get(origin)?.requestsPerConnection ?? START_REQUESTS_PER_CONNECTION;
  }

  /** Reacts to a 429002 on `origin`; returns how long to hold back before sending there again (ms). */
  connectionLimited(origin: string, now: number = Date.now()): number {
    const o = this.#origins.get(origin);
    if (!o) return 0;
    o.limitedAt = o.limitedAt.filter((t) => now - t < PERSIST_WINDOW_MS);
    o.limitedAt.push(now);
    if (o.requestsPerConnection > MIN_REQUESTS_PER_CONNECTION) {
      o.requestsPerConnection = Math.max(MIN_REQUESTS_PER_CONNECTION, Math.floor(o.requestsPerConnection / 4));
      const old = o.pool;
      this.#retired.add(old);
      void old.close().finally(() => this.#retired.delete(old)); // in-flight requests finish on it
      o.pool = this.#create(origin, o.requestsPerConnection);
    }
    // persisting: slow the origin, 100 ms doubling per repeat within 10 s, at most 2 s
    return Math.min(2_000, 100 * 2 ** (o.limitedAt.length - 1));
  }

  async close(): Promise<void> {
    const pools = [...[...this.#origins.values()].map((o) => o.pool), ...this.#retired];
    this.#origins.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}
