import type { Dispatcher } from 'undici';
import type { Admission } from '../admission.js';
import { PRIORITIES, type Priority } from '../buckets/types.js';
import { ClockSyncError, describeValue, InvalidArgumentError, KucoinApiError, KucoinRequestError, KucoinSchedulerError } from '../errors.js';
import type { RateLimitHeaders } from '../feedback/headers.js';
import { parseHost } from '../kucoin/endpointTable.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { KUCOIN_BASE_URLS } from '../kucoin/hosts.js';
import { authHeaders, keyIdOf, type Credentials } from '../kucoin/signing.js';
import { expectOption, numberOption, objectOption } from '../options.js';
import { isAbortSignal } from '../requestPlan.js';
import type { Scheduler } from '../scheduler.js';
import { abortable } from '../util/abortable.js';
import { watchAbort } from '../util/abortWatch.js';
import { classifyReply } from '../errorFeedback.js';
import { AttemptLoop } from '../send/attemptLoop.js';
import { isSafeToRepeat } from '../send/safeToRepeat.js';
import { OriginPools } from './originPools.js';
import { implausibleServerTime, offsetOf } from './serverTime.js';
import type { ErrorActionOptions } from '../send/errorActions.js';

export interface KucoinClientOptions {
  readonly scheduler: Scheduler;
  /** Needed for private endpoints. Never logged, never part of an error or event. */
  readonly credentials?: Credentials;
  /** `http:` or `https:` URLs (a path prefix allowed), by host. @default KuCoin's production hosts */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Headers and body timeout per attempt, a number > 0 and <= 600_000. @default 10_000 */
  readonly timeoutMs?: number;
  /**
   * Connections per origin, an integer 1..1024. An admitted request that waits for a free connection reaches the
   * server late, so this must carry the quota at the path's latency: 64 carry about 400 requests/s at 150 ms.
   * @default 64
   */
  readonly connections?: number;
  /**
   * Transport retries (timeouts, resets, 5xx) of requests that are safe to repeat: reads, and orders with a
   * clientOid. An integer 0..10. @default 2
   */
  readonly transportRetries?: number;
  /**
   * Extra headers sent with every request (e.g. an identification header for your proxy): string values.
   * Not the signing headers (`KC-API-*`) nor those the transport sets (`host`, `content-length`...).
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The local clock signing uses (ms since the epoch). After a 400002 the client learns its offset to KuCoin's
   * clock (`GET /api/v1/timestamp`, scheduled like any request) and signs with `clock() + offset`. @default Date.now
   */
  readonly clock?: () => number;
  /**
   * The largest offset to KuCoin's clock the client believes, in ms (1_000..604_800_000). A server time further
   * from the local clock, or not a number of ms between 2020 and 2100, is not adopted (`ClockSyncError`).
   * @default 3_600_000 (1 h)
   */
  readonly maxClockOffsetMs?: number;
  /** Timings of the actions on KuCoin's codes (key circuit, 501000 host pause, retry-later backoff). @default see ErrorActionOptions */
  readonly errorActions?: ErrorActionOptions;
}

export interface KucoinRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** `/api/v1/hf/orders`, optionally with a query string already built. */
  readonly path: string;
  /** Query parameters, appended in the given order; what is signed is exactly what is sent. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON body, serialised once: the bytes signed are the bytes sent. */
  readonly body?: unknown;
  /** @default 'spot' */
  readonly host?: HostName | string;
  /** @default 'normal' */
  readonly priority?: Priority;
  readonly signal?: AbortSignal;
  /** Longest wait for admission over all attempts. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
}

export interface KucoinResponse<T> {
  readonly data: T;
  readonly code: string;
  readonly status: number;
  readonly rateLimit: RateLimitHeaders;
  /** Sends it took: more than 1 after rate-limit signals or safe transport retries. */
  readonly attempts: number;
  /** Time spent waiting for admission, over all attempts (ms). */
  readonly waitedMs: number;
}

interface RawReply {
  /** The local clock when the request left and when its reply was read (the server-time read uses them). */
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: { code?: unknown; msg?: unknown; data?: unknown } | undefined;
  readonly admission: Admission;
}

