/**
 * The defaults of every connection to KuCoin, written once: `KucoinClient` and the proxy's upstream read these,
 * and their options' `@default` tags name them.
 */

/** How long KuCoin has to answer one attempt (headers, then body), ms. */
export const UPSTREAM_TIMEOUT_MS = 10_000;

/**
 * Connections per KuCoin origin. An admitted request that waits for a free connection reaches the server late, so
 * this must carry the quota at the path's latency: 64 carry about 400 requests/s at 150 ms.
 */
export const CONNECTIONS_PER_ORIGIN = 64;
