/**
 * The send layer's defaults, each written once: the attempt loop, `KucoinClient`, the undici interceptor and the
 * SDK integrations read these, and their options' `@default` tags name them.
 */

/**
 * Extra sends of a request that is safe to repeat (a read, an order with a clientOid) after a transport failure
 * (timeout, reset) or a 5xx.
 */
export const TRANSPORT_RETRIES = 2;

/**
 * `wrap` never re-sends after a transport failure: the wrapped function's own errors are the caller's, and the
 * loop cannot tell its transport failures from its bugs.
 */
export const WRAP_TRANSPORT_RETRIES = 0;

/** Wait before the n-th transport retry (n = 1, 2, ...): 100 ms, doubling. */
export const TRANSPORT_BACKOFF_MS = (n: number): number => 100 * 2 ** (n - 1);
