import type { Priority } from '../store/types.js';
import type { RateLimitSignal } from '../kucoin/errorFeedback.js';
import type { ProxyErrorCode } from './proxyCodes.js';

/**
 * Every event of a proxy, by name: one per refusal, signal and lifecycle step (the CLI prints each as one JSON
 * line). No event ever holds an API key, a secret, a passphrase or a signature: keys appear as `keyId`, the first
 * 12 hex digits of their SHA-256.
 */
export interface ProxyEvents {
  /** The proxy answered a request itself (see PROXY_ERROR_CODES); nothing was forwarded unless `code` says it may have run. */
  refused: {
    code: ProxyErrorCode;
    status: number;
    reason: string;
    method: string | undefined;
    /** `host METHOD /path` (no query), when the request was routed. */
    endpoint: string | undefined;
    priority: Priority | undefined;
    uid: string | undefined;
    keyId: string | undefined;
    bot: string | undefined;
    retryAfterMs: number | undefined;
  };
  /** KuCoin answered with a rate-limit signal: fed back to the shared store; `resent` when the proxy sent it again. */
  signal: {
    signal: RateLimitSignal;
    kucoinCode: string | undefined;
    status: number;
    endpoint: string;
    uid: string | undefined;
    bot: string;
    resent: boolean;
  };
  /** `close()` began: no new request is taken; those in the proxy finish within `drainMs`. */
  draining: { inFlight: number; drainMs: number };
  /** Every listener and connection is closed. */
  closed: { forwarded: number; refused: number };
  /** A WebSocket relay opened, was refused, or closed. */
  websocket: { phase: 'open' | 'refused' | 'closed'; subject: string; reason: string; bot: string };
}
