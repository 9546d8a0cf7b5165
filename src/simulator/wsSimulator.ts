import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { maxInSpan, RateWindow } from './wsRateWindow.js';
import type { WsConnectRecord, WsSimulator, WsSimulatorOptions, WsSimulatorStats } from './wsSimulatorTypes.js';

export type { BulletData, Ws509Counts, WsConnectRecord, WsSimulator, WsSimulatorOptions, WsSimulatorStats } from './wsSimulatorTypes.js';
export type { WsRateRule, WsWindowKind } from './wsRateWindow.js';

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
const TOPIC_FORMAT = /^\/[A-Za-z0-9]+\/[A-Za-z0-9]+(:[A-Za-z0-9_.,-]+)?$/;
/** A pair (BTC-USDT), a kline (BTC-USDT_1hour), a futures contract (XBTUSDTM), a currency or market, or `all`. */
const SYMBOL_FORMAT = /^([A-Z0-9]+-[A-Z0-9]+(_[0-9a-z]+)?|[A-Z0-9]+M|all|[A-Z0-9]+)$/;

interface Session {
  /** The client's connectId (the id of its welcome and of every error about the connection). */
  readonly id: string;
  readonly subject: string;
  readonly isPrivate: boolean;
  readonly socket: ServerSocket;
  readonly topics: Set<string>;
  /** The uplink rule's counter, and every message's time in the last window (what the client sent). */
  readonly uplink: RateWindow;
  seen: number[];
  idle: NodeJS.Timeout | undefined;
}

function kindOf509(text: string): 'sessions' | 'busy' | 'perTime' | 'perSession' | 'permits' | 'other' {
  if (/session count/i.test(text)) return 'sessions';
  if (/busy/i.test(text)) return 'busy';
  if (/per time/i.test(text)) return 'perTime';
  if (/per session/i.test(text)) return 'perSession';
  if (/permits/i.test(text)) return 'permits';
  return 'other';
}

