import { AmbiguousEndpointError, describeValue, InvalidEndpointError } from '../errors.js';
import type { EndpointInfo, EndpointRow, HostName } from './endpointTypes.js';
import { ENDPOINT_ROWS } from './endpoints.generated.js';
import { KUCOIN_HOSTNAMES } from './hosts.js';
import type { PoolName } from './pools.js';

const HOST_ALIASES: Readonly<Record<string, HostName>> = { spot: 'spot', futures: 'futures', broker: 'broker', ...KUCOIN_HOSTNAMES };

/** The pool an endpoint missing from the table is charged to, by host. */
const DEFAULT_POOL_BY_HOST: Readonly<Record<HostName, PoolName>> = {
  spot: 'Spot',
  futures: 'Futures',
  broker: 'Broker',
};

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);

/** Longest endpoint string (`METHOD /path?query`) accepted; longer is an InvalidEndpointError. */
export const MAX_ENDPOINT_LENGTH = 8192;
const MAX_HOST_LENGTH = 256;
/** Control characters (C0, DEL, C1) and Unicode line/paragraph separators: never part of an endpoint. */
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/** `spot`, `api-futures.kucoin.com` or `https://api-futures.kucoin.com/...` name a host. */
export function parseHost(host: string): HostName {
  if (typeof host !== 'string' || host.length > MAX_HOST_LENGTH) {
    throw new InvalidEndpointError(`Expected host to be spot, futures, broker or a KuCoin hostname, got ${describeValue(host)}`);
  }
  let name = host.trim().toLowerCase();
  if (name.includes('://')) {
    try {
      name = new URL(name).hostname;
    } catch {
      throw new InvalidEndpointError(`Expected host to be spot, futures, broker or a KuCoin URL, got ${describeValue(host)}`);
    }
  }
  const parsed = Object.hasOwn(HOST_ALIASES, name) ? HOST_ALIASES[name] : undefined;
  if (!parsed) {
    throw new InvalidEndpointError(`Expected host to be spot, futures, broker or a KuCoin hostname, got ${describeValue(host)}`);
  }
  return parsed;
}

/** Splits `'DELETE /api/v1/hf/orders/123?symbol=BTC-USDT'` into method and path (query dropped). */
export function parseEndpoint(endpoint: string): { method: string; path: string } {
  if (typeof endpoint !== 'string') {
    throw new InvalidEndpointError(`Expected endpoint to be a string like "GET /api/v1/accounts", got ${describeValue(endpoint)}`);
  }
  if (endpoint.length > MAX_ENDPOINT_LENGTH) {
    throw new InvalidEndpointError(`Expected endpoint to be at most ${MAX_ENDPOINT_LENGTH} characters, got ${endpoint.length}`);
  }
  const match = /^\s*([A-Za-z]+)\s+(\/\S*)\s*$/.exec(endpoint);
  const method = match?.[1]?.toUpperCase();
  if (!match || !method || !METHODS.has(method) || CONTROL.test(match[2]!)) {
    throw new InvalidEndpointError(
      `Expected endpoint to be "METHOD /path" (e.g. "POST /api/v1/hf/orders", no control characters), got ${describeValue(endpoint)}`,
    );
  }
  let path = match[2]!.split('?')[0]!.split('#')[0]!;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return { method, path };
}

/** The prefix segments of KuCoin's paths: `api` and a version (`v1`, `v9`). */
const PREFIX = /^(api|v\d{1,2})$/;

/** The literal segments of templates: the words KuCoin's paths use (`hf`, `orders`, `allTickers`, `level2`...). */
function wordsOf(rows: readonly EndpointRow[]): ReadonlySet<string> {
  return new Set(rows.flatMap((row) => row[2].split('/').filter((segment) => segment !== '' && !segment.includes('{'))));
}

const KNOWN_WORDS = wordsOf(ENDPOINT_ROWS);

