import { randomUUID } from 'node:crypto';
import { AbortError, describeValue, InvalidArgumentError } from '../errors.js';
import { TypedEmitter, type Listener } from '../scheduler/events.js';
import { WsCapacityError, WsClosedError, type KucoinWsError } from './errors.js';
import { LearnedLimits, type LimitName } from './learnedLimits.js';
import type { WsBudgetState, WsLearned, WsSubjectLimits } from './store/wsStoreTypes.js';
import { silentSessionMs, TokenCache, type WsToken } from './tokenSource.js';
import { TopicHandle, TopicRequest, type WsSubscription } from './topicRequest.js';
import { parseTopic } from './topics.js';
import { WsConnection, type ConnectionContext } from './wsConnection.js';
import type { WsManagerEvents, WsPush } from './wsEvents.js';
import { resolveWsOptions, type ResolvedWsOptions, type WsManagerOptions } from './wsOptions.js';

/** Longest maxWaitMs of a subscribe: one day. */
const MAX_WAIT_LIMIT_MS = 86_400_000;

/** Options of one `subscribe` on the WebSocket manager. */
export interface WsSubscribeOptions {
  /** Sent as `privateChannel` (private topics on a private connection). @default false */
  readonly privateChannel?: boolean;
  /** Called with every push of this topic while the subscription lasts. */
  readonly onMessage?: (push: WsPush) => void;
  /** Longest wait until the topic is served; then the subscribe rejects with WsCapacityError. @default the manager's maxWaitMs */
  readonly maxWaitMs?: number;
  /** Aborting rejects a subscribe still waiting with AbortError (KS_ABORTED). */
  readonly signal?: AbortSignal;
}

/** What `wsManager.snapshot()` returns: this process's connections, its topics, and the limits in force. */
export interface WsManagerSnapshot {
  readonly connections: readonly {
    readonly id: number;
    readonly open: boolean;
    readonly phase: string;
    readonly topics: number;
    readonly subscribed: number;
    readonly holdsSession: boolean;
  }[];
  readonly topics: { readonly waiting: number; readonly subscribed: number };
  /** In force: configured, or lower when learned from the server (here or by another process). */
  readonly topicsPerMessage: number;
  readonly topicsPerSession: number;
  readonly sessionLimit: number;
  /** The lease its sessions take in the store now: `leaseMs`, or longer when a token says the server counts silent sessions longer. */
  readonly leaseMs: number;
}

/**
 * KuCoin WebSocket connections whose budgets hold across every process of the account (with a
 * WsRedisStore): session slots as leases with heartbeats, connects per minute, topics per message and per
 * session, uplink messages per connection; tokens fetched through the REST scheduler; a reaction to every
 * WebSocket error code (WS_CODE_RULES). Create it with `createWsManager(options)`.
 */
export class WsManager {
  readonly #options: ResolvedWsOptions;
  readonly #events = new TypedEmitter<WsManagerEvents>();
  readonly #tokens: TokenCache;
  readonly #closing = new AbortController();
  readonly #connections = new Set<WsConnection>();
  readonly #requests = new Map<string, TopicRequest>();
  readonly #slotWaiters = new Set<() => void>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #processId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #limits: LearnedLimits;
  /** The subject's limits as the store is told them (the lease grows with the longest silent-session time seen). */
  #subject: WsSubjectLimits;
  #silentMs = 0;
  #nextConnectionId = 1;
  #closed: Promise<void> | undefined;
  #renewing = false;

