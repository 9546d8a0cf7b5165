import type { TableEndpoint } from './endpoints.generated.js';
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

/**
 * An endpoint of KuCoin's table, `'METHOD /path'`, optionally with its query: `'POST /api/v1/hf/orders'`,
 * `'DELETE /api/v1/hf/orders/123'` (a `{param}` segment takes any string), `'GET /api/v1/accounts?type=trade'`.
 * A typo (`'POST /api/v1/hf/order'`) does not type-check; for a path the table lacks, use `unlisted()`.
 */
export type KnownEndpoint = TableEndpoint | `${TableEndpoint}?${string}`;

declare const unlistedBrand: unique symbol;

/** An endpoint the table does not list, declared with `unlisted('POST /api/v1/new-thing')`. */
export type UnlistedEndpoint = string & { readonly [unlistedBrand]: true };

/** What `ScheduleOptions.endpoint` takes: an endpoint of the table, or one declared with `unlisted()`. */
export type Endpoint = KnownEndpoint | UnlistedEndpoint;

/** True for a literal string type (`'GET /x'`), false for `string` or a pattern such as `` `GET ${string}` ``. */
type IsLiteral<E extends string> = Record<never, never> extends Record<E, 1> ? false : true;

/**
 * What `ScheduleOptions<E>.endpoint` accepts for an inferred `E`: a literal must be a KnownEndpoint (or
 * `unlisted()`), so the editor flags a typo; a value only known at run time (`string`, `` `${method} ${path}` ``)
 * passes, and `strictEndpoints` checks it when it is scheduled.
 */
export type CheckedEndpoint<E extends string> = E extends UnlistedEndpoint ? E : IsLiteral<E> extends true ? (E extends KnownEndpoint ? E : Endpoint) : E;
