import type { ServerResponse } from 'node:http';
import { PROXY_ERROR_CODES, type ProxyErrorCode } from './proxyCodes.js';

/** Marks every answer the proxy gave itself, so a log or a tool can tell it from KuCoin's. */
export const LOCAL_REPLY_HEADER = 'x-ks-proxy';

/** What a local answer says. `retryAfterMs` adds `Retry-After`; `rateLimit` the `gw-ratelimit-*` headers. */
export interface LocalReply {
  readonly code: ProxyErrorCode;
  /** Shown to the bot after the code's meaning; never a secret (keys appear only as a short hash). */
  readonly detail?: string;
  readonly retryAfterMs?: number;
  /** The pool's limit and the time until it may admit again, as KuCoin's gateway reports them. */
  readonly rateLimit?: { readonly limit: number; readonly resetMs: number };
  /** Close the connection after this answer (a request whose body was not read, a draining proxy). */
  readonly close?: boolean;
}

/**
 * The message of a local 429000. It carries KuCoin's wording for a rate limit ("Too many requests") and the phrase
 * ccxt maps to RateLimitExceeded ("Exceeded the access frequency"), so ccxt-based bots (freqtrade) back off as they
 * do on a rate limit instead of failing with a generic ExchangeError.
 */
const RATE_LIMIT_MSG = 'Too many requests. Exceeded the access frequency';

/** Writes a local answer (KuCoin's envelope) unless the bot is gone or an answer was already started. */
export function sendLocalReply(res: ServerResponse, reply: LocalReply): void {
  if (res.headersSent || res.destroyed) return;
  const { status } = PROXY_ERROR_CODES[reply.code];
  const headers: Record<string, string> = { 'content-type': 'application/json', [LOCAL_REPLY_HEADER]: reply.code };
  if (reply.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(reply.retryAfterMs / 1000)));
  if (reply.rateLimit) {
    headers['gw-ratelimit-limit'] = String(reply.rateLimit.limit);
    headers['gw-ratelimit-remaining'] = '0';
    headers['gw-ratelimit-reset'] = String(Math.max(0, Math.ceil(reply.rateLimit.resetMs)));
  }
  if (reply.close) headers.connection = 'close';
  const base = reply.code === '429000' ? RATE_LIMIT_MSG : PROXY_ERROR_CODES[reply.code].meaning;
  const body = JSON.stringify({ code: reply.code, msg: `${base} (kucoin-scheduler proxy${reply.detail ? `: ${reply.detail}` : ''})` });
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers).end(body);
}
