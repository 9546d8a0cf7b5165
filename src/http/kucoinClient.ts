import type { Dispatcher } from 'undici';
import type { Admission } from '../scheduler/admission.js';
import { ClockSyncError, KucoinApiError, KucoinRequestError } from '../errors.js';
import { parseHost } from '../kucoin/endpointTable.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { authHeaders, keyIdOf, type Credentials } from '../kucoin/signing.js';
import { portOf } from '../scheduler/scheduler.js';
import type { SchedulerPort } from '../scheduler/schedulerPort.js';
import { abortable } from '../util/abortable.js';
import { watchAbort } from '../util/abortWatch.js';
import { AttemptLoop } from '../send/attemptLoop.js';
import { isSafeToRepeat } from '../send/safeToRepeat.js';
import type { ErrorActionOptions } from '../send/errorActions.js';
import { resolveClientOptions, type KucoinClientOptions } from './clientOptions.js';
import { checkRequest, parseJson, type KucoinRequest, type KucoinResponse } from './clientRequest.js';
import { OriginPools } from './originPools.js';
import { implausibleServerTime, offsetOf } from './serverTime.js';

export type { KucoinClientOptions } from './clientOptions.js';
export type { KucoinRequest, KucoinResponse } from './clientRequest.js';

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

/**
 * A KuCoin REST client over undici whose every request is scheduled with its endpoint's pool and weight,
 * signed at send time, and fed back (headers and signals) to the scheduler, through the one attempt loop
 * (src/send/attemptLoop.ts). A request the gateway refused
 * with a rate-limit signal was not executed: it is sent again, keeping its priority and deadline, up to the
 * scheduler's `feedback.maxAttempts`. After a timeout or a 5xx only reads and orders with a `clientOid` are
 * sent again; nothing else, so no order is ever sent twice.
 */
export class KucoinClient {
  readonly #scheduler: SchedulerPort;
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
    this.#scheduler = portOf(o.scheduler);
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
    // the loop classified the reply (once): replyOf always gives one, so `classified` is set
    const classified = done.classified!;
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
