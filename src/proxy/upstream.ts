/**
 * One send to KuCoin: the bot's method, target, headers and body bytes through an undici pool (keep-alive, TLS
 * verified), and KuCoin's reply read whole (bounded) so it can be classified before it goes back.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { GatewayReply } from '../kucoin/errorFeedback.js';

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query exactly as the bot sent them. */
  readonly target: string;
  /** Flat `[name, value, ...]` (see forwardHeaders.ts). */
  readonly headers: string[];
  readonly body: Buffer | null;
}

export interface UpstreamReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body's bytes as KuCoin sent them (compressed when it compressed them). */
  readonly body: Buffer;
}

/** KuCoin's reply was larger than `maxReplyBytes`: the request was executed, its reply is lost. */
export class ReplyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`KuCoin's reply is larger than ${limit} bytes`);
  }
}

/** Error codes that mean the request never left: no connection (refused, unresolvable, timed out) or no TLS session. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
]);

/** How a send that got no reply failed: never sent, timed out (may have run), or failed after it may have run. */
export function transportFailureKind(error: unknown): 'not-sent' | 'timeout' | 'failed' {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return 'not-sent';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return 'failed';
}

/** Sends one request and reads the whole reply, at most `maxReplyBytes`. */
export async function sendUpstream(dispatcher: Dispatcher, request: UpstreamRequest, maxReplyBytes: number): Promise<UpstreamReply> {
  const res = await dispatcher.request({
    path: request.target,
    method: request.method as Dispatcher.HttpMethod,
    headers: request.headers,
    body: request.body,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > maxReplyBytes) {
      res.body.destroy();
      throw new ReplyTooLargeError(maxReplyBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return { status: res.statusCode, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) };
}

/** Largest decoded body read for KuCoin's code: error envelopes are tiny; a longer (successful) body is not parsed. */
const CLASSIFY_BYTES = 16_384;

/**
 * The reply's body decoded (gzip, deflate, br) to text; undefined when it cannot be, or when its decoded size passes
 * `maxBytes` (a compressed body is never inflated beyond it).
 */
export function replyText(reply: UpstreamReply, maxBytes: number): string | undefined {
  const raw = reply.headers['content-encoding'];
  const encoding = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().toLowerCase();
  let bytes = reply.body;
  const limit = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') bytes = gunzipSync(bytes, limit);
    else if (encoding === 'deflate') bytes = inflateSync(bytes, limit);
    else if (encoding === 'br') bytes = brotliDecompressSync(bytes, limit);
    else if (encoding !== '' && encoding !== 'identity') return undefined;
  } catch {
    return undefined; // corrupt, or larger than maxBytes once inflated
  }
  return bytes.length > maxBytes ? undefined : bytes.toString('utf8');
}

/** KuCoin's success envelope starts so: its code is known without parsing the (possibly large) data. */
const SUCCESS_PREFIX = '{"code":"200000"';

/**
 * The reply as the feedback reads it (status, headers, the body's text): a 2xx success envelope as its code alone,
 * so the feedback does not parse the data; anything else as text, classified in full.
 */
export function gatewayReplyOf(reply: UpstreamReply): GatewayReply {
  const text = replyText(reply, CLASSIFY_BYTES);
  const success = reply.status < 300 && text !== undefined && text.startsWith(SUCCESS_PREFIX);
  return { status: reply.status, headers: reply.headers, body: success ? { code: '200000' } : text };
}

/** Whether the feedback's reply is a success envelope (no code to read, no signal possible). */
export function isSuccessEnvelope(reply: GatewayReply): boolean {
  return typeof reply.body === 'object' && reply.body !== null && (reply.body as { code?: unknown }).code === '200000' && (reply.status ?? 0) < 300;
}