  constructor(options: WsManagerOptions) {
    this.#options = resolveWsOptions(options);
    this.#tokens = new TokenCache(this.#options.tokenSource, this.#options.tokenMaxAgeMs);
    const { topicsPerMessage, topicsPerSession, limits, learnForMs } = this.#options;
    this.#limits = new LearnedLimits({ sessionLimit: limits.sessionLimit, topicsPerMessage, topicsPerSession }, learnForMs);
    this.#subject = limits;
    this.#heartbeat = setInterval(() => void this.#renew(), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /**
   * Resolves when the server has acknowledged the topic (or at once if this manager already has it).
   * Rejects with WsTopicError (400/403/404/406), WsCapacityError (not served within maxWaitMs),
   * WsConnectError, WsProtocolError, WsClosedError, AbortError or InvalidArgumentError.
   */
  async subscribe(topic: string, options: WsSubscribeOptions = {}): Promise<WsSubscription> {
    if (this.#closed) throw new WsClosedError();
    const name = parseTopic(topic);
    const privateChannel = options.privateChannel ?? false;
    if (typeof privateChannel !== 'boolean') throw new InvalidArgumentError(`Expected privateChannel to be a boolean, got ${describeValue(privateChannel)}`);
    const maxWaitMs = options.maxWaitMs ?? this.#options.maxWaitMs;
    if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0 && maxWaitMs <= MAX_WAIT_LIMIT_MS)) {
      throw new InvalidArgumentError(`Expected maxWaitMs to be a number >= 0 and <= ${MAX_WAIT_LIMIT_MS}, got ${describeValue(maxWaitMs)}`);
    }
    if (options.onMessage !== undefined && typeof options.onMessage !== 'function')
      throw new InvalidArgumentError(`Expected onMessage to be a function, got ${describeValue(options.onMessage)}`);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new InvalidArgumentError(`Expected signal to be an AbortSignal, got ${describeValue(signal)}`);
    if (signal?.aborted) throw new AbortError(signal.reason);

    const key = requestKey(name.topic, privateChannel);
    let request = this.#requests.get(key);
    if (!request) {
      request = new TopicRequest(name, privateChannel);
      this.#requests.set(key, request);
      this.#place(request);
    }
    const handle = new TopicHandle(request, options.onMessage, (h) => this.#leave(h));
    request.handles.add(handle);
    if (request.state === 'subscribed') handle.serve();
    if (!handle.pending) return handle.promise;

    const timer = setTimeout(() => {
      if (!handle.pending) return;
      handle.end(new WsCapacityError(name.topic, maxWaitMs, handle.request.waitReason));
      void this.#leave(handle);
    }, maxWaitMs);
    const onAbort = () => {
      if (!handle.pending) return;
      handle.end(new AbortError(signal!.reason));
      void this.#leave(handle);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    handle.promise.then(cleanup, cleanup);
    return handle.promise;
  }

  /** `on(name, listener)` returns a function that removes the listener. */
  on<K extends keyof WsManagerEvents>(name: K, listener: Listener<WsManagerEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  snapshot(): WsManagerSnapshot {
    let waiting = 0;
    let subscribed = 0;
    for (const r of this.#requests.values()) {
      if (r.state === 'subscribed') subscribed++;
      else waiting++;
    }
    return {
      connections: [...this.#connections].map((c) => ({
        id: c.id,
        open: c.open,
        phase: c.phase,
        topics: c.requests.size,
        subscribed: [...c.requests].filter((r) => r.state === 'subscribed').length,
        holdsSession: c.sessionId !== undefined,
      })),
      topics: { waiting, subscribed },
      topicsPerMessage: this.#limits.get('topicsPerMessage'),
      topicsPerSession: this.#limits.get('topicsPerSession'),
      sessionLimit: this.#limits.get('sessionLimit'),
      leaseMs: this.#subject.leaseMs,
    };
  }

  /** The shared budgets as the store holds them now (every process of the subject). */
  budgets(): Promise<WsBudgetState> {
    return this.#options.store.inspect(this.#subject);
  }

  /**
   * Closes every connection with the close handshake and releases its session slot. Topics still waiting
   * reject with WsClosedError; served subscriptions end (`ended` settles with undefined).
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#heartbeat);
      this.#closing.abort();
      for (const r of this.#requests.values()) {
        for (const h of r.handles) h.end(h.pending ? new WsClosedError() : undefined);
        r.end(undefined);
      }
      this.#requests.clear();
      const all = [...this.#connections];
      for (const c of all) c.stop();
      await Promise.all(all.map((c) => c.done));
      this.#events.clear();
    })();
    return this.#closed;
  }

  #context(): ConnectionContext {
    return {
      options: this.#options,
      tokens: this.#tokens,
      events: this.#events,
      processId: this.#processId,
      closing: this.#closing.signal,
      limits: () => this.#subject,
      topicsPerMessage: () => this.#limits.get('topicsPerMessage'),
      topicsPerSession: () => this.#limits.get('topicsPerSession'),
      learn: (what, value) => {
        this.#lowered(this.#limits.learn(what, value));
        if (what === 'sessionLimit') return; // the store learned it with the refusal (penalize)
        this.#options.store.learn(this.#subject, what, value, this.#options.learnForMs).then(
          (learned) => this.#fleetLearned(learned),
          (error: Error) => this.#events.emit('storeError', { error, retryInMs: 0 }),
        );
      },
      learned: (learned) => this.#fleetLearned(learned),
      tokenSeen: (token) => this.#tokenSeen(token),
      trim: (connection, limit) => this.#trim(connection, limit),
      rehome: (request, from) => this.#place(request, from),
      topicEnded: (request, error) => this.#topicEnded(request, error),
      waitForSlot: (ms, signal) => this.#waitForSlot(ms, signal),
      slotFreed: () => {
        for (const wake of [...this.#slotWaiters]) wake();
      },
      route: (message) => this.#route(message),
      ended: (connection) => {
        this.#connections.delete(connection);
        // topics it still had (it was stopped with topics waiting): place them again
        for (const r of [...connection.requests]) {
          connection.requests.delete(r);
          if (!this.#closed && r.state !== 'ended' && r.wanted) this.#place(r);
        }
      },
    };
  }

  #fleetLearned(learned: WsLearned): void {
    this.#lowered(this.#limits.fleet(learned));
  }

  /** Limits that went down: an event each; a lower topicsPerSession moves waiting topics off connections over it. */
  #lowered(changes: [LimitName, number][]): void {
    for (const [what, value] of changes) {
      this.#events.emit('learned', { what, value });
      if (what === 'topicsPerSession') for (const c of [...this.#connections]) if (c.requests.size > value) this.#trim(c, value);
    }
  }

  /** `connection` keeps its topics that are not waiting and the first waiting ones up to `limit`; the rest move. */
  #trim(connection: WsConnection, limit: number): void {
    let kept = 0;
    for (const r of connection.requests) if (r.state !== 'waiting') kept++;
    for (const r of [...connection.requests]) {
      if (r.state !== 'waiting' || kept++ < limit) continue;
      connection.requests.delete(r);
      this.#place(r, connection);
    }
  }

  /**
   * A token's silent-session time (pingInterval + pingTimeout) beyond any seen so far: the lease grows to
   * outlast it, `leaseMarginMs` and three heartbeats (one renewal may fail before a socket must close).
   */
  #tokenSeen(token: WsToken): void {
    const silent = silentSessionMs(token);
    if (silent <= this.#silentMs) return;
    this.#silentMs = silent;
    const { leaseMs, leaseMarginMs, heartbeatMs } = this.#options;
    const lease = Math.max(leaseMs, Math.ceil(silent + leaseMarginMs + 3 * heartbeatMs));
    if (lease !== this.#subject.leaseMs) this.#subject = { ...this.#subject, leaseMs: lease };
  }

  /** Puts a topic on the first connection with room (not `exclude`), or on a new one (which waits for a session slot). */
  #place(request: TopicRequest, exclude?: WsConnection): void {
    if (this.#closed) return;
    const perSession = this.#limits.get('topicsPerSession');
    for (const c of this.#connections) {
      if (c !== exclude && !c.stopped && c.requests.size < perSession) {
        c.add(request);
        return;
      }
    }
    this.#connections.add(new WsConnection(this.#context(), this.#nextConnectionId++, request));
  }

  #connectionOf(request: TopicRequest): WsConnection | undefined {
    for (const c of this.#connections) if (c.requests.has(request)) return c;
    return undefined;
  }

  async #leave(handle: TopicHandle): Promise<void> {
    const request = handle.request;
    request.handles.delete(handle);
    if (request.wanted || request.state === 'ended') return;
    this.#requests.delete(requestKey(request.topic, request.privateChannel));
    const connection = this.#connectionOf(request);
    connection?.remove(request);
    request.state = 'ended';
    if (connection) this.#refill(connection);
  }

  /** `connection` has room (it holds a session): topics of connections still waiting for a slot move to it. */
  #refill(connection: WsConnection): void {
    const perSession = this.#limits.get('topicsPerSession');
    if (connection.stopped || !connection.sessionId) return;
    for (const other of this.#connections) {
      if (other === connection || other.sessionId) continue;
      for (const r of [...other.requests]) {
        if (connection.requests.size >= perSession) return;
        other.requests.delete(r);
        connection.add(r);
      }
    }
  }

