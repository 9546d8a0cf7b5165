/**
 * kucoin-universal-sdk integration: every SDK call is scheduled with its endpoint's pool and weight and
 * its reply fed back (headers and signals), through the SDK's own transport interceptors (axios).
 *
 * ```ts
 * const transport = withKucoinScheduler(new TransportOptionBuilder(), { scheduler, credentials }).build();
 * ```
 * The SDK is not imported here: the types below are the structural shape of its `Interceptor`.
 */
import { createRequire } from 'node:module';
import type { Priority } from '../store/types.js';
import type { GatewayReply } from '../kucoin/errorFeedback.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { hostsByOrigin } from '../kucoin/hosts.js';
import { authHeaders, keyIdOf, type Credentials } from '../kucoin/signing.js';
import type { IntegrationOptions } from './integrationOptions.js';
import { sendWithAttempts } from '../send/attemptLoop.js';
import { TRANSPORT_RETRIES } from '../send/sendDefaults.js';
import { isSafeToRepeat } from '../send/safeToRepeat.js';
import { callPriority, defaultPriority } from './callPriority.js';

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

/** Options of `withKucoinScheduler` / `kucoinSdkInterceptor` (kucoin-universal-sdk). */
export interface KucoinSdkSchedulingOptions extends IntegrationOptions {
  /** The endpoints the SDK was given (`setSpotEndpoint`...), to tell spot from futures. @default KuCoin's hosts */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Priority of a call (`withPriority(...)` around a call overrides it). @default DELETE critical, POST high, anything else normal */
  readonly priorityOf?: (method: string, path: string) => Priority;
  /**
   * The SDK signs before the interceptor runs and KuCoin refuses a timestamp more than 5 s old: with the
   * credentials, a call that waited for admission is signed again at send time.
   */
  readonly credentials?: Credentials;
}

const RESIGN_AFTER_MS = 1_000;

function setHeader(config: SdkRequestConfig, name: string, value: string): void {
  if (typeof config.headers?.set === 'function') config.headers.set(name, value);
  else config.headers = { ...config.headers, [name]: value };
}

type Adapter = (config: SdkRequestConfig) => Promise<SdkResponse>;
let axiosAdapters: ((names: unknown) => Adapter) | undefined;

/**
 * The adapter axios would use for `config.adapter` (a function, or names like `['xhr', 'http', 'fetch']`),
 * resolved with the axios the SDK itself loads (the SDK is installed wherever this integration is used).
 */
function adapterOf(config: SdkRequestConfig): Adapter {
  if (typeof config.adapter === 'function') return config.adapter as Adapter;
  if (!axiosAdapters) {
    const require = createRequire(import.meta.url);
    const axios = createRequire(require.resolve('kucoin-universal-sdk'))('axios') as {
      getAdapter: (names: unknown) => Adapter;
      default?: { getAdapter: (names: unknown) => Adapter };
    };
    const getAdapter = axios.getAdapter ?? axios.default?.getAdapter;
    axiosAdapters = (names) => getAdapter(names);
  }
  return axiosAdapters(config.adapter ?? ['http']);
}

const replyOfResponse = (response: { status: number; headers: unknown; data: unknown } | undefined): GatewayReply | undefined =>
  response && typeof response === 'object' && typeof response.status === 'number'
    ? { status: response.status, headers: response.headers as never, body: response.data }
    : undefined;

/**
 * Interceptors for `TransportOptionBuilder.addInterceptor(...)`. The request interceptor hands axios an adapter
 * that runs the attempt loop (src/send/attemptLoop.ts) around the SDK's own: each send is admitted with its
 * endpoint's pool and weight, (re)signed at send time, and its reply fed back before axios-retry or the SDK
 * see it. A refusal (429000, 1015, 200002...) was not executed and is sent again, a cancel too; after a
 * timeout or a 5xx only reads and orders with a clientOid are sent again. axios-retry is turned off for the
 * request (`retries: 0`): it would re-send refusals unscheduled and unseen, and DELETEs that may have run.
 */
export function kucoinSdkInterceptor(options: KucoinSdkSchedulingOptions): SdkInterceptor {
  const { scheduler } = options;
  const hosts = hostsByOrigin(options.baseUrls);
  const priorityOf = options.priorityOf ?? defaultPriority;
  const transportRetries = options.transportRetries ?? TRANSPORT_RETRIES;

  return {
    before: {
      onFulfilled: async (config) => {
        const method = (config.method ?? 'GET').toUpperCase();
        const url = new URL(String(config.url));
        const priority = callPriority() ?? priorityOf(method, url.pathname);
        const original = adapterOf(config);
        const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
        // the loop below is the only one that re-sends: axios-retry would re-send refusals behind the scheduler's back
        config['axios-retry'] = { ...(config['axios-retry'] as object | undefined), retries: 0 };
        config.adapter = async (cfg: SdkRequestConfig) => {
          const queuedAt = Date.now();
          const done = await sendWithAttempts(
            scheduler,
            {
              schedule: {
                endpoint: `${method} ${url.pathname}`,
                host: hosts.get(url.host) ?? 'spot',
                priority,
                ...(signal ? { signal } : {}),
                ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}),
                ...(options.credentials ? { keyId: keyIdOf(options.credentials.key) } : {}),
              },
              safeToRepeat: isSafeToRepeat(method, cfg.data),
              send: (admission) => {
                // KuCoin refuses a timestamp more than 5 s old: sign again what waited or is sent again
                if (options.credentials && (admission.attempt > 1 || Date.now() - queuedAt > RESIGN_AFTER_MS)) {
                  const body = typeof cfg.data === 'string' ? cfg.data : '';
                  const signedPath = url.pathname + (url.search ? decodeURIComponent(url.search) : '');
                  const signed = authHeaders({ keyVersion: '3', ...options.credentials }, method, signedPath, body);
                  for (const name of ['KC-API-TIMESTAMP', 'KC-API-SIGN'] as const) setHeader(cfg, name, signed[name]!);
                }
                return original(cfg);
              },
              replyOf: replyOfResponse,
              replyOfError: (error) => replyOfResponse((error as { response?: SdkResponse } | null)?.response),
            },
            { transportRetries },
          );
          return done.value;
        };
        return config;
      },
      onRejected: null,
    },
    after: {
      // every reply was fed back inside the adapter, before axios-retry's interceptor could swallow it
      onFulfilled: async (response) => response,
      onRejected: async (error) => {
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
