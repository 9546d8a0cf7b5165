/**
 * How the scheduler reacts when the gateway pushes back: one table, signal -> scope -> action.
 * Facts and sources: docs/RATE-LIMITS.md sections 3, 4, 7 and 8.
 */
import { header, parseRateLimitHeaders, parseRetryAfterMs, type HeaderBag, type RateLimitHeaders } from './headers.js';

/** A rate-limit refusal: KuCoin's 429000 (pool), 429001 (system), 429002 (connection), 200002 (endpoint), Cloudflare's 1015, or a bare HTTP 429 / 403. */
export type RateLimitSignal = '429000' | '429001' | '429002' | '1015' | '200002' | 'http-429' | 'http-403';

/** Who is limited: the (subject, pool), the whole system, one connection, the egress IP, one (UID, endpoint). */
export type SignalScope = 'pool' | 'system' | 'connection' | 'ip' | 'endpoint';

/** What the scheduler does about one rate-limit signal (a row of FEEDBACK_RULES). */
export interface FeedbackRule {
  readonly scope: SignalScope;
  /** What the scheduler does, for every process at once (except `connection`, which is per process). */
  readonly action: string;
  /** Pause used when the reply names none (ms). */
  readonly defaultPauseMs: number;
  /** The request was not executed: sending it again is safe, even an order. */
  readonly notExecuted: true;
}

/** The feedback table: for each rate-limit signal, the scope it names and what every process does about it. */
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

/** A reply as `classifyReply` reads it: the refusal it carries if any, KuCoin's code and message, its status and rate-limit headers. */
export interface Classified {
  /**
   * The rate-limit signal, if the reply is one: its body is a refusal's (KuCoin's code, Cloudflare's page) and its
   * status is the one KuCoin refuses with (REFUSAL_STATUSES) or unknown. A refusal's code under another status
   * (a 500 carrying 429000, a 502 or 200 page saying "rate limited") is no signal: the request may have executed.
   */
  readonly signal: RateLimitSignal | undefined;
  /**
   * The reply proves the request was not executed: a signal with its status known and KuCoin's. A signal read
   * without a status (an error message that kept only the body) is believed for a request safe to repeat only.
   */
  readonly refused: boolean;
  /** KuCoin's code ('200000' on success), when the body had one. */
  readonly code: string | undefined;
  readonly msg: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly rateLimit: RateLimitHeaders;
}

/**
 * The HTTP statuses each refusal comes with (docs/RATE-LIMITS.md section 4): KuCoin's gateway answers 429xxx with
 * 429, Cloudflare's 1015 page comes with 429 (sometimes 403), the business layer's 200002 with 200; 429 itself
 * means "not processed". A refusal's body under any other status is not believed.
 */
export const REFUSAL_STATUSES: Readonly<Record<RateLimitSignal, readonly number[]>> = {
  '429000': [429],
  '429001': [429],
  '429002': [429],
  '1015': [429, 403],
  '200002': [200, 429],
  'http-429': [429],
  'http-403': [403],
};

const CLOUDFLARE_1015 = /error\s*code:?\s*1015|you are being rate limited/i;
const TOO_MANY = /too many requests/i;

/** Longest body text read for a code or the Cloudflare page; a gateway's error body is far shorter. */
const MAX_BODY_CHARS = 64 * 1024;

/** A property read that never throws (getters, Proxies); undefined when it would. */
function read(o: object, key: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** KuCoin's code as a string: `'429000'` or `429000`; anything else (objects, NaN, huge strings) is no code. */
function codeOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length <= 32 ? value : undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'bigint') return String(value);
  return undefined;
}

function parseBody(body: unknown, depth = 0): { code?: string; msg?: string; text?: string } {
  if (body === undefined || body === null) return {};
  if (typeof body === 'object' && !(body instanceof Uint8Array)) {
    const msg = read(body, 'msg') ?? read(body, 'message');
    return { code: codeOf(read(body, 'code')), msg: typeof msg === 'string' ? msg : undefined };
  }
  let text: string;
  if (body instanceof Uint8Array) text = new TextDecoder().decode(body.subarray(0, MAX_BODY_CHARS));
  else if (typeof body === 'string') text = body;
  else if (typeof body === 'number' || typeof body === 'boolean' || typeof body === 'bigint') text = String(body);
  else return {}; // a symbol or a function is no body
  if (text.length > MAX_BODY_CHARS) text = text.slice(0, MAX_BODY_CHARS);
  const trimmed = text.trim();
  if (trimmed.startsWith('{') && depth === 0) {
    try {
      return { ...parseBody(JSON.parse(trimmed), depth + 1), text };
    } catch {
      // truncated or not JSON: fall through to text
    }
  }
  return { text };
}

function safeParseBody(body: unknown): { code?: string; msg?: string; text?: string } {
  try {
    return parseBody(body);
  } catch {
    return {}; // a Proxy body whose traps throw: no code, no text
  }
}

/**
 * Reads one reply: its KuCoin code, rate-limit headers, and which signal (if any) it is. Never throws:
 * a reply that is not an object, a Proxy, throwing getters or garbage fields read as "nothing known".
 */
