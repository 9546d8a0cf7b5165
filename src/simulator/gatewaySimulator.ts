import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EndpointTable } from '../kucoin/endpointTable.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { POOLS, quotaFor, type PoolName } from '../kucoin/pools.js';
import { authenticate, type SimAccount } from './auth.js';
import { FixedWindowCounter } from './fixedWindow.js';
import { rateLimitHeaders, sendCloudflare1015, sendError, sendJson } from './replies.js';
import { sampleData } from './sampleData.js';
import type { Arrival, Block, SimulatorStats } from './simStats.js';

export interface GatewaySimulatorOptions {
  /** API keys the simulator knows, each with its account's UID (several keys may share one UID). */
  readonly accounts?: readonly SimAccount[];
  /** Pool overrides for every account (`limit` replaces the VIP table). @default KuCoin's table */
  readonly pools?: Partial<Record<PoolName, { readonly limit?: number; readonly windowMs?: number }>>;
  /** Cloudflare per IP, counted in requests; `false` turns it off. @default { limit: 500, windowMs: 10_000, blockMs: 30_000 } */
  readonly cloudflare?: { readonly limit: number; readonly windowMs: number; readonly blockMs: number } | false;
  /** Business-layer limits per (UID, endpoint) that answer 200002 and block for `endpointBlockMs`: `'futures POST /api/v1/orders'`. */
  readonly endpointLimits?: Readonly<Record<string, { readonly limit: number; readonly windowMs: number }>>;
  /** @default 10_000 */
  readonly endpointBlockMs?: number;
  /** Requests per connection in a window before 429002; `false` turns it off. @default false */
  readonly perConnection?: { readonly limit: number; readonly windowMs: number } | false;
  /** Latency added before each response, uniformly in [min, max] ms. @default { min: 0, max: 0 } */
  readonly latencyMs?: { readonly min: number; readonly max: number };
  /** Weight spent on a pool outside any scheduler (a web UI on the same UID), every `everyMs`. */
  readonly hiddenConsumers?: readonly { readonly uid: string; readonly pool: PoolName; readonly weight: number; readonly everyMs: number }[];
  /** Unsigned private requests are refused (400001) unless this is false. @default true */
  readonly requireSignature?: boolean;
  /** Keep at most this many arrival records. @default 200_000 */
  readonly maxArrivals?: number;
  /** What `GET /api/v1/timestamp` answers as `data`, given the server's clock (a broken or hostile server's time). @default the clock */
  readonly serverTime?: (now: number) => unknown;
  /** Each arrival also keeps the request's raw header lines (`Arrival.rawHeaders`). @default false */
  readonly recordHeaders?: boolean;
}

export interface GatewaySimulator {
  /** Base URLs for each KuCoin host, all served by this simulator. */
  readonly urls: Readonly<Record<HostName, string>>;
  stats(): SimulatorStats;
  /** Answers 429001 to every request for `durationMs`. */
  startStorm(durationMs: number): void;
  /** A hidden consumer spends what is left of the current window of (uid, pool): the next request gets 429000. */
  exhaust(uid: string, pool: PoolName): void;
  /** The next `count` requests (optionally only of one endpoint template) fail after being executed. */
  failNext(count: number, kind: 'http-500' | 'http-503' | 'hang', endpoint?: string): void;
  close(): Promise<void>;
}

const JSON_LIMIT = 1 << 20;

/**
 * A real HTTP server that behaves like KuCoin's gateway (docs/RATE-LIMITS.md): pools per UID and per IP in fixed
 * windows that open at the first arrival, weights from the endpoint table, gw-ratelimit-* headers, 429000
 * (not charged), Cloudflare 1015 with a 30 s IP block, 200002 per (UID, endpoint) with a 10 s block, 429001
 * storms, 429002 per connection, signature checks, duplicate-clientOid rejection, latency, hidden consumers; a few reads
 * answer sample data (src/simulator/sampleData.ts: the account mode ccxt asks first, balances).
 * It serves the spot, futures and broker hosts on three ports with one shared state. `GET /__sim/stats` = `stats()`.
 */
