/**
 * One bot's WebSocket, relayed to the endpoint KuCoin gave, inside the fleet's budgets (the store the WebSocket
 * manager uses): a session slot (a lease, renewed by the relay's heartbeat) and a connect from the shared window
 * before KuCoin is dialled; topics per message and per session counted on every subscribe; uplink messages paced
 * per connection (pings first). What KuCoin would refuse is refused here with KuCoin's own error frame, and never
 * sent; KuCoin's own 509s teach the store, so every process of the fleet backs off.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TypedEmitter } from '../../scheduler/events.js';
import type { WsLearnable, WsLearned, WsPenalty } from '../../ws/store/wsStoreTypes.js';
import { UplinkPacer } from '../../ws/uplinkPacer.js';
import { classifyWsError, limitIn } from '../../ws/wsCodes.js';
import type { ResolvedWsOptions } from '../../ws/wsOptions.js';
import type { ProxyEvents } from '../proxyEvents.js';
import type { ProxyStats } from '../proxyStats.js';
import { errorFrame, readServerError, readUplink } from './relayMessages.js';
import type { RelaySocket, WsModule } from './wsModule.js';

/** KuCoin's ping timeout: a session the proxy lost without a close handshake may count at the server this long. */
const SERVER_HOLD_MS = 10_000;

export interface RelayConnectionContext {
  readonly ws: WsModule;
  readonly server: InstanceType<WsModule['WebSocketServer']>;
  /** The subject's budgets and store (resolved by the WebSocket manager's rules). */
  readonly options: ResolvedWsOptions;
  readonly connectWaitMs: number;
  readonly maxHeldMessages: number;
  readonly maxMessageBytes: number;
  readonly events: TypedEmitter<ProxyEvents>;
  readonly stats: ProxyStats;
  /** The relay's heartbeat renews the leases of the connections it knows. */
  readonly track: (connection: RelayConnection, on: boolean) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export class RelayConnection {
  #bot: RelaySocket | undefined;
  #upstream: RelaySocket | undefined;
  readonly #pacer: UplinkPacer;
  readonly #held: { data: Buffer; binary: boolean; kind: 'ping' | 'command' }[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #topics = new Set<string>();
  /** Topics counted for a subscribe not acknowledged yet, by its id: un-counted when KuCoin refuses it. */
  readonly #pending = new Map<string, string[]>();
  /** KuCoin's messages that came before the bot's upgrade was accepted (its `welcome` first), sent on when it is. */
  readonly #early: { data: Buffer; binary: boolean }[] = [];
  /** KuCoin closed before the bot's upgrade was accepted. */
  #upstreamClosed: { code: number; clean: boolean } | undefined;
  #leaseHeld = false;
  #ended = false;
  /** Topic limits the fleet learned from KuCoin's 509s (the store's, from every grant and renewal). */
  #learned: WsLearned | undefined;
  /**
   * Local time before which the session lease surely holds: when the grant or the last renewal was asked for, plus
   * the lease. Past it (less leaseMarginMs) another process may take the slot: the relay closes first.
   */
  safeUntil = 0;

  constructor(
    private readonly ctx: RelayConnectionContext,
    readonly sessionId: string,
    private readonly bot: string,
  ) {
    this.#pacer = new UplinkPacer(ctx.options.uplink);
  }

  get subject(): string {
    return this.ctx.options.limits.subject;
  }

  /** What the fleet learned lately (a grant's or a renewal's word): the lower of it and the configured limits hold. */
  learned(learned: WsLearned): void {
    this.#learned = learned;
  }

  #limit(what: WsLearnable): number {
    return Math.min(this.ctx.options[what], this.#learned?.[what] ?? Number.POSITIVE_INFINITY);
  }

  #event(phase: 'open' | 'refused' | 'closed', reason: string): void {
    if (this.ctx.events.has('websocket')) this.ctx.events.emit('websocket', { phase, subject: this.subject, reason, bot: this.bot });
  }

