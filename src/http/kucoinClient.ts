import type { Dispatcher } from 'undici';
import type { Admission } from '../admission.js';
import type { Priority } from '../buckets/types.js';
import { InvalidArgumentError, KucoinApiError, KucoinRequestError } from '../errors.js';
import type { RateLimitHeaders } from '../feedback/headers.js';
import { parseHost } from '../kucoin/endpointTable.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { authHeaders, type Credentials } from '../kucoin/signing.js';
import type { Scheduler } from '../scheduler.js';
import { watchAbort } from '../util/abortWatch.js';
import { sleep } from '../util/sleep.js';
import { OriginPools } from './originPools.js';

export const KUCOIN_BASE_URLS: Readonly<Record<HostName, string>> = {
  spot: 'https://api.kucoin.com',
  futures: 'https://api-futures.kucoin.com',
  broker: 'https://api-broker.kucoin.com',
};

export interface KucoinClientOptions {
  readonly scheduler: Scheduler;
  /** Needed for private endpoints. Never logged, never part of an error or event. */
  readonly credentials?: Credentials;
  /** @default KuCoin's production hosts */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Headers and body timeout per attempt. @default 10_000 */
  readonly timeoutMs?: number;
  /** Connections per origin. @default 16 */
  readonly connections?: number;
  /** Transport retries (timeouts, resets, 5xx) of requests that are safe to repeat: reads, and orders with a clientOid. @default 2 */
  readonly transportRetries?: number;
  /** Extra headers sent with every request (e.g. an identification header for your proxy). */
  readonly headers?: Readonly<Record<string, string>>;
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
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly admission: Admission;
}

