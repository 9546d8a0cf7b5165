/**
 * kucoin-universal-sdk integration: every SDK call is scheduled with its endpoint's pool and weight and
 * its reply fed back (headers and signals), through the SDK's own transport interceptors (axios).
 *
 * ```ts
 * const transport = withKucoinScheduler(new TransportOptionBuilder(), { scheduler, credentials }).build();
 * ```
 * The SDK is not imported here: the types below are the structural shape of its `Interceptor`.
 */
import type { Admission } from '../admission.js';
import type { Priority } from '../buckets/types.js';
import { KucoinRequestError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { authHeaders, type Credentials } from '../kucoin/signing.js';
import type { Scheduler } from '../scheduler.js';

/** The parts of an axios request config the interceptor reads and writes. */
export interface SdkRequestConfig {
  method?: string;
  url?: string;
  data?: unknown;
  headers?: Record<string, unknown> & { set?: (name: string, value: string) => unknown };
  [key: string]: unknown;
}

interface SdkResponse {
  status: number;
  headers: unknown;
  data: unknown;
  config: SdkRequestConfig;
}

/** The shape of kucoin-universal-sdk's `Interceptor` (`model/transport_option.d.ts`). */
export interface SdkInterceptor {
  before: { onFulfilled: (config: SdkRequestConfig) => Promise<SdkRequestConfig>; onRejected: null };
  after: { onFulfilled: (response: SdkResponse) => Promise<SdkResponse>; onRejected: (error: unknown) => Promise<never> };
}

export interface KucoinSdkSchedulingOptions {
  readonly scheduler: Scheduler;
  /** The endpoints the SDK was given (`setSpotEndpoint`...), to tell spot from futures. @default KuCoin's hosts */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Priority of a call. @default DELETE critical, POST high, anything else normal */
  readonly priorityOf?: (method: string, path: string) => Priority;
  /**
   * The SDK signs before the interceptor runs and KuCoin refuses a timestamp more than 5 s old: with the
   * credentials, a call that waited for admission is signed again at send time.
   */
  readonly credentials?: Credentials;
  /** Longest wait for admission. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
}

const ADMISSION = Symbol('kucoin-scheduler admission');
const DEFAULT_HOSTS: Readonly<Record<string, HostName>> = { 'api.kucoin.com': 'spot', 'api-futures.kucoin.com': 'futures', 'api-broker.kucoin.com': 'broker' };
const RESIGN_AFTER_MS = 1_000;

const defaultPriority = (method: string): Priority => (method === 'DELETE' ? 'critical' : method === 'POST' ? 'high' : 'normal');

function hasClientOid(data: unknown): boolean {
  if (typeof data !== 'string') return typeof (data as { clientOid?: unknown } | undefined)?.clientOid === 'string';
  try {
    return typeof (JSON.parse(data) as { clientOid?: unknown }).clientOid === 'string';
  } catch {
    return false;
  }
}

function setHeader(config: SdkRequestConfig, name: string, value: string): void {
  if (typeof config.headers?.set === 'function') config.headers.set(name, value);
  else config.headers = { ...config.headers, [name]: value };
}

/** Interceptors for `TransportOptionBuilder.addInterceptor(...)`. */
export function kucoinSdkInterceptor(options: KucoinSdkSchedulingOptions): SdkInterceptor {
  const { scheduler } = options;
  const hosts = new Map<string, HostName>(Object.entries(DEFAULT_HOSTS));
  for (const [host, url] of Object.entries(options.baseUrls ?? {})) hosts.set(new URL(url).host, host as HostName);
  const priorityOf = options.priorityOf ?? defaultPriority;

  return {
    before: {
      onFulfilled: async (config) => {
        const method = (config.method ?? 'GET').toUpperCase();
        const url = new URL(String(config.url));
        const retry = (config['axios-retry'] as { retryCount?: number } | undefined)?.retryCount ?? 0;
        if (retry > 0 && method !== 'GET' && !hasClientOid(config.data)) {
          // the SDK retries POSTs after timeouts and 5xx: the first may have been executed
          throw new KucoinRequestError(method, url.pathname, retry + 1, new Error('refused to send a non-idempotent request again without a clientOid (it may have been executed)'));
        }
        const queuedAt = Date.now();
        const admission = await scheduler.schedule(
          { endpoint: `${method} ${url.pathname}`, host: hosts.get(url.host) ?? 'spot', priority: priorityOf(method, url.pathname), ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}) },
          (a: Admission) => a,
        );
        Object.defineProperty(config, ADMISSION, { value: admission, enumerable: false, configurable: true });
        if (options.credentials && Date.now() - queuedAt > RESIGN_AFTER_MS) {
          const body = typeof config.data === 'string' ? config.data : '';
          const signedPath = url.pathname + (url.search ? decodeURIComponent(url.search) : '');
          const signed = authHeaders({ keyVersion: '3', ...options.credentials }, method, signedPath, body);
          for (const name of ['KC-API-TIMESTAMP', 'KC-API-SIGN'] as const) setHeader(config, name, signed[name]!);
        }
        return config;
      },
      onRejected: null,
    },
    after: {
      onFulfilled: async (response) => {
        const admission = (response.config as Record<symbol, unknown> | undefined)?.[ADMISSION] as Admission | undefined;
        if (admission) await scheduler.feedback(admission, { status: response.status, headers: response.headers as never, body: response.data }).catch(() => undefined);
        return response;
      },
      onRejected: async (error) => {
        const e = error as { config?: SdkRequestConfig; response?: { status: number; headers: unknown; data: unknown } };
        const admission = (e.config as Record<symbol, unknown> | undefined)?.[ADMISSION] as Admission | undefined;
        if (admission && e.response) await scheduler.feedback(admission, { status: e.response.status, headers: e.response.headers as never, body: e.response.data }).catch(() => undefined);
        throw error;
      },
    },
  };
}

const OURS = Symbol('kucoin-scheduler interceptor');

/**
 * The one call: gives a kucoin-universal-sdk `TransportOptionBuilder` the scheduling interceptors.
 *
 * kucoin-universal-sdk 1.3.0's builders all share one interceptor list (`{ ...DEFAULT_TRANSPORT_OPTION }`
 * is a shallow copy and `addInterceptor` pushes into it), so an interceptor added to one builder reaches
 * every SDK client of the process: account B's calls would be scheduled on account A's quota. This sets a
 * list of the builder's own instead: the interceptors already there minus other schedulers', plus this one.
 */
export function withKucoinScheduler<B extends { setInterceptors(interceptors: never): B }>(builder: B, options: KucoinSdkSchedulingOptions): B {
  const current = ((builder as { option?: { interceptors?: unknown[] } }).option?.interceptors ?? []).filter((i) => !(i as Record<symbol, unknown>)[OURS]);
  const ours = Object.defineProperty(kucoinSdkInterceptor(options), OURS, { value: true });
  return builder.setInterceptors([...current, ours] as never);
}
