/**
 * How the scheduler reacts when the gateway pushes back: one table, signal -> scope -> action.
 * Facts and sources: RATE-LIMITS.md sections 3, 4, 7 and 8.
 */
import { header, parseRateLimitHeaders, parseRetryAfterMs, type HeaderBag, type RateLimitHeaders } from './feedback/headers.js';

export type RateLimitSignal = '429000' | '429001' | '429002' | '1015' | '200002' | 'http-429' | 'http-403';

/** Who is limited: the (subject, pool), the whole system, one connection, the egress IP, one (UID, endpoint). */
export type SignalScope = 'pool' | 'system' | 'connection' | 'ip' | 'endpoint';

export interface FeedbackRule {
  readonly scope: SignalScope;
  /** What the scheduler does, for every process at once (except `connection`, which is per process). */
  readonly action: string;
  /** Pause used when the reply names none (ms). */
  readonly defaultPauseMs: number;
  /** The request was not executed: sending it again is safe, even an order. */
  readonly notExecuted: true;
}

export const FEEDBACK_RULES: Readonly<Record<RateLimitSignal, FeedbackRule>> = {
  '429000': {
    scope: 'pool',
    action: 'pause the (UID, pool) until gw-ratelimit-reset (or the window end), mark it spent, tighten its factor once per window; recover over clean windows',
    defaultPauseMs: 1_000,
    notExecuted: true,
  },
  '429001': {
    scope: 'system',
    action: 'system-wide: a short, jittered, exponentially growing backoff shared by all processes',
    defaultPauseMs: 500,
    notExecuted: true,
  },
  '429002': {
    scope: 'connection',
    action: 'fewer requests per connection on that origin, spread over more connections; slow the origin if it persists',
    defaultPauseMs: 200,
    notExecuted: true,
  },
  '1015': {
    scope: 'ip',
    action: 'pause the egress IP (every request of every process behind it) for Retry-After',
    defaultPauseMs: 30_000,
    notExecuted: true,
  },
  '200002': {
    scope: 'endpoint',
    action: 'pause the (UID, endpoint) for 10 s',
    defaultPauseMs: 10_000,
    notExecuted: true,
  },
  'http-429': {
    scope: 'pool',
    action: 'pause the pool for Retry-After or gw-ratelimit-reset',
    defaultPauseMs: 1_000,
    notExecuted: true,
  },
  'http-403': {
    scope: 'pool',
    action: 'pause the pool for Retry-After or gw-ratelimit-reset',
    defaultPauseMs: 1_000,
    notExecuted: true,
  },
};

/** A reply as any client sees it. `body` may be parsed JSON, raw text (HTML), or absent. */
export interface GatewayReply {
  readonly status?: number | undefined;
  readonly headers?: HeaderBag;
  readonly body?: unknown;
}

export interface Classified {
  /** The rate-limit signal, if the reply is one. */
  readonly signal: RateLimitSignal | undefined;
  /** KuCoin's code ('200000' on success), when the body had one. */
  readonly code: string | undefined;
  readonly msg: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly rateLimit: RateLimitHeaders;
}

const CLOUDFLARE_1015 = /error\s*code:?\s*1015|you are being rate limited/i;
const TOO_MANY = /too many requests/i;

function parseBody(body: unknown): { code?: string; msg?: string; text?: string } {
  if (body === undefined || body === null) return {};
  if (typeof body === 'object' && !(body instanceof Uint8Array)) {
    const o = body as { code?: unknown; msg?: unknown; message?: unknown };
    const msg = o.msg ?? o.message;
    return { code: o.code === undefined || o.code === null ? undefined : String(o.code), msg: typeof msg === 'string' ? msg : undefined };
  }
  const text = body instanceof Uint8Array ? new TextDecoder().decode(body) : String(body);
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return { ...parseBody(JSON.parse(trimmed)), text };
    } catch {
      // truncated or not JSON: fall through to text
    }
  }
  return { text };
}

