/**
 * kucoin-node-sdk integration (KuCoin's older official Node SDK, 1.x), in one call: every REST request it
 * makes is scheduled with its real pool and weight, found by host, method and path, through the one attempt
 * loop (src/send/attemptLoop.ts).
 *
 * ```ts
 * import API from 'kucoin-node-sdk';
 * API.init({ baseUrl: 'https://api.kucoin.com', apiAuth: { key, secret, passphrase }, authVersion: 2 });
 * withKucoinNodeSdk(API, { scheduler });
 * await withPriority('critical', () => API.rest.Trade.Orders.cancelOrder(id));
 * ```
 *
 * How the SDK sends (1.1.1, `src/lib/createHttp.js`): `node-fetch` bound at load time, the reply turned into
 * `res.json()` (status and headers dropped), no retry; the middlewares (`Http().useBefore`) are not awaited past
 * its own signing hook (`src/lib/http.js`: `next(ctx)`), so no middleware can hold a request for admission.
 * The seam is `Http.createRequest`: the SDK's `GET`/`POST`/`DEL` look it up on its one `Http` class at every
 * call. The integration replaces it with a send that builds the request as the SDK does, signs it through the
 * SDK's own middlewares (its auth hook and any you added) after admission at every attempt, sends it with
 * `fetch`, feeds the reply (status, headers, body) back, sends a refusal again, and hands the SDK's callers
 * the body parsed as before (node-fetch's `json()`, then the SDK's after-middlewares).
 *
 * The SDK keeps one account per process (`init` sets a module-wide config): one scheduler per process too.
 * The SDK is not imported here: it is found among the loaded modules, and the types below are its shape.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Priority } from '../store/types.js';
import { describeValue, InvalidArgumentError } from '../errors.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { hostsByOrigin } from '../kucoin/hosts.js';
import { isSchedulerInstance } from '../scheduler/scheduler.js';
import type { IntegrationOptions } from './integrationOptions.js';
import { sendWithAttempts } from '../send/attemptLoop.js';
import { TRANSPORT_RETRIES } from '../send/sendDefaults.js';
import { isSafeToRepeat } from '../send/safeToRepeat.js';
import { callPriority, defaultPriority } from './callPriority.js';

/** The parts of the `kucoin-node-sdk` module the integration checks (`import API from 'kucoin-node-sdk'`). */
export interface KucoinNodeSdkLike {
  init(config: object): void;
  readonly rest: object;
}

/** Options of `withKucoinNodeSdk` (kucoin-node-sdk). */
export interface KucoinNodeSdkSchedulingOptions extends IntegrationOptions {
  /** Base URLs the SDK is pointed at (`init({ baseUrl })`), by KuCoin host. @default KuCoin's hosts, the SDK's defaults spot */
  readonly baseUrls?: Partial<Record<HostName, string>>;
  /** Priority of a request (`withPriority(...)` around a call overrides it). @default DELETE (every cancel of the SDK) critical, other POSTs high, the rest normal */
  readonly priorityOf?: (method: string, path: string) => Priority;
  /** A send with no reply after this long fails (the SDK itself never times out); 0 waits for ever. @default 30_000 */
  readonly timeoutMs?: number;
  /** The fetch that sends. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** The SDK's request context (`src/lib/createHttp.js` `makeRequest`), as its middlewares see it. */
interface SdkContext {
  url: string;
  query: string;
  baseUrl: string;
  body: string | undefined;
  method: string;
  headers: Record<string, string> | '';
}

type Middleware = (ctx: SdkContext, next: () => Promise<void>) => unknown;
type CreateRequest = (method: string, url: string, data?: Record<string, unknown>, headers?: Record<string, string>) => Promise<unknown>;

/** The SDK's one `Http` class (`require('kucoin-node-sdk/src/lib/http')()`). */
interface SdkHttp {
  createRequest: CreateRequest;
  registerMiddle(target: { useBefore(fn: Middleware): void; useAfter(fn: (res: unknown) => unknown): void }): void;
}

/** The SDK's internals the integration uses, loaded from the SDK's own directory. */
interface SdkParts {
  readonly http: SdkHttp;
  readonly getConfig: () => { baseUrl?: string };
  readonly Middleware: new () => { use(fn: Middleware | ((res: unknown) => unknown)): void; run(ctx: unknown): Promise<void> };
  readonly NodeFetchResponse: new (
    body: string | null,
    init: { status: number; statusText?: string; headers: Record<string, string>; url: string },
  ) => { json(): Promise<unknown> };
}

/** The SDK's own default hosts, beside KuCoin's. */
const SDK_HOSTS: Readonly<Record<string, HostName>> = {
  'openapi-v2.kucoin.com': 'spot', // the SDK's default when PRODUCTION=prod
  'openapi-sandbox.kucoin.io': 'spot', // its default otherwise
};

/** The directory of the loaded `kucoin-node-sdk` whose exports are `sdk` (there may be several copies). */
function sdkDirectory(sdk: object): string | undefined {
  const require = createRequire(import.meta.url);
  for (const [file, mod] of Object.entries(require.cache)) {
    if (mod?.exports === sdk && /kucoin-node-sdk[\\/]src[\\/]index\.js$/.test(file)) return dirname(dirname(file));
  }
  try {
    const file = require.resolve('kucoin-node-sdk');
    if (require(file) === sdk) return dirname(dirname(file));
  } catch {
    // not resolvable from here: only the loaded copies count
  }
  return undefined;
}

function loadParts(dir: string): SdkParts {
  const require = createRequire(join(dir, 'package.json'));
  const constructHttp = require('./src/lib/http.js') as () => SdkHttp;
  return {
    http: constructHttp(),
    getConfig: (require('./src/lib/config.js') as { getConfig: SdkParts['getConfig'] }).getConfig,
    Middleware: require('./src/lib/middleware.js') as SdkParts['Middleware'],
    NodeFetchResponse: (require('node-fetch') as { Response: SdkParts['NodeFetchResponse'] }).Response,
  };
}

/** `query` and `body` of the SDK's `resolveData`: undefined values dropped, POST as JSON, the rest `k=v&...` unencoded. */
function resolveData(method: string, data: Record<string, unknown> = {}): { query: string; body: string | undefined } {
  const d: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data ?? {})) if (value !== undefined) d[key] = value;
  if (method === 'POST') return { query: '', body: JSON.stringify(d) };
  return {
    query: Object.keys(d)
      .map((k) => `${k}=${String(d[k])}`)
      .join('&'),
    body: undefined,
  };
}

