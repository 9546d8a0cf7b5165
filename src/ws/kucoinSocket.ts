import { randomUUID } from 'node:crypto';
import { Agent, WebSocket, type Dispatcher } from 'undici';
import { pause } from './backoff.js';
import { guardedConnector } from './frameGuard.js';
import type { WsToken } from './tokenSource.js';
import type { UplinkKind, UplinkPacer } from './uplinkPacer.js';
import type { WsErrorPhase } from './wsCodes.js';

/** How one dial ended. */
export interface DialOutcome {
  readonly welcomed: boolean;
  /** The close handshake completed (the server knows the session is over). */
  readonly clean: boolean;
  readonly code: number;
  readonly reason: string;
  /** How long it was open after `welcome` (0 if never). */
  readonly openMs: number;
}

/** The answer to a command: its ack, its error, or nothing (timeout, or the socket closed first). */
export type CommandResult =
  | { readonly kind: 'ack' }
  | { readonly kind: 'error'; readonly code: unknown; readonly data: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'closed' };

export interface SocketHandlers {
  welcome(): void;
  push(message: Readonly<Record<string, unknown>>): void;
  /** An error message that answers no pending command. */
  serverError(code: unknown, data: unknown, phase: WsErrorPhase): void;
  /** The server sent a message over `maxMessageBytes` (refused at its frame header, or after it came through a caller's dispatcher): the socket closes. */
  tooLarge(bytes: number): void;
}

export interface SocketSettings {
  readonly connectTimeoutMs: number;
  /** The server's ping interval times the manager's factor (lower after a "ping timeout"). */
  readonly pingEveryMs: number;
  readonly pingTimeoutMs: number;
  /** Longest message accepted from the server. */
  readonly maxMessageBytes: number;
  /**
   * False once nothing more may be sent (the session's lease may end before the server would drop a session
   * that went silent now): the socket closes instead of sending.
   */
  mayUplink(): boolean;
}

/** Node's timers take at most 2^31 - 1 ms; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * One dial of a KuCoin push server over undici's WebSocket: waits for `welcome`, pings at the server's
 * interval and drops the socket when a pong is late, paces every uplink message, and matches acks and
 * errors to commands by id. Ends once; `outcome` says how.
 */
export class KucoinSocket {
  readonly outcome: Promise<DialOutcome>;
  #ws: WebSocket | undefined;
  #welcomedAt = 0;
  #finished = false;
  #finish!: (o: DialOutcome) => void;
  readonly #ended = new AbortController();
  readonly #pending = new Map<string, (r: CommandResult) => void>();
  #seq = 0;
  #timers = new Set<NodeJS.Timeout>();
  #pongTimer: NodeJS.Timeout | undefined;
  #closing = false;
  /** The dial's own dispatcher (when the caller gave none): refuses a message over the limit at its frame header. */
  #agent: Agent | undefined;

