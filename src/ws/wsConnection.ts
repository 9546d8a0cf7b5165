import { pause, reconnectDelay } from './backoff.js';
import { settleSubscribe, type CommandScope } from './commandOutcome.js';
import { WsConnectError, WsTooLargeError, type KucoinWsError, type WsWaitReason } from './errors.js';
import { KucoinSocket, type DialOutcome } from './kucoinSocket.js';
import { SessionLease, type LeaseContext } from './sessionLease.js';
import { silentSessionMs, type TokenCache, type WsToken } from './tokenSource.js';
import { nextBatch } from './topics.js';
import type { TopicRequest } from './topicRequest.js';
import { UplinkPacer } from './uplinkPacer.js';
import { classifyWsError, limitIn, type WsCodeRule } from './wsCodes.js';

/** What a connection needs from its manager. */
export interface ConnectionContext extends LeaseContext {
  readonly tokens: TokenCache;
  /** Aborts when the manager closes. */
  readonly closing: AbortSignal;
  topicsPerMessage(): number;
  topicsPerSession(): number;
  /** A limit the server stated: kept by this process, and (topics) in the store for the fleet. */
  learn(what: 'sessionLimit' | 'topicsPerMessage' | 'topicsPerSession', value: number): void;
  /** A token came: its silent-session time may lengthen the lease. */
  tokenSeen(token: WsToken): void;
  /** A topic `from` cannot carry (the server said the session is full): give it another connection. */
  rehome(request: TopicRequest, from: WsConnection): void;
  /** `connection` keeps at most `limit` topics: its waiting ones beyond go to other connections. */
  trim(connection: WsConnection, limit: number): void;
  /** A topic ended for good (refused, or its connection gave up): forget it. */
  topicEnded(request: TopicRequest, error: KucoinWsError): void;
  route(message: Readonly<Record<string, unknown>>): void;
  ended(connection: WsConnection): void;
}

/**
 * One logical connection of a manager: it holds a session lease from the shared store, fetches a token
 * through the scheduler, takes a connect from the shared budget right before dialing, carries up to
 * `topicsPerSession` topics, subscribes them in paced batches (one command at a time, each after the
 * previous answer), and reconnects with jittered backoff (inside the connect budget) until it is stopped,
 * has no topic left, or gives up.
 */
export class WsConnection {
  /** Topics it carries, in any state but ended. */
  readonly requests = new Set<TopicRequest>();
  readonly done: Promise<void>;
  readonly #lease: SessionLease;
  readonly #stop = new AbortController();
  readonly #pacer: UplinkPacer;
  #unsubs: TopicRequest[] = [];
  #phase: WsWaitReason = 'sessions';
  #socket: KucoinSocket | undefined;
  #wakePump: (() => void) | undefined;
  #pingFactor = 1;
  /** Dials (and token fetches) in a row that never reached `welcome`: at maxAttempts the connection gives up. */
  #failures = 0;
  /** Backoff level: grows with every reconnect, starts over after a connection stayed up resetAfterMs. */
  #level = 0;
  #lastError: { rule: WsCodeRule; data: unknown } | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** When stopping, hold the lease this long (the last dial ended without the server seeing it). */
  #holdMs = 0;
  /** The token of the dial in progress, and the timer that closes it once its lease is not renewed in time. */
  #dialToken: WsToken | undefined;
  #safetyTimer: NodeJS.Timeout | undefined;
  /** The socket of this dial was closed because its lease was not renewed in time (reported once). */
  #unsafe = false;

