import { isIP } from 'node:net';
import { MemoryStore } from '../store/memoryStore.js';
import type { Store } from '../store/types.js';
import { describeValue, InvalidArgumentError, KucoinSchedulerError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { KUCOIN_BASE_URLS } from '../kucoin/hosts.js';
import type { SchedulerOptions } from '../scheduler/options.js';
import { expectOption, numberOption, objectOption } from '../util/optionChecks.js';
import { CONNECTIONS_PER_ORIGIN, UPSTREAM_TIMEOUT_MS } from '../http/httpDefaults.js';
import type { ProxyAccount } from './accounts.js';
import { HOST_NAMES } from './routing.js';
import type { ProxyStatusOptions } from './proxyStatus.js';
import type { ProxyWsOptions } from './ws/wsRelayOptions.js';

/** The scheduler options the proxy passes to every account's scheduler (all but those the proxy sets itself). */
export type ProxySchedulerOptions = Omit<SchedulerOptions, 'uid' | 'store' | 'ip' | 'quotaGroup' | 'vipLevel'>;

/** Options of `createProxy(...)`: the accounts, the listeners, and the scheduler options of every account. */
export interface ProxyOptions {
  /** Address the listeners bind to. Bind another only behind a firewall: the proxy does not authenticate bots. @default '127.0.0.1' */
  readonly host?: string;
  /** Port of the main listener (`/spot`, `/futures`, `/broker`, `X-Proxy-To`, `/metrics`, `/healthz`, WebSocket relay); 0 picks a free one. @default 8080 */
  readonly port?: number;
  /** A listener of its own per KuCoin host, whose whole target goes to that host (for clients that cannot add a path prefix). @default {} */
  readonly hostPorts?: Partial<Record<HostName, number>>;
  /**
   * Where each host's requests go, as `http(s)://host[:port]` origins. With KuCoin's production hostnames they are the
   * allow-list: any other target is refused. @default KuCoin's production hosts (api.kucoin.com, api-futures..., api-broker...)
   */
  readonly upstreams?: Partial<Record<HostName, string>>;
  /** The accounts served: each API key (by its SHA-256) with its UID. A signed request with another key is refused. @default [] */
  readonly accounts?: readonly ProxyAccount[];
  /** Where the quota state lives: a RedisStore (or createRedisStore) shares it with every process of the fleet. @default a new MemoryStore (this process only) */
  readonly store?: Store;
  /** The egress IP identity (the Public pool and Cloudflare's limit), as the fleet's other processes set it. @default the scheduler's ('default') */
  readonly ip?: string;
  /**
   * The quota group of every account's scheduler. Required with several UIDs (their Public and Cloudflare buckets
   * must be one); with one it defaults to that UID, as the library's own default, so library bots share with the proxy.
   * @default the UID of the only account, or 'public' without accounts
   */
  readonly quotaGroup?: string;
  /** Every other scheduler option (pools, cloudflare, shares, maxQueued, feedback...), for every account. @default {} */
  readonly scheduler?: ProxySchedulerOptions;
  /** How far from KuCoin's clock a KC-API-TIMESTAMP may be before KuCoin refuses it (400002). @default 5_000 */
  readonly timestampWindowMs?: number;
  /**
   * Kept out of that window for the way to KuCoin (transit, clock skew): a signed request is forwarded only until
   * KC-API-TIMESTAMP + timestampWindowMs - timestampMarginMs, else answered locally with a 429000. @default 1_000
   */
  readonly timestampMarginMs?: number;
  /** Longest wait for admission of an unsigned request (market data); then a local 429000. @default 5_000 */
  readonly unsignedMaxWaitMs?: number;
  /** Requests in the proxy at once (waiting or forwarded); more get a 503 `KS_PROXY_BUSY`. @default 1_024 */
  readonly maxInFlight?: number;
  /** Largest request head (request line and headers), in bytes; more get a 431. @default 16_384 */
  readonly maxHeaderBytes?: number;
  /** Largest request body, in bytes; more get a 413. @default 1_048_576 */
  readonly maxBodyBytes?: number;
  /** Largest reply from KuCoin, in bytes; more get a 502. @default 67_108_864 */
  readonly maxReplyBytes?: number;
  /** A request's head must arrive within this (slowloris). @default 10_000 */
  readonly headersTimeoutMs?: number;
  /** A request must arrive whole (head and body) within this. @default 30_000 */
  readonly requestTimeoutMs?: number;
  /** An idle keep-alive connection from a bot is closed after this. @default 5_000 */
  readonly keepAliveTimeoutMs?: number;
  /** KuCoin must answer (headers, then body) within this; else a 504, and the request is not sent again. @default UPSTREAM_TIMEOUT_MS (10_000) */
  readonly upstreamTimeoutMs?: number;
  /** Connections per upstream origin (keep-alive). @default CONNECTIONS_PER_ORIGIN (64) */
  readonly connections?: number;
  /** Serve `/metrics` (prom-client, an optional peer dependency, loaded when the proxy starts). @default true */
  readonly metrics?: boolean;
  /** The WebSocket relay (bullet tokens rewritten to the proxy, budgets held for the fleet); false turns it off. @default {} (on) */
  readonly websocket?: ProxyWsOptions | false;
  /**
   * The proxy's address as bots reach it, for the WebSocket endpoints written into token replies.
   * @default http://<host>:<port> of the main listener
   */
  readonly advertisedUrl?: string;
  /** Publish this proxy's traffic to Redis for `kucoin-scheduler status`. @default off */
  readonly status?: ProxyStatusOptions;
}

export interface ResolvedProxyOptions {
  readonly host: string;
  readonly port: number;
  readonly hostPorts: Readonly<Partial<Record<HostName, number>>>;
  readonly upstreams: Readonly<Record<HostName, string>>;
  readonly accounts: readonly ProxyAccount[];
  readonly store: Store;
  readonly ownsStore: boolean;
  /** Scheduler options shared by every account (store, ip, quota group and the rest). */
  readonly scheduler: Omit<SchedulerOptions, 'uid' | 'vipLevel'>;
  /** The UID of the scheduler of unsigned requests when no account is configured. */
  readonly publicUid: string;
  readonly timestampWindowMs: number;
  readonly timestampMarginMs: number;
  readonly unsignedMaxWaitMs: number;
  readonly maxInFlight: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly maxReplyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly connections: number;
  readonly metrics: boolean;
  readonly websocket: ProxyWsOptions | false;
  readonly advertisedUrl: string | undefined;
  readonly status: ProxyStatusOptions | undefined;
}

const MS = (max: number) => ({ min: 1, max, integer: true });
const PORT = { min: 0, max: 65_535, integer: true };

function origin(name: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' && value.length <= 2048 ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  expectOption(
    url !== undefined &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      !url.username &&
      !url.password &&
      (url.pathname === '/' || url.pathname === '') &&
      !url.search &&
      !url.hash,
    name,
    'an http: or https: origin (scheme, host and port only)',
    url && (url.username || url.password) ? 'a URL with credentials' : value,
  );
  return url!.origin;
}

