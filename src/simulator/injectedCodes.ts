import type { ServerResponse } from 'node:http';
import { describeValue, InvalidArgumentError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import {
  KUCOIN_ERROR_CODES,
  KUCOIN_PRODUCTS,
  kucoinCodeRows,
  lookupKucoinCode,
  type KucoinCodeCategory,
  type KucoinCodeEntry,
  type KucoinProduct,
} from '../kucoin/errorCodes.js';
import type { FixedWindowCounter } from './fixedWindow.js';
import { rateLimitHeaders, sendCloudflare1015, sendJson, type Headers } from './replies.js';

declare module './gatewaySimulator.js' {
  interface GatewaySimulatorOptions {
    /** Codes answered on demand instead of the normal reply: `codes.inject({ code: '400002', count: 1 })`. */
    readonly codes?: InjectedCodes;
  }
}

/** One code to answer: to which requests, how often, when. Every field but `code` is optional. */
export interface CodeInjection {
  /** A code of the error-code table (docs/error-codes.md): `'400002'`, `429000`, `'1015'`, `'503'` (an HTTP status). */
  readonly code: string | number;
  /** The message sent; it also picks the row where a code has several (`'Too many requests...'` for futures 200002). @default the row's message, placeholders filled */
  readonly msg?: string;
  /** Only this page's row (`'margin'`). @default the request's host decides (spot: spot, margin, earn, gateway, HTTP) */
  readonly product?: KucoinProduct;
  /** Only requests to this endpoint template: `'POST /api/v1/hf/orders'`, or with the host: `'futures POST /api/v1/orders'`. @default every endpoint */
  readonly endpoint?: string;
  /** Only requests signed by this UID. @default every request */
  readonly uid?: string;
  /** The fraction of matching requests answered with the code, in (0, 1]. @default 1 */
  readonly rate?: number;
  /** Active from this time on (ms since the epoch, the simulator's clock: `Date.now()`). @default at once */
  readonly from?: number;
  /** Active before this time (exclusive). @default for ever */
  readonly until?: number;
  /** Answer at most this many requests. @default no limit */
  readonly count?: number;
  /** The HTTP status. @default the row's (docs/error-codes.md); required for a code not in the table */
  readonly status?: number;
  /** A Retry-After header, in seconds. @default 30 on a 1015, none otherwise */
  readonly retryAfterSec?: number;
  /**
   * The reply's body, sent as it is (`text/plain`) with `status`, instead of the row's: a broken or hostile reply,
   * e.g. `{ code: '1015', status: 502, body: 'You are being rate limited' }`. @default the row's body
   */
  readonly body?: string;
}

/** A live injection: how many requests it answered; `remove()` ends it. */
export interface InjectionHandle {
  readonly answered: number;
  remove(): void;
}

export interface InjectedCodesOptions {
  /** Draws for `rate` (a seeded generator makes a test repeatable). @default Math.random */
  readonly random?: () => number;
}

/** What the gateway simulator hands over for each request, after its own checks (Cloudflare, storms, auth). */
export interface InjectionContext {
  readonly at: number;
  readonly host: HostName;
  readonly method: string;
  /** The endpoint's path template. */
  readonly endpoint: string;
  readonly uid: string | undefined;
  readonly ip: string;
  /** The (subject, pool) window the request is charged to. */
  readonly counter: FixedWindowCounter;
  readonly weight: number;
  readonly res: ServerResponse;
  /** Records the arrival with this outcome and the weight charged. */
  record(outcome: string, weight: number): void;
}

/**
 * Categories the gateway refuses before the pool is charged: rate-limit refusals (KuCoin does not charge them),
 * key and clock errors, malformed requests, a stopped service. Every other code was answered by the service
 * behind the gateway and is charged like a success (business errors, 5xx).
 */
const NOT_CHARGED: ReadonlySet<KucoinCodeCategory> = new Set(['rate-limit', 'auth', 'clock', 'request', 'service-stopping']);

const ENDPOINT = /^(?:(spot|futures|broker) )?(GET|POST|PUT|DELETE|PATCH) (\/\S*)$/;
const MAX_MSG_CHARS = 64 * 1024;

interface Live {
  readonly code: string;
  readonly spec: CodeInjection;
  readonly host: HostName | undefined;
  readonly endpoint: string | undefined;
  left: number;
  answered: number;
  removed: boolean;
}

function fail(what: string, value: unknown): never {
  throw new InvalidArgumentError(`InjectedCodes.inject: expected ${what}, got ${describeValue(value)}`);
}

/** The row's message as a server would send it: `%s` is the client's IP, `{0}` / `xxx` a number. */
function fillPlaceholders(message: string, ip: string): string {
  return message.replace(/%s/g, ip).replace(/\{\d+\}|\b[xX]{2,3}\b/g, '1');
}

/**
 * Makes the gateway simulator answer any KuCoin code: by endpoint, for a fraction of requests, in a time span,
 * a number of times. The reply has the code's HTTP status and body (`{ code, msg }`; Cloudflare's HTML page for
 * 1015; the bare status for an HTTP status code). Rate-limit refusals, key, clock and request errors are not
 * charged to the pool (as KuCoin does); other codes are charged like a success, and when the window has no room
 * the simulator's own 429000 comes first.
 *
 * ```ts
 * const codes = new InjectedCodes();
 * const sim = await startGatewaySimulator({ accounts, codes });
 * codes.inject({ code: '503000', endpoint: 'GET /api/v1/accounts', rate: 0.2 });
 * codes.inject({ code: '400002', from: Date.now() + 1_000, until: Date.now() + 2_000 });
 * ```
 */
export class InjectedCodes {
  readonly #random: () => number;
  readonly #live: Live[] = [];
  readonly #counts: Record<string, number> = {};

  constructor(options: InjectedCodesOptions = {}) {
    const random = options.random ?? Math.random;
    if (typeof random !== 'function') fail('options.random to be a function', random);
    this.#random = random;
  }

  /** Starts answering `spec.code`; injections are tried in the order they were made, the first that matches answers. */
  inject(spec: CodeInjection): InjectionHandle {
    if (spec === null || typeof spec !== 'object') fail('an injection object { code, endpoint?, rate?, from?, until?, count? }', spec);
    const { code: rawCode, msg, product, endpoint, uid, rate = 1, from = -Infinity, until = Infinity, count = Infinity, status, retryAfterSec, body } = spec;
    if (!((typeof rawCode === 'string' && /^\d{1,9}$/.test(rawCode.trim())) || (typeof rawCode === 'number' && Number.isSafeInteger(rawCode) && rawCode >= 0)))
      fail('code to be a numeric string or a non-negative integer', rawCode);
    const code = String(rawCode).trim();
    if (msg !== undefined && (typeof msg !== 'string' || msg.length > MAX_MSG_CHARS)) fail(`msg to be a string of at most ${MAX_MSG_CHARS} characters`, msg);
    if (product !== undefined && (!(KUCOIN_PRODUCTS as readonly unknown[]).includes(product) || product === 'websocket'))
      fail(`product to be one of ${KUCOIN_PRODUCTS.filter((p) => p !== 'websocket').join(', ')} (WebSocket codes are the WebSocket simulator's)`, product);
    const parsed = endpoint === undefined ? undefined : typeof endpoint === 'string' ? ENDPOINT.exec(endpoint) : null;
    if (parsed === null) fail("endpoint to be 'METHOD /path/template', optionally after a host ('futures POST /api/v1/orders')", endpoint);
    if (uid !== undefined && typeof uid !== 'string') fail('uid to be a string', uid);
    if (typeof rate !== 'number' || !(rate > 0 && rate <= 1)) fail('rate to be a number in (0, 1]', rate);
    if (typeof from !== 'number' || Number.isNaN(from)) fail('from to be a time in ms', from);
    if (typeof until !== 'number' || Number.isNaN(until) || until <= from) fail('until to be a time in ms after from', until);
    if (typeof count !== 'number' || !(count === Infinity || (Number.isSafeInteger(count) && count >= 1)))
      fail('count to be an integer >= 1 (or Infinity)', count);
    if (status !== undefined && !(Number.isSafeInteger(status) && status >= 200 && status <= 599)) fail('status to be an HTTP status in [200, 599]', status);
    if (retryAfterSec !== undefined && !(typeof retryAfterSec === 'number' && Number.isFinite(retryAfterSec) && retryAfterSec >= 0))
      fail('retryAfterSec to be a number >= 0', retryAfterSec);
    if (body !== undefined && (typeof body !== 'string' || body.length > MAX_MSG_CHARS))
      fail(`body to be a string of at most ${MAX_MSG_CHARS} characters`, body);
    const known = KUCOIN_ERROR_CODES.some((e) => e.code === code && e.product !== 'websocket' && (product === undefined || e.product === product));
    if (!known && status === undefined)
      fail(
        `code to be a REST code of the error-code table${product ? ` on the ${product} page` : ''} (docs/error-codes.md), or a status for a code outside it`,
        rawCode,
      );
    const live: Live = {
      code,
      spec,
      host: parsed?.[1] as HostName | undefined,
      endpoint: parsed ? `${parsed[2]} ${parsed[3]}` : undefined,
      left: count,
      answered: 0,
      removed: false,
    };
    this.#live.push(live);
    return {
      get answered() {
        return live.answered;
      },
      remove: () => {
        live.removed = true;
      },
    };
  }

  /** Ends every injection. */
  clear(): void {
    for (const l of this.#live) l.removed = true;
    this.#live.length = 0;
  }

  /** Requests answered so far, by code. */
  answered(): Readonly<Record<string, number>> {
    return { ...this.#counts };
  }

  /**
   * Called by the gateway simulator for every request to a known endpoint, after Cloudflare, storms and the
   * signature check and before the pool is charged. Returns true when it answered the request.
   */
  answer(ctx: InjectionContext): boolean {
    for (let i = 0; i < this.#live.length; i++) {
      const l = this.#live[i]!;
      if (l.removed || l.left <= 0) {
        this.#live.splice(i--, 1);
        continue;
      }
      if (ctx.at < (l.spec.from ?? -Infinity) || ctx.at >= (l.spec.until ?? Infinity)) continue;
      if (l.host !== undefined && l.host !== ctx.host) continue;
      if (l.endpoint !== undefined && l.endpoint !== `${ctx.method} ${ctx.endpoint}`) continue;
      if (l.spec.uid !== undefined && l.spec.uid !== ctx.uid) continue;
      if ((l.spec.rate ?? 1) < 1 && this.#random() >= (l.spec.rate ?? 1)) continue;
      if (this.#reply(l, ctx)) return true;
    }
    return false;
  }

  #reply(l: Live, ctx: InjectionContext): boolean {
    const { spec, code } = l;
    const row = rowFor(ctx.host, code, spec.product, spec.msg);
    const charged = row === undefined || !NOT_CHARGED.has(row.category);
    const headers: Headers = {};
    if (charged) {
      const window = ctx.counter.current(ctx.at);
      if (window.weight + ctx.weight > ctx.counter.limit) return false; // the pool is spent: the simulator's own 429000 answers
      ctx.counter.charge(ctx.at, ctx.weight);
    }
    if (charged || code === '429000') {
      const w = ctx.counter.current(ctx.at);
      Object.assign(headers, rateLimitHeaders(ctx.counter.limit, ctx.counter.limit - w.weight, w.end - ctx.at));
    }
    if (spec.retryAfterSec !== undefined) headers['retry-after'] = String(Math.ceil(spec.retryAfterSec));
    l.left--;
    l.answered++;
    this.#counts[code] = (this.#counts[code] ?? 0) + 1;
    ctx.record(code, charged ? ctx.weight : 0);
    const msg = spec.msg ?? (row ? fillPlaceholders(row.message, ctx.ip) : 'error');
    const status = spec.status ?? row?.status ?? 400;
    if (spec.body !== undefined) {
      ctx.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(spec.body), ...headers }).end(spec.body);
    } else if (row?.signal === '1015') {
      sendCloudflare1015(ctx.res, spec.retryAfterSec ?? 30);
    } else if (row?.product === 'http') {
      // an HTTP status without a KuCoin code: the status and a line of text
      ctx.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(msg), ...headers }).end(msg);
    } else {
      sendJson(ctx.res, status, { code, msg }, headers);
    }
    return true;
  }
}

/** The row a request on `host` answers with: the one the message picks, else the code's first row there, else any. */
function rowFor(host: HostName, code: string, product: KucoinProduct | undefined, msg: string | undefined): KucoinCodeEntry | undefined {
  if (msg !== undefined) {
    const hit = lookupKucoinCode({ host, code, msg, product });
    if (hit?.matchedBy === 'message') return hit.entry;
  }
  return (
    kucoinCodeRows({ host, code, product })[0] ??
    KUCOIN_ERROR_CODES.find((e) => e.code === code && e.product !== 'websocket' && (product === undefined || e.product === product))
  );
}
