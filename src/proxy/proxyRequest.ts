/**
 * One proxied request, start to end:
 *
 * 1. route it (path prefix, a host's port or `X-Proxy-To`; anything outside the allow-list is refused);
 * 2. read what KuCoin's headers say (signed? which account, by the key's hash? until when is the signature valid?);
 * 3. schedule it through the account's shared scheduler with the endpoint's pool and weight (the endpoint table)
 *    and its priority, through the one attempt loop (src/send/attemptLoop.ts): a signed request may wait only until
 *    KC-API-TIMESTAMP + 5 s - margin, an unsigned one `unsignedMaxWaitMs`; past that it is answered locally with a
 *    KuCoin-shaped 429000, never forwarded, never charged;
 * 4. forward it byte for byte, feed KuCoin's reply back to the store (headers, every signal), send again a request
 *    KuCoin refused without running it while its signature is still valid, and pass the reply back unchanged.
 *
 * Anything that may have run (a 5xx, a timeout, a reset) is never sent again. A bot that disconnects while its
 * request waits costs nothing: the wait is aborted and nothing was charged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Priority } from '../store/types.js';
import { classifyReply, type Classified, type GatewayReply } from '../kucoin/errorFeedback.js';
import { AbortError, KucoinSchedulerError, MaxWaitExceededError } from '../errors.js';
import type { TypedEmitter } from '../scheduler/events.js';
import type { OriginPools } from '../http/originPools.js';
import type { EndpointTable } from '../kucoin/endpointTable.js';
import { AttemptLoop } from '../send/attemptLoop.js';
import { portOf } from '../scheduler/scheduler.js';
import type { AccountEntry, Accounts } from './accounts.js';
import { botIdentity } from './botIdentity.js';
import { requestHeaders, replyHeaders } from './forwardHeaders.js';
import { sendLocalReply, type LocalReply } from './localReply.js';
import { priorityOf } from './priority.js';
import { PROXY_ERROR_CODES, type ProxyErrorCode } from './proxyCodes.js';
import type { ProxyEvents } from './proxyEvents.js';
import type { ResolvedProxyOptions } from './proxyOptions.js';
import type { ProxyStats } from './proxyStats.js';
import { BodyTooLargeError, readRequestBody } from './requestBody.js';
import { PROXY_TO_HEADER, routeRequest, type Route, type Upstreams } from './routing.js';
import { readSignature, type Signature } from './signedRequest.js';
import { gatewayReplyOf, isSuccessEnvelope, ReplyTooLargeError, sendUpstream, transportFailureKind, type UpstreamReply } from './upstream.js';
import type { ObservationGate } from './observationGate.js';
import type { Admission } from '../scheduler/admission.js';
import { parseRateLimitHeaders } from '../kucoin/headers.js';

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);

/** What every request of one proxy shares. */
export interface ProxyContext {
  readonly options: ResolvedProxyOptions;
  readonly accounts: Accounts;
  readonly upstreams: Upstreams;
  readonly pools: OriginPools;
  readonly table: EndpointTable;
  readonly events: TypedEmitter<ProxyEvents>;
  readonly stats: ProxyStats;
  /** Per origin: no send before this (epoch ms) after a 429002, as KucoinClient holds back. */
  readonly originHold: Map<string, number>;
  /** Spaces the header observations each pool writes to the store (signals always go at once). */
  readonly observations: ObservationGate;
  /** Rewrites a bullet-token reply so its WebSocket endpoints point at the proxy (the WebSocket relay). */
  readonly rewriteToken: ((reply: UpstreamReply, route: Route, uid: string | undefined, bot: string) => UpstreamReply) | undefined;
}

/** What is known of a request when it is answered locally: every field is safe to log. */
export interface Facts {
  method?: string;
  endpoint?: string;
  priority?: Priority;
  uid?: string;
  keyId?: string;
  bot?: string;
}