function buildQuery(query: KucoinRequest['query']): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) if (v !== undefined) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.join('&');
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
 * signed at send time, and fed back (headers and signals) to the scheduler. A request the gateway refused
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

  constructor(options: KucoinClientOptions) {
    if (!options?.scheduler) throw new InvalidArgumentError('Expected options.scheduler (createScheduler(...))');
    const c = options.credentials;
    if (c && (typeof c.key !== 'string' || typeof c.secret !== 'string' || typeof c.passphrase !== 'string' || !c.key || !c.secret)) {
      throw new InvalidArgumentError('Expected credentials { key, secret, passphrase } as non-empty strings');
    }
    this.#scheduler = options.scheduler;
    this.#credentials = c;
    this.#baseUrls = { ...KUCOIN_BASE_URLS, ...options.baseUrls };
    for (const [host, url] of Object.entries(this.#baseUrls)) {
      try {
        new URL(url);
      } catch {
        throw new InvalidArgumentError(`Expected baseUrls.${host} to be a URL, got ${JSON.stringify(url)}`);
      }
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.#pools = new OriginPools({ connections: options.connections ?? 16, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs, keepAliveTimeoutMs: 30_000 });
    this.#transportRetries = options.transportRetries ?? 2;
    this.#extraHeaders = options.headers ?? {};
  }

  /** Requests per connection the client uses now on a host (lowered after 429002). */
  requestsPerConnection(host: HostName = 'spot'): number {
    return this.#pools.requestsPerConnection(new URL(this.#baseUrls[host]).origin);
  }

  async request<T = unknown>(req: KucoinRequest): Promise<KucoinResponse<T>> {
    const host = parseHost(req.host ?? 'spot');
    const method = req.method?.toUpperCase();
    if (!method || !['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].includes(method)) throw new InvalidArgumentError(`Expected method GET, POST, PUT, DELETE or PATCH, got ${JSON.stringify(req.method)}`);
    if (typeof req.path !== 'string' || !req.path.startsWith('/')) throw new InvalidArgumentError(`Expected path to start with "/", got ${JSON.stringify(req.path)}`);
    const query = buildQuery(req.query);
    const pathWithQuery = query ? `${req.path}${req.path.includes('?') ? '&' : '?'}${query}` : req.path;
    const bodyText = req.body === undefined ? '' : JSON.stringify(req.body);
    const clientOid = (req.body as { clientOid?: unknown } | undefined)?.clientOid;
    const safeToRepeat = method === 'GET' || (typeof clientOid === 'string' && clientOid.length > 0);
    const origin = new URL(this.#baseUrls[host]).origin;
    const basePath = new URL(this.#baseUrls[host]).pathname.replace(/\/$/, '');
    const endpoint = `${method} ${req.path.split('?')[0]}`;
    const scheduler = this.#scheduler;
    const deadline = Date.now() + (req.maxWaitMs ?? Number.POSITIVE_INFINITY);
    const maxSignalAttempts = scheduler.maxAttempts;
    let signalAttempts = 0;
    let transportAttempts = 0;
    let waitedMs = 0;

    for (let attempt = 1; ; attempt++) {
      const delayUntil = this.#originDelayUntil.get(origin) ?? 0;
      if (delayUntil > Date.now()) await sleep(delayUntil - Date.now(), req.signal);
      let reply: RawReply;
      const queuedAt = Date.now();
      try {
        reply = await scheduler.schedule(
          {
            endpoint,
            host,
            priority: req.priority,
            signal: req.signal,
            ...(Number.isFinite(deadline) ? { maxWaitMs: Math.max(0, deadline - Date.now()) } : {}),
          },
          (admission) => {
            waitedMs += Date.now() - queuedAt;
            return this.#send(origin, method, basePath + pathWithQuery, pathWithQuery, bodyText, req.signal, admission);
          },
        );
      } catch (error) {
        if (error instanceof TransportFailure) {
          if (error.aborted) throw new KucoinRequestError(method, req.path, attempt, error.cause); // the caller's abort, mid-flight
          transportAttempts++;
          if (safeToRepeat && transportAttempts <= this.#transportRetries && !req.signal?.aborted) {
            await sleep(100 * 2 ** (transportAttempts - 1), req.signal);
            continue;
          }
          throw new KucoinRequestError(method, req.path, attempt, error.cause);
        }
        throw error; // the scheduler's own typed errors: nothing was sent
      }

      const json = parseJson(reply.text);
      const outcome = await scheduler.feedback(reply.admission, { status: reply.status, headers: reply.headers, body: json ?? reply.text });
      const rateLimit = outcome.classified.rateLimit;
      const code = outcome.classified.code;
      if (outcome.signal) {
        signalAttempts++;
        if (outcome.signal === '429002') {
          const delay = this.#pools.connectionLimited(origin);
          this.#originDelayUntil.set(origin, Math.max(this.#originDelayUntil.get(origin) ?? 0, Date.now() + delay));
        }
        if (signalAttempts < maxSignalAttempts && !req.signal?.aborted) continue; // not executed: safe to send again
        throw new KucoinApiError({ kucoinCode: code, msg: outcome.classified.msg, status: reply.status, rateLimit, signal: outcome.signal, method, path: req.path, attempts: attempt });
      }
      if (reply.status >= 500) {
        transportAttempts++;
        if (safeToRepeat && transportAttempts <= this.#transportRetries) {
          await sleep(100 * 2 ** (transportAttempts - 1), req.signal);
          continue;
        }
        throw new KucoinRequestError(method, req.path, attempt, undefined, reply.status);
      }
      if (code === '200000' && reply.status < 300) {
        return { data: json?.data as T, code, status: reply.status, rateLimit, attempts: attempt, waitedMs };
      }
      throw new KucoinApiError({ kucoinCode: code, msg: outcome.classified.msg, status: reply.status, rateLimit, signal: undefined, method, path: req.path, attempts: attempt });
    }
  }

  async #send(origin: string, method: string, urlPath: string, signedPath: string, body: string, signal: AbortSignal | undefined, admission: Admission): Promise<RawReply> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...this.#extraHeaders };
    if (this.#credentials) Object.assign(headers, authHeaders(this.#credentials, method, signedPath, body));
    // one listener on the caller's signal however many requests share it (undici adds one per request)
    const local = signal ? new AbortController() : undefined;
    const unwatch = signal ? watchAbort(signal, () => local!.abort(signal.reason)) : undefined;
    try {
      const res = await this.#pools.get(origin).request({
        path: urlPath,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body === '' ? null : body,
        ...(local ? { signal: local.signal } : {}),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text, admission };
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