/** Longest path with its query; longer is an InvalidArgumentError (nothing is charged). */
const MAX_PATH_LENGTH = 8000;
/** Largest JSON body accepted, in characters. */
const MAX_BODY_LENGTH = 1_048_576;
const HTTP_METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
/** Printable ASCII but `#` (undici refuses some others, and only after the request was charged); percent-encode the rest. */
const PATH_CHARACTERS = /^\/[\u0021-\u0022\u0024-\u007e]*$/;
/** A lone UTF-16 surrogate: `encodeURIComponent` throws on it. */
const LONE_SURROGATE = /\p{Cs}/u;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;
/** Headers the transport or the signing sets: an extra header may not name them. */
const RESERVED_HEADER = /^(host|content-length|transfer-encoding|connection|keep-alive|upgrade|expect|te|trailer|kc-api-.*)$/i;

interface ResolvedClientOptions {
  readonly scheduler: Scheduler;
  readonly credentials: Credentials | undefined;
  readonly baseUrls: Record<HostName, string>;
  readonly timeoutMs: number;
  readonly connections: number;
  readonly transportRetries: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly clock: () => number;
  readonly maxClockOffsetMs: number;
  readonly errorActions: ErrorActionOptions | undefined;
}

/** Validates every client option eagerly (each read once); a malformed one is an InvalidArgumentError naming it. */
function resolveClientOptions(options: KucoinClientOptions): ResolvedClientOptions {
  try {
    expectOption(options !== null && typeof options === 'object', 'the client options', 'an object with at least `scheduler`', options);
    const scheduler = options.scheduler as Partial<Scheduler> | undefined;
    if (!scheduler || typeof scheduler.schedule !== 'function' || typeof scheduler.feedback !== 'function') {
      throw new InvalidArgumentError(`Expected options.scheduler to be a Scheduler (createScheduler(...)), got ${describeValue(scheduler)}`);
    }
    const baseUrls: Record<HostName, string> = { ...KUCOIN_BASE_URLS };
    for (const [host, url] of Object.entries(objectOption('baseUrls', options.baseUrls) ?? {})) {
      if (!Object.hasOwn(KUCOIN_BASE_URLS, host))
        throw new InvalidArgumentError(`Expected baseUrls keys to be spot, futures or broker, got ${describeValue(host)}`);
      if (url !== undefined) baseUrls[host as HostName] = baseUrl(`baseUrls.${host}`, url);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(objectOption('headers', options.headers) ?? {})) {
      expectOption(
        HEADER_NAME.test(name) && !RESERVED_HEADER.test(name),
        `headers[${describeValue(name)}]`,
        'a header name that the transport or signing does not set',
        name,
      );
      expectOption(
        typeof value === 'string' && value.length <= MAX_PATH_LENGTH && HEADER_VALUE.test(value),
        `headers[${describeValue(name)}]`,
        'a string of header characters (no CR, LF or NUL)',
        value,
      );
      headers[name] = value as string;
    }
    return {
      scheduler: scheduler as Scheduler,
      credentials: resolveCredentials(options.credentials),
      baseUrls,
      timeoutMs: numberOption('timeoutMs', options.timeoutMs ?? 10_000, { min: 0, max: 600_000, above: true }),
      connections: numberOption('connections', options.connections ?? 64, { min: 1, max: 1024, integer: true }),
      transportRetries: numberOption('transportRetries', options.transportRetries ?? 2, { min: 0, max: 10, integer: true }),
      headers,
      clock: functionOption('clock', options.clock) ?? Date.now,
      maxClockOffsetMs: numberOption('maxClockOffsetMs', options.maxClockOffsetMs ?? 3_600_000, { min: 1_000, max: 604_800_000 }),
      errorActions: objectOption('errorActions', options.errorActions) as ErrorActionOptions | undefined,
    };
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected readable client options, but reading them threw ${describeValue(error)}`, { cause: error });
  }
}

function functionOption<F>(name: string, value: unknown): F | undefined {
  expectOption(value === undefined || typeof value === 'function', name, 'a function', value);
  return value as F | undefined;
}

function baseUrl(name: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' && value.length <= 2048 ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  // never echo a URL that carries credentials
  const shown = url && (url.username || url.password) ? 'a URL with credentials' : value;
  expectOption(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !url.search && !url.hash,
    name,
    'an http: or https: URL without credentials, query or fragment',
    shown,
  );
  return value as string;
}

/** Credentials are checked for shape only: no value of theirs ever appears in a message. */
function resolveCredentials(value: unknown): Credentials | undefined {
  if (value === undefined || value === null) return undefined;
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`Expected credentials { key, secret, passphrase } as non-empty strings without control characters: ${what}`);
  };
  if (typeof value !== 'object') fail(`got ${typeof value}`);
  const c = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of ['key', 'secret', 'passphrase'] as const) {
    const v = c[field];
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024 || /[\p{Cc}]/u.test(v))
      fail(`${field} is ${typeof v === 'string' ? 'malformed' : typeof v}`);
    out[field] = v;
  }
  const keyVersion = c.keyVersion;
  if (keyVersion !== undefined && !['1', '2', '3', 1, 2, 3].includes(keyVersion as string))
    fail(`keyVersion must be 1, 2 or 3, got ${describeValue(keyVersion)}`);
  if (keyVersion !== undefined) out.keyVersion = keyVersion;
  return out as unknown as Credentials;
}

interface CheckedRequest {
  readonly method: string;
  readonly path: string;
  readonly pathWithQuery: string;
  readonly bodyText: string;
  readonly host: HostName;
  readonly priority: Priority | undefined;
  readonly signal: AbortSignal | undefined;
  readonly maxWaitMs: number | undefined;
}

/** Reads and validates a request (each field once) before anything is scheduled: every fault is typed, nothing is charged. */
function checkRequest(req: KucoinRequest): CheckedRequest {
  try {
    expectOption(req !== null && typeof req === 'object', 'the request', 'an object { method, path, ... }', req);
    const { method: rawMethod, path, query, body, host, priority, signal, maxWaitMs } = req;
    const method = typeof rawMethod === 'string' ? rawMethod.toUpperCase() : undefined;
    expectOption(method !== undefined && HTTP_METHODS.includes(method), 'method', 'GET, POST, PUT, DELETE or PATCH', rawMethod);
    expectOption(
      typeof path === 'string' && path.length <= MAX_PATH_LENGTH && PATH_CHARACTERS.test(path),
      'path',
      `a path starting with "/" (at most ${MAX_PATH_LENGTH} printable ASCII characters, no spaces or "#")`,
      path,
    );
    const pathWithQuery = withQuery(path, query);
    expectOption(priority === undefined || (PRIORITIES as readonly unknown[]).includes(priority), 'priority', 'one of critical, high, normal, low', priority);
    expectOption(signal === undefined || isAbortSignal(signal), 'signal', 'an AbortSignal', signal);
    if (maxWaitMs !== undefined) numberOption('maxWaitMs', maxWaitMs, { min: 0, max: Number.POSITIVE_INFINITY });
    const bodyText = serializeBody(body);
    return { method: method!, path, pathWithQuery, bodyText, host: parseHost(host ?? 'spot'), priority, signal, maxWaitMs };
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected a readable request, but reading it threw ${describeValue(error)}`, { cause: error });
  }
}