export async function startGatewaySimulator(options: GatewaySimulatorOptions = {}): Promise<GatewaySimulator> {
  const clock = Date.now;
  const accounts = new Map((options.accounts ?? []).map((a) => [a.key, a]));
  const vipByUid = new Map((options.accounts ?? []).map((a) => [a.uid, a.vipLevel ?? 0]));
  const table = new EndpointTable({ unknownWeight: 0 });
  const cf = options.cloudflare === undefined ? { limit: 500, windowMs: 10_000, blockMs: 30_000 } : options.cloudflare;
  const endpointBlockMs = options.endpointBlockMs ?? 10_000;
  const latency = options.latencyMs ?? { min: 0, max: 0 };
  const maxArrivals = options.maxArrivals ?? 200_000;

  const poolCounters = new Map<string, FixedWindowCounter>();
  const cfCounters = new Map<string, FixedWindowCounter>();
  const endpointCounters = new Map<string, FixedWindowCounter>();
  const connectionCounters = new WeakMap<Socket, FixedWindowCounter>();
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 1;
  const ipBlocks = new Map<string, number>();
  const endpointBlocks = new Map<string, number>();
  const clientOids = new Set<string>();
  const outcomes: Record<string, number> = {};
  const arrivals: Arrival[] = [];
  const blocks: Block[] = [];
  const storms: [number, number][] = [];
  const faults: { count: number; kind: 'http-500' | 'http-503' | 'hang'; endpoint: string | undefined }[] = [];
  const hanging = new Set<ServerResponse>();
  let requests = 0;
  let stormUntil = 0;

  const poolCounter = (subject: string, pool: PoolName, uid: string | undefined): FixedWindowCounter => {
    const key = `${subject}:${pool}`;
    let c = poolCounters.get(key);
    if (!c) {
      const o = options.pools?.[pool];
      const limit = o?.limit ?? quotaFor(pool, uid ? (vipByUid.get(uid) ?? 0) : 0);
      c = new FixedWindowCounter(limit, o?.windowMs ?? POOLS[pool].windowMs);
      poolCounters.set(key, c);
    }
    return c;
  };
  const counter = (map: Map<string, FixedWindowCounter>, key: string, limit: number, windowMs: number) => {
    let c = map.get(key);
    if (!c) map.set(key, (c = new FixedWindowCounter(limit, windowMs)));
    return c;
  };
  const record = (a: Arrival) => {
    outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
    if (arrivals.length < maxArrivals) arrivals.push(a);
  };

  const hiddenTimers = (options.hiddenConsumers ?? []).map((h) =>
    setInterval(() => {
      const at = clock();
      const { admitted } = poolCounter(`uid:${h.uid}`, h.pool, h.uid).charge(at, h.weight);
      record({
        at,
        uid: h.uid,
        ip: 'hidden',
        host: 'spot',
        method: 'GET',
        endpoint: 'hidden consumer',
        pool: h.pool,
        weight: h.weight,
        outcome: admitted ? 'hidden' : 'hidden-429000',
        client: 'hidden',
        conn: 0,
      });
    }, h.everyMs),
  );

  const handle = async (host: HostName, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > JSON_LIMIT) return sendError(res, 413, '400100', 'Parameter Error');
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const at = clock();
    const url = req.url ?? '/';
    const method = (req.method ?? 'GET').toUpperCase();
    if (url === '/__sim/stats') return sendJson(res, 200, stats());
    requests++;
    const ipHeader = req.headers['x-sim-ip'];
    const ip = (Array.isArray(ipHeader) ? ipHeader[0] : ipHeader) ?? req.socket.remoteAddress ?? 'unknown';
    const clientHeader = req.headers['x-sim-client'];
    const client = Array.isArray(clientHeader) ? clientHeader[0] : clientHeader;
    const path = url.split('?')[0]!;
    let conn = connectionIds.get(req.socket);
    if (conn === undefined) connectionIds.set(req.socket, (conn = nextConnectionId++));
    const base = { at, ip, host, method, client, conn, target: url, ...(options.recordHeaders ? { rawHeaders: [...req.rawHeaders] } : {}) };

    if (latency.max > 0) await new Promise((r) => setTimeout(r, latency.min + Math.random() * (latency.max - latency.min)));

    // Cloudflare, in front of everything: counted in requests per IP
    if (cf) {
      const blockedUntil = ipBlocks.get(ip) ?? 0;
      if (blockedUntil > at) {
        record({ ...base, uid: undefined, endpoint: path, pool: undefined, weight: 0, outcome: '1015' });
        return sendCloudflare1015(res, Math.ceil((blockedUntil - at) / 1000));
      }
      if (!counter(cfCounters, ip, cf.limit, cf.windowMs).charge(at, 1).admitted) {
        ipBlocks.set(ip, at + cf.blockMs);
        cfCounters.delete(ip); // counting starts over after the block
        blocks.push({ scope: 'ip', key: ip, from: at, until: at + cf.blockMs });
        record({ ...base, uid: undefined, endpoint: path, pool: undefined, weight: 0, outcome: '1015' });
        return sendCloudflare1015(res, Math.ceil(cf.blockMs / 1000));
      }
    }
    if (stormUntil > at) {
      record({ ...base, uid: undefined, endpoint: path, pool: undefined, weight: 0, outcome: '429001' });
      return sendError(res, 429, '429001', 'Too many total requests in a short period. Please retry later. (SYSTEM LIMIT)');
    }
    if (options.perConnection) {
      let c = connectionCounters.get(req.socket);
      if (!c) connectionCounters.set(req.socket, (c = new FixedWindowCounter(options.perConnection.limit, options.perConnection.windowMs)));
      if (!c.charge(at, 1).admitted) {
        record({ ...base, uid: undefined, endpoint: path, pool: undefined, weight: 0, outcome: '429002' });
        return sendError(res, 429, '429002', 'Too many requests in a short period. Please retry later. (MULTY LIMIT PER CONNECTION)');
      }
    }

    let info;
    try {
      info = table.lookup(`${method} ${path}`, host);
    } catch {
      info = undefined;
    }
    if (!info || !info.known) {
      record({ ...base, uid: undefined, endpoint: path, pool: undefined, weight: 0, outcome: '404000' });
      return sendError(res, 404, '404000', 'Url Not Found');
    }
    const isPublic = info.pool === 'Public';
    let uid: string | undefined;
    // a public call is checked only when it is signed: python-kucoin sends its key (no signature) on every call
    if (!isPublic || req.headers['kc-api-sign']) {
      const auth = authenticate(accounts, req.headers, method, url, body, at);
      if (!auth.ok && (options.requireSignature ?? true)) {
        record({ ...base, uid: undefined, endpoint: info.path, pool: info.pool, weight: 0, outcome: auth.code });
        return sendError(res, 401, auth.code, auth.msg);
      }
      if (auth.ok) uid = auth.account.uid;
    }
    const subject = isPublic ? `ip:${ip}` : `uid:${uid ?? 'anonymous'}`;
    const pool = poolCounter(subject, info.pool, uid);
    // codes injected on demand (src/simulator/injectedCodes.ts): answered here, charged or not as KuCoin does
    if (
      options.codes?.answer({
        at,
        host,
        method,
        endpoint: info.path,
        uid,
        ip,
        counter: pool,
        weight: info.weight,
        res,
        record: (outcome, weight) => record({ ...base, uid, endpoint: info.path, pool: info.pool, weight, outcome }),
      })
    )
      return;
    const charged = pool.charge(at, info.weight);
    const headers = rateLimitHeaders(pool.limit, pool.limit - charged.window.weight, charged.window.end - at);
    const arrival = { ...base, uid, endpoint: info.path, pool: info.pool, weight: info.weight };
    if (!charged.admitted) {
      record({ ...arrival, outcome: '429000' });
      return sendError(res, 429, '429000', 'Too many requests. User-level rate limit exceeded.', headers);
    }

    const epKey = `${host} ${method} ${info.path}`;
    const epLimit = options.endpointLimits?.[epKey];
    if (epLimit && uid) {
      const blockKey = `${uid} ${epKey}`;
      const until = endpointBlocks.get(blockKey) ?? 0;
      let blocked = until > at;
      if (!blocked && !counter(endpointCounters, blockKey, epLimit.limit, epLimit.windowMs).charge(at, 1).admitted) {
        endpointBlocks.set(blockKey, at + endpointBlockMs);
        blocks.push({ scope: 'endpoint', key: blockKey, from: at, until: at + endpointBlockMs });
        blocked = true;
      }
      if (blocked) {
        record({ ...arrival, outcome: '200002' });
        return sendError(res, 200, '200002', 'Too many requests in a short period of time, please retry later', headers);
      }
    }

    let data: unknown =
      options.websocket && /^\/api\/v1\/bullet-(public|private)$/.test(info.path)
        ? options.websocket.issueToken({ kind: isPublic ? 'public' : 'private', uid, ip })
        : (sampleData(host, method, info.path) ?? {});
    if (info.path === '/api/v1/timestamp') data = options.serverTime ? options.serverTime(clock()) : clock(); // the server's time, as KuCoin answers it
    if (method === 'POST' && /orders/.test(info.path)) {
      let parsed: { clientOid?: unknown } = {};
      try {
        parsed = body ? (JSON.parse(body) as { clientOid?: unknown }) : {};
      } catch {
        record({ ...arrival, outcome: '400100' });
        return sendError(res, 400, '400100', 'Parameter Error', headers);
      }
      if (typeof parsed.clientOid === 'string') {
        const oidKey = `${uid} ${host} ${parsed.clientOid}`;
        if (clientOids.has(oidKey)) {
          const code = host === 'futures' ? '300018' : '126044';
          record({ ...arrival, outcome: code });
          return sendError(res, 200, code, 'clientOid is duplicated', headers);
        }
        clientOids.add(oidKey);
      }
      data = { orderId: `sim-${requests}`, clientOid: parsed.clientOid };
    }
    const faultIndex = faults.findIndex((f) => f.count > 0 && (f.endpoint === undefined || f.endpoint === `${method} ${info.path}`));
    if (faultIndex >= 0) {
      const fault = faults[faultIndex]!;
      fault.count--;
      record({ ...arrival, outcome: fault.kind });
      if (fault.kind === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      return sendError(res, fault.kind === 'http-500' ? 500 : 503, '500000', 'Internal Server Error', headers);
    }
    record({ ...arrival, outcome: 'ok' });
    sendJson(res, 200, { code: '200000', data }, headers);
  };

  const stats = (): SimulatorStats => ({
    requests,
    outcomes: { ...outcomes },
    windows: Object.fromEntries([...poolCounters].map(([k, c]) => [k, c.windows()])),
    blocks: [...blocks],
    storms: [...storms],
    arrivals,
  });

  const servers: Server[] = [];
  const urls = {} as Record<HostName, string>;
  for (const host of ['spot', 'futures', 'broker'] as const) {
    const server = createServer((req, res) => {
      handle(host, req, res).catch(() => {
        if (!res.headersSent) sendError(res, 500, '500000', 'Internal Server Error');
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls[host] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    servers.push(server);
  }

  return {
    urls,
    stats,
    startStorm(durationMs) {
      const now = clock();
      stormUntil = Math.max(stormUntil, now + durationMs);
      storms.push([now, stormUntil]);
    },
    exhaust(uid, pool) {
      const at = clock();
      const c = poolCounter(`uid:${uid}`, pool, uid);
      const w = c.current(at);
      const weight = c.limit - w.weight;
      c.charge(at, weight);
      record({ at, uid, ip: 'hidden', host: 'spot', method: 'GET', endpoint: 'hidden consumer', pool, weight, outcome: 'hidden', client: 'hidden', conn: 0 });
    },
    failNext(count, kind, endpoint) {
      faults.push({ count, kind, endpoint });
    },
    async close() {
      for (const t of hiddenTimers) clearInterval(t);
      for (const res of hanging) res.destroy();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
