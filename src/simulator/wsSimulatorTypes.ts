import type { WsRateRule } from './wsRateWindow.js';

/**
 * A KuCoin-like push server for tests and demos. What KuCoin documents (docs/RATE-LIMITS.md section 9,
 * docs/ws-error-codes.md) it does as documented: tokens, `welcome`, ping/pong, an `ack` only for a command
 * sent with `response: true`, sessions per subject (UID for private tokens, IP for public ones), connects per
 * window, topics per message and per session, uplink messages per connection, and every WebSocket error code
 * in KuCoin's shape `{ id, type: 'error', code, data }`. Where the docs are silent the choice is an option
 * below (each says so). `stats()` says what it received.
 */
export interface WsSimulatorOptions {
  /** Sessions per subject before 509 "exceed max session count limitation of N". @default 50 */
  readonly sessionLimit?: number;
  /**
   * New connections per subject per window before 509 "service busy, please retry later". The docs say 30 per
   * minute; how the window moves and whether a refused connect counts are not documented (WsRateRule).
   * @default { limit: 30, windowMs: 60_000, window: 'sliding', countRefused: false }
   */
  readonly connects?: WsRateRule;
  /** Topics in one subscribe message before 509 "... of N per time". @default 100 */
  readonly topicsPerMessage?: number;
  /** Topics one connection holds before 509 "... of N per session"; a topic it already holds is not counted again. @default 300 */
  readonly topicsPerSession?: number;
  /**
   * Uplink messages per connection per window before 509 "exceed max permits per second" (the message is not
   * processed). The docs say 100 per 10 s; window and counting as for `connects`.
   * @default { limit: 100, windowMs: 10_000, window: 'sliding', countRefused: false }
   */
  readonly uplink?: WsRateRule;
  /** Told to clients in the token reply; a connection silent for pingInterval + pingTimeout gets 400 "ping timeout". @default 18_000 */
  readonly pingIntervalMs?: number;
  /** @default 10_000 */
  readonly pingTimeoutMs?: number;
  /** Symbols that exist (others: 404); undefined: every well-formed symbol exists. */
  readonly symbols?: readonly string[];
  /** Topic prefixes that need a private token (403 "login is required" on a public one, whatever `privateChannel` says). @default KuCoin's private channels */
  readonly privatePrefixes?: readonly string[];
}

export interface BulletData {
  readonly token: string;
  readonly instanceServers: readonly {
    readonly endpoint: string;
    readonly encrypt: boolean;
    readonly protocol: 'websocket';
    readonly pingInterval: number;
    readonly pingTimeout: number;
  }[];
}

export interface WsConnectRecord {
  readonly at: number;
  readonly subject: string;
  /** 'welcome', or the refusal: '401', '509-sessions', '509-rate' (connects), '<code>-injected' (failNextConnects). */
  readonly outcome: string;
}

/** 509s sent, by what they said. */
export interface Ws509Counts {
  /** "exceed max session count limitation of N" (connect) */
  readonly sessions: number;
  /** "service busy, please retry later" (connect rate, or injected) */
  readonly busy: number;
  /** "... of N per time" (topics in one message) */
  readonly perTime: number;
  /** "... of N per session" (topics on one connection) */
  readonly perSession: number;
  /** "exceed max permits per second" (uplink messages) */
  readonly permits: number;
  readonly other: number;
}

export interface WsSimulatorStats {
  readonly tokensIssued: number;
  readonly connects: readonly WsConnectRecord[];
  /** Most sessions a subject held at once. */
  readonly maxSessions: Readonly<Record<string, number>>;
  readonly sessionsNow: Readonly<Record<string, number>>;
  /** [at, subject, sessions] at every change. */
  readonly sessionTimeline: readonly (readonly [number, string, number])[];
  /** Most connection attempts of a subject in any span of `connects.windowMs`, and of 60 s (every attempt, refused or not). */
  readonly maxConnectsPerWindow: Readonly<Record<string, number>>;
  readonly maxConnectsPerMinute: Readonly<Record<string, number>>;
  /** Every error sent, by `code text`. */
  readonly errors: Readonly<Record<string, number>>;
  readonly count509: number;
  readonly count509ByKind: Ws509Counts;
  /** Sessions the server ended because they were silent for pingInterval + pingTimeout. */
  readonly silentDrops: number;
  /** Uplink messages received, the most on one connection in any uplink window (every message), subscribe messages. */
  readonly received: number;
  readonly maxUplinkPerWindow: number;
  readonly subscribeMessages: number;
  readonly maxTopicsPerMessage: number;
  readonly maxTopicsPerSession: number;
  /** Topics acknowledged over the run. */
  readonly topicsAcked: number;
}

export interface WsSimulator {
  /** ws://127.0.0.1:<port>/ : the `endpoint` of every token. */
  readonly url: string;
  /** What `POST /api/v1/bullet-public|private` returns (`data`); the gateway simulator calls it with `websocket: ws`. */
  issueToken(request: { readonly kind: 'public' | 'private'; readonly uid?: string | undefined; readonly ip: string }): BulletData;
  /** Sends a push to every connection subscribed to `topic`; returns how many got it. */
  publish(topic: string, data: unknown, subject?: string): number;
  /** Every token issued so far answers 401 from now on. */
  revokeTokens(): void;
  /** The next `count` connects are refused with this error (default 509 "service busy, please retry later"). */
  failNextConnects(count: number, code?: number, data?: string): void;
  /** The next `count` subscribe commands are answered with this error (e.g. 500 "system error"). */
  failNextCommands(count: number, code: number, data: string): void;
  /** While muted, pings get no pong (a half-dead connection). */
  mutePongs(muted: boolean): void;
  /** The server drops every connection now (no close handshake), as after a server restart. */
  dropAll(): void;
  stats(): WsSimulatorStats;
  close(): Promise<void>;
}
