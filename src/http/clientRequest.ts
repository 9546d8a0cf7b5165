/** What `KucoinClient.request` takes and gives, and the checks a request passes before anything is charged. */
import { PRIORITIES, type Priority } from '../store/types.js';
import { describeValue, InvalidArgumentError, KucoinSchedulerError } from '../errors.js';
import type { RateLimitHeaders } from '../kucoin/headers.js';
import { parseHost } from '../kucoin/endpointTable.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { expectOption, numberOption, objectOption } from '../util/optionChecks.js';
import { isAbortSignal } from '../scheduler/requestPlan.js';

/** One REST request of `KucoinClient.request`. */
export interface KucoinRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** `/api/v1/hf/orders`, optionally with a query string already built. */
  readonly path: string;
  /** Query parameters, appended in the given order; what is signed is exactly what is sent. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON body, serialised once: the bytes signed are the bytes sent. */
  readonly body?: unknown;
  /** @default 'spot' */
  readonly host?: HostName | string;
  /** @default 'normal' */
  readonly priority?: Priority;
  readonly signal?: AbortSignal;
  /** Longest wait for admission over all attempts. @default the scheduler's maxWaitMs */
  readonly maxWaitMs?: number;
}

/** A successful reply (`code` 200000): KuCoin's `data`, and what the scheduler saw. */
export interface KucoinResponse<T> {
  readonly data: T;
  readonly code: string;
  readonly status: number;
  readonly rateLimit: RateLimitHeaders;
  /** Sends it took: more than 1 after rate-limit signals or safe transport retries. */
  readonly attempts: number;
  /** Time spent waiting for admission, over all attempts (ms). */
  readonly waitedMs: number;
}

/** Longest path with its query; longer is an InvalidArgumentError (nothing is charged). */
export const MAX_PATH_LENGTH = 8000;
/** Largest JSON body accepted, in characters. */
const MAX_BODY_LENGTH = 1_048_576;
const HTTP_METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
/** Printable ASCII but `#` (undici refuses some others, and only after the request was charged); percent-encode the rest. */
const PATH_CHARACTERS = /^\/[\u0021-\u0022\u0024-\u007e]*$/;
/** A lone UTF-16 surrogate: `encodeURIComponent` throws on it. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A request read and checked once, before anything is scheduled. */
export interface CheckedRequest {
  readonly method: string;
  readonly path: string;
  readonly pathWithQuery: string;
  readonly bodyText: string;
  readonly host: HostName;
  readonly priority: Priority | undefined;
  readonly signal: AbortSignal | undefined;
  readonly maxWaitMs: number | undefined;
}

/** Reads and validates a request (each field once) before anything is scheduled: every fault is typed, nothing is charged. */
export function checkRequest(req: KucoinRequest): CheckedRequest {
  try {
    expectOption(req !== null && typeof req === 'object', 'the request', 'an object { method, path, ... }', req);
    const { method: rawMethod, path, query, body, host, priority, signal, maxWaitMs } = req;
    const method = typeof rawMethod === 'string' ? rawMethod.toUpperCase() : undefined;
    expectOption(method !== undefined && HTTP_METHODS.includes(method), 'method', 'GET, POST, PUT, DELETE or PATCH', rawMethod);
    expectOption(
      typeof path === 'string' && path.length <= MAX_PATH_LENGTH && PATH_CHARACTERS.test(path),
      'path',
      `a path starting with "/" (at most ${MAX_PATH_LENGTH} printable ASCII characters, no spaces or "#")`,
      path,
    );
    const pathWithQuery = withQuery(path, query);
    expectOption(priority === undefined || (PRIORITIES as readonly unknown[]).includes(priority), 'priority', 'one of critical, high, normal, low', priority);
    expectOption(signal === undefined || isAbortSignal(signal), 'signal', 'an AbortSignal', signal);
    if (maxWaitMs !== undefined) numberOption('maxWaitMs', maxWaitMs, { min: 0, max: Number.POSITIVE_INFINITY });
    const bodyText = serializeBody(body);
    return { method: method!, path, pathWithQuery, bodyText, host: parseHost(host ?? 'spot'), priority, signal, maxWaitMs };
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected a readable request, but reading it threw ${describeValue(error)}`, { cause: error });
  }
}

function withQuery(path: string, query: unknown): string {
  const q = objectOption('query', query);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q ?? {})) {
    if (v === undefined || v === null) continue;
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    expectOption(
      ok && !LONE_SURROGATE.test(k) && (typeof v !== 'string' || !LONE_SURROGATE.test(v)),
      `query[${describeValue(k)}]`,
      'a string, a finite number, a boolean or undefined',
      v,
    );
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  const full = parts.length === 0 ? path : `${path}${path.includes('?') ? '&' : '?'}${parts.join('&')}`;
  expectOption(full.length <= MAX_PATH_LENGTH, 'path with its query', `at most ${MAX_PATH_LENGTH} characters`, `${full.length} characters`);
  return full;
}

function serializeBody(body: unknown): string {
  if (body === undefined) return '';
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new InvalidArgumentError(`Expected body to be JSON-serialisable, but JSON.stringify threw ${describeValue(error)}`, { cause: error });
  }
  expectOption(typeof text === 'string', 'body', 'a JSON value (object, array, string, number, boolean or null)', body);
  expectOption(text!.length <= MAX_BODY_LENGTH, 'body', `at most ${MAX_BODY_LENGTH} characters of JSON`, `${text!.length} characters`);
  return text!;
}

export function parseJson(text: string): { code?: unknown; msg?: unknown; data?: unknown } | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as { code?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}