export async function startWsSimulator(options: WsSimulatorOptions = {}): Promise<WsSimulator> {
  const { WebSocketServer } = createRequire(import.meta.url)('ws') as WsServerModule;
  const sessionLimit = options.sessionLimit ?? 50;
  const connectRule = options.connects ?? { limit: 30, windowMs: 60_000 };
  const perMessage = options.topicsPerMessage ?? 100;
  const perSession = options.topicsPerSession ?? 300;
  const uplinkRule = options.uplink ?? { limit: 100, windowMs: 10_000 };
  const pingInterval = options.pingIntervalMs ?? 18_000;
  const pingTimeout = options.pingTimeoutMs ?? 10_000;
  const symbols = options.symbols ? new Set(options.symbols) : undefined;
  const privatePrefixes = new Set(options.privatePrefixes ?? PRIVATE_PREFIXES);

  const tokens = new Map<string, { subject: string; isPrivate: boolean }>();
  const sessions = new Set<Session>();
  const sessionsBySubject = new Map<string, number>();
  const connectRules = new Map<string, RateWindow>();
  const connectTimes = new Map<string, number[]>();
  const connects: WsConnectRecord[] = [];
  const maxSessions: Record<string, number> = {};
  const timeline: [number, string, number][] = [];
  const errors: Record<string, number> = {};
  const by509 = { sessions: 0, busy: 0, perTime: 0, perSession: 0, permits: 0, other: 0 };
  let tokensIssued = 0;
  let count509 = 0;
  let silentDrops = 0;
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
  /** KuCoin's error shape `{ id, type: 'error', code, data }`: the command's id, or the connection's for the others. */
  const sendError = (socket: ServerSocket, id: unknown, code: number, data: string) => {
    errors[`${code} ${data}`] = (errors[`${code} ${data}`] ?? 0) + 1;
    if (code === 509) {
      count509++;
      by509[kindOf509(data)]++;
    }
    send(socket, { ...(id === undefined ? {} : { id }), type: 'error', code, data });
  };
  const setSessions = (subject: string, delta: number) => {
    const n = (sessionsBySubject.get(subject) ?? 0) + delta;
    sessionsBySubject.set(subject, n);
    maxSessions[subject] = Math.max(maxSessions[subject] ?? 0, n);
    timeline.push([Date.now(), subject, n]);
  };
  const refuse = (socket: ServerSocket, connectId: string, subject: string, outcome: string, code: number, data: string) => {
    connects.push({ at: Date.now(), subject, outcome });
    sendError(socket, connectId, code, data);
    socket.close(1000, 'refused');
  };
  /** The session is over for the server (counted no more), whether or not the client has seen the close yet. */
  const endSession = (s: Session) => {
    if (!sessions.delete(s)) return;
    if (s.idle) clearTimeout(s.idle);
    setSessions(s.subject, -1);
  };
  const armIdle = (s: Session) => {
    if (s.idle) clearTimeout(s.idle);
    s.idle = setTimeout(() => {
      // the server drops a silent session: it stops counting it at once (a frozen client never answers the close)
      silentDrops++;
      sendError(s.socket, s.id, 400, 'ping timeout');
      s.socket.close(1000, 'ping timeout');
      endSession(s);
    }, pingInterval + pingTimeout);
  };

  const topicError = (topic: unknown, isPrivate: boolean, count: (names: string[]) => boolean): [number, string] | undefined => {
    if (typeof topic !== 'string' || topic === '') return [406, 'topic is required'];
    if (!TOPIC_FORMAT.test(topic)) return [400, 'topic is invalid'];
    const [prefix, list] = topic.split(':') as [string, string | undefined];
    const syms = list === undefined ? [] : list.split(',');
    if (syms.some((s) => s === '' || !SYMBOL_FORMAT.test(s))) return [400, 'topic is invalid'];
    if (syms.length > perMessage) return [509, `exceed max subscription count limitation of ${perMessage} per time`];
    if (!isPrivate && privatePrefixes.has(prefix)) return [403, 'login is required'];
    if (symbols && syms.some((s) => s !== 'all' && !symbols.has(s))) return [404, 'topic does not exist'];
    if (!count(namesOf(topic))) return [509, `exceed max subscription count limitation of ${perSession} per session`];
    return undefined;
  };

  const onMessage = (s: Session, raw: Buffer) => {
    if (!sessions.has(s)) return; // dropped already (ping timeout): nothing more is read
    received++;
    const now = Date.now();
    s.seen = s.seen.filter((t) => t > now - uplinkRule.windowMs);
    s.seen.push(now);
    maxUplink = Math.max(maxUplink, s.seen.length);
    armIdle(s);
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      msg = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return sendError(s.socket, s.id, 415, 'command type is invalid');
    }
    if (!s.uplink.admit(now)) return sendError(s.socket, msg.id, 509, 'exceed max permits per second');
    // KuCoin acknowledges a command only when it asks for it (`response: true`)
    const ack = () => msg.response === true && send(s.socket, { id: msg.id, type: 'ack' });
    switch (msg.type) {
      case 'ping':
        return muted ? undefined : send(s.socket, { id: msg.id, type: 'pong', timestamp: now * 1000 });
      case 'unsubscribe': {
        if (typeof msg.topic !== 'string' || msg.topic === '') return sendError(s.socket, msg.id, 406, 'topic is required');
        for (const t of namesOf(msg.topic)) s.topics.delete(t);
        return void ack();
      }
      case 'subscribe': {
        subscribeMessages++;
        const fault = commandFaults.shift();
        if (fault) return sendError(s.socket, msg.id, fault.code, fault.data);
        // a topic this connection already holds is not counted again
        const fits = (names: string[]) => s.topics.size + names.filter((t) => !s.topics.has(t)).length <= perSession;
        const err = topicError(msg.topic, s.isPrivate, fits);
        if (err) return sendError(s.socket, msg.id, err[0], err[1]);
        const list = namesOf(msg.topic as string);
        maxTopicsPerMessage = Math.max(maxTopicsPerMessage, list.length);
        for (const t of list) s.topics.add(t);
        topicsAcked += list.length;
        maxTopicsPerSession = Math.max(maxTopicsPerSession, s.topics.size);
        return void ack();
      }
      default:
        return sendError(s.socket, msg.id, 415, 'command type is invalid');
    }
  };

  wss.on('connection', (socket, req) => {
    socket.on('error', () => undefined); // a malformed frame or a reset: the close event follows
    const query = new URL(req.url ?? '/', url).searchParams;
    const connectId = query.get('connectId') ?? randomUUID();
    const grant = tokens.get(query.get('token') ?? '');
    const subject = grant?.subject ?? 'unknown';
    const now = Date.now();
    const times = connectTimes.get(subject) ?? [];
    connectTimes.set(subject, times);
    times.push(now);
    if (!grant) return refuse(socket, connectId, subject, '401', 401, 'token is invalid');
    let rule = connectRules.get(subject);
    if (!rule) connectRules.set(subject, (rule = new RateWindow(connectRule)));
    if (!rule.admit(now)) return refuse(socket, connectId, subject, '509-rate', 509, 'service busy, please retry later');
    const fault = connectFaults.shift();
    if (fault) return refuse(socket, connectId, subject, `${fault.code}-injected`, fault.code, fault.data);
    if ((sessionsBySubject.get(subject) ?? 0) >= sessionLimit)
      return refuse(socket, connectId, subject, '509-sessions', 509, `exceed max session count limitation of ${sessionLimit}`);
    connects.push({ at: now, subject, outcome: 'welcome' });
    const s: Session = {
      id: connectId,
      subject,
      isPrivate: grant.isPrivate,
      socket,
      topics: new Set(),
      uplink: new RateWindow(uplinkRule),
      seen: [],
      idle: undefined,
    };
    sessions.add(s);
    setSessions(subject, +1);
    socket.on('message', (data) => onMessage(s, data));
    socket.on('close', () => endSession(s));
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
    stats(): WsSimulatorStats {
      const perWindow: Record<string, number> = {};
      const perMinute: Record<string, number> = {};
      for (const [subject, times] of connectTimes) {
        perWindow[subject] = maxInSpan(times, connectRule.windowMs);
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
        count509ByKind: { ...by509 },
        silentDrops,
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

/** `/market/ticker:A,B` is two topics, `/market/ticker:A` and `/market/ticker:B`; a topic without symbols is itself. */
function namesOf(topic: string): string[] {
  const [prefix, list] = topic.split(':') as [string, string | undefined];
  return list === undefined ? [prefix] : list.split(',').map((x) => `${prefix}:${x}`);
}
