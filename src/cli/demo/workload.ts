// The multi-bot workload of the demo: market-data pollers, order placers, an open-orders
// poller, a balance poller, and cancel bursts on risk events; all on one UID and one IP.
import { Pool } from 'undici';
import { authHeaders, KucoinClient, type Credentials, type Priority, type Scheduler } from '../../index.js';

export const DEMO_ACCOUNT = { key: 'demo-key', secret: 'demo-secret', passphrase: 'demo-pass', uid: 'demo-uid' } as const;

export interface DemoRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly body?: Record<string, unknown>;
  readonly priority: Priority;
}

/** What one request ended as, for the summary. */
export interface RequestRecord {
  readonly priority: Priority;
  readonly waitMs: number;
  /** 'ok', a KuCoin code, 'KS_...' for the scheduler's own errors, 'network'. */
  readonly outcome: string;
}

/** Sends one request: through the scheduler (KucoinClient) or straight out (the `--no-scheduler` baseline). */
export interface Sender {
  send(req: DemoRequest, signal: AbortSignal): Promise<RequestRecord>;
  close(): Promise<void>;
}

export function scheduledSender(
  scheduler: Scheduler,
  urls: { spot: string; futures: string; broker: string },
  credentials: Credentials,
  clientId: string,
): Sender {
  const client = new KucoinClient({ scheduler, credentials, baseUrls: urls, headers: { 'x-sim-client': clientId } });
  return {
    async send(req, signal) {
      const started = Date.now();
      try {
        const res = await client.request({
          method: req.method,
          path: req.path,
          ...(req.query ? { query: req.query } : {}),
          ...(req.body ? { body: req.body } : {}),
          priority: req.priority,
          signal,
        });
        return { priority: req.priority, waitMs: res.waitedMs, outcome: 'ok' };
      } catch (err) {
        const e = err as { code?: string; kucoinCode?: string };
        return { priority: req.priority, waitMs: Date.now() - started, outcome: e.kucoinCode ?? e.code ?? 'network' };
      }
    },
    close: () => client.close(),
  };
}

/** Signs and sends at once, no limiter, no retry: what most bots do today. */
export function rawSender(urls: { spot: string }, credentials: Credentials, clientId: string): Sender {
  const pool = new Pool(urls.spot, { connections: 32 });
  return {
    async send(req) {
      const query = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
      const body = req.body ? JSON.stringify(req.body) : '';
      try {
        const res = await pool.request({
          path: req.path + query,
          method: req.method,
          headers: { 'content-type': 'application/json', 'x-sim-client': clientId, ...authHeaders(credentials, req.method, req.path + query, body) },
          body: body || null,
        });
        const text = await res.body.text();
        const code = /"code":"(\d+)"/.exec(text)?.[1] ?? (text.includes('1015') ? '1015' : String(res.statusCode));
        return { priority: req.priority, waitMs: 0, outcome: code === '200000' ? 'ok' : code };
      } catch {
        return { priority: req.priority, waitMs: 0, outcome: 'network' };
      }
    },
    close: () => pool.close(),
  };
}

/** Sleeps `ms`, or less when `signal` aborts; its abort listener goes when the sleep ends (none piles up). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs the bots until `signal` aborts. `scale` multiplies the number of each kind of bot.
 * Returns every request's record.
 */
export async function runBots(sender: Sender, signal: AbortSignal, onRecord: (r: RequestRecord) => void, id = 'bots', scale = 1): Promise<void> {
  let oid = 0;
  const loop = async (make: () => DemoRequest, pauseMs: number) => {
    while (!signal.aborted) {
      onRecord(await sender.send(make(), signal));
      if (pauseMs > 0) await sleep(pauseMs, signal);
    }
  };
  const n = (k: number) => Math.max(1, Math.round(k * scale));
  const symbols = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'];
  await Promise.all([
    // market-data pollers: order book tops (Public pool, weight 2)
    ...Array.from({ length: n(3) }, (_, i) =>
      loop(() => ({ method: 'GET', path: '/api/v1/market/orderbook/level1', query: { symbol: symbols[i % 3]! }, priority: 'low' }), 0),
    ),
    // order placers (Spot, weight 1), each order with a clientOid
    ...Array.from({ length: n(3) }, () =>
      loop(
        () => ({
          method: 'POST',
          path: '/api/v1/hf/orders',
          body: { symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1', clientOid: `${id}-${oid++}` },
          priority: 'high',
        }),
        0,
      ),
    ),
    // open-orders poller (Spot, weight 2)
    ...Array.from({ length: n(1) }, () =>
      loop(() => ({ method: 'GET', path: '/api/v1/hf/orders/active', query: { symbol: 'BTC-USDT' }, priority: 'normal' }), 100),
    ),
    // one account-balance poller (Management, weight 5)
    loop(() => ({ method: 'GET', path: '/api/v1/accounts', priority: 'normal' }), 1000),
    // risk events: every 7 s a burst of 15 cancels (Spot, weight 1)
    (async () => {
      while (!signal.aborted) {
        await sleep(7000, signal);
        if (signal.aborted) break;
        await Promise.all(
          Array.from({ length: 15 }, (_, k) =>
            sender.send({ method: 'DELETE', path: `/api/v1/hf/orders/${id}-${k}`, query: { symbol: 'BTC-USDT' }, priority: 'critical' }, signal).then(onRecord),
          ),
        );
      }
    })(),
  ]);
}