/** The send was not made after admission: the bot left, or the signature expired meanwhile (an event loop stall). */
class NotSent extends Error {
  constructor(readonly why: 'gone' | 'expired') {
    super(why);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether the request announces a body (which is unread until readRequestBody). */
function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Answers locally: counted, one `refused` event (every field safe to log), KuCoin's envelope to the bot. */
export function refuse(ctx: Pick<ProxyContext, 'stats' | 'events'>, res: ServerResponse, reply: LocalReply, facts: Facts): void {
  const { status } = PROXY_ERROR_CODES[reply.code];
  ctx.stats.refusal(reply.code);
  if (ctx.events.has('refused')) {
    ctx.events.emit('refused', {
      code: reply.code,
      status,
      reason: reply.detail ?? PROXY_ERROR_CODES[reply.code].meaning,
      method: facts.method,
      endpoint: facts.endpoint,
      priority: facts.priority,
      uid: facts.uid,
      keyId: facts.keyId,
      bot: facts.bot,
      retryAfterMs: reply.retryAfterMs,
    });
  }
  sendLocalReply(res, reply);
}

/** A local 429000, shaped like KuCoin's: the pool's limit, nothing remaining, reset and Retry-After when it may admit. */
function rateLimited(account: AccountEntry, route: Route, method: string, ctx: ProxyContext, retryAfterMs: number, detail: string): LocalReply {
  let limit = 0;
  try {
    limit = account.resolved.pools[ctx.table.lookup(`${method} ${route.path}`, route.host).pool].limit;
  } catch {
    // the endpoint was looked up before: this cannot fail
  }
  return { code: '429000', detail, retryAfterMs, rateLimit: { limit, resetMs: retryAfterMs } };
}

/** Maps what ended the attempts without a reply to the local answer (undefined: the bot is gone, nothing to answer). */
function failureReply(error: unknown, account: AccountEntry, route: Route, method: string, ctx: ProxyContext): LocalReply | undefined {
  if (error instanceof NotSent) {
    return error.why === 'gone'
      ? undefined
      : rateLimited(account, route, method, ctx, 1000, 'not admitted while the request could still reach KuCoin in time (KC-API-TIMESTAMP + 5 s); sign again');
  }
  if (error instanceof MaxWaitExceededError) {
    const retryAfterMs = error.retryAfterMs ?? 1000;
    return rateLimited(
      account,
      route,
      method,
      ctx,
      retryAfterMs,
      `not admitted while the request could still reach KuCoin in time; retry in ${Math.ceil(retryAfterMs)} ms`,
    );
  }
  if (error instanceof ReplyTooLargeError) return { code: 'KS_PROXY_REPLY_TOO_LARGE' };
  if (error instanceof KucoinSchedulerError) {
    const byCode: Partial<Record<string, ProxyErrorCode>> = {
      KS_QUEUE_FULL: 'KS_PROXY_QUEUE_FULL',
      KS_STORE_UNAVAILABLE: 'KS_PROXY_STORE_UNAVAILABLE',
      KS_CLOSED: 'KS_PROXY_DRAINING',
      KS_INVALID_ENDPOINT: 'KS_PROXY_BAD_REQUEST',
      KS_UNKNOWN_ENDPOINT: 'KS_PROXY_BAD_REQUEST',
      KS_INVALID_WEIGHT: 'KS_PROXY_BAD_REQUEST',
    };
    if (error.code === 'KS_ABORTED') return undefined;
    const code = byCode[error.code] ?? 'KS_PROXY_INTERNAL';
    return { code, detail: error.code };
  }
  const kind = transportFailureKind(error);
  if (kind === 'not-sent') return { code: 'KS_PROXY_UPSTREAM_UNREACHABLE' };
  return { code: kind === 'timeout' ? 'KS_PROXY_UPSTREAM_TIMEOUT' : 'KS_PROXY_UPSTREAM_FAILED' };
}

/** Passes KuCoin's reply back as it came (a bullet token's endpoints pointed at the proxy), unless the bot is gone. */
function writeReply(ctx: ProxyContext, res: ServerResponse, reply: UpstreamReply, route: Route, uid: string | undefined, bot: string): void {
  if (res.destroyed) return;
  let out = reply;
  if (ctx.rewriteToken && reply.status === 200) {
    try {
      out = ctx.rewriteToken(reply, route, uid, bot);
    } catch {
      out = reply; // a reply the relay cannot read goes back as it is
    }
  }
  const headers = replyHeaders(out.headers);
  headers.push('content-length', String(out.body.length));
  res.writeHead(out.status, headers).end(out.body);
}

/**
 * Handles one request on a listener (`fixedHost` on a host's own port). Never throws: every fault ends in an
 * answer to the bot (or in nothing, when the bot is gone).
 */
export async function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, fixedHost: Route['host'] | undefined): Promise<void> {
  const started = performance.now();
  const method = (req.method ?? '').toUpperCase();
  const facts: Facts = { method };
  // a refusal before the body was read closes the connection: the unread body must not be taken for the next request
  const early = (reply: LocalReply) => refuse(ctx, res, { ...reply, close: announcesBody(req) }, facts);

  const routed = routeRequest(ctx.upstreams, req.url ?? '/', header(req, PROXY_TO_HEADER), fixedHost);
  if ('refusal' in routed) return early(routed.refusal);
  const { route } = routed;
  if (!METHODS.has(method)) return early({ code: 'KS_PROXY_METHOD_NOT_ALLOWED' });
  let pool;
  try {
    const info = ctx.table.lookup(`${method} ${route.path}`, route.host);
    pool = info.pool;
    facts.endpoint = `${route.host} ${method} ${info.path}`;
  } catch {
    return early({ code: 'KS_PROXY_BAD_REQUEST', detail: 'the path is not one the endpoint table can read' });
  }
  const read = readSignature(req.headers, ctx.accounts, ctx.options.timestampWindowMs, ctx.options.timestampMarginMs);
  if ('refusal' in read) return early(read.refusal);
  const signature: Signature | undefined = read.signed ? read.signature : undefined;
  // a key without a signature: a public call goes as any public call; KuCoin refuses a private one (400001)
  if (!read.signed && read.keyOnly && pool !== 'Public') return early({ code: '400001', detail: 'KC-API-KEY without KC-API-SIGN on a private endpoint' });
  facts.keyId = signature?.keyId;
  // a signed call to a public endpoint with a key no account names is charged like any public call (per IP)
  const account = signature ? (signature.account ?? (pool === 'Public' ? ctx.accounts.public : undefined)) : ctx.accounts.public;
  const identity = botIdentity(req.headers, signature?.keyId, req.socket.remoteAddress);
  if ('invalid' in identity) return early({ code: 'KS_PROXY_BAD_REQUEST', detail: identity.invalid });
  facts.bot = identity.bot;
  if (!account) return early({ code: 'KS_PROXY_UNKNOWN_KEY', detail: `key ${signature!.keyId} is in no configured account` });
  facts.uid = signature?.account ? account.uid : undefined;
  const chosen = priorityOf(req.headers, method, route.path);
  if ('invalid' in chosen) return early({ code: 'KS_PROXY_BAD_REQUEST', detail: chosen.invalid });
  facts.priority = chosen.priority;

  let body: Buffer | null;
  try {
    body = await readRequestBody(req, ctx.options.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return refuse(ctx, res, { code: 'KS_PROXY_BODY_TOO_LARGE', close: true }, facts);
    return; // the bot disconnected while sending its body: nothing was scheduled
  }

  const maxWaitMs = signature ? signature.forwardBy - Date.now() : ctx.options.unsignedMaxWaitMs;
  if (maxWaitMs <= 0) {
    return refuse(ctx, res, rateLimited(account, route, method, ctx, 1000, 'KC-API-TIMESTAMP is too old to reach KuCoin in time; sign again'), facts);
  }

  // one controller ends the wait: the bot left ('gone'), or (signed) the signature would no longer reach KuCoin in
  // time ('expired'): aborted, an admission the store grants after that moment is given back (never charged)
  const stop = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) stop.abort('gone');
  };
  res.once('close', onClose);
  const expiry = signature ? setTimeout(() => stop.abort('expired'), maxWaitMs) : undefined;
  const ended = (): 'gone' | 'expired' | undefined => (stop.signal.aborted ? (stop.signal.reason as 'gone' | 'expired') : undefined);
  const dispatcher = ctx.pools.get(route.origin);
  const headers = requestHeaders(req.rawHeaders, route.authority);
  let upstreamMs = 0;
  let admitted: Admission | undefined;
  /** The pool whose header observation this request holds (released once its feedback is done). */
  let observing: string | undefined;
  let lastSignal: { classified: Classified; status: number } | undefined;
  const emitSignal = (resent: boolean) => {
    if (!lastSignal?.classified.signal) return;
    ctx.stats.signal(lastSignal.classified.signal);
    if (ctx.events.has('signal')) {
      ctx.events.emit('signal', {
        signal: lastSignal.classified.signal,
        kucoinCode: lastSignal.classified.code,
        status: lastSignal.status,
        endpoint: facts.endpoint!,
        uid: facts.uid,
        bot: identity.bot,
        resent,
      });
    }
    lastSignal = undefined;
  };
  const loop = new AttemptLoop<UpstreamReply>(
    portOf(account.scheduler),
    {
      // no keyId: the key circuit would let one bot's bad signature stop every bot of that key. The bot's identity
      // is its fair share of its priority, fleet-wide (bots of the proxies and of the library alike)
      schedule: { endpoint: `${method} ${route.path}`, host: route.host, priority: chosen.priority, signal: stop.signal, maxWaitMs, bot: identity.bot },
      send: async (admission) => {
        admitted = admission;
        if (admission.attempt > 1) emitSignal(true);
        const why = ended() ?? (signature && Date.now() > signature.forwardBy ? 'expired' : undefined);
        if (why) throw new NotSent(why);
        ctx.stats.forwarded++;
        const t = performance.now();
        try {
          return await sendUpstream(dispatcher, { method, target: route.target, headers, body }, ctx.options.maxReplyBytes);
        } finally {
          upstreamMs += performance.now() - t;
        }
      },
      replyOf: (reply): GatewayReply => {
        const gateway = gatewayReplyOf(reply);
        ctx.stats.reply(reply.status);
        if (!isSuccessEnvelope(gateway)) {
          const classified = classifyReply(gateway);
          if (classified.signal) {
            lastSignal = { classified, status: reply.status };
            return gateway; // a signal is fed back at once, whole
          }
        }
        const rate = parseRateLimitHeaders(gateway.headers);
        if (!admitted || observing !== undefined || (rate.limit < 0 && rate.remaining < 0 && rate.resetMs < 0)) return gateway;
        const key = `${account.uid} ${admitted.pool}`;
        const taken = ctx.observations.take(key, account.scheduler, admitted, gateway);
        if (taken.holds) observing = key;
        return taken.reply;
      },
      onConnectionLimited: () => {
        const delay = ctx.pools.connectionLimited(route.origin);
        ctx.originHold.set(route.origin, Math.max(ctx.originHold.get(route.origin) ?? 0, Date.now() + delay));
        return delay;
      },
      holdUntil: () => ctx.originHold.get(route.origin) ?? 0,
    },
    { transportRetries: 0 },
  );
  try {
    let done;
    try {
      done = await loop.run();
    } catch (error) {
      const reply = failureReply(error instanceof AbortError && ended() === 'expired' ? new NotSent('expired') : error, account, route, method, ctx);
      if (reply) refuse(ctx, res, reply, facts);
      else if (!res.headersSent) res.destroy(); // the bot is gone
      return;
    } finally {
      emitSignal(false);
    }
    writeReply(ctx, res, done.value, route, facts.uid, identity.bot);
  } finally {
    if (observing !== undefined) ctx.observations.release(observing, account.scheduler);
    clearTimeout(expiry);
    res.off('close', onClose);
    ctx.stats.timing('upstream', upstreamMs);
    ctx.stats.timing('total', performance.now() - started);
    ctx.stats.timing('wait', loop.waitedMs);
  }
}