  /** Takes the budgets, dials KuCoin, then accepts the bot's upgrade; refuses it KuCoin's way when a budget says no. */
  async open(req: IncomingMessage, socket: Duplex, head: Buffer, upstreamUrl: string): Promise<void> {
    const { store, limits } = this.ctx.options;
    const gone = new AbortController();
    const onGone = () => gone.abort();
    socket.once('close', onGone);
    try {
      const asked = Date.now();
      const session = await store.acquireSession(limits, this.sessionId);
      this.learned(session.learned);
      if (session.granted) this.safeUntil = asked + limits.leaseMs;
      if (!session.granted) return this.#refuse(req, socket, head, 509, `exceed max session count limitation of ${limits.sessionLimit}`);
      this.#leaseHeld = true;
      this.ctx.track(this, true);
      const deadline = Date.now() + this.ctx.connectWaitMs;
      for (;;) {
        if (gone.signal.aborted) return await this.#end(0);
        const grant = await store.acquireConnect(limits, this.sessionId);
        this.learned(grant.learned);
        if (grant.granted) break;
        if (grant.reason === 'lease' || Date.now() + grant.waitMs > deadline) {
          await this.#release(0);
          return this.#refuse(req, socket, head, 509, 'service busy, please retry later');
        }
        await sleep(grant.waitMs, gone.signal);
      }
      const upstream = await this.#dial(upstreamUrl);
      if (!upstream || gone.signal.aborted || this.#ended) {
        upstream?.close(1000, 'bot left');
        await this.#release(0);
        if (!gone.signal.aborted && !this.#ended) {
          socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\nx-ks-proxy: KS_PROXY_UPSTREAM_FAILED\r\n\r\n');
          this.#event('refused', 'KuCoin did not accept the WebSocket connection');
        }
        return;
      }
      this.#upstream = upstream;
      socket.off('close', onGone);
      this.ctx.server.handleUpgrade(req, socket, head, (bot) => this.#wire(bot, upstream));
    } catch {
      // the store failed: nothing was dialled
      socket.off('close', onGone);
      await this.#release(0);
      socket.destroy();
    }
  }

  #dial(url: string): Promise<RelaySocket | undefined> {
    return new Promise((resolve) => {
      const upstream = new this.ctx.ws.WebSocket(url, { maxPayload: this.ctx.maxMessageBytes, handshakeTimeout: 10_000, perMessageDeflate: false });
      upstream.once('open', () => {
        // KuCoin speaks first (`welcome`): listen at once, hold what comes until the bot is there
        upstream.on('message', (data, binary) => this.#fromKucoin(data, binary));
        upstream.on('close', (code) => this.#upstreamGone(code));
        resolve(upstream);
      });
      upstream.once('error', () => resolve(undefined));
      upstream.once('unexpected-response', () => {
        upstream.terminate();
        resolve(undefined);
      });
    });
  }

  /** KuCoin's refusal: the upgrade is accepted, an error frame sent, the connection closed (as the gateway does). */
  #refuse(req: IncomingMessage, socket: Duplex, head: Buffer, code: number, data: string): void {
    this.ctx.stats.refusal(`ws-${code}`);
    this.#event('refused', `${code} ${data}`);
    if (socket.destroyed) return;
    this.ctx.server.handleUpgrade(req, socket, head, (bot) => {
      bot.on('error', () => undefined);
      bot.send(errorFrame(undefined, code, data));
      bot.close(1000, 'refused');
    });
  }

  #wire(bot: RelaySocket, upstream: RelaySocket): void {
    this.#bot = bot;
    this.ctx.stats.websockets++;
    this.#event('open', 'relaying');
    bot.on('error', () => undefined);
    upstream.on('error', () => undefined);
    bot.on('message', (data, binary) => this.#fromBot(data, binary));
    bot.on('close', () => void this.close(1000, 'bot closed the connection', true));
    for (const m of this.#early.splice(0)) bot.send(m.data, { binary: m.binary });
    if (this.#upstreamClosed) this.#upstreamGone(this.#upstreamClosed.code);
  }

  #upstreamGone(code: number): void {
    if (!this.#bot) {
      this.#upstreamClosed = { code, clean: code === 1000 };
      return;
    }
    void this.close(code === 1005 || code === 1006 ? 1011 : code, 'KuCoin closed the connection', code === 1000);
  }

  #fromKucoin(data: Buffer, binary: boolean): void {
    if (!this.#bot) this.#early.push({ data, binary });
    else if (this.#bot.readyState === this.ctx.ws.WebSocket.OPEN) this.#bot.send(data, { binary });
    if (binary) return;
    const error = readServerError(data.toString('utf8'));
    if (!error) return;
    const id = error.id === undefined ? undefined : JSON.stringify(error.id);
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (pending) {
      for (const t of pending) this.#topics.delete(t);
      this.#pending.delete(id!);
    }
    const rule = classifyWsError(error.code, error.data, pending ? 'command' : 'any');
    const o = this.ctx.options;
    let penalty: WsPenalty | undefined;
    const stated = limitIn(error.data);
    const scope: WsLearnable | undefined = /per\s+time/i.test(String(error.data))
      ? 'topicsPerMessage'
      : /per\s+session/i.test(String(error.data))
        ? 'topicsPerSession'
        : undefined;
    // a topic limit KuCoin stated holds for every process of the fleet (the manager's learning, src/ws)
    if (error.code === 509 && scope && stated !== undefined)
      void o.store.learn(o.limits, scope, stated, o.learnForMs).then(
        (l) => this.learned(l),
        () => undefined,
      );
    if (rule.reaction === 'slow-down') this.#pacer.slowDown();
    else if (rule.reaction === 'wait-session-slot') {
      penalty = { kind: 'sessions', sessionId: this.sessionId, learnedLimit: stated, learnForMs: o.learnForMs, pauseMs: o.sessionRefusal.pauseMs };
    } else if (rule.reaction === 'reconnect-later' && rule.code === 509) {
      penalty = { kind: 'busy', ...o.busyBackoff, random: Math.random() };
    }
    if (penalty) void o.store.penalize(o.limits, penalty).catch(() => undefined);
  }

  #fromBot(data: Buffer, binary: boolean): void {
    const msg = binary ? { kind: 'command' as const, id: undefined, topics: [], type: undefined } : readUplink(data.toString('utf8'));
    if (msg.type === 'subscribe' && msg.topics.length > 0) {
      const perMessage = this.#limit('topicsPerMessage');
      const perSession = this.#limit('topicsPerSession');
      if (msg.topics.length > perMessage) return this.#answer(msg.id, 509, `exceed max subscription count limitation of ${perMessage} per time`);
      const fresh = msg.topics.filter((t) => !this.#topics.has(t));
      if (this.#topics.size + fresh.length > perSession)
        return this.#answer(msg.id, 509, `exceed max subscription count limitation of ${perSession} per session`);
      for (const t of fresh) this.#topics.add(t);
      if (msg.id !== undefined) this.#pending.set(JSON.stringify(msg.id), fresh);
    } else if (msg.type === 'unsubscribe') {
      for (const t of msg.topics) this.#topics.delete(t);
    }
    if (this.#held.length === 0 || msg.kind === 'ping') {
      if (this.#pacer.delay(msg.kind) === 0) return this.#send(data, binary);
    }
    if (this.#held.length >= this.ctx.maxHeldMessages) return this.#answer(msg.id, 509, 'exceed max permits per second');
    this.#held.push({ data, binary, kind: msg.kind });
    this.#schedule();
  }

  /** A refusal from the proxy, in KuCoin's words, to the bot only. */
  #answer(id: unknown, code: number, data: string): void {
    this.ctx.stats.refusal(`ws-${code}`);
    if (this.#bot?.readyState === this.ctx.ws.WebSocket.OPEN) this.#bot.send(errorFrame(id, code, data));
  }

  #send(data: Buffer, binary: boolean): void {
    if (this.#upstream?.readyState !== this.ctx.ws.WebSocket.OPEN) return;
    this.#pacer.record();
    this.#upstream.send(data, { binary });
  }

  #schedule(): void {
    if (this.#flushTimer || this.#held.length === 0 || this.#ended) return;
    const wait = this.#pacer.delay(this.#held[0]!.kind);
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      while (this.#held.length > 0 && this.#pacer.delay(this.#held[0]!.kind) === 0) {
        const m = this.#held.shift()!;
        this.#send(m.data, m.binary);
      }
      this.#schedule();
    }, wait);
  }

  async #release(holdMs: number): Promise<void> {
    if (!this.#leaseHeld) return;
    this.#leaseHeld = false;
    this.ctx.track(this, false);
    try {
      await this.ctx.options.store.release(this.ctx.options.limits, this.sessionId, holdMs);
    } catch {
      // the lease ends on its own after leaseMs
    }
  }

  async #end(holdMs: number): Promise<void> {
    this.#ended = true;
    await this.#release(holdMs);
  }

  /** Closes both legs and frees the session slot (held for KuCoin's ping timeout when KuCoin may still count it). */
  async close(code = 1001, reason = 'closing', clean = true): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    if (this.#bot) this.ctx.stats.websockets--;
    try {
      this.#bot?.close(code, reason.slice(0, 120));
      this.#upstream?.close(1000, 'bot left');
    } catch {
      this.#bot?.terminate();
      this.#upstream?.terminate();
    }
    this.#event('closed', reason);
    await this.#release(clean ? 0 : SERVER_HOLD_MS);
  }
}
