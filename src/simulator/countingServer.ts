import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FixedWindowCounter, type ServerWindow } from './fixedWindow.js';

export interface CountingServerOptions {
  /** Weight per window before it answers 429000. */
  readonly limit: number;
  readonly windowMs: number;
  /** Clock for arrival times. @default Date.now */
  readonly clock?: () => number;
}

export interface CountingServerStats {
  readonly limit: number;
  readonly windowMs: number;
  readonly windows: readonly ServerWindow[];
  readonly rejected429000: number;
}

export interface CountingServer {
  readonly url: string;
  stats(): CountingServerStats;
  close(): Promise<void>;
}

/**
 * A real HTTP server that charges one pool the weight each request names in its `x-ks-weight` header,
 * in KuCoin's fixed windows, and answers 429000 when a window is spent. `GET /stats` returns its windows.
 * It is the small first step of the gateway simulator: enough to check what a server actually received.
 */
export async function startCountingServer(options: CountingServerOptions): Promise<CountingServer> {
  const clock = options.clock ?? Date.now;
  const counter = new FixedWindowCounter(options.limit, options.windowMs);
  let rejected429000 = 0;
  const stats = (): CountingServerStats => ({ limit: options.limit, windowMs: options.windowMs, windows: counter.windows(), rejected429000 });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const at = clock();
    req.resume();
    if (req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats()));
      return;
    }
    const weight = Number(req.headers['x-ks-weight'] ?? 1);
    const { window, admitted } = counter.charge(at, Number.isFinite(weight) && weight >= 0 ? weight : 1);
    const headers = {
      'content-type': 'application/json',
      'gw-ratelimit-limit': String(options.limit),
      'gw-ratelimit-remaining': String(Math.max(0, options.limit - window.weight)),
      'gw-ratelimit-reset': String(Math.max(0, window.end - at)),
    };
    if (!admitted) {
      rejected429000++;
      res.writeHead(429, headers).end(JSON.stringify({ code: '429000', msg: 'Too Many Requests' }));
      return;
    }
    res.writeHead(200, headers).end(JSON.stringify({ code: '200000', data: { at } }));
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