  /** Starts with its first topic (a connection without topics ends at once). */
  constructor(
    private readonly ctx: ConnectionContext,
    readonly id: number,
    first: TopicRequest,
  ) {
    this.#pacer = new UplinkPacer(ctx.options.uplink);
    this.#lease = new SessionLease(
      ctx,
      id,
      this.#stop.signal,
      () => this.requests.size > 0,
      (p) => this.#setPhase(p),
    );
    this.add(first);
    // #run releases the lease and hands its topics back in any case; nothing is left to report
    this.done = this.#run().catch(() => undefined);
  }

  /** The lease this connection holds (the manager's heartbeat renews it). */
  get sessionId(): string | undefined {
    return this.#lease.id;
  }

  get phase(): WsWaitReason {
    return this.#phase;
  }

  get open(): boolean {
    return this.#socket?.open ?? false;
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  add(request: TopicRequest): void {
    this.requests.add(request);
    request.state = 'waiting';
    request.waitReason = this.#phase;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#wakePump?.();
  }

  /** Nobody wants the topic any more: unsubscribe it if the server has it; without topics the connection ends. */
  remove(request: TopicRequest): void {
    if (!this.requests.delete(request)) return;
    if ((request.state === 'subscribed' || request.state === 'sending') && this.open) {
      this.#unsubs.push(request);
      this.#wakePump?.();
    }
    if (this.requests.size > 0) return;
    if (!this.open) return this.stop();
    this.#idleTimer = setTimeout(() => this.requests.size === 0 && this.stop(), this.ctx.options.idleCloseMs);
    this.#idleTimer.unref();
  }

  /** The heartbeat found the lease lapsed and taken: close the socket (handshake) and wait for a slot again. */
  leaseLost(): void {
    this.#lease.drop();
    this.ctx.events.emit('leaseLost', { connectionId: this.id, reason: 'taken' });
    this.#socket?.close('session lease lost');
  }

  /** The heartbeat renewed the lease: asked at `askedAt` (this process's clock) for `leaseMs`. */
  leaseRenewed(askedAt: number, leaseMs: number): void {
    this.#lease.renewed(askedAt, leaseMs);
    this.#armSafety();
  }

  /**
   * The last moment this connection may send anything on `token`'s socket: were the process to freeze right
   * after, the server would count the session for the token's pingInterval + pingTimeout more, and that must
   * end `leaseMarginMs` before the lease may end (and another process take the slot).
   */
  #uplinkUntil(token: WsToken): number {
    return this.#lease.safeUntil - this.ctx.options.leaseMarginMs - silentSessionMs(token);
  }

  /** Closes the socket once its lease was not renewed in time (the store is out of reach), else looks again then. */
  #armSafety(): void {
    if (this.#safetyTimer) clearTimeout(this.#safetyTimer);
    this.#safetyTimer = undefined;
    const socket = this.#socket;
    const token = this.#dialToken;
    if (!socket || !token || this.#unsafe) return;
    const ms = this.#uplinkUntil(token) - Date.now();
    if (ms > 0) {
      this.#safetyTimer = setTimeout(() => this.#armSafety(), ms);
      this.#safetyTimer.unref();
      return;
    }
    this.#unsafe = true;
    this.ctx.events.emit('leaseLost', { connectionId: this.id, reason: 'unrenewed' });
    socket.close('session lease not renewed');
  }

  /** Ends the connection (close handshake if open); `done` settles once its lease is released. */
  stop(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#stop.abort();
    this.#socket?.close();
    this.#wakePump?.();
  }

  #setPhase(phase: WsWaitReason): void {
    this.#phase = phase;
    for (const r of this.requests) r.waitReason = phase;
  }

  async #run(): Promise<void> {
    const { reconnect } = this.ctx.options;
    try {
      while (!this.stopped && this.requests.size > 0) {
        if (!this.#lease.id && !(await this.#lease.acquire())) break;
        this.#setPhase('connecting');
        let token: WsToken;
        try {
          token = await this.ctx.tokens.get(this.ctx.closing);
        } catch (error) {
          if (this.stopped) break;
          this.ctx.events.emit('tokenError', { connectionId: this.id, error: error as Error });
          if (!(await this.#retry(false, undefined, `no token: ${(error as Error).message}`, error))) break;
          continue;
        }
        this.ctx.tokenSeen(token);
        const grant = await this.#lease.connect();
        if (grant === 'stopped') break;
        if (grant === 'lost') continue;
        if (Date.now() > this.#uplinkUntil(token)) {
          // the grant came too late to be of use (the process stalled): dial on a fresh one
          if (!(await this.#retry(false, undefined, 'the session lease was not renewed in time'))) break;
          continue;
        }
        this.#setPhase('connecting');
        const outcome = await this.#dial(token);
        if (this.stopped) break;
        await this.#react(outcome, token);
        if (outcome.welcomed && outcome.openMs >= reconnect.resetAfterMs) this.#level = 0;
        const rule = this.#lastError?.rule;
        if (!(await this.#retry(outcome.welcomed, rule?.code, rule ? `${rule.code} ${rule.meaning}` : `closed (${outcome.code} ${outcome.reason})`))) break;
      }
    } finally {
      this.stop();
      if (this.#safetyTimer) clearTimeout(this.#safetyTimer);
      await this.#lease.release(this.#holdMs);
      this.ctx.ended(this);
    }
  }

  /**
   * Before the next dial: a dial that never got `welcome` (or a token that could not be fetched) is a
   * failure, and after maxAttempts in a row the connection gives up (its topics end); otherwise it sleeps
   * the jittered backoff of its level.
   */
  async #retry(welcomed: boolean, kucoinCode: number | undefined, detail: string, cause?: unknown): Promise<boolean> {
    const { reconnect } = this.ctx.options;
    this.#failures = welcomed ? 0 : this.#failures + 1;
    this.#level++;
    if (this.#failures >= reconnect.maxAttempts) {
      const error = new WsConnectError(this.#failures, detail, kucoinCode, cause);
      for (const r of [...this.requests]) this.#end(r, error);
      return false;
    }
    const waitMs = reconnectDelay(reconnect, this.#level);
    this.ctx.events.emit('waiting', { connectionId: this.id, reason: 'backoff', waitMs });
    return pause(waitMs, this.#stop.signal);
  }

  /** One dial, until the socket ends. Subscribes (and resubscribes) this connection's topics while it is open. */
  async #dial(token: WsToken): Promise<DialOutcome> {
    this.#lastError = undefined;
    const socket = new KucoinSocket(
      token,
      this.ctx.options.dispatcher,
      {
        connectTimeoutMs: this.ctx.options.connectTimeoutMs,
        pingEveryMs: Math.floor(token.pingIntervalMs * this.#pingFactor),
        pingTimeoutMs: token.pingTimeoutMs,
        maxMessageBytes: this.ctx.options.maxMessageBytes,
        mayUplink: () => Date.now() <= this.#uplinkUntil(token),
      },
      this.#pacer,
      {
        welcome: () => {
          this.#setPhase('subscribing');
          this.ctx.events.emit('connected', { connectionId: this.id, attempt: this.#level + 1 });
          this.#pump(socket).catch(() => socket.terminate('internal error'));
        },
        push: (message) => this.ctx.route(message),
        serverError: (code, data, phase) => {
          const rule = classifyWsError(code, data, phase);
          this.#serverError(rule, data);
          if (rule.reaction === 'slow-down') this.#pacer.slowDown();
          else socket.close(); // the run loop reacts once the server has seen the close
        },
        tooLarge: (bytes) => {
          const error = new WsTooLargeError('message', bytes, this.ctx.options.maxMessageBytes);
          this.ctx.events.emit('protocolError', { connectionId: this.id, error });
        },
      },
    );
    this.#socket = socket;
    this.#dialToken = token;
    this.#unsafe = false;
    this.#armSafety();
    if (this.stopped) socket.close();
    const outcome = await socket.outcome;
    this.#socket = undefined;
    this.#dialToken = undefined;
    this.#armSafety();
    this.#unsubs = [];
    this.#wakePump?.();
    for (const r of this.requests) r.state = 'waiting';
    this.ctx.events.emit('disconnected', { connectionId: this.id, clean: outcome.clean, code: outcome.code, reason: outcome.reason });
    // a socket that ended without the handshake may still count at the server until its ping timeout
    this.#holdMs = outcome.clean ? 0 : silentSessionMs(token);
    return outcome;
  }

  #serverError(rule: WsCodeRule, data: unknown): void {
    this.#lastError = { rule, data };
    this.ctx.events.emit('serverError', {
      connectionId: this.id,
      code: rule.code,
      text: typeof data === 'string' ? data.slice(0, 200) : '',
      phase: rule.phase,
      reaction: rule.reaction,
    });
  }

  /** After a dial: the reaction to how it ended and to what the server said, for this process or (through the store) for all. */
  async #react(outcome: DialOutcome, token: WsToken): Promise<void> {
    const { busyBackoff } = this.ctx.options;
    const last = this.#lastError;
    if (last?.rule.reaction === 'wait-session-slot') {
      // the server refused this session: its lease goes, the stated limit and a cap go to the store
      const stated = limitIn(last.data);
      await this.#lease.refused(stated);
      if (stated !== undefined) this.ctx.learn('sessionLimit', stated);
    } else if (!outcome.clean) {
      // that session may live on at the server: its lease stays for the hold, the next dial takes another
      await this.#lease.release(this.#holdMs);
    }
    this.#holdMs = 0;
    switch (last?.rule.reaction) {
      case 'new-token':
        this.ctx.tokens.invalidate(token);
        break;
      case 'ping-sooner':
        this.#pingFactor = Math.max(0.25, this.#pingFactor * 0.75);
        break;
      case 'reconnect-later':
        await this.#lease.penalize({ kind: 'busy', ...busyBackoff, random: Math.random() });
        break;
      default:
        break;
    }
  }

  /** Sends this connection's commands one at a time while `socket` is open: unsubscribes first, then subscribe batches. */
  async #pump(socket: KucoinSocket): Promise<void> {
    const { ackTimeoutMs } = this.ctx.options;
    const scope: CommandScope = {
      requests: this.requests,
      socket,
      learn: (what, value) => this.ctx.learn(what, value),
      rehome: (r) => this.ctx.rehome(r, this),
      trim: (limit) => this.ctx.trim(this, limit),
      end: (r, error) => this.#end(r, error),
      serverError: (rule, data) => this.#serverError(rule, data),
      slowDown: () => this.#pacer.slowDown(),
    };
    while (socket.open && this.#socket === socket) {
      const unsub = nextBatch(this.#unsubs, this.ctx.topicsPerMessage());
      if (unsub) {
        this.#unsubs = this.#unsubs.filter((r) => !unsub.items.includes(r));
        await socket.command('unsubscribe', unsub.topic, unsub.privateChannel, ackTimeoutMs);
        continue;
      }
      const waiting = [...this.requests].filter((r) => r.state === 'waiting');
      const batch = nextBatch(waiting, this.ctx.topicsPerMessage());
      if (!batch) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            if (this.#wakePump === wake) this.#wakePump = undefined;
            resolve();
          };
          this.#wakePump = wake;
        });
        continue;
      }
      for (const r of batch.items) r.state = 'sending';
      const result = await socket.command('subscribe', batch.topic, batch.privateChannel, ackTimeoutMs);
      await settleSubscribe(batch, result, scope);
    }
  }

  #end(request: TopicRequest, error: KucoinWsError): void {
    this.requests.delete(request);
    this.ctx.topicEnded(request, error);
  }
}
