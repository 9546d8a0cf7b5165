import { request } from 'undici';
import { apiKeyHash, createProxy, type KucoinProxy, type ProxyOptions } from '../../src/index.js';
import { authHeaders, type Credentials } from '../../src/kucoin/signing.js';
import { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from '../../src/simulator/gatewaySimulator.js';

export const KEY: Credentials = { key: 'proxy-key-1', secret: 'proxy-secret-1', passphrase: 'proxy-pass-1' };
export const UID = 'proxy-uid';

export interface ProxyBed {
  readonly sim: GatewaySimulator;
  readonly proxy: KucoinProxy;
  close(): Promise<void>;
}

/** The simulator (the upstream of every host) and a proxy in front of it, serving KEY's account. */
export async function proxyBed(simOptions: GatewaySimulatorOptions = {}, proxyOptions: ProxyOptions = {}): Promise<ProxyBed> {
  const sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: UID }], recordHeaders: true, ...simOptions });
  const proxy = await createProxy({
    port: 0,
    upstreams: sim.urls,
    accounts: [{ keyHash: apiKeyHash(KEY.key), uid: UID }],
    metrics: false,
    ...proxyOptions,
  });
  return {
    sim,
    proxy,
    async close() {
      await proxy.close({ drainMs: 0 });
      await sim.close();
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: { code?: string; msg?: string; data?: unknown } | undefined;
  readonly text: string;
}

/** One request as a bot sends it: signed with `credentials` (at `signedAt`; the target less its /spot prefix, or `signedTarget`) when given. */
export async function send(
  url: string,
  method: string,
  target: string,
  options: { credentials?: Credentials; body?: string; signedAt?: number; headers?: Record<string, string>; signedTarget?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.credentials)
    Object.assign(
      headers,
      authHeaders(
        options.credentials,
        method,
        options.signedTarget ?? target.replace(/^\/(spot|futures|broker)\//, '/'),
        options.body ?? '',
        options.signedAt ?? Date.now(),
      ),
    );
  const res = await request(`${url}${target}`, { method: method as 'GET', headers, body: options.body });
  const text = await res.body.text();
  let json;
  try {
    json = JSON.parse(text) as Reply['json'];
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

/** Writes raw bytes to a listener and reads one response, or until the server closes (or `ms` passes): what a hostile client sees. */
export async function rawExchange(url: string, chunks: readonly (string | { waitMs: number })[], ms = 5_000): Promise<{ text: string; closed: boolean }> {
  const { connect } = await import('node:net');
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), ms);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      // one whole response read: done (the server may keep the connection open)
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1];
      if (end >= 0 && length !== undefined && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'string') socket.write(c, 'latin1');
        else await new Promise((r) => setTimeout(r, c.waitMs));
        if (done) return;
      }
    });
  });
}