/**
 * Whether the first segment after `/api/vN` (the resource, never a parameter in KuCoin's table) looks like a
 * value rather than a name: a `{param}`, a number, hex of 12+ characters, a UUID, a mixed alphanumeric of 8+
 * characters with digits, 3+ digits anywhere, anything over 32 characters, or characters no KuCoin path name
 * uses (`%`, `@`, `:`...).
 */
function looksLikeId(segment: string): boolean {
  if (/^\{.*\}$/.test(segment) || /^\d+$/.test(segment) || /^[0-9a-f]{12,}$/i.test(segment)) return true;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(segment)) return true;
  if (segment.length > 32 || /[^A-Za-z0-9_.~-]/.test(segment)) return true;
  const digits = segment.replace(/\D/g, '').length;
  return digits >= 3 || (digits > 0 && segment.length >= 8 && /[A-Za-z]/.test(segment));
}

/**
 * A template for a path the table does not know. `api`, the version and the resource after them (`things` in
 * `/api/v9/things/...`) stay, unless the resource looks like an id; after the resource every segment that is not
 * a word KuCoin's paths use is a value and becomes `{id}`, with or without digits: `/api/v9/ticker/ausdt` and
 * `/api/v9/ticker/BTC-USDT` are one endpoint `/api/v9/ticker/{id}` (one endpoint bucket, one lane). `words`
 * defaults to the generated table's.
 */
export function guessTemplate(path: string, words: ReadonlySet<string> = KNOWN_WORDS): string {
  let resource = false;
  return path
    .split('/')
    .map((segment) => {
      if (segment === '' || (!resource && PREFIX.test(segment))) return segment;
      if (!resource) {
        resource = true;
        return looksLikeId(segment) ? '{id}' : segment;
      }
      return words.has(segment) ? segment : '{id}';
    })
    .join('/');
}

/** One segment of a template: a literal, any value (`{orderId}`), or a literal with a parameter inside (`level2_{size}`, `depth{size}`). */
type SegmentMatcher = string | null | RegExp;

interface CompiledRow {
  readonly row: EndpointRow;
  readonly segments: readonly SegmentMatcher[];
  /** How literal the template is: 1 per literal segment, 0.5 per partial one (a literal beats a partial beats a `{param}`). */
  readonly literals: number;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compileSegment(segment: string): SegmentMatcher {
  if (/^\{[^{}]+\}$/.test(segment)) return null;
  if (!/\{[^{}]+\}/.test(segment)) return segment;
  // a parameter inside a segment: the literal parts must match, each parameter takes at least one character
  const source = segment
    .split(/(\{[^{}]+\})/)
    .map((part) => (/^\{[^{}]+\}$/.test(part) ? '[^/]+' : escapeRegExp(part)))
    .join('');
  return new RegExp(`^${source}$`);
}

function compile(row: EndpointRow): CompiledRow {
  const segments = row[2].split('/').map(compileSegment);
  const literals = segments.reduce<number>((n, s) => n + (s === null ? 0 : typeof s === 'string' ? 1 : 0.5), 0);
  return { row, segments, literals };
}

function matches(compiled: CompiledRow, parts: readonly string[]): boolean {
  if (compiled.segments.length !== parts.length) return false;
  return compiled.segments.every((s, i) => s === null || (typeof s === 'string' ? s === parts[i] : s.test(parts[i]!)));
}

const MAX_CACHED_ENDPOINTS = 10_000;
const MAX_CACHED_ENDPOINT_LENGTH = 512;

export interface EndpointTableOptions {
  /** Weight charged for an endpoint the table does not know, or knows without a weight. */
  readonly unknownWeight: number;
}

/** Looks up pool and weight for a concrete request: host + method + path. */
export class EndpointTable {
  readonly #byMethod = new Map<string, CompiledRow[]>();
  readonly #words: ReadonlySet<string>;
  readonly #unknownWeight: number;
  readonly #cache = new Map<string, EndpointInfo>();

