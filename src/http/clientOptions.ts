/** `KucoinClient`'s options: their documented defaults, written once, and their eager validation. */
import { describeValue, InvalidArgumentError, KucoinSchedulerError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { KUCOIN_BASE_URLS } from '../kucoin/hosts.js';
import type { Credentials } from '../kucoin/signing.js';
import { expectOption, numberOption, objectOption } from '../util/optionChecks.js';
import { isSchedulerInstance, type Scheduler } from '../scheduler/scheduler.js';
import type { ErrorActionOptions } from '../send/errorActions.js';
import { TRANSPORT_RETRIES } from '../send/sendDefaults.js';
import { MAX_PATH_LENGTH } from './clientRequest.js';
import { CONNECTIONS_PER_ORIGIN, UPSTREAM_TIMEOUT_MS } from './httpDefaults.js';

/** The largest offset to KuCoin's clock the client believes (1 h). */
export const MAX_CLOCK_OFFSET_MS = 3_600_000;

/** Options of `new KucoinClient(...)`: only `scheduler` is required. */
export interface KucoinClientOptions {
  readonly scheduler: Scheduler;
  /** Needed for private endpoints. Never logged, never part of an error or event. */
  readonly credentials?: Credentials;
  /** `http:` or `https:` URLs (a path prefix allowed), by host. @default KuCoin's production hosts */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Headers and body timeout per attempt, a number > 0 and <= 600_000. @default UPSTREAM_TIMEOUT_MS (10_000) */
  readonly timeoutMs?: number;
  /**
   * Connections per origin, an integer 1..1024. An admitted request that waits for a free connection reaches the
   * server late, so this must carry the quota at the path's latency: 64 carry about 400 requests/s at 150 ms.
   * @default CONNECTIONS_PER_ORIGIN (64)
   */
  readonly connections?: number;
  /**
   * Transport retries (timeouts, resets, 5xx) of requests that are safe to repeat: reads, and orders with a
   * clientOid. An integer 0..10. @default TRANSPORT_RETRIES (2)
   */
  readonly transportRetries?: number;
  /**
   * Extra headers sent with every request (e.g. an identification header for your proxy): string values.
   * Not the signing headers (`KC-API-*`) nor those the transport sets (`host`, `content-length`...).
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The local clock signing uses (ms since the epoch). After a 400002 the client learns its offset to KuCoin's
   * clock (`GET /api/v1/timestamp`, scheduled like any request) and signs with `clock() + offset`. @default Date.now
   */
  readonly clock?: () => number;
  /**
   * The largest offset to KuCoin's clock the client believes, in ms (1_000..604_800_000). A server time further
   * from the local clock, or not a number of ms between 2020 and 2100, is not adopted (`ClockSyncError`).
   * @default MAX_CLOCK_OFFSET_MS (3_600_000, 1 h)
   */
  readonly maxClockOffsetMs?: number;
  /** Timings of the actions on KuCoin's codes (key circuit, 501000 host pause, retry-later backoff). @default see ErrorActionOptions */
  readonly errorActions?: ErrorActionOptions;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;
/** Headers the transport or the signing sets: an extra header may not name them. */
const RESERVED_HEADER = /^(host|content-length|transfer-encoding|connection|keep-alive|upgrade|expect|te|trailer|kc-api-.*)$/i;

/** The client options, each read and checked once. */
export interface ResolvedClientOptions {
  readonly scheduler: Scheduler;
  readonly credentials: Credentials | undefined;
  readonly baseUrls: Record<HostName, string>;
  readonly timeoutMs: number;
  readonly connections: number;
  readonly transportRetries: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly clock: () => number;
  readonly maxClockOffsetMs: number;
  readonly errorActions: ErrorActionOptions | undefined;
}

/** Validates every client option eagerly (each read once); a malformed one is an InvalidArgumentError naming it. */
export function resolveClientOptions(options: KucoinClientOptions): ResolvedClientOptions {
  try {
    expectOption(options !== null && typeof options === 'object', 'the client options', 'an object with at least `scheduler`', options);
    const scheduler: unknown = options.scheduler;
    if (!isSchedulerInstance(scheduler)) {
      throw new InvalidArgumentError(`Expected options.scheduler to be a Scheduler (createScheduler(...)), got ${describeValue(scheduler)}`);
    }
    const baseUrls: Record<HostName, string> = { ...KUCOIN_BASE_URLS };
    for (const [host, url] of Object.entries(objectOption('baseUrls', options.baseUrls) ?? {})) {
      if (!Object.hasOwn(KUCOIN_BASE_URLS, host))
        throw new InvalidArgumentError(`Expected baseUrls keys to be spot, futures or broker, got ${describeValue(host)}`);
      if (url !== undefined) baseUrls[host as HostName] = baseUrl(`baseUrls.${host}`, url);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(objectOption('headers', options.headers) ?? {})) {
      expectOption(
        HEADER_NAME.test(name) && !RESERVED_HEADER.test(name),
        `headers[${describeValue(name)}]`,
        'a header name that the transport or signing does not set',
        name,
      );
      expectOption(
        typeof value === 'string' && value.length <= MAX_PATH_LENGTH && HEADER_VALUE.test(value),
        `headers[${describeValue(name)}]`,
        'a string of header characters (no CR, LF or NUL)',
        value,
      );
      headers[name] = value as string;
    }
    return {
      scheduler,
      credentials: resolveCredentials(options.credentials),
      baseUrls,
      timeoutMs: numberOption('timeoutMs', options.timeoutMs ?? UPSTREAM_TIMEOUT_MS, { min: 0, max: 600_000, above: true }),
      connections: numberOption('connections', options.connections ?? CONNECTIONS_PER_ORIGIN, { min: 1, max: 1024, integer: true }),
      transportRetries: numberOption('transportRetries', options.transportRetries ?? TRANSPORT_RETRIES, { min: 0, max: 10, integer: true }),
      headers,
      clock: functionOption('clock', options.clock) ?? Date.now,
      maxClockOffsetMs: numberOption('maxClockOffsetMs', options.maxClockOffsetMs ?? MAX_CLOCK_OFFSET_MS, { min: 1_000, max: 604_800_000 }),
      errorActions: objectOption('errorActions', options.errorActions) as ErrorActionOptions | undefined,
    };
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected readable client options, but reading them threw ${describeValue(error)}`, { cause: error });
  }
}

function functionOption<F>(name: string, value: unknown): F | undefined {
  expectOption(value === undefined || typeof value === 'function', name, 'a function', value);
  return value as F | undefined;
}

function baseUrl(name: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' && value.length <= 2048 ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  // never echo a URL that carries credentials
  const shown = url && (url.username || url.password) ? 'a URL with credentials' : value;
  expectOption(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !url.search && !url.hash,
    name,
    'an http: or https: URL without credentials, query or fragment',
    shown,
  );
  return value as string;
}

/** Credentials are checked for shape only: no value of theirs ever appears in a message. */
function resolveCredentials(value: unknown): Credentials | undefined {
  if (value === undefined || value === null) return undefined;
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`Expected credentials { key, secret, passphrase } as non-empty strings without control characters: ${what}`);
  };
  if (typeof value !== 'object') fail(`got ${typeof value}`);
  const c = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of ['key', 'secret', 'passphrase'] as const) {
    const v = c[field];
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024 || /[\p{Cc}]/u.test(v))
      fail(`${field} is ${typeof v === 'string' ? 'malformed' : typeof v}`);
    out[field] = v;
  }
  const keyVersion = c.keyVersion;
  if (keyVersion !== undefined && !['1', '2', '3', 1, 2, 3].includes(keyVersion as string))
    fail(`keyVersion must be 1, 2 or 3, got ${describeValue(keyVersion)}`);
  if (keyVersion !== undefined) out.keyVersion = keyVersion;
  return out as unknown as Credentials;
}
