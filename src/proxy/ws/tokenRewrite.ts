/**
 * Bullet tokens through the proxy: the reply of `POST /api/v1/bullet-public|private` keeps its token, but each
 * `instanceServers[].endpoint` is replaced by the proxy's own WebSocket endpoint (`ws://<proxy>/ws/<id>`), so the
 * bot connects through the proxy, which holds the fleet's WebSocket budgets and relays to the endpoint KuCoin gave.
 * Only endpoints the proxy wrote can be dialled through it: `<id>` names one KuCoin gave, nothing else.
 */
import { randomBytes } from 'node:crypto';
import type { Route } from '../routing.js';
import { replyText, type UpstreamReply } from '../upstream.js';

/** Who a token's connections are counted for: the egress IP (public tokens) or the UID (private tokens). */
export type RelaySubject = { readonly kind: 'public'; readonly ip: string } | { readonly kind: 'private'; readonly uid: string };

export interface RelayTarget {
  /** The endpoint KuCoin's reply named, e.g. `wss://ws-api-spot.kucoin.com/`. */
  readonly upstream: string;
  readonly subject: RelaySubject;
  readonly expiresAt: number;
}

const BULLET = /^\/api\/v1\/bullet-(public|private)$/;
/** KuCoin's tokens last 24 h: an endpoint written into a reply stays dialable that long. */
const TARGET_TTL_MS = 24 * 3_600_000;
/** Endpoints remembered at most; the oldest is forgotten first (its bot fetches a new token on its next dial). */
const MAX_TARGETS = 10_000;
const MAX_BULLET_BYTES = 1_048_576;

/** The endpoints written into token replies, by id. */
export class RelayTargets {
  readonly #byId = new Map<string, RelayTarget>();

  register(upstream: string, subject: RelaySubject, now = Date.now()): string {
    const id = randomBytes(16).toString('hex');
    if (this.#byId.size >= MAX_TARGETS) this.#byId.delete(this.#byId.keys().next().value!);
    this.#byId.set(id, { upstream, subject, expiresAt: now + TARGET_TTL_MS });
    return id;
  }

  get(id: string, now = Date.now()): RelayTarget | undefined {
    const t = this.#byId.get(id);
    if (t && t.expiresAt <= now) {
      this.#byId.delete(id);
      return undefined;
    }
    return t;
  }
}

/**
 * The bullet reply with its endpoints pointed at the proxy (`wsBase` is `ws://host:port`), or the reply unchanged
 * when it is no successful bullet reply. A private token needs the account's UID (its sessions are the UID's).
 */
export function rewriteBullet(reply: UpstreamReply, route: Route, uid: string | undefined, ip: string, wsBase: string, targets: RelayTargets): UpstreamReply {
  const kind = BULLET.exec(route.path)?.[1];
  if (!kind || (kind === 'private' && uid === undefined)) return reply;
  const text = replyText(reply, MAX_BULLET_BYTES);
  if (text === undefined) return reply;
  let json: { code?: unknown; data?: { instanceServers?: unknown } };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return reply;
  }
  const servers = json?.data?.instanceServers;
  if (json?.code !== '200000' || !Array.isArray(servers)) return reply;
  const subject: RelaySubject = kind === 'private' ? { kind: 'private', uid: uid! } : { kind: 'public', ip };
  for (const server of servers as { endpoint?: unknown; encrypt?: unknown }[]) {
    if (server && typeof server.endpoint === 'string' && /^wss?:\/\/[^\s]+$/i.test(server.endpoint)) {
      server.endpoint = `${wsBase}/ws/${targets.register(server.endpoint, subject)}`;
      server.encrypt = wsBase.startsWith('wss:'); // the bot's leg is the proxy's; the proxy's leg to KuCoin keeps TLS
    }
  }
  const headers = { ...reply.headers };
  delete headers['content-encoding'];
  delete headers['content-length'];
  return { status: reply.status, headers, body: Buffer.from(JSON.stringify(json)) };
}
