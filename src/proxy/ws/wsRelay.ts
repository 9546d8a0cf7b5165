/**
 * The proxy's WebSocket side: bullet-token replies rewritten to point at the proxy (tokenRewrite.ts), and every
 * connection a bot then opens relayed to KuCoin within the fleet's budgets (relayConnection.ts), whose session
 * leases a heartbeat renews while they last. Off when the optional `ws` package is missing (tokens pass unchanged).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TypedEmitter } from '../../scheduler/events.js';
import { WsMemoryStore } from '../../ws/store/wsMemoryStore.js';
import type { WsBudgetStore } from '../../ws/store/wsStoreTypes.js';
import type { ResolvedWsOptions } from '../../ws/wsOptions.js';
import { botIdentity } from '../botIdentity.js';
import type { ProxyEvents } from '../proxyEvents.js';
import type { ProxyStats } from '../proxyStats.js';
import type { Route } from '../routing.js';
import type { UpstreamReply } from '../upstream.js';
import { RelayConnection, type RelayConnectionContext } from './relayConnection.js';
import { resolveRelayOptions, subjectOptions, type ProxyWsOptions, type ResolvedRelayOptions } from './wsRelayOptions.js';
import { loadWs, type WsModule } from './wsModule.js';
import { RelayTargets, rewriteBullet, type RelaySubject } from './tokenRewrite.js';

const RELAY_PATH = /^\/ws\/([0-9a-f]{32})(\?[^#]*)?$/;

export class WsRelay {
  readonly #options: ResolvedRelayOptions;
  readonly #store: WsBudgetStore;
  readonly #targets = new RelayTargets();
  readonly #ws: WsModule | undefined;
  readonly #server: InstanceType<WsModule['WebSocketServer']> | undefined;
  /** Resolved budgets per subject (`uid:...`, `ip:...`), and the live connections of each. */
  readonly #subjects = new Map<string, { options: ResolvedWsOptions; connections: Set<RelayConnection> }>();
  readonly #processId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  #next = 1;
  #wsBase: string | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    options: ProxyWsOptions,
    private readonly deps: { readonly events: TypedEmitter<ProxyEvents>; readonly stats: ProxyStats; readonly ip: string },
  ) {
    this.#options = resolveRelayOptions(options);
    this.#store = this.#options.store ?? new WsMemoryStore();
    this.#ws = loadWs();
    this.#server = this.#ws ? new this.#ws.WebSocketServer({ noServer: true, maxPayload: this.#options.maxMessageBytes, perMessageDeflate: false }) : undefined;
  }

  /** The proxy's address as bots reach it (`http://...` becomes `ws://...`). */
  setAdvertisedUrl(url: string): void {
    this.#wsBase = url.replace(/^http/, 'ws');
  }

  rewriteToken(reply: UpstreamReply, route: Route, uid: string | undefined, _bot: string): UpstreamReply {
    if (!this.#ws || !this.#wsBase) return reply;
    return rewriteBullet(reply, route, uid, this.deps.ip, this.#wsBase, this.#targets);
  }

  #subject(subject: RelaySubject): { options: ResolvedWsOptions; connections: Set<RelayConnection> } {
    const key = subject.kind === 'private' ? `uid:${subject.uid}` : `ip:${subject.ip}`;
    let entry = this.#subjects.get(key);
    if (!entry) {
      entry = { options: subjectOptions(this.#options, subject, this.#store), connections: new Set() };
      this.#subjects.set(key, entry);
    }
    return entry;
  }

  /** An upgrade on the main port: `/ws/<id>?token=...` relays to the endpoint `<id>` names; anything else is closed. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const m = RELAY_PATH.exec(req.url ?? '');
    const target = m ? this.#targets.get(m[1]!) : undefined;
    if (!this.#ws || !this.#server || !target) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\nx-ks-proxy: KS_PROXY_NOT_FOUND\r\n\r\n');
      return;
    }
    const subject = this.#subject(target.subject);
    const identity = botIdentity(req.headers, undefined, req.socket.remoteAddress);
    const ctx: RelayConnectionContext = {
      ws: this.#ws,
      server: this.#server,
      options: subject.options,
      connectWaitMs: this.#options.connectWaitMs,
      maxHeldMessages: this.#options.maxHeldMessages,
      maxMessageBytes: this.#options.maxMessageBytes,
      events: this.deps.events,
      stats: this.deps.stats,
      track: (connection, on) => {
        if (on) subject.connections.add(connection);
        else subject.connections.delete(connection);
        this.#arm();
      },
    };
    const connection = new RelayConnection(ctx, `${this.#processId}.proxy.${this.#next++}`, 'bot' in identity ? identity.bot : 'invalid');
    // the bot's query (token, connectId) goes to KuCoin's endpoint as it came
    void connection.open(req, socket, head, `${target.upstream}${m![2] ?? ''}`);
  }

  /** Renews the leases of live connections while there are any; a lease another process took ends its connection. */
  #arm(): void {
    const live = [...this.#subjects.values()].some((s) => s.connections.size > 0);
    if (live && !this.#heartbeat) {
      const every = Math.min(...[...this.#subjects.values()].map((s) => s.options.heartbeatMs));
      this.#heartbeat = setInterval(() => void this.#renew(), every);
      this.#heartbeat.unref();
    } else if (!live && this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  async #renew(): Promise<void> {
    for (const { options, connections } of this.#subjects.values()) {
      if (connections.size === 0) continue;
      const byId = new Map([...connections].map((c) => [c.sessionId, c]));
      const asked = Date.now();
      try {
        const { lost, learned } = await options.store.renew(options.limits, [...byId.keys()]);
        for (const c of connections) {
          c.learned(learned);
          c.safeUntil = asked + options.limits.leaseMs;
        }
        for (const id of lost) void byId.get(id)?.close(1001, 'session lease lost', false);
      } catch {
        // the store failed: each lease holds until its safeUntil; the next beat tries again
      }
      // cut off from the store (or too slow): a connection closes before another process may take its slot, so
      // KuCoin never counts one session more than the fleet's budget (issue 19's partition rule, as WsManager)
      const closeBy = Date.now() + options.heartbeatMs + options.leaseMarginMs;
      for (const c of byId.values()) if (c.safeUntil > 0 && c.safeUntil <= closeBy) void c.close(1001, 'session lease not renewed', false);
    }
  }

  /** Closes every relayed connection (going away) and frees their session slots. */
  async close(): Promise<void> {
    const all = [...this.#subjects.values()].flatMap((s) => [...s.connections]);
    await Promise.all(all.map((c) => c.close(1001, 'proxy shutting down')));
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#server?.close();
  }
}
