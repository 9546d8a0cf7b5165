import { readFileSync } from 'node:fs';
import { createRedisStore } from '../store/createRedisStore.js';
import { describeValue, KucoinSchedulerError } from '../errors.js';
import { createProxy, type KucoinProxy } from '../proxy/createProxy.js';
import type { ProxyEvents } from '../proxy/proxyEvents.js';
import type { ProxyOptions } from '../proxy/proxyOptions.js';
import type { ProxyAccount } from '../proxy/accounts.js';
import { WsRedisStore } from '../ws/redis/wsRedisStore.js';
import { CliFailure, UsageError } from './cliErrors.js';
import type { CliIo } from './cliIo.js';
import { numberFlag, parseFlags, redisUrlFlag } from './flags.js';
import { connectRedis, type CliRedis } from './redisConnection.js';

export const PROXY_HELP = `Usage: kucoin-scheduler proxy [options]

A local KuCoin proxy: a bot in any language points its base URL at it and shares the account's quota with
every process of the fleet. Base URLs: http://127.0.0.1:8080/spot, /futures and /broker (or one port per host,
or the Go SDK's X-Proxy-To header). Each request is admitted by the shared scheduler (pool and weight from the
endpoint table; cancels first), forwarded byte for byte, and KuCoin's reply fed back and passed back. A signed
request that cannot be admitted while its KC-API-TIMESTAMP is still good gets a KuCoin-shaped 429000 (not sent,
not charged): the bot's own retry signs it again. One JSON line per refusal, rate-limit signal and signal.

  --redis URL        the deployment's Redis: the quota is shared with every process using it
                     (without it: this process only)
  --prefix P         the RedisStore prefix of the deployment  (default kucoin-scheduler)
  --listen H:P       address and port to listen on  (default 127.0.0.1:8080; bind others only behind a firewall)
  --spot-port N      also serve the spot host alone on port N (whole path forwarded); likewise
  --futures-port N   --futures-port and --broker-port
  --broker-port N
  --account H=U[:V]  an API key by its SHA-256 (printf %s "$KEY" | sha256sum), its UID and VIP level;
                     repeat for several keys (a signed request with another key is refused)
  --ip I             the egress IP identity the fleet uses (its \`ip\` option)  (default default)
  --group G          the quota group (required with several UIDs; default the UID)
  --config FILE      a JSON file with any createProxy option (accounts, upstreams, scheduler: { pools }, limits...);
                     the flags above win
  --drain MS         on SIGTERM or Ctrl-C: how long requests in the proxy may still finish  (default 10000)
  -h, --help         this text
`;

/** A proxy event as one JSON log line: never a key, secret, passphrase or signature (events carry none). */
function logLine(event: string, fields: object): string {
  return `${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`;
}

function parseListen(raw: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d+)$/.exec(raw);
  if (!m) throw new UsageError(`--listen expects HOST:PORT such as 127.0.0.1:8080, got ${JSON.stringify(raw)}`, 'proxy');
  return { host: m[1] ?? m[2]!, port: numberFlag('proxy', 'listen', m[3]!, 0, 65_535, true) };
}

function parseAccount(raw: string): ProxyAccount {
  const m = /^([0-9a-fA-F]{64})=([^:\s]+)(?::(\d+))?$/.exec(raw);
  if (!m) throw new UsageError("--account expects SHA256=UID or SHA256=UID:VIP (the key's SHA-256 in hex, never the key)", 'proxy');
  return { keyHash: m[1]!, uid: m[2]!, ...(m[3] === undefined ? {} : { vipLevel: numberFlag('proxy', 'account', m[3], 0, 12, true) }) };
}

function readConfig(file: string): ProxyOptions {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliFailure(`--config: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as ProxyOptions;
  } catch (error) {
    throw new CliFailure(`--config: ${file} is not a JSON object of proxy options: ${(error as Error).message}`);
  }
}

export async function proxyCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags('proxy', argv, {
    redis: { type: 'string' },
    prefix: { type: 'string', default: 'kucoin-scheduler' },
    listen: { type: 'string' },
    'spot-port': { type: 'string' },
    'futures-port': { type: 'string' },
    'broker-port': { type: 'string' },
    account: { type: 'string', multiple: true },
    ip: { type: 'string' },
    group: { type: 'string' },
    config: { type: 'string' },
    drain: { type: 'string', default: '10000' },
  });
  if (values.help) {
    io.stdout.write(PROXY_HELP);
    return 0;
  }
  const drainMs = numberFlag('proxy', 'drain', String(values.drain), 0, 600_000, true);
  const redisUrl = values.redis === undefined ? undefined : redisUrlFlag('proxy', values.redis);
  const listen = values.listen === undefined ? undefined : parseListen(values.listen);
  const accounts = (values.account as string[] | undefined)?.map(parseAccount);
  const hostPorts: Record<string, number> = {};
  for (const host of ['spot', 'futures', 'broker'] as const) {
    const raw = values[`${host}-port`];
    if (raw !== undefined) hostPorts[host] = numberFlag('proxy', `${host}-port`, raw, 0, 65_535, true);
  }
  const file = values.config === undefined ? {} : readConfig(values.config);
  const prefix = String(values.prefix);
  let client: CliRedis | undefined;
  if (redisUrl) client = await connectRedis(redisUrl);
  const store = client ? createRedisStore({ client, prefix }) : undefined;
  let proxy: KucoinProxy;
  try {
    proxy = await createProxy({
      ...file,
      ...(listen ?? {}),
      ...(Object.keys(hostPorts).length > 0 ? { hostPorts: { ...file.hostPorts, ...hostPorts } } : {}),
      ...(accounts ? { accounts } : {}),
      ...(values.ip === undefined ? {} : { ip: values.ip }),
      ...(values.group === undefined ? {} : { quotaGroup: values.group }),
      ...(client
        ? {
            store: store!,
            websocket: file.websocket === false ? false : { ...file.websocket, store: new WsRedisStore({ client, prefix }) },
            status: { client, prefix },
          }
        : {}),
    });
  } catch (error) {
    await store?.close();
    client?.disconnect();
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') throw new CliFailure(`cannot listen: ${e.message}`);
    if (error instanceof KucoinSchedulerError) throw new UsageError(error.message, 'proxy');
    throw new CliFailure(`the proxy did not start: ${describeValue(error)}`);
  }
  const names: (keyof ProxyEvents)[] = ['refused', 'signal', 'draining', 'closed', 'websocket'];
  for (const name of names) proxy.on(name, (e) => void io.stdout.write(logLine(name, e)));
  io.stdout.write(logLine('listening', { url: proxy.url, hostUrls: proxy.hostUrls, redis: redisUrl ? redisUrl.host : null }));
  if (!redisUrl) io.stderr.write('kucoin-scheduler proxy: no --redis: the quota is shared by this process only\n');
  await new Promise<void>((resolve) => (io.signal.aborted ? resolve() : io.signal.addEventListener('abort', () => resolve(), { once: true })));
  const reason: unknown = io.signal.reason;
  io.stdout.write(logLine('shutdown', { signal: typeof reason === 'string' ? reason : 'abort', drainMs }));
  await proxy.close({ drainMs });
  await store?.close();
  if (client) await client.quit().catch(() => client!.disconnect());
  return 0;
}