  constructor(
    token: WsToken,
    dispatcher: Dispatcher | undefined,
    private readonly settings: SocketSettings,
    private readonly pacer: UplinkPacer,
    private readonly handlers: SocketHandlers,
  ) {
    this.outcome = new Promise((resolve) => (this.#finish = resolve));
    try {
      const url = new URL(token.endpoint);
      url.searchParams.set('token', token.token);
      url.searchParams.set('connectId', randomUUID());
      if (!dispatcher) {
        const limit = settings.maxMessageBytes;
        this.#agent = new Agent({ connect: guardedConnector(limit, (bytes) => this.#tooLarge(bytes)), webSocket: { maxPayloadSize: limit } });
      }
      this.#ws = new WebSocket(url, { dispatcher: dispatcher ?? this.#agent! });
      this.#ws.binaryType = 'arraybuffer';
    } catch (error) {
      // a URL undici refuses: a failed dial (never the token in the reason)
      this.#ws = undefined;
      this.#end(true, 0, `cannot dial: ${error instanceof Error ? error.name : 'error'}`);
      return;
    }
    this.#timer(() => this.terminate('no welcome in time'), settings.connectTimeoutMs);
    this.#ws.addEventListener('message', (ev) => this.#onMessage(ev.data));
    this.#ws.addEventListener('close', (ev) => this.#end(ev.wasClean, ev.code, ev.reason));
    this.#ws.addEventListener('error', () => undefined); // a close event follows
  }

  get open(): boolean {
    return this.#welcomedAt > 0 && !this.#finished;
  }

  /** Aborts when the dial ends: waits tied to this socket stop. */
  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  /** Sends a subscribe or unsubscribe and waits for its ack (or error) up to `timeoutMs`, after pacing. */
  async command(type: 'subscribe' | 'unsubscribe', topic: string, privateChannel: boolean, timeoutMs: number): Promise<CommandResult> {
    if (!(await this.#paced('command'))) return { kind: 'closed' };
    const id = `${Date.now()}${++this.#seq}`;
    const answer = new Promise<CommandResult>((resolve) => {
      const timer = this.#timer(() => settle({ kind: 'timeout' }), timeoutMs);
      const settle = (r: CommandResult) => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        this.#pending.delete(id);
        resolve(r);
      };
      this.#pending.set(id, settle);
    });
    this.#send({ id, type, topic, privateChannel, response: true });
    return answer;
  }

  /** Closes with the handshake (the server sees the session end); the outcome follows the server's close. */
  close(reason = 'bye'): void {
    if (this.#finished || this.#closing) return;
    this.#closing = true;
    try {
      this.#ws?.close(1000, reason.slice(0, 100));
    } catch {
      // already closing
    }
    // a server that never answers the close is dropped without it
    this.#timer(() => this.terminate('no close reply'), 2_000);
  }

  /** Ends now, without waiting for the server: the outcome is not clean (the server may still count the session). */
  terminate(reason: string): void {
    if (this.#finished) return;
    try {
      this.#ws?.close(4000, reason.slice(0, 100));
    } catch {
      // already closing
    }
    this.#end(false, 4000, reason);
  }

  #timer(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.#timers.delete(t);
        fn();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, ms)),
    );
    t.unref();
    this.#timers.add(t);
    return t;
  }

  async #paced(kind: UplinkKind): Promise<boolean> {
    for (let d = this.pacer.delay(kind); d > 0; d = this.pacer.delay(kind)) {
      if (!(await pause(d, this.#ended.signal))) return false;
    }
    return !this.#finished;
  }

  #send(message: Record<string, unknown>): void {
    if (this.#finished || this.#closing) return;
    if (!this.settings.mayUplink()) return this.close('session lease not renewed');
    this.pacer.record();
    try {
      this.#ws?.send(JSON.stringify(message));
    } catch {
      // not open any more: the close event follows
    }
  }

  #ping(): void {
    void this.#paced('ping').then((ok) => {
      if (!ok) return;
      this.#send({ id: `${Date.now()}${++this.#seq}`, type: 'ping' });
      if (!this.#pongTimer) this.#pongTimer = this.#timer(() => this.terminate('pong timeout'), this.settings.pingTimeoutMs);
      this.#timer(() => this.#ping(), this.settings.pingEveryMs);
    });
  }

  /** A message over the limit: refused unread, the socket closes (its topics are subscribed again on the next dial). */
  #tooLarge(bytes: number): void {
    if (this.#finished) return;
    this.handlers.tooLarge(bytes);
    this.terminate('message too large');
  }

  #onMessage(data: unknown): void {
    if (this.#finished) return;
    // through a caller's dispatcher the message was read whole: refused before it is parsed
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data instanceof ArrayBuffer ? data.byteLength : 0;
    if (bytes > this.settings.maxMessageBytes) return this.#tooLarge(bytes);
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8'));
      if (!parsed || typeof parsed !== 'object') return;
      msg = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? String(msg.id) : undefined;
    switch (msg.type) {
      case 'welcome':
        if (this.#welcomedAt > 0 || this.#closing) return;
        this.#welcomedAt = Date.now();
        for (const t of this.#timers) clearTimeout(t); // the welcome timeout
        this.#timers.clear();
        this.#timer(() => this.#ping(), this.settings.pingEveryMs);
        this.handlers.welcome();
        return;
      case 'pong':
        if (this.#pongTimer) {
          clearTimeout(this.#pongTimer);
          this.#timers.delete(this.#pongTimer);
        }
        this.#pongTimer = undefined;
        return;
      case 'ack': {
        const settle = id === undefined ? undefined : this.#pending.get(id);
        settle?.({ kind: 'ack' });
        return;
      }
      case 'error': {
        const settle = id === undefined ? undefined : this.#pending.get(id);
        if (settle) settle({ kind: 'error', code: msg.code, data: msg.data });
        else this.handlers.serverError(msg.code, msg.data, this.#welcomedAt > 0 ? 'any' : 'connect');
        return;
      }
      case 'message':
        this.handlers.push(msg);
        return;
      default:
        return; // notice and others
    }
  }

  #end(clean: boolean, code: number, reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#pongTimer) clearTimeout(this.#pongTimer);
    this.#ended.abort();
    void this.#agent?.destroy().catch(() => undefined);
    for (const settle of [...this.#pending.values()]) settle({ kind: 'closed' });
    this.#finish({ welcomed: this.#welcomedAt > 0, clean, code, reason, openMs: this.#welcomedAt > 0 ? Date.now() - this.#welcomedAt : 0 });
  }
}
