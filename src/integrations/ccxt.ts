/**
 * ccxt integration, in one call: every request a ccxt `kucoin` or `kucoinfutures` instance makes (unified
 * methods and implicit API alike) is scheduled with its real KuCoin pool and weight, found by host, method
 * and path, through the one attempt loop (src/send/attemptLoop.ts).
 *
 * ```ts
 * const exchange = withCcxtScheduler(new ccxt.kucoin({ apiKey, secret, password }), { scheduler });
 * await withPriority('critical', () => exchange.cancelOrder(id, 'BTC/USDT'));
 * ```
 *
 * - ccxt's own throttle is turned off (`enableRateLimit = false`): the scheduler is the only limiter.
 * - The instance's `fetchImplementation` runs the loop: admission, send, every reply fed back (headers,
 *   429000, 1015 with its Retry-After, 200002...), and a refused request sent again, signed afresh through the
 *   exchange's own `sign()`, before ccxt sees an error. After a timeout or a 5xx only reads and orders with a
 *   clientOid are sent again (ccxt's kucoin gives every order one).
 * - Priority: `withPriority(...)` around a call, else `priorityOf` (cancels critical by default).
 *
 * ccxt is not imported here: the types below are the structural shape of the parts used.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Priority } from '../store/types.js';
import { describeValue, InvalidArgumentError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { hostsByOrigin } from '../kucoin/hosts.js';
import { isSchedulerInstance } from '../scheduler/scheduler.js';
import type { IntegrationOptions } from './integrationOptions.js';
import { sendWithAttempts } from '../send/attemptLoop.js';
import { TRANSPORT_RETRIES } from '../send/sendDefaults.js';
import { isSafeToRepeat } from '../send/safeToRepeat.js';
import { callPriority } from './callPriority.js';

/** The parts of a ccxt Exchange the integration reads and replaces. */
export interface CcxtExchangeLike {
  readonly id: string;
  enableRateLimit: boolean;
  timeout: number;
  fetchImplementation: unknown;
  // method syntax: ccxt's own parameter types (Dict...) are accepted as they are
  fetch2(path: unknown, api?: unknown, method?: string, params?: unknown, headers?: unknown, body?: unknown, config?: unknown): Promise<unknown>;
  sign(path: unknown, api?: unknown, method?: string, params?: unknown, headers?: unknown, body?: unknown): object;
}

/** What ccxt's `sign()` returns. */
interface SignedRequest {
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** Options of `withCcxtScheduler` (ccxt's kucoin and kucoinfutures). */
export interface CcxtSchedulingOptions extends IntegrationOptions {
  /** Base URLs the exchange was pointed at (`exchange.urls.api`), by KuCoin host. @default KuCoin's hosts */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Priority of a request (`withPriority(...)` around a call overrides it). @default cancels critical, other POSTs high, the rest normal */
  readonly priorityOf?: (method: string, path: string, host: HostName) => Priority;
  /** The fetch that sends. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** Exchanges whose hosts and paths are KuCoin's. */
export const CCXT_EXCHANGES: readonly string[] = ['kucoin', 'kucoinfutures'];

/** Cancels are critical: a DELETE, or a POST to a cancel path. */
export function ccxtDefaultPriority(method: string, path: string): Priority {
  if (method === 'DELETE' || /cancel/i.test(path)) return 'critical';
  return method === 'POST' ? 'high' : 'normal';
}

/** The arguments of the running `fetch2`, so a re-send can be signed again. */
interface CallContext {
  readonly args: readonly unknown[];
}

interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeout?: number;
}

const OURS = Symbol('kucoin-scheduler ccxt');

/**
 * The one call: schedules every request of a ccxt `kucoin` / `kucoinfutures` instance. Returns the same
 * instance. Calling it again replaces the scheduler (one scheduler per exchange instance).
 */
export function withCcxtScheduler<E extends CcxtExchangeLike>(exchange: E, options: CcxtSchedulingOptions): E {
  if (!exchange || typeof exchange !== 'object' || typeof exchange.fetch2 !== 'function' || typeof exchange.sign !== 'function') {
    throw new InvalidArgumentError(`Expected a ccxt exchange instance (new ccxt.kucoin(...)), got ${describeValue(exchange)}`);
  }
  if (!CCXT_EXCHANGES.includes(exchange.id)) {
    throw new InvalidArgumentError(
      `Expected a ccxt ${CCXT_EXCHANGES.join(' or ')} instance, got ${describeValue(exchange.id)}: other exchanges have other limits`,
    );
  }
  const scheduler: unknown = options?.scheduler;
  if (!isSchedulerInstance(scheduler)) {
    throw new InvalidArgumentError(`Expected options.scheduler to be a Scheduler (createScheduler(...)), got ${describeValue(scheduler)}`);
  }
  const hosts = hostsByOrigin(options.baseUrls);
  const priorityOf = options.priorityOf ?? ccxtDefaultPriority;
  const send = options.fetch ?? globalThis.fetch;
  const calls = new AsyncLocalStorage<CallContext>();
  const ex = exchange as E & { [OURS]?: { fetch2: CcxtExchangeLike['fetch2'] }; fetchImplementationLoading?: unknown; fetchIsNative?: boolean };
  const originalFetch2 = ex[OURS]?.fetch2 ?? exchange.fetch2;

  ex.enableRateLimit = false; // the scheduler is the only limiter
  ex.fetch2 = function fetch2(this: unknown, ...args: unknown[]) {
    return calls.run({ args }, () => originalFetch2.apply(exchange, args as never));
  } as CcxtExchangeLike['fetch2'];
  ex.fetchImplementation = async (url: string, init: FetchInit = {}) => {
    const target = new URL(url);
    const method = (init.method ?? 'GET').toUpperCase();
    const host = hosts.get(target.host) ?? 'spot';
    const context = calls.getStore();
    let request = { url, headers: init.headers ?? {}, body: init.body };
    const timeoutMs = init.timeout ?? exchange.timeout;
    const done = await sendWithAttempts(
      options.scheduler,
      {
        schedule: {
          endpoint: `${method} ${target.pathname}`,
          host,
          priority: callPriority() ?? priorityOf(method, target.pathname, host),
          ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}),
        },
        safeToRepeat: isSafeToRepeat(method, init.body),
        send: async (admission) => {
          if (admission.attempt > 1 && context) {
            // a re-send is signed afresh (KuCoin refuses a timestamp more than 5 s old)
            const signed = exchange.sign(...(context.args.slice(0, 6) as Parameters<CcxtExchangeLike['sign']>)) as SignedRequest;
            request = { url: signed.url, headers: { ...request.headers, ...signed.headers }, body: signed.body };
          }
          const response = await send(request.url, {
            method,
            headers: request.headers,
            ...(request.body !== undefined ? { body: request.body } : {}),
            redirect: 'error',
            ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
          });
          return { status: response.status, statusText: response.statusText, headers: response.headers, text: await response.text() };
        },
        replyOf: (r) => ({ status: r.status, headers: Object.fromEntries(r.headers), body: r.text }),
      },
      { transportRetries: options.transportRetries ?? TRANSPORT_RETRIES },
    );
    const { status, statusText, headers, text } = done.value;
    return new Response(status === 204 || status === 304 ? null : text, { status, statusText, headers });
  };
  // ccxt resolves its fetch once per instance: make it take ours
  ex.fetchImplementationLoading = undefined;
  ex.fetchIsNative = false;
  Object.defineProperty(ex, OURS, { value: { fetch2: originalFetch2 }, configurable: true, enumerable: false });
  return exchange;
}