/** Every option read once, validated eagerly, defaults applied here. A bad one is an InvalidArgumentError naming it. */
export function resolveProxyOptions(options: ProxyOptions = {}): ResolvedProxyOptions {
  try {
    return resolve(options);
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected readable proxy options, but reading them threw ${describeValue(error)}`, { cause: error });
  }
}

function resolve(options: ProxyOptions): ResolvedProxyOptions {
  expectOption(options !== null && typeof options === 'object', 'the proxy options', 'an object', options);
  const host = options.host ?? '127.0.0.1';
  expectOption(typeof host === 'string' && (isIP(host) !== 0 || host === 'localhost'), 'host', 'an IP address to bind (or localhost)', host);
  const upstreams: Record<HostName, string> = { ...KUCOIN_BASE_URLS };
  for (const [name, url] of Object.entries(objectOption('upstreams', options.upstreams) ?? {})) {
    expectOption((HOST_NAMES as readonly string[]).includes(name), `upstreams[${describeValue(name)}]`, 'spot, futures or broker', name);
    if (url !== undefined) upstreams[name as HostName] = origin(`upstreams.${name}`, url);
  }
  const hostPorts: Partial<Record<HostName, number>> = {};
  for (const [name, port] of Object.entries(objectOption('hostPorts', options.hostPorts) ?? {})) {
    expectOption((HOST_NAMES as readonly string[]).includes(name), `hostPorts[${describeValue(name)}]`, 'spot, futures or broker', name);
    if (port !== undefined) hostPorts[name as HostName] = numberOption(`hostPorts.${name}`, port, PORT);
  }
  const accounts = options.accounts ?? [];
  expectOption(Array.isArray(accounts), 'accounts', 'an array of { keyHash, uid, vipLevel? }', accounts);
  const uids = new Set(accounts.map((a) => String((a as { uid?: unknown } | null)?.uid)));
  if (uids.size > 1 && options.quotaGroup === undefined) {
    throw new InvalidArgumentError(
      'Expected quotaGroup with accounts of several UIDs: their Public and Cloudflare buckets must be one (set the same quotaGroup in every process of the fleet)',
    );
  }
  const scheduler = objectOption('scheduler', options.scheduler) ?? {};
  for (const owned of ['uid', 'store', 'ip', 'quotaGroup', 'vipLevel']) {
    expectOption(!(owned in scheduler), `scheduler.${owned}`, 'left unset (the proxy sets it: use the proxy option or the account)', scheduler[owned]);
  }
  const givenStore = options.store ?? undefined;
  const store = givenStore ?? new MemoryStore();
  const websocket = options.websocket ?? {};
  expectOption(websocket === false || (typeof websocket === 'object' && !Array.isArray(websocket)), 'websocket', 'false or an object', websocket);
  const advertisedUrl = options.advertisedUrl === undefined ? undefined : origin('advertisedUrl', options.advertisedUrl);
  const status = objectOption('status', options.status) as ProxyStatusOptions | undefined;
  expectOption(options.metrics === undefined || typeof options.metrics === 'boolean', 'metrics', 'a boolean', options.metrics);
  const headersTimeoutMs = numberOption('headersTimeoutMs', options.headersTimeoutMs ?? 10_000, MS(600_000));
  const requestTimeoutMs = numberOption('requestTimeoutMs', options.requestTimeoutMs ?? 30_000, MS(600_000));
  expectOption(requestTimeoutMs >= headersTimeoutMs, 'requestTimeoutMs', `at least headersTimeoutMs (${headersTimeoutMs})`, requestTimeoutMs);
  return {
    host,
    port: numberOption('port', options.port ?? 8080, PORT),
    hostPorts,
    upstreams,
    accounts,
    store,
    ownsStore: givenStore === undefined,
    scheduler: {
      ...(scheduler as ProxySchedulerOptions),
      store,
      ...(options.ip === undefined ? {} : { ip: options.ip }),
      ...(options.quotaGroup === undefined ? {} : { quotaGroup: options.quotaGroup }),
    },
    publicUid: 'public',
    timestampWindowMs: numberOption('timestampWindowMs', options.timestampWindowMs ?? 5_000, MS(60_000)),
    timestampMarginMs: numberOption('timestampMarginMs', options.timestampMarginMs ?? 1_000, { min: 0, max: 60_000, integer: true }),
    unsignedMaxWaitMs: numberOption('unsignedMaxWaitMs', options.unsignedMaxWaitMs ?? 5_000, { min: 0, max: 600_000, integer: true }),
    maxInFlight: numberOption('maxInFlight', options.maxInFlight ?? 1_024, MS(1_000_000)),
    maxHeaderBytes: numberOption('maxHeaderBytes', options.maxHeaderBytes ?? 16_384, { min: 1_024, max: 1_048_576, integer: true }),
    maxBodyBytes: numberOption('maxBodyBytes', options.maxBodyBytes ?? 1_048_576, { min: 0, max: 1_073_741_824, integer: true }),
    maxReplyBytes: numberOption('maxReplyBytes', options.maxReplyBytes ?? 67_108_864, { min: 1_024, max: 1_073_741_824, integer: true }),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: numberOption('keepAliveTimeoutMs', options.keepAliveTimeoutMs ?? 5_000, MS(600_000)),
    upstreamTimeoutMs: numberOption('upstreamTimeoutMs', options.upstreamTimeoutMs ?? UPSTREAM_TIMEOUT_MS, MS(600_000)),
    connections: numberOption('connections', options.connections ?? CONNECTIONS_PER_ORIGIN, MS(1024)),
    metrics: options.metrics ?? true,
    websocket,
    advertisedUrl,
    status,
  };
}