  constructor(options: EndpointTableOptions, rows: readonly EndpointRow[] = ENDPOINT_ROWS) {
    this.#unknownWeight = options.unknownWeight;
    this.#words = rows === ENDPOINT_ROWS ? KNOWN_WORDS : wordsOf(rows);
    for (const row of rows) {
      const list = this.#byMethod.get(row[1]) ?? [];
      list.push(compile(row));
      this.#byMethod.set(row[1], list);
    }
  }

  get size(): number {
    let n = 0;
    for (const list of this.#byMethod.values()) n += list.length;
    return n;
  }

  /**
   * Resolves `'DELETE /api/v1/hf/orders/123'` to `/api/v1/hf/orders/{orderId}`. A literal segment beats a
   * template (`/orders/multi` beats `/orders/{orderId}`). Where the path exists on several hosts, `host`
   * decides; without it, the lookup fails with `AmbiguousEndpointError` unless all hosts agree.
   * An endpoint the table lacks resolves with `known: false`, the conservative default weight, the host's
   * pool (a guess) and a guessed template (`guessTemplate`).
   */
  lookup(endpoint: string, host?: string): EndpointInfo {
    const hostName = host === undefined ? undefined : parseHost(host);
    const cacheable = typeof endpoint === 'string' && endpoint.length <= MAX_CACHED_ENDPOINT_LENGTH;
    const cacheKey = cacheable ? `${hostName ?? '*'} ${endpoint}` : undefined;
    const cached = cacheKey === undefined ? undefined : this.#cache.get(cacheKey);
    if (cached) return cached;
    const info = this.#resolve(endpoint, hostName);
    if (cacheKey !== undefined) {
      // bounded: the oldest entry goes first (it is rebuilt on its next use)
      if (this.#cache.size >= MAX_CACHED_ENDPOINTS) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(cacheKey, info);
    }
    return info;
  }

  /**
   * The table's endpoint nearest to `endpoint` (`'METHOD /path/{param}'`) by edit distance, for error messages: a
   * row of the same method wins a tie. Only the first 200 characters are compared (it runs on the error path only).
   */
  nearest(endpoint: string): string {
    const given = endpoint.split('?')[0]!.slice(0, 200);
    const method = given.split(' ')[0];
    let best = '';
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const [m, list] of this.#byMethod) {
      for (const { row } of list) {
        const candidate = `${m} ${row[2]}`;
        const d = editDistance(given, candidate) + (m === method ? 0 : 0.5);
        if (d < bestDistance) [best, bestDistance] = [candidate, d];
      }
    }
    return best;
  }

  #resolve(endpoint: string, host: HostName | undefined): EndpointInfo {
    const { method, path } = parseEndpoint(endpoint);
    const parts = path.split('/');
    const bestByHost = new Map<HostName, CompiledRow>();
    for (const compiled of this.#byMethod.get(method) ?? []) {
      if (host !== undefined && compiled.row[0] !== host) continue;
      if (!matches(compiled, parts)) continue;
      const best = bestByHost.get(compiled.row[0]);
      if (!best || compiled.literals > best.literals) bestByHost.set(compiled.row[0], compiled);
    }
    const found = [...bestByHost.values()];
    if (found.length === 0) {
      const h = host ?? 'spot';
      return {
        host: h,
        method,
        path: guessTemplate(path, this.#words),
        pool: DEFAULT_POOL_BY_HOST[h],
        weight: this.#unknownWeight,
        weightAssumed: true,
        known: false,
        deprecated: false,
        name: 'unknown endpoint',
      };
    }
    const first = found[0]!;
    if (found.some((c) => c.row[3] !== first.row[3] || c.row[4] !== first.row[4])) {
      throw new AmbiguousEndpointError(
        `${method} ${path}`,
        found.map((c) => c.row[0]),
      );
    }
    const [h, m, p, pool, weight, deprecated, name] = first.row;
    return {
      host: h,
      method: m,
      path: p,
      pool,
      weight: weight ?? this.#unknownWeight,
      weightAssumed: weight === null,
      known: true,
      deprecated,
      name,
    };
  }
}

/** Levenshtein distance: insertions, deletions and substitutions of one character each cost 1. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
