/** Response headers in any of the shapes clients hand out: node/undici records, fetch `Headers`, AxiosHeaders. */
export type HeaderBag = Readonly<Record<string, string | string[] | number | undefined | null>> | { get(name: string): unknown } | undefined | null;

/** Longest header value read; a longer one is ignored (no rate-limit header is that long). */
const MAX_HEADER_CHARS = 1024;

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length <= MAX_HEADER_CHARS ? value : undefined;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return undefined; // objects, symbols, functions: not a header value
}

/**
 * One header's value as a string (first value of a list), case-insensitive; undefined when absent or not
 * readable. Never throws, whatever the bag is (a Proxy, throwing getters, a `get` that throws).
 */
export function header(headers: HeaderBag, name: string): string | undefined {
  try {
    if (!headers || typeof headers !== 'object') return undefined;
    const lower = name.toLowerCase();
    let value: unknown;
    if (typeof (headers as { get?: unknown }).get === 'function' && !(lower in headers)) {
      value = (headers as { get(n: string): unknown }).get(lower);
    } else {
      const record = headers as Record<string, unknown>;
      value = Object.hasOwn(record, lower) ? record[lower] : undefined;
      if (value === undefined || value === null) {
        const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
        value = key === undefined ? undefined : record[key];
      }
    }
    if (Array.isArray(value)) value = value[0];
    return headerText(value);
  } catch {
    return undefined;
  }
}

/** What `gw-ratelimit-*` said; -1 for missing, -1 or garbage ("unknown", as the official SDKs do). */
export interface RateLimitHeaders {
  readonly limit: number;
  readonly remaining: number;
  readonly resetMs: number;
}

const MAX_HEADER_VALUE = 1e9;

function intHeader(headers: HeaderBag, name: string): number {
  const raw = header(headers, name)?.trim();
  if (!raw || !/^-?\d+$/.test(raw)) return -1;
  const n = Number(raw);
  return n >= 0 && n <= MAX_HEADER_VALUE ? n : -1;
}

/** Reads KuCoin's `gw-ratelimit-limit`, `-remaining` and `-reset` headers; -1 for each one missing or malformed. */
export function parseRateLimitHeaders(headers: HeaderBag): RateLimitHeaders {
  return {
    limit: intHeader(headers, 'gw-ratelimit-limit'),
    remaining: intHeader(headers, 'gw-ratelimit-remaining'),
    resetMs: intHeader(headers, 'gw-ratelimit-reset'),
  };
}

/** `Retry-After` in ms (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfterMs(headers: HeaderBag, now: number = Date.now()): number | undefined {
  const raw = header(headers, 'retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.min(Number(raw) * 1000, 3_600_000);
  if (!Number.isFinite(now)) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.min(at - now, 3_600_000));
}