function withQuery(path: string, query: unknown): string {
  const q = objectOption('query', query);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q ?? {})) {
    if (v === undefined || v === null) continue;
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    expectOption(
      ok && !LONE_SURROGATE.test(k) && (typeof v !== 'string' || !LONE_SURROGATE.test(v)),
      `query[${describeValue(k)}]`,
      'a string, a finite number, a boolean or undefined',
      v,
    );
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  const full = parts.length === 0 ? path : `${path}${path.includes('?') ? '&' : '?'}${parts.join('&')}`;
  expectOption(full.length <= MAX_PATH_LENGTH, 'path with its query', `at most ${MAX_PATH_LENGTH} characters`, `${full.length} characters`);
  return full;
}

function serializeBody(body: unknown): string {
  if (body === undefined) return '';
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new InvalidArgumentError(`Expected body to be JSON-serialisable, but JSON.stringify threw ${describeValue(error)}`, { cause: error });
  }
  expectOption(typeof text === 'string', 'body', 'a JSON value (object, array, string, number, boolean or null)', body);
  expectOption(text!.length <= MAX_BODY_LENGTH, 'body', `at most ${MAX_BODY_LENGTH} characters of JSON`, `${text!.length} characters`);
  return text!;
}

function parseJson(text: string): { code?: unknown; msg?: unknown; data?: unknown } | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as { code?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A KuCoin REST client over undici whose every request is scheduled with its endpoint's pool and weight,
 * signed at send time, and fed back (headers and signals) to the scheduler, through the one attempt loop
 * (src/send/attemptLoop.ts). A request the gateway refused
 * with a rate-limit signal was not executed: it is sent again, keeping its priority and deadline, up to the
 * scheduler's `feedback.maxAttempts`. After a timeout or a 5xx only reads and orders with a `clientOid` are
 * sent again; nothing else, so no order is ever sent twice.
 */
export class KucoinClient {
  readonly #scheduler: Scheduler;
  readonly #credentials: Credentials | undefined;
  readonly #baseUrls: Record<HostName, string>;
  readonly #pools: OriginPools;
  readonly #transportRetries: number;
  readonly #extraHeaders: Readonly<Record<string, string>>;
  readonly #originDelayUntil = new Map<string, number>();
  readonly #clock: () => number;
  readonly #errorActions: ErrorActionOptions | undefined;
  readonly #keyId: string | undefined;
  readonly #maxClockOffsetMs: number;
  /** KuCoin's clock minus the local one (ms), learned after a 400002. */
  #clockOffsetMs = 0;
  #clockSync: Promise<void> | undefined;

  constructor(options: KucoinClientOptions) {
    const o = resolveClientOptions(options);
    this.#scheduler = o.scheduler;
    this.#credentials = o.credentials;
    this.#baseUrls = o.baseUrls;
    this.#pools = new OriginPools({ connections: o.connections, headersTimeoutMs: o.timeoutMs, bodyTimeoutMs: o.timeoutMs, keepAliveTimeoutMs: 30_000 });
    this.#transportRetries = o.transportRetries;
    this.#extraHeaders = o.headers;
    this.#clock = o.clock;
    this.#maxClockOffsetMs = o.maxClockOffsetMs;
    this.#errorActions = o.errorActions;
    this.#keyId = o.credentials ? keyIdOf(o.credentials.key) : undefined;
  }

  /** KuCoin's clock minus the local one (ms), as learned after a 400002; 0 until then. */
  get clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  /**
   * Learns the offset to KuCoin's clock: `GET /api/v1/timestamp` on the host (scheduled, charged to the Public
   * pool), the local clock read as it is sent and as its reply is read, the server's time taken as the midpoint.
   * Only a plausible time is believed: a number of ms between 2020 and 2100, at most `maxClockOffsetMs` from the
   * local clock; anything else rejects with ClockSyncError and the offset in force stays. One read at a time,
   * shared by every caller; `signal` ends this caller's wait (AbortError), not the read.
   */
  syncClock(host: HostName | string = 'spot', signal?: AbortSignal): Promise<void> {
    this.#clockSync ??= this.#readClock(host).finally(() => (this.#clockSync = undefined));
    return abortable(this.#clockSync, signal);
  }

  async #readClock(host: HostName | string): Promise<void> {
    let sentAt = Number.NaN;
    let receivedAt = Number.NaN;
    const reply = await this.#request<unknown>({ method: 'GET', path: '/api/v1/timestamp', host, priority: 'critical' }, false, (raw) => {
      sentAt = raw.sentAt;
      receivedAt = raw.receivedAt;
    });
    const offset = offsetOf(reply.data, sentAt, receivedAt);
    const problem = implausibleServerTime(reply.data, offset, this.#maxClockOffsetMs);
    if (problem !== undefined) throw new ClockSyncError(`GET /api/v1/timestamp answered, but ${problem}`, this.#clockOffsetMs);
    this.#clockOffsetMs = offset;
  }

  /** Requests per connection the client uses now on a host (lowered after 429002). */
  requestsPerConnection(host: HostName = 'spot'): number {
    return this.#pools.requestsPerConnection(new URL(this.#baseUrls[parseHost(host)]).origin);
  }

  async request<T = unknown>(input: KucoinRequest): Promise<KucoinResponse<T>> {
    return this.#request<T>(input, true);
  }

  /**
   * `signed` false: no KC-API-* headers (the server-time read after a 400002 must not need the clock it learns).
   * `onReply` sees the raw reply the result is made of.
   */
  async #request<T>(input: KucoinRequest, signed: boolean, onReply?: (reply: RawReply) => void): Promise<KucoinResponse<T>> {
    // every field read once and checked before anything is scheduled: a bad request is typed and never charged
    const checked = checkRequest(input);
    const { host, method, pathWithQuery, bodyText, signal } = checked;
    const path = checked.path;
    const origin = new URL(this.#baseUrls[host]).origin;
    const basePath = new URL(this.#baseUrls[host]).pathname.replace(/\/$/, '');
    const loop = new AttemptLoop<RawReply>(
      this.#scheduler,
      {
        schedule: {
          endpoint: `${method} ${path.split('?')[0]}`,
          host,
          priority: checked.priority,
          signal,
          ...(checked.maxWaitMs !== undefined ? { maxWaitMs: checked.maxWaitMs } : {}),
          ...(signed && this.#keyId !== undefined ? { keyId: this.#keyId } : {}),
        },
        ...(signed && this.#credentials ? { syncClock: (sig?: AbortSignal) => this.syncClock(host, sig) } : {}),
        // read from the serialised bytes, not from getters that could answer differently
        safeToRepeat: isSafeToRepeat(method, bodyText),
        send: (admission) => this.#send(origin, method, basePath + pathWithQuery, pathWithQuery, bodyText, signal, admission, signed),
        replyOf: (reply) => ({ status: reply.status, headers: reply.headers, body: reply.json ?? reply.text }),
        onConnectionLimited: () => {
          const delay = this.#pools.connectionLimited(origin);
          this.#originDelayUntil.set(origin, Math.max(this.#originDelayUntil.get(origin) ?? 0, Date.now() + delay));
          return delay;
        },
        holdUntil: () => this.#originDelayUntil.get(origin) ?? 0,
      },
      { transportRetries: this.#transportRetries, ...(this.#errorActions ? { actions: this.#errorActions } : {}) },
    );
    let done;
    try {
      done = await loop.run();
    } catch (error) {
      if (error instanceof TransportFailure) throw new KucoinRequestError(method, path, loop.attempts, error.cause);
      throw error; // the scheduler's own typed errors: nothing was sent
    }
    const { value: reply, attempts, waitedMs, classification } = done;
    onReply?.(reply);
    const classified = done.outcome?.classified ?? classifyReply({ status: reply.status, headers: reply.headers, body: reply.json ?? reply.text });
    const { rateLimit, code, signal: refusal } = classified;
    if (refusal)
      throw new KucoinApiError({
        kucoinCode: code,
        msg: classified.msg,
        status: reply.status,
        rateLimit,
        signal: refusal,
        method,
        path,
        attempts,
        classification,
      });
    if (reply.status >= 500 && classification?.category !== 'service-stopping') throw new KucoinRequestError(method, path, attempts, undefined, reply.status);
    if (code === '200000' && reply.status < 300) return { data: reply.json?.data as T, code, status: reply.status, rateLimit, attempts, waitedMs };
    throw new KucoinApiError({
      kucoinCode: code,
      msg: classified.msg,
      status: reply.status,
      rateLimit,
      signal: undefined,
      method,
      path,
      attempts,
      classification,
      cause: loop.clockSyncError,
    });
  }

  async #send(
    origin: string,
    method: string,
    urlPath: string,
    signedPath: string,
    body: string,
    signal: AbortSignal | undefined,
    admission: Admission,
    signed: boolean,
  ): Promise<RawReply> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...this.#extraHeaders };
    if (this.#credentials && signed) Object.assign(headers, authHeaders(this.#credentials, method, signedPath, body, this.#clock() + this.#clockOffsetMs));
    // one listener on the caller's signal however many requests share it (undici adds one per request)
    const local = signal ? new AbortController() : undefined;
    const unwatch = signal ? watchAbort(signal, () => local!.abort(signal.reason)) : undefined;
    const sentAt = this.#clock();
    try {
      const res = await this.#pools.get(origin).request({
        path: urlPath,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body === '' ? null : body,
        ...(local ? { signal: local.signal } : {}),
      });
      const text = await res.body.text();
      return { sentAt, receivedAt: this.#clock(), status: res.statusCode, headers: res.headers, text, json: parseJson(text), admission };
    } catch (error) {
      throw new TransportFailure(error, signal?.aborted === true);
    } finally {
      unwatch?.();
    }
  }

  async close(): Promise<void> {
    await this.#pools.close();
  }
}

/** A send that failed in transport; carried out of the scheduled function to the retry decision. */
class TransportFailure extends Error {
  constructor(
    readonly cause: unknown,
    readonly aborted: boolean,
  ) {
    super('transport failure');
  }
}
