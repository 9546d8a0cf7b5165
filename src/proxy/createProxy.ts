/**
 * `createProxy()`: a local KuCoin proxy, so bots in any language share the fleet's quota. A bot points its base URL
 * at it (`http://127.0.0.1:8080/spot`, `/futures`, `/broker`, a host's own port, or the Go SDK's `X-Proxy-To`);
 * each request is admitted by the shared scheduler, forwarded byte for byte, and KuCoin's reply fed back and passed
 * back. See proxyRequest.ts for one request's way through, routing.ts for what may be reached.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TypedEmitter, type Listener } from '../scheduler/events.js';
import { OriginPools } from '../http/originPools.js';
import { EndpointTable } from '../kucoin/endpointTable.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { Accounts } from './accounts.js';
import { sendLocalReply } from './localReply.js';
import { PROXY_ERROR_CODES } from './proxyCodes.js';
import type { ProxyEvents } from './proxyEvents.js';
import { resolveProxyOptions, type ProxyOptions, type ResolvedProxyOptions } from './proxyOptions.js';
import { proxyRequest, refuse, type ProxyContext } from './proxyRequest.js';
import { ProxyStats, type ProxyStatsSnapshot } from './proxyStats.js';
import { ProxyStatusPublisher } from './proxyStatus.js';
import { HOST_NAMES, Upstreams } from './routing.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { WsRelay } from './ws/wsRelay.js';
import { ObservationGate } from './observationGate.js';

/** A running proxy. */
export interface KucoinProxy {
  /** The main listener: `http://127.0.0.1:8080` (append `/spot`, `/futures`, `/broker` as a bot's base URL). */
  readonly url: string;
  /** Each host's own listener, when `hostPorts` asked for it. */
  readonly hostUrls: Readonly<Partial<Record<HostName, string>>>;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ProxyEvents>(name: K, listener: Listener<ProxyEvents[K]>): () => void;
  /** The traffic so far (what /healthz, /metrics and `status` report). */
  stats(): ProxyStatsSnapshot;
  /** The scheduler of an account (by UID), or of unsigned requests (no UID): its events, snapshot, resume. */
  scheduler(uid?: string): Scheduler | undefined;
  /**
   * Graceful drain (what SIGTERM does in the CLI): stops taking connections and requests (a request on an open
   * connection gets a 503 `KS_PROXY_DRAINING`), lets the requests in the proxy be admitted and answered for up to
   * `drainMs`, then answers those still waiting for admission with `KS_PROXY_DRAINING` (nothing sent), waits for
   * those forwarded to be answered, and closes every connection, the schedulers and a store it created.
   * @param options.drainMs @default 10_000
   */
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A request the HTTP parser refused (head too large, too slow, malformed): a KuCoin-shaped answer, then the socket closes. */
function onClientError(error: NodeJS.ErrnoException, socket: Socket, stats: ProxyStats): void {
  const code =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'KS_PROXY_HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'KS_PROXY_TIMEOUT'
        : 'KS_PROXY_BAD_REQUEST';
  stats.refusal(code);
  if (socket.writable && (socket as Socket & { _httpMessage?: unknown })._httpMessage === undefined) {
    const body = JSON.stringify({ code, msg: `${PROXY_ERROR_CODES[code].meaning} (kucoin-scheduler proxy)` });
    socket.end(
      `HTTP/1.1 ${PROXY_ERROR_CODES[code].status} ${code === 'KS_PROXY_BAD_REQUEST' ? 'Bad Request' : code === 'KS_PROXY_TIMEOUT' ? 'Request Timeout' : 'Request Header Fields Too Large'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nx-ks-proxy: ${code}\r\n\r\n${body}`,
    );
  } else socket.destroy();
}

/** Starts a proxy: its listeners are open when the promise resolves. */
export async function createProxy(options: ProxyOptions = {}): Promise<KucoinProxy> {
  const o: ResolvedProxyOptions = resolveProxyOptions(options);
  const accounts = new Accounts(o.accounts, o.scheduler, o.publicUid);
  const events = new TypedEmitter<ProxyEvents>();
  const stats = new ProxyStats();
  const pools = new OriginPools({
    connections: o.connections,
    headersTimeoutMs: o.upstreamTimeoutMs,
    bodyTimeoutMs: o.upstreamTimeoutMs,
    keepAliveTimeoutMs: 30_000,
  });
  const upstreams = new Upstreams(o.upstreams);
  const relay = o.websocket === false ? undefined : new WsRelay(o.websocket, { events, stats, ip: o.scheduler.ip ?? 'default' });
  const ctx: ProxyContext = {
    options: o,
    accounts,
    upstreams,
    pools,
    table: new EndpointTable({ unknownWeight: accounts.public.resolved.unknownEndpointWeight }),
    events,
    stats,
    originHold: new Map(),
    observations: new ObservationGate(),
    rewriteToken: relay ? (reply, route, uid, bot) => relay.rewriteToken(reply, route, uid, bot) : undefined,
  };
  const metrics = o.metrics
    ? await Promise.all([import('prom-client'), import('./proxyMetrics.js')]).then(
        ([prom, m]) => m.proxyRegistry(prom, stats, accounts.entries()),
        () => undefined, // prom-client is not installed: /metrics says so
      )
    : undefined;

  let draining = false;
  let onIdle: (() => void) | undefined;
  const settled = () => {
    stats.inFlight--;
    if (stats.inFlight === 0) onIdle?.();
  };

  const handler = (fixedHost: HostName | undefined) => (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url === '/healthz' && req.method === 'GET') {
      const body = JSON.stringify({ status: draining ? 'draining' : 'ok', inFlight: stats.inFlight, websockets: stats.websockets });
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    if (url === '/metrics' && req.method === 'GET') {
      if (!metrics) {
        res.writeHead(501, { 'content-type': 'text/plain' }).end(o.metrics ? 'prom-client is not installed (npm install prom-client)\n' : 'metrics are off\n');
        return;
      }
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (draining) return refuse(ctx, res, { code: 'KS_PROXY_DRAINING', close: true }, { method: req.method });
    if (stats.inFlight >= o.maxInFlight) {
      return refuse(
        ctx,
        res,
        { code: 'KS_PROXY_BUSY', detail: `${o.maxInFlight} requests in flight`, retryAfterMs: 1000, close: true },
        { method: req.method },
      );
    }
    stats.inFlight++;
    proxyRequest(ctx, req, res, fixedHost)
      .catch(() => {
        if (!res.headersSent) sendLocalReply(res, { code: 'KS_PROXY_INTERNAL', close: true });
      })
      .finally(settled);
  };

  const servers: Server[] = [];
  const make = (fixedHost: HostName | undefined): Server => {
    const server = createServer(
      {
        maxHeaderSize: o.maxHeaderBytes,
        headersTimeout: o.headersTimeoutMs,
        requestTimeout: o.requestTimeoutMs,
        keepAliveTimeout: o.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.min(1_000, o.headersTimeoutMs),
        noDelay: true,
      },
      handler(fixedHost),
    );
    server.timeout = 0; // a request waiting for admission sends nothing for a while: the bounds above apply instead
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => onClientError(error, socket, stats));
    server.on('connect', (_req: IncomingMessage, socket: Socket) => socket.destroy()); // not a forward proxy: no CONNECT tunnels
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (relay && !draining && !fixedHost) relay.upgrade(req, socket, head);
      else socket.destroy();
    });
    servers.push(server);
    return server;
  };

  const mainPort = await listen(make(undefined), o.host, o.port);
  const url = urlOf(o.host, mainPort);
  const hostUrls: Partial<Record<HostName, string>> = {};
  for (const host of HOST_NAMES) {
    const port = o.hostPorts[host];
    if (port !== undefined) hostUrls[host] = urlOf(o.host, await listen(make(host), o.host, port));
  }
  relay?.setAdvertisedUrl(o.advertisedUrl ?? url);
  const status = o.status
    ? new ProxyStatusPublisher(
        o.status,
        accounts.public.resolved.quotaGroup,
        `${process.pid}-${randomUUID().slice(0, 8)}`,
        () => url,
        () => stats.snapshot(),
      )
    : undefined;
  void status?.write();

  let closing: Promise<void> | undefined;
  const waitIdle = (ms: number) =>
    stats.inFlight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(done, ms);
          function done() {
            clearTimeout(timer);
            onIdle = undefined;
            resolve();
          }
          onIdle = done;
        });

  return {
    url,
    hostUrls,
    on: (name, listener) => events.on(name, listener),
    stats: () => stats.snapshot(),
    scheduler: (uid) => (uid === undefined ? accounts.public : accounts.entries().find((e) => e.uid === uid))?.scheduler,
    close(closeOptions = {}) {
      const drainMs = closeOptions.drainMs ?? 10_000;
      closing ??= (async () => {
        draining = true;
        if (events.has('draining')) events.emit('draining', { inFlight: stats.inFlight, drainMs });
        for (const server of servers) {
          server.close();
          server.closeIdleConnections();
        }
        await waitIdle(drainMs);
        // still waiting for admission: answered KS_PROXY_DRAINING (nothing sent); forwarded ones finish
        await Promise.all(accounts.schedulers().map((s) => s.close()));
        await waitIdle(o.upstreamTimeoutMs + 1_000);
        await relay?.close();
        ctx.observations.close();
        for (const server of servers) server.closeAllConnections();
        await pools.close();
        await status?.stop();
        if (o.ownsStore) await o.store.close();
        if (events.has('closed')) events.emit('closed', { forwarded: stats.forwarded, refused: stats.refusedTotal });
      })();
      return closing;
    },
  };
}