/**
 * The one call: schedules every REST request of the process's `kucoin-node-sdk` (pass the module itself).
 * Returns it. Calling it again replaces the scheduler (the SDK holds one account per process).
 */
export function withKucoinNodeSdk<S extends KucoinNodeSdkLike>(sdk: S, options: KucoinNodeSdkSchedulingOptions): S {
  const api = ((sdk as { default?: unknown } | null)?.default ?? sdk) as S;
  if (!api || typeof api !== 'object' || typeof api.init !== 'function' || !api.rest || typeof api.rest !== 'object') {
    throw new InvalidArgumentError(`Expected the kucoin-node-sdk module (import API from 'kucoin-node-sdk'), got ${describeValue(sdk)}`);
  }
  const scheduler: unknown = options?.scheduler;
  if (!isSchedulerInstance(scheduler)) {
    throw new InvalidArgumentError(`Expected options.scheduler to be a Scheduler (createScheduler(...)), got ${describeValue(scheduler)}`);
  }
  const dir = sdkDirectory(api);
  if (!dir)
    throw new InvalidArgumentError(
      'Expected a kucoin-node-sdk module loaded by Node (require or import of kucoin-node-sdk), got an object that is none of the loaded copies',
    );
  const parts = loadParts(dir);
  const { http } = parts;
  const hosts = hostsByOrigin(options.baseUrls, SDK_HOSTS);
  const priorityOf = options.priorityOf ?? defaultPriority;
  const send = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;

  /** The SDK's before- and after-middlewares as they are now (its auth hook first, then any you added). */
  const middlewares = () => {
    const before = new parts.Middleware();
    const after = new parts.Middleware();
    http.registerMiddle({ useBefore: (fn) => before.use(fn), useAfter: (fn) => after.use(fn) });
    return { before, after };
  };

  const createRequest: CreateRequest = async (method, url, data, headers) => {
    const { body, query } = resolveData(method, data);
    const [uri = '', urlQuery = ''] = url.split('?');
    const { baseUrl: configured } = parts.getConfig();
    // the SDK fixes its base URL at its first request; this reads it at every request (init may point elsewhere)
    const baseUrl = configured || (process.env.PRODUCTION === 'prod' ? 'https://openapi-v2.kucoin.com' : 'https://openapi-sandbox.kucoin.io');
    const target = new URL(baseUrl + uri);
    const { before, after } = middlewares();
    const done = await sendWithAttempts(
      options.scheduler,
      {
        schedule: {
          endpoint: `${method} ${target.pathname}`,
          host: hosts.get(target.host) ?? 'spot',
          priority: callPriority() ?? priorityOf(method, target.pathname),
          ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}),
        },
        safeToRepeat: isSafeToRepeat(method, body),
        send: async () => {
          // signed after admission, at every attempt, by the SDK's own hook (KuCoin refuses a timestamp more than 5 s old)
          const ctx: SdkContext = { url, query: urlQuery + (urlQuery ? '&' : '') + query, baseUrl, body, method, headers: headers ?? '' };
          await before.run(ctx);
          // the SDK sends `uri + '?' + query` but signs no `?` when the query is empty: sent as signed
          const response = await send(ctx.baseUrl + uri + (ctx.query ? `?${ctx.query}` : ''), {
            method,
            headers: ctx.headers || {},
            ...(ctx.body !== undefined ? { body: ctx.body } : {}),
            redirect: 'error',
            ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
          });
          return {
            url: response.url,
            status: response.status,
            statusText: response.statusText,
            headers: Object.fromEntries(response.headers),
            text: await response.text(),
          };
        },
        replyOf: (r) => ({ status: r.status, headers: r.headers, body: r.text }),
      },
      { transportRetries: options.transportRetries ?? TRANSPORT_RETRIES },
    );
    const { status, statusText, headers: replyHeaders, text, url: replyUrl } = done.value;
    // what the SDK's callers always got: node-fetch's `res.json()` (its errors included), through the after-middlewares
    const result = await new parts.NodeFetchResponse(status === 204 || status === 304 ? null : text, {
      status,
      statusText,
      headers: replyHeaders,
      url: replyUrl,
    }).json();
    await after.run(result);
    return result;
  };

  http.createRequest = createRequest; // GET, POST and DEL look it up at every call

  return sdk;
}