export function classifyReply(reply: GatewayReply): Classified {
  const r: object = reply !== null && typeof reply === 'object' ? reply : {};
  const rawStatus = read(r, 'status');
  const status = typeof rawStatus === 'number' && Number.isFinite(rawStatus) ? rawStatus : undefined;
  const headers = read(r, 'headers') as HeaderBag;
  const { code, msg, text } = safeParseBody(read(r, 'body'));
  const rateLimit = parseRateLimitHeaders(headers);
  let retryAfterMs = parseRetryAfterMs(headers);
  let signal: RateLimitSignal | undefined;
  if (code === '429000' || code === '429001' || code === '429002') signal = code;
  else if (code === '200002' && msg !== undefined && TOO_MANY.test(msg.slice(0, MAX_BODY_CHARS))) signal = '200002';
  else if (code === undefined) {
    const cloudflare = /cloudflare/i.test(header(headers, 'server') ?? '') || header(headers, 'cf-ray') !== undefined;
    if ((text !== undefined && CLOUDFLARE_1015.test(text)) || (cloudflare && (status === 429 || status === 403))) signal = '1015';
    else if (status === 429) signal = 'http-429';
    else if (status === 403) signal = 'http-403';
  }
  // a refusal's body under a status KuCoin never refuses with: not believed (may have executed)
  if (signal !== undefined && status !== undefined && !REFUSAL_STATUSES[signal].includes(status)) signal = undefined;
  if (signal === '1015' && retryAfterMs === undefined) retryAfterMs = FEEDBACK_RULES['1015'].defaultPauseMs;
  return { signal, refused: signal !== undefined && status !== undefined, code, msg, status, retryAfterMs, rateLimit };
}

/**
 * Finds a gateway reply inside an error thrown by a client: undici/fetch-style objects, kucoin-universal-sdk
 * (`RestError` wrapping an AxiosError, or its common response), ccxt (the JSON body or the Cloudflare page
 * inside the message), or plain objects carrying `code` / `status` / `headers`. Undefined when none is found.
 */
export function replyFromError(err: unknown, depth = 0): GatewayReply | undefined {
  try {
    return findReply(err, depth);
  } catch {
    return undefined; // a hostile error object (throwing getters, a Proxy): no reply can be read from it
  }
}

function findReply(err: unknown, depth: number): GatewayReply | undefined {
  if (err === null || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as Record<string, unknown>;
  // axios (and the SDK's wrapped AxiosError)
  const response = read(e, 'response') as { status?: number; headers?: HeaderBag; data?: unknown } | undefined;
  if (response && typeof response === 'object' && ('status' in response || 'data' in response)) {
    return { status: read(response, 'status') as number | undefined, headers: read(response, 'headers') as HeaderBag, body: read(response, 'data') };
  }
  // kucoin-universal-sdk RestError: getError() holds the cause, getCommonResponse() the parsed envelope
  const getError = read(e, 'getError');
  if (typeof getError === 'function') {
    const inner = replyFromError(call(getError, err), depth + 1);
    if (inner) return inner;
  }
  const getCommonResponse = read(e, 'getCommonResponse');
  if (typeof getCommonResponse === 'function') {
    const common = call(getCommonResponse, err) as { code?: unknown; msg?: unknown; message?: unknown; rateLimit?: unknown } | null | undefined;
    if (common && typeof common === 'object') {
      const rl = read(common, 'rateLimit') as { limit?: unknown; remaining?: unknown; reset?: unknown } | null | undefined;
      const headers =
        rl && typeof rl === 'object'
          ? {
              'gw-ratelimit-limit': codeOf(read(rl, 'limit')),
              'gw-ratelimit-remaining': codeOf(read(rl, 'remaining')),
              'gw-ratelimit-reset': codeOf(read(rl, 'reset')),
            }
          : undefined;
      // the SDK's RestResponse names it `msg` (KuCoin's envelope); `message` for look-alikes
      return { status: 200, headers, body: { code: read(common, 'code'), msg: read(common, 'msg') ?? read(common, 'message') } };
    }
  }
  const cause = read(e, 'cause');
  if (cause) {
    const inner = replyFromError(cause, depth + 1);
    if (inner) return inner;
  }
  // plain objects: { code, status, headers, body | msg }
  if ('code' in e || 'status' in e || 'statusCode' in e || 'headers' in e) {
    const rawStatus = read(e, 'status');
    const rawStatusCode = read(e, 'statusCode');
    const status = typeof rawStatus === 'number' ? rawStatus : typeof rawStatusCode === 'number' ? rawStatusCode : undefined;
    const code = codeOf(read(e, 'code'));
    const kucoinCode = code !== undefined && /^\d{6}$/.test(code) ? code : undefined;
    const headers = read(e, 'headers') as HeaderBag;
    if (kucoinCode || status !== undefined || headers) {
      const rawMsg = read(e, 'msg');
      const rawMessage = read(e, 'message');
      const msg = typeof rawMsg === 'string' ? rawMsg : typeof rawMessage === 'string' ? rawMessage : undefined;
      const body = read(e, 'body') ?? (kucoinCode ? { code: kucoinCode, msg } : undefined);
      if (body !== undefined || status !== undefined) return { status, headers, body };
    }
  }
  // ccxt: the body (JSON or the Cloudflare page) inside the message
  const rawMessage = read(e, 'message');
  const message = typeof rawMessage === 'string' ? rawMessage.slice(0, MAX_BODY_CHARS) : undefined;
  if (message) {
    const json = /\{[^{}]*"code"\s*:\s*"?\d+"?[^{}]*\}/.exec(message)?.[0];
    if (json) return { body: json };
    if (CLOUDFLARE_1015.test(message)) return { body: message }; // the status is not in the message: unknown
  }
  return undefined;
}

function call(fn: unknown, self: unknown): unknown {
  try {
    return (fn as () => unknown).call(self);
  } catch {
    return undefined;
  }
}