/** Reads one reply: its KuCoin code, rate-limit headers, and which signal (if any) it is. */
export function classifyReply(reply: GatewayReply): Classified {
  const status = typeof reply.status === 'number' && Number.isFinite(reply.status) ? reply.status : undefined;
  const { code, msg, text } = parseBody(reply.body);
  const rateLimit = parseRateLimitHeaders(reply.headers);
  let retryAfterMs = parseRetryAfterMs(reply.headers);
  let signal: RateLimitSignal | undefined;
  if (code === '429000' || code === '429001' || code === '429002') signal = code;
  else if (code === '200002' && msg !== undefined && TOO_MANY.test(msg)) signal = '200002';
  else if (code === undefined) {
    const cloudflare = /cloudflare/i.test(header(reply.headers, 'server') ?? '') || header(reply.headers, 'cf-ray') !== undefined;
    if ((text !== undefined && CLOUDFLARE_1015.test(text)) || (cloudflare && (status === 429 || status === 403))) signal = '1015';
    else if (status === 429) signal = 'http-429';
    else if (status === 403) signal = 'http-403';
  }
  if (signal === '1015' && retryAfterMs === undefined) retryAfterMs = FEEDBACK_RULES['1015'].defaultPauseMs;
  return { signal, code, msg, status, retryAfterMs, rateLimit };
}

/**
 * Finds a gateway reply inside an error thrown by a client: undici/fetch-style objects, kucoin-universal-sdk
 * (`RestError` wrapping an AxiosError, or its common response), ccxt (the JSON body or the Cloudflare page
 * inside the message), or plain objects carrying `code` / `status` / `headers`. Undefined when none is found.
 */
export function replyFromError(err: unknown, depth = 0): GatewayReply | undefined {
  if (err === null || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as Record<string, unknown>;
  // axios (and the SDK's wrapped AxiosError)
  const response = e.response as { status?: number; headers?: HeaderBag; data?: unknown } | undefined;
  if (response && typeof response === 'object' && ('status' in response || 'data' in response)) {
    return { status: response.status, headers: response.headers, body: response.data };
  }
  // kucoin-universal-sdk RestError: getError() holds the cause, getCommonResponse() the parsed envelope
  if (typeof e.getError === 'function') {
    const inner = replyFromError((e.getError as () => unknown).call(err), depth + 1);
    if (inner) return inner;
  }
  if (typeof e.getCommonResponse === 'function') {
    const common = (e.getCommonResponse as () => { code?: string; message?: string; rateLimit?: { limit: number; remaining: number; reset: number } } | null).call(err);
    if (common) {
      const rl = common.rateLimit;
      const headers = rl ? { 'gw-ratelimit-limit': String(rl.limit), 'gw-ratelimit-remaining': String(rl.remaining), 'gw-ratelimit-reset': String(rl.reset) } : undefined;
      return { status: 200, headers, body: { code: common.code, msg: common.message } };
    }
  }
  if (e.cause) {
    const inner = replyFromError(e.cause, depth + 1);
    if (inner) return inner;
  }
  // plain objects: { code, status, headers, body | msg }
  if ('code' in e || 'status' in e || 'statusCode' in e || 'headers' in e) {
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined;
    const kucoinCode = code !== undefined && /^\d{6}$/.test(code) ? code : undefined;
    if (kucoinCode || status !== undefined || e.headers) {
      const msg = typeof e.msg === 'string' ? e.msg : typeof e.message === 'string' ? e.message : undefined;
      const body = e.body ?? (kucoinCode ? { code: kucoinCode, msg } : undefined);
      if (body !== undefined || status !== undefined) return { status, headers: e.headers as HeaderBag, body };
    }
  }
  // ccxt: the body (JSON or the Cloudflare page) inside the message
  const message = typeof e.message === 'string' ? e.message : undefined;
  if (message) {
    const json = /\{[^{}]*"code"\s*:\s*"?\d+"?[^{}]*\}/.exec(message)?.[0];
    if (json) return { body: json };
    if (CLOUDFLARE_1015.test(message)) return { status: 429, body: message };
  }
  return undefined;
}
