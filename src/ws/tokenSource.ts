import type { Priority } from '../store/types.js';
import type { KucoinClient } from '../http/kucoinClient.js';
import { WsProtocolError, WsTooLargeError } from './errors.js';

/** What a bullet reply gives: the token and the server to connect to, with its ping timing. */
export interface WsToken {
  /** Secret for private connections: never put in an event or error. */
  readonly token: string;
  /** `wss://ws-api-spot.kucoin.com/` */
  readonly endpoint: string;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  /** When it was fetched (ms, this process's clock). */
  readonly fetchedAt: number;
}

/** Fetches a token. `signal` aborts when the manager closes. */
export type TokenSource = (signal: AbortSignal) => Promise<WsToken>;

/** A WebSocket token's kind: `public` (bullet-public) or `private` (bullet-private, signed). */
export type WsKind = 'public' | 'private';

/** Options of `kucoinTokenSource(...)`: which token to fetch (public or private), from which host, at which priority. */
export interface KucoinTokenSourceOptions {
  /** `public`: POST /api/v1/bullet-public (Public pool, per IP); `private`: bullet-private (signed; Spot or Futures pool). */
  readonly kind: WsKind;
  /** Spot and futures tokens come from their own hosts and cannot be mixed. @default 'spot' */
  readonly host?: 'spot' | 'futures';
  /** Priority of the token request in the scheduler. @default 'high' (a feed is down until it has one) */
  readonly priority?: Priority;
  /** Longest wait for the scheduler to admit it. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
}

/**
 * Tokens fetched through a KucoinClient, so the scheduler charges their weight (10) to the right pool and
 * every rate-limit signal of the reply is fed back like any REST call.
 */
export function kucoinTokenSource(client: KucoinClient, options: KucoinTokenSourceOptions): TokenSource {
  const path = options.kind === 'private' ? '/api/v1/bullet-private' : '/api/v1/bullet-public';
  return async (signal) => {
    const reply = await client.request<unknown>({
      method: 'POST',
      path,
      host: options.host ?? 'spot',
      priority: options.priority ?? 'high',
      signal,
      ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
    });
    return parseBullet(reply.data, Date.now());
  };
}

/**
 * The server's ping timing is believed within these bounds (ms) and clamped to them: a silent session is
 * counted by the server for up to pingInterval + pingTimeout, so that sum becomes how long a slot is held
 * after a socket ended without the close handshake, and the shortest lease (see `leaseMs`). KuCoin says 18_000
 * and 10_000. Outside [1 s, 60 s] a value is not a plausible KuCoin setting: 1e12 would hold a slot for 32
 * years (and overflow Node's timers to 1 ms), 1 would ping flat out and spend the uplink budget on pings.
 */
export const WS_PING_BOUNDS = {
  intervalMs: { min: 1_000, max: 60_000 },
  timeoutMs: { min: 1_000, max: 60_000 },
} as const;
/** Longest token accepted (characters). KuCoin's are about 200; the token goes into the URL of every dial. */
export const WS_TOKEN_MAX_LENGTH = 4_096;
/** Longest instance server endpoint accepted (characters). */
export const WS_ENDPOINT_MAX_LENGTH = 2_048;

const clamp = (v: number, b: { readonly min: number; readonly max: number }) => Math.min(b.max, Math.max(b.min, v));
const msOr = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);

/** Reads a bullet reply's `data`: `{ token, instanceServers: [{ endpoint, pingInterval, pingTimeout, ... }] }`, checked as checkToken does. */
export function parseBullet(data: unknown, now: number): WsToken {
  const d = data as { token?: unknown; instanceServers?: unknown } | null | undefined;
  const token = d?.token;
  // the length first: nothing is done with a token that will be refused
  if (typeof token === 'string' && token.length > WS_TOKEN_MAX_LENGTH) throw new WsTooLargeError('token', token.length, WS_TOKEN_MAX_LENGTH);
  const servers = Array.isArray(d?.instanceServers) ? (d.instanceServers as unknown[]) : [];
  const server = servers.find((s): s is { endpoint: string; pingInterval: unknown; pingTimeout: unknown } => {
    const e = (s as { endpoint?: unknown } | null)?.endpoint;
    return typeof e === 'string' && /^wss?:\/\//.test(e);
  });
  if (typeof token !== 'string' || token === '' || !server) {
    throw new WsProtocolError('Expected a bullet reply with a token and an instance server whose endpoint is a ws:// or wss:// URL');
  }
  return checkToken({
    token,
    endpoint: server.endpoint,
    pingIntervalMs: msOr(server.pingInterval, 18_000),
    pingTimeoutMs: msOr(server.pingTimeout, 10_000),
    fetchedAt: now,
  });
}

/**
 * What every token must be before it is used, whatever source gave it: a token of 1-WS_TOKEN_MAX_LENGTH
 * characters, a ws:// or wss:// endpoint of at most WS_ENDPOINT_MAX_LENGTH, the ping timing clamped to
 * WS_PING_BOUNDS. Throws WsTooLargeError or WsProtocolError.
 */
export function checkToken(t: WsToken, now: number = Date.now()): WsToken {
  if (t === null || typeof t !== 'object') throw new WsProtocolError('Expected the token source to resolve to a WsToken object');
  const { token, endpoint } = t;
  if (typeof token === 'string' && token.length > WS_TOKEN_MAX_LENGTH) throw new WsTooLargeError('token', token.length, WS_TOKEN_MAX_LENGTH);
  if (typeof endpoint === 'string' && endpoint.length > WS_ENDPOINT_MAX_LENGTH) throw new WsTooLargeError('endpoint', endpoint.length, WS_ENDPOINT_MAX_LENGTH);
  if (typeof token !== 'string' || token === '' || typeof endpoint !== 'string' || !/^wss?:\/\//.test(endpoint)) {
    throw new WsProtocolError('Expected a token (a non-empty string) and an endpoint that is a ws:// or wss:// URL');
  }
  return {
    token,
    endpoint,
    pingIntervalMs: clamp(msOr(t.pingIntervalMs, 18_000), WS_PING_BOUNDS.intervalMs),
    pingTimeoutMs: clamp(msOr(t.pingTimeoutMs, 10_000), WS_PING_BOUNDS.timeoutMs),
    fetchedAt: typeof t.fetchedAt === 'number' && Number.isFinite(t.fetchedAt) ? t.fetchedAt : now,
  };
}

/** How long the server may count a session that sends nothing: pingInterval + pingTimeout (at most 120 s, see WS_PING_BOUNDS). */
export function silentSessionMs(t: WsToken): number {
  return t.pingIntervalMs + t.pingTimeoutMs;
}

/** One token shared by the dials of a manager while it is young; one fetch at a time; dropped on 401. */
export class TokenCache {
  #current: WsToken | undefined;
  #pending: Promise<WsToken> | undefined;

  constructor(
    private readonly source: TokenSource,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get(signal: AbortSignal): Promise<WsToken> {
    const t = this.#current;
    if (t && this.clock() - t.fetchedAt < this.maxAgeMs) return Promise.resolve(t);
    if (!this.#pending) {
      this.#pending = this.source(signal)
        .then((token) => (this.#current = checkToken(token, this.clock())))
        .finally(() => (this.#pending = undefined));
    }
    return this.#pending;
  }

  /** The server refused `token` (401): the next dial fetches a new one. */
  invalidate(token: WsToken): void {
    if (this.#current === token) this.#current = undefined;
  }
}
