import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

/**
 * A KuCoin-like push server for tests and demos (RATE-LIMITS.md section 9, docs/ws-error-codes.md): tokens,
 * `welcome`, ping/pong with the ping timeout enforced, sessions per subject (UID for private tokens, IP for
 * public ones), connects per window, topics per message and per session, uplink messages per connection,
 * and every WebSocket error code. `stats()` says what it received.
 */
export interface WsSimulatorOptions {
  /** Sessions per subject before 509 "exceed max session count limitation of N". @default 50 */
  readonly sessionLimit?: number;
  /** New connections per subject in any span of `windowMs` before 509 "service busy". @default { limit: 30, windowMs: 60_000 } */
  readonly connects?: { readonly limit: number; readonly windowMs: number };
  /** @default 100 */
  readonly topicsPerMessage?: number;
  /** @default 300 */
  readonly topicsPerSession?: number;
  /** Uplink messages per connection in any span of `windowMs` before 509 "exceed max permits per second". @default { limit: 100, windowMs: 10_000 } */
  readonly uplink?: { readonly limit: number; readonly windowMs: number };
  /** Told to clients in the token reply; a connection silent for pingInterval + pingTimeout gets 400 "ping timeout". @default 18_000 */
  readonly pingIntervalMs?: number;
  /** @default 10_000 */
  readonly pingTimeoutMs?: number;
  /** Symbols that exist (others: 404); undefined: every well-formed symbol exists. */
  readonly symbols?: readonly string[];
  /** Topic prefixes that need a private token (403 "login is required" on a public one). @default KuCoin's private channels */
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

export interface WsSimulatorStats {
  readonly tokensIssued: number;
  readonly connects: readonly WsConnectRecord[];
  /** Most sessions a subject held at once. */
  readonly maxSessions: Readonly<Record<string, number>>;
  readonly sessionsNow: Readonly<Record<string, number>>;
  /** [at, subject, sessions] at every change. */
  readonly sessionTimeline: readonly (readonly [number, string, number])[];
  /** Most connection attempts of a subject in any span of `connects.windowMs`, and of 60 s. */
  readonly maxConnectsPerWindow: Readonly<Record<string, number>>;
  readonly maxConnectsPerMinute: Readonly<Record<string, number>>;
  /** Every error sent, by `code text`. */
  readonly errors: Readonly<Record<string, number>>;
  readonly count509: number;
  /** Uplink messages received, the most on one connection in any uplink window, subscribe messages. */
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

declare module './gatewaySimulator.js' {
  interface GatewaySimulatorOptions {
    /** A WsSimulator: the bullet endpoints return its tokens (and are charged like any request). */
    readonly websocket?: WsSimulator;
  }
}

/** The parts of the `ws` package's server used here (ws ships no types; it is loaded when a simulator starts). */
interface ServerSocket {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(text: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}
interface WsServerModule {
  WebSocketServer: new (options: { server: Server }) => {
    on(event: 'connection', listener: (socket: ServerSocket, req: IncomingMessage) => void): void;
    close(callback?: () => void): void;
  };
}

const PRIVATE_PREFIXES = [
  '/spotMarket/tradeOrders',
  '/spotMarket/tradeOrdersV2',
  '/spotMarket/advancedOrders',
  '/account/balance',
  '/margin/position',
  '/contractMarket/tradeOrders',
  '/contractMarket/advancedOrders',
  '/contractAccount/wallet',
  '/contract/position',
  '/contract/positionAll',
];
const TOPIC_FORMAT = /^\/[A-Za-z]+\/[A-Za-z0-9]+(:[A-Za-z0-9_.,-]+)?$/;
const SYMBOL_FORMAT = /^([A-Z0-9]+-[A-Z0-9]+|[A-Z0-9]+M|all|[A-Z0-9]+)$/;

interface Session {
  readonly id: string;
  readonly subject: string;
  readonly isPrivate: boolean;
  readonly socket: ServerSocket;
  readonly topics: Set<string>;
  uplink: number[];
  idle: NodeJS.Timeout | undefined;
}

/** Most events in any span of `spanMs` (times ascending). */
function maxInSpan(times: readonly number[], spanMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= spanMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

export async function startWsSimulator(options: WsSimulatorOptions = {}): Promise<WsSimulator> {
  const { WebSocketServer } = createRequire(import.meta.url)('ws') as WsServerModule;
  const sessionLimit = options.sessionLimit ?? 50;
  const connectLimit = options.connects ?? { limit: 30, windowMs: 60_000 };
  const perMessage = options.topicsPerMessage ?? 100;
  const perSession = options.topicsPerSession ?? 300;
  const uplink = options.uplink ?? { limit: 100, windowMs: 10_000 };
  const pingInterval = options.pingIntervalMs ?? 18_000;
  const pingTimeout = options.pingTimeoutMs ?? 10_000;
  const symbols = options.symbols ? new Set(options.symbols) : undefined;
  const privatePrefixes = new Set(options.privatePrefixes ?? PRIVATE_PREFIXES);

  const tokens = new Map<string, { subject: string; isPrivate: boolean }>();
  const sessions = new Set<Session>();
  const sessionsBySubject = new Map<string, number>();
  const connectTimes = new Map<string, number[]>();
  const connects: WsConnectRecord[] = [];
  const maxSessions: Record<string, number> = {};
  const timeline: [number, string, number][] = [];
  const errors: Record<string, number> = {};
  let tokensIssued = 0;
  let count509 = 0;
  const connectFaults: { code: number; data: string }[] = [];
  const commandFaults: { code: number; data: string }[] = [];
  let muted = false;
  let received = 0;
  let maxUplink = 0;
  let subscribeMessages = 0;
  let maxTopicsPerMessage = 0;
  let maxTopicsPerSession = 0;
  let topicsAcked = 0;

  const server = createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const send = (socket: ServerSocket, message: Record<string, unknown>) => socket.send(JSON.stringify(message));
  const sendError = (socket: ServerSocket, id: unknown, code: number, data: string) => {
    errors[`${code} ${data}`] = (errors[`${code} ${data}`] ?? 0) + 1;
    if (code === 509) count509++;
    send(socket, { ...(id === undefined ? {} : { id }), type: 'error', code, data });
  };
  const setSessions = (subject: string, delta: number) => {
    const n = (sessionsBySubject.get(subject) ?? 0) + delta;
    sessionsBySubject.set(subject, n);
    maxSessions[subject] = Math.max(maxSessions[subject] ?? 0, n);
    timeline.push([Date.now(), subject, n]);
  };
  const refuse = (socket: ServerSocket, subject: string, outcome: string, code: number, data: string) => {
    connects.push({ at: Date.now(), subject, outcome });
    sendError(socket, undefined, code, data);
    socket.close(1000, 'refused');
  };
  const armIdle = (s: Session) => {
    if (s.idle) clearTimeout(s.idle);
    s.idle = setTimeout(() => {
      sendError(s.socket, undefined, 400, 'ping timeout');
      s.socket.close(1000, 'ping timeout');
    }, pingInterval + pingTimeout);
  };

  const topicError = (topic: unknown, isPrivate: boolean, privateChannel: unknown, count: (n: number) => boolean): [number, string] | undefined => {
    if (typeof topic !== 'string' || topic === '') return [406, 'topic is required'];
    if (!TOPIC_FORMAT.test(topic)) return [400, 'topic is invalid'];
    const [prefix, list] = topic.split(':') as [string, string | undefined];
    const syms = list === undefined ? [] : list.split(',');
    if (syms.some((s) => s === '' || !SYMBOL_FORMAT.test(s))) return [400, 'topic is invalid'];
    if (syms.length > perMessage) return [509, `exceed max subscription count limitation of ${perMessage} per time`];
    if (!isPrivate && (privateChannel === true || privatePrefixes.has(prefix))) return [403, 'login is required'];
    if (symbols && syms.some((s) => s !== 'all' && !symbols.has(s))) return [404, 'topic does not exist'];
    if (!count(Math.max(1, syms.length))) return [509, `exceed max subscription count limitation of ${perSession} per session`];
    return undefined;
  };

  const onMessage = (s: Session, raw: Buffer) => {
    received++;
    const now = Date.now();
    s.uplink = s.uplink.filter((t) => t > now - uplink.windowMs);
    s.uplink.push(now);
    maxUplink = Math.max(maxUplink, s.uplink.length);
    armIdle(s);
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return sendError(s.socket, undefined, 415, 'command type is invalid');
    }
    if (s.uplink.length > uplink.limit) return sendError(s.socket, msg.id, 509, 'exceed max permits per second');
    switch (msg.type) {
      case 'ping':
        return muted ? undefined : send(s.socket, { id: msg.id, type: 'pong', timestamp: now * 1000 });
      case 'subscribe':
      case 'unsubscribe': {
        const topic = msg.topic;
        if (msg.type === 'subscribe') subscribeMessages++;
        const names = (): string[] => {
          const [prefix, list] = String(topic).split(':') as [string, string | undefined];
          return list === undefined ? [prefix] : list.split(',').map((x) => `${prefix}:${x}`);
        };
        if (msg.type === 'unsubscribe') {
          if (typeof topic !== 'string' || topic === '') return sendError(s.socket, msg.id, 406, 'topic is required');
          for (const t of names()) s.topics.delete(t);
          return send(s.socket, { id: msg.id, type: 'ack' });
        }
        const fault = commandFaults.shift();
        if (fault) return sendError(s.socket, msg.id, fault.code, fault.data);
        const fresh = (n: number) => s.topics.size + n <= perSession;
        const err = topicError(topic, s.isPrivate, msg.privateChannel, (n) => fresh(n));
        if (err) return sendError(s.socket, msg.id, err[0], err[1]);
        const list = names();
        maxTopicsPerMessage = Math.max(maxTopicsPerMessage, list.length);
        for (const t of list) s.topics.add(t);
        topicsAcked += list.length;
        maxTopicsPerSession = Math.max(maxTopicsPerSession, s.topics.size);
        if (msg.response !== false) send(s.socket, { id: msg.id, type: 'ack' });
        return;
      }
      default:
        return sendError(s.socket, msg.id, 415, 'command type is invalid');
    }
  };

  wss.on('connection', (socket, req) => {
    socket.on('error', () => undefined); // a malformed frame or a reset: the close event follows
    const query = new URL(req.url ?? '/', url).searchParams;
    const grant = tokens.get(query.get('token') ?? '');
    const subject = grant?.subject ?? 'unknown';
    const now = Date.now();
    const times = connectTimes.get(subject) ?? [];
    connectTimes.set(subject, times);
    times.push(now);
    if (!grant) return refuse(socket, subject, '401', 401, 'token is invalid');
    if (times.filter((t) => t > now - connectLimit.windowMs).length > connectLimit.limit)
      return refuse(socket, subject, '509-rate', 509, 'service busy, please retry later');
    const fault = connectFaults.shift();
    if (fault) return refuse(socket, subject, `${fault.code}-injected`, fault.code, fault.data);
    if ((sessionsBySubject.get(subject) ?? 0) >= sessionLimit)
      return refuse(socket, subject, '509-sessions', 509, `exceed max session count limitation of ${sessionLimit}`);
    connects.push({ at: now, subject, outcome: 'welcome' });
    const s: Session = {
      id: query.get('connectId') ?? randomUUID(),
      subject,
      isPrivate: grant.isPrivate,
      socket,
      topics: new Set(),
      uplink: [],
      idle: undefined,
    };
    sessions.add(s);
    setSessions(subject, +1);
    socket.on('message', (data) => onMessage(s, data));
    socket.on('close', () => {
      if (!sessions.delete(s)) return;
      if (s.idle) clearTimeout(s.idle);
      setSessions(subject, -1);
    });
    armIdle(s);
    send(socket, { id: s.id, type: 'welcome' });
  });

  return {
    url,
    issueToken({ kind, uid, ip }) {
      const token = `sim-${randomUUID()}`;
      tokens.set(token, { subject: kind === 'private' ? `uid:${uid ?? 'anonymous'}` : `ip:${ip}`, isPrivate: kind === 'private' });
      tokensIssued++;
      return { token, instanceServers: [{ endpoint: url, encrypt: false, protocol: 'websocket', pingInterval, pingTimeout }] };
    },
    publish(topic, data, subject = 'trade.ticker') {
      let n = 0;
      for (const s of sessions) {
        if (!s.topics.has(topic)) continue;
        send(s.socket, { type: 'message', topic, subject, data });
        n++;
      }
      return n;
    },
    revokeTokens() {
      tokens.clear();
    },
    failNextConnects(count, code = 509, data = 'service busy, please retry later') {
      for (let i = 0; i < count; i++) connectFaults.push({ code, data });
    },
    failNextCommands(count, code, data) {
      for (let i = 0; i < count; i++) commandFaults.push({ code, data });
    },
    mutePongs(on) {
      muted = on;
    },
    dropAll() {
      for (const s of sessions) s.socket.terminate();
    },
    stats() {
      const perWindow: Record<string, number> = {};
      const perMinute: Record<string, number> = {};
      for (const [subject, times] of connectTimes) {
        perWindow[subject] = maxInSpan(times, connectLimit.windowMs);
        perMinute[subject] = maxInSpan(times, 60_000);
      }
      return {
        tokensIssued,
        connects: [...connects],
        maxSessions: { ...maxSessions },
        sessionsNow: Object.fromEntries(sessionsBySubject),
        sessionTimeline: [...timeline],
        maxConnectsPerWindow: perWindow,
        maxConnectsPerMinute: perMinute,
        errors: { ...errors },
        count509,
        received,
        maxUplinkPerWindow: maxUplink,
        subscribeMessages,
        maxTopicsPerMessage,
        maxTopicsPerSession,
        topicsAcked,
      };
    },
    async close() {
      for (const s of sessions) {
        if (s.idle) clearTimeout(s.idle);
        s.socket.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
