import type { Priority } from '../buckets/types.js';
import type { KucoinClient } from '../http/kucoinClient.js';
import { WsProtocolError } from './errors.js';

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

export type WsKind = 'public' | 'private';

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

/** Reads a bullet reply's `data`: `{ token, instanceServers: [{ endpoint, pingInterval, pingTimeout, ... }] }`. */
export function parseBullet(data: unknown, now: number): WsToken {
  const d = data as { token?: unknown; instanceServers?: unknown } | null | undefined;
  const servers = Array.isArray(d?.instanceServers) ? (d.instanceServers as unknown[]) : [];
  const server = servers.find((s): s is { endpoint: string; pingInterval: unknown; pingTimeout: unknown } => {
    const e = (s as { endpoint?: unknown } | null)?.endpoint;
    return typeof e === 'string' && /^wss?:\/\//.test(e);
  });
  const token = d?.token;
  if (typeof token !== 'string' || token === '' || !server) {
    throw new WsProtocolError('Expected a bullet reply with a token and an instance server whose endpoint is a ws:// or wss:// URL');
  }
  const ms = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);
  return { token, endpoint: server.endpoint, pingIntervalMs: ms(server.pingInterval, 18_000), pingTimeoutMs: ms(server.pingTimeout, 10_000), fetchedAt: now };
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
        .then((token) => (this.#current = token))
        .finally(() => (this.#pending = undefined));
    }
    return this.#pending;
  }

  /** The server refused `token` (401): the next dial fetches a new one. */
  invalidate(token: WsToken): void {
    if (this.#current === token) this.#current = undefined;
  }
}
