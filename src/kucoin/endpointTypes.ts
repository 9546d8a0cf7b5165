import type { PoolName } from './pools.js';

/** The three REST hosts: api.kucoin.com, api-futures.kucoin.com, api-broker.kucoin.com. */
export type HostName = 'spot' | 'futures' | 'broker';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** One generated row: [host, method, path template, pool, weight | null, deprecated, name]. */
export type EndpointRow = readonly [HostName, string, string, PoolName, number | null, boolean, string];

/** What the scheduler knows about one REST operation. */
export interface EndpointInfo {
  readonly host: HostName;
  readonly method: string;
  /** Path template, e.g. `/api/v1/hf/orders/{orderId}`. */
  readonly path: string;
  readonly pool: PoolName;
  /** Weight charged to the pool; the conservative default when the spec gives none. */
  readonly weight: number;
  /** True when the table had no weight or the endpoint is not in the table at all. */
  readonly weightAssumed: boolean;
  readonly known: boolean;
  readonly deprecated: boolean;
  readonly name: string;
}
