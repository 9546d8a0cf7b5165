/**
 * Every answer the proxy gives itself instead of KuCoin, by its `code` (the body is KuCoin's envelope,
 * `{"code":"...","msg":"..."}`, so a bot's own error handling reads it). Two kinds:
 *
 * - KuCoin's own codes, where the proxy answers exactly what KuCoin would have: `429000` (a rate-limit refusal:
 *   nothing was sent, nothing was charged, the bot's own retry re-signs), `400001` and `400002` (a signed request
 *   without a readable `KC-API-TIMESTAMP`, which KuCoin would refuse);
 * - `KS_PROXY_*` codes for what only a proxy can say (no route, a target outside the allow-list, too busy...).
 *
 * `maybeExecuted` is true only where KuCoin may have run the request (no reply came back): such a request is
 * never sent again by the proxy.
 */
export const PROXY_ERROR_CODES = {
  '429000': { status: 429, maybeExecuted: false, meaning: 'rate limit: answered by the proxy (not sent, not charged); retry after Retry-After, signed again' },
  '400001': {
    status: 400,
    maybeExecuted: false,
    meaning: 'a signed request missing KC-API-KEY or KC-API-TIMESTAMP, or a private one without KC-API-SIGN (KuCoin would refuse it)',
  },
  '400002': { status: 400, maybeExecuted: false, meaning: 'KC-API-TIMESTAMP is not a number of milliseconds (KuCoin would refuse it)' },
  KS_PROXY_NOT_FOUND: {
    status: 404,
    maybeExecuted: false,
    meaning: 'no route: the path starts with none of /spot, /futures, /broker and no X-Proxy-To names a target',
  },
  KS_PROXY_TARGET_REFUSED: { status: 403, maybeExecuted: false, meaning: "the target is outside the allow-list (KuCoin's hosts, or the configured upstreams)" },
  KS_PROXY_METHOD_NOT_ALLOWED: { status: 405, maybeExecuted: false, meaning: 'KuCoin takes GET, POST, PUT, DELETE and PATCH only' },
  KS_PROXY_BAD_REQUEST: { status: 400, maybeExecuted: false, meaning: 'a malformed request target or proxy header (X-KS-Priority, X-KS-Bot, X-Proxy-To)' },
  KS_PROXY_UNKNOWN_KEY: {
    status: 403,
    maybeExecuted: false,
    meaning: 'signed with an API key that no configured account names (its UID, hence its quota, is unknown)',
  },
  KS_PROXY_BODY_TOO_LARGE: { status: 413, maybeExecuted: false, meaning: 'the request body is larger than maxBodyBytes' },
  KS_PROXY_HEADERS_TOO_LARGE: { status: 431, maybeExecuted: false, meaning: 'the request headers are larger than maxHeaderBytes' },
  KS_PROXY_TIMEOUT: { status: 408, maybeExecuted: false, meaning: 'the request was not received in time (headersTimeoutMs, requestTimeoutMs)' },
  KS_PROXY_BUSY: { status: 503, maybeExecuted: false, meaning: 'maxInFlight requests are already in the proxy; nothing was sent' },
  KS_PROXY_DRAINING: { status: 503, maybeExecuted: false, meaning: 'the proxy is shutting down (SIGTERM); nothing was sent' },
  KS_PROXY_QUEUE_FULL: { status: 503, maybeExecuted: false, meaning: "the scheduler's queue for this priority is full (maxQueued); nothing was sent" },
  KS_PROXY_STORE_UNAVAILABLE: {
    status: 503,
    maybeExecuted: false,
    meaning: 'the shared store is unreachable and this priority fails closed; nothing was sent',
  },
  KS_PROXY_UPSTREAM_UNREACHABLE: {
    status: 502,
    maybeExecuted: false,
    meaning: 'KuCoin could not be reached (no connection, no TLS session): the request was not sent',
  },
  KS_PROXY_UPSTREAM_FAILED: {
    status: 502,
    maybeExecuted: true,
    meaning: 'no reply from KuCoin (connection failed or reset): the request may have been executed; it was not sent again',
  },
  KS_PROXY_UPSTREAM_TIMEOUT: {
    status: 504,
    maybeExecuted: true,
    meaning: 'KuCoin did not answer within upstreamTimeoutMs: the request may have been executed; it was not sent again',
  },
  KS_PROXY_REPLY_TOO_LARGE: { status: 502, maybeExecuted: true, meaning: "KuCoin's reply is larger than maxReplyBytes (the request was executed)" },
  KS_PROXY_INTERNAL: { status: 500, maybeExecuted: false, meaning: 'a fault of the proxy itself, before anything was sent' },
} as const satisfies Readonly<Record<string, { readonly status: number; readonly maybeExecuted: boolean; readonly meaning: string }>>;

/** The `code` of every error the proxy answers with (PROXY_ERROR_CODES): switch on it. */
export type ProxyErrorCode = keyof typeof PROXY_ERROR_CODES;