  #topicEnded(request: TopicRequest, error: KucoinWsError): void {
    const wasServed = [...request.handles].some((h) => h.active);
    this.#requests.delete(requestKey(request.topic, request.privateChannel));
    request.end(error);
    if (wasServed) this.#events.emit('topicEnded', { topic: request.topic, error });
  }

  #waitForSlot(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#slotWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#slotWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The heartbeat: renews every lease this process holds; each connection learns how long its lease surely holds. */
  async #renew(): Promise<void> {
    const held = new Map<string, WsConnection>();
    for (const c of this.#connections) if (c.sessionId) held.set(c.sessionId, c);
    if (held.size === 0 || this.#renewing) return;
    this.#renewing = true;
    try {
      const limits = this.#subject;
      const askedAt = Date.now();
      const { lost, learned } = await this.#options.store.renew(limits, [...held.keys()]);
      const gone = new Set(lost);
      for (const [id, c] of held) {
        if (c.sessionId !== id) continue; // it released or replaced that lease meanwhile
        if (gone.has(id)) c.leaseLost();
        else c.leaseRenewed(askedAt, limits.leaseMs);
      }
      this.#fleetLearned(learned);
    } catch (error) {
      // the leases last leaseMs: the next beat tries again; a socket whose lease would end first closes
      this.#events.emit('storeError', { error: error as Error, retryInMs: this.#options.heartbeatMs });
    } finally {
      this.#renewing = false;
    }
  }

  #route(message: Readonly<Record<string, unknown>>): void {
    const topic = typeof message.topic === 'string' ? message.topic : '';
    const push: WsPush = { topic, subject: typeof message.subject === 'string' ? message.subject : undefined, data: message.data, raw: message };
    for (const privateChannel of [false, true]) {
      const r = this.#requests.get(requestKey(topic, privateChannel));
      if (!r) continue;
      for (const h of r.handles) {
        if (!h.active || !h.onMessage) continue;
        try {
          h.onMessage(push);
        } catch {
          // a caller's fault must not break the connection
        }
      }
    }
    this.#events.emit('message', push);
  }
}

function requestKey(topic: string, privateChannel: boolean): string {
  return `${privateChannel ? 'p' : 'u'} ${topic}`;
}

/** A WsManager for one account and kind (public or private), e.g. `createWsManager({ client, kind: 'private', uid, store })`. */
export function createWsManager(options: WsManagerOptions): WsManager {
  return new WsManager(options);
}
