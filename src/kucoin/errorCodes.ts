/**
 * Every KuCoin error code of the seed pages as data (src/kucoin/errorCodes.generated.ts, docs/error-codes.md)
 * and the lookup that tells a bot what a code means and what to do about it. The host is part of the key (spot
 * and futures give 200001-200003 different meanings) and the message decides where one code has several
 * (200002 "Too many requests..." is a rate limit, 200002 "The query scope for Level 3..." is not).
 */
import { describeValue, InvalidArgumentError } from '../errors.js';
import type { WsReaction } from './wsReaction.js';
import type { HostName } from './endpointTypes.js';
import { CATEGORY_INFO, KUCOIN_ERROR_CODES } from './errorCodes.generated.js';

export { CATEGORY_INFO as KUCOIN_CODE_CATEGORIES, KUCOIN_ERROR_CODES };

/** Where a row comes from: a product's page, the gateway's page, the WebSocket page, or the HTTP status table. */
export const KUCOIN_PRODUCTS = ['spot', 'margin', 'futures', 'earn', 'gateway', 'websocket', 'http'] as const;
/** Where a code's row comes from (KUCOIN_PRODUCTS). */
export type KucoinProduct = (typeof KUCOIN_PRODUCTS)[number];

/** What kind of error a code is: decides the action (docs/error-codes.md lists every row's category). */
export const KUCOIN_CODE_CATEGORY_NAMES = [
  'rate-limit',
  'retry-later',
  'clock',
  'auth',
  'region-kyc',
  'restricted',
  'business',
  'request',
  'service-stopping',
  'websocket',
] as const;
/** A code's category (KUCOIN_CODE_CATEGORY_NAMES): decides what is done about it. */
export type KucoinCodeCategory = (typeof KUCOIN_CODE_CATEGORY_NAMES)[number];

/** What to do about a REST code. */
export type KucoinRestAction =
  /** A rate-limit signal: the request was not executed; pause the signal's scope (FEEDBACK_RULES), send it again. */
  | 'pause-and-resend'
  /** The server is busy or failed: a bounded, jittered backoff for that host; reads and clientOid orders are sent again. */
  | 'backoff-and-resend'
  /** 400002: learn the offset to the server's clock (GET /api/v1/timestamp), sign with it, send again once. */
  | 'sync-clock-and-resend'
  /** The key is refused: stop sending with it in every process (a circuit per key), probe again later. */
  | 'open-key-circuit'
  /** 501000: stop sending to that host for a while. */
  | 'pause-host'
  /** Business, request, region and KYC, restriction errors: fail at once, never send again, never a rate signal. */
  | 'fail';

/** What to do about a code: a REST action, or the WebSocket connection manager's reaction (src/ws/wsCodes.ts). */
export type KucoinCodeAction = KucoinRestAction | WsReaction;

/** The rate-limit signals of the feedback table (FEEDBACK_RULES) a rate-limit row stands for. */
export type KucoinCodeSignal = '429000' | '429001' | '429002' | '1015' | '200002' | 'http-403';

/** One row of KuCoin's error-code pages. */
export interface KucoinCodeEntry {
  readonly product: KucoinProduct;
  /** The code as the page gives it ('200002', '1015', '509', '403'). */
  readonly code: string;
  /** The page's message, placeholders (`{0}`, `xxx`, `%s`) kept. */
  readonly message: string;
  readonly category: KucoinCodeCategory;
  readonly action: KucoinCodeAction;
  /** The library may send the same request again (an order that may have executed only with a clientOid). */
  readonly retryable: boolean;
  /** The HTTP status the gateway answers with (docs/error-codes.md says which are known); null for WebSocket codes. */
  readonly status: number | null;
  /** For rate-limit rows: the feedback signal. */
  readonly signal?: KucoinCodeSignal;
  /** The page's section the row was listed in. */
  readonly section: string;
  /** Why the row was given its category, where the page alone does not make it plain. */
  readonly note?: string;
}

/** One category: its action and what it means (the README's feedback table). */
export interface KucoinCodeCategoryInfo {
  /** 'ws-reaction' for WebSocket codes: each row names its own reaction. */
  readonly action: KucoinRestAction | 'ws-reaction';
  /** undefined for WebSocket codes: each row says. */
  readonly retryable: boolean | undefined;
  readonly meaning: string;
  /** What the library does about it. */
  readonly does: string;
}

/** What `lookupKucoinCode` needs: the code, and where the reply came from. */
export interface KucoinCodeQuery {
  /** Where the reply came from: a REST host, or 'websocket' for an error message on a WebSocket connection. */
  readonly host: HostName | 'websocket';
  /** KuCoin's code (`'200002'` or `200002`); an HTTP status (`'403'`) for a reply that carried none. */
  readonly code: string | number;
  /** The reply's message: decides between the meanings of one code. */
  readonly msg?: string | undefined;
  /** Only this product's rows (say `'margin'` for a margin endpoint on the spot host). @default every product the host serves */
  readonly product?: KucoinProduct | undefined;
}

/** What a code means: its row, and whether the message or only the code picked it. */
export interface KucoinCodeInfo {
  readonly code: string;
  readonly product: KucoinProduct;
  readonly category: KucoinCodeCategory;
  readonly action: KucoinCodeAction;
  readonly retryable: boolean;
  /** The documented message (placeholders kept), not the reply's. */
  readonly message: string;
  readonly status: number | null;
  readonly signal: KucoinCodeSignal | undefined;
  /** 'message' when the reply's message matched the row; 'code' when the code alone (or a fallback) decided. */
  readonly matchedBy: 'message' | 'code';
  readonly entry: KucoinCodeEntry;
}

/** The products whose pages apply to a host, most specific first. */
const HOST_PRODUCTS: Readonly<Record<KucoinCodeQuery['host'], readonly KucoinProduct[]>> = {
  spot: ['spot', 'margin', 'earn', 'gateway', 'http'],
  futures: ['futures', 'gateway', 'http'],
  broker: ['gateway', 'spot', 'http'],
  websocket: ['websocket', 'gateway'],
};

/**
 * When only the code is known and it has several meanings, the category that does least wins: fail closed (never
 * sent again, no circuit opened, no pause taken) rather than act on a guess.
 */
const LEAST_ACTION_FIRST: readonly KucoinCodeCategory[] = [
  'business',
  'request',
  'restricted',
  'region-kyc',
  'websocket',
  'retry-later',
  'clock',
  'rate-limit',
  'service-stopping',
  'auth',
];

const PLACEHOLDER = /\{\d+\}|%s|\b[xX]{2,3}\b/g;

/** Lower case, every run of punctuation and space one space: "Balance insufficient!" = "balance insufficient". */
function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

interface MessagePattern {
  /** The whole normalized message, placeholders as wildcards. */
  readonly whole: RegExp;
  /** The same at the start of the message (the reply says more than the page). */
  readonly start: RegExp;
  /** Length of the literal text: a longer pattern is the more specific match. */
  readonly weight: number;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compile(text: string): MessagePattern | undefined {
  const chunks = text.split(PLACEHOLDER).map(normalize);
  const literal = chunks.join('');
  if (literal === '') return undefined;
  // adjacent placeholders ("{1}{0}", "XXX-XXX") are one wildcard: no nested backtracking on long replies
  const body = chunks
    .map(escapeRegExp)
    .join('.*?')
    .replace(/(?:\.\*\?){2,}/g, '.*?');
  return { whole: new RegExp(`^${body}$`), start: new RegExp(`^${body}(?: |$)`), weight: literal.length };
}

/**
 * The texts a reply may carry for one documented message: the whole of it, each side of " -- " (the pages write
 * "key -- explanation") and the text before a closing parenthesis ("Session verification failed. (After...)").
 */
function patternsOf(message: string): readonly MessagePattern[] {
  const texts = new Set([message]);
  const sides = message.split(/\s*--\s*/);
  if (sides.length > 1) for (const s of sides) texts.add(s);
  const paren = /^(.+?)\s*\(.*\)\s*\.?$/.exec(message);
  if (paren) texts.add(paren[1]!);
  return [...texts].map(compile).filter((p): p is MessagePattern => p !== undefined);
}

interface Indexed {
  readonly entry: KucoinCodeEntry;
  patterns: readonly MessagePattern[] | undefined;
}

let byCode: Map<string, Indexed[]> | undefined;

function index(): Map<string, Indexed[]> {
  if (byCode) return byCode;
  byCode = new Map();
  for (const entry of KUCOIN_ERROR_CODES) {
    const list = byCode.get(entry.code) ?? [];
    list.push({ entry, patterns: undefined });
    byCode.set(entry.code, list);
  }
  return byCode;
}

/** 2: the whole message matched; 1: it starts with the row's text; 0: no match. With the pattern's weight. */
function score(row: Indexed, msg: string): [number, number] {
  row.patterns ??= patternsOf(row.entry.message);
  let best: [number, number] = [0, 0];
  for (const p of row.patterns) {
    const s = p.whole.test(msg) ? 2 : p.start.test(msg) ? 1 : 0;
    if (s > best[0] || (s === best[0] && s > 0 && p.weight > best[1])) best = [s, p.weight];
  }
  return best;
}

function field(query: object, key: string): unknown {
  try {
    return (query as Record<string, unknown>)[key];
  } catch (cause) {
    throw new InvalidArgumentError(`lookupKucoinCode: query.${key} could not be read`, { cause });
  }
}

/**
 * What a KuCoin code means on a host, and what to do about it; undefined when the pages do not list it there.
 * The candidates are the rows of the host's products (spot: spot, margin, earn, gateway, HTTP; futures: futures,
 * gateway, HTTP; websocket: the WebSocket page) plus the rate-limit rows of every page (1015 and 200002 "Too many
 * requests" mean the same on any host). A message picks the row whose text it matches (`{0}`, `xxx`, `%s` match
 * anything; case, punctuation and extra words after the documented text do not matter). Without a message, or
 * when it matches none, a code with one meaning gives that one, and a code with several gives the one that does
 * least (business before auth: never sent again, no circuit opened).
 * @throws InvalidArgumentError for a query that is not `{ host, code, msg?, product? }` of the right types
 */
export function lookupKucoinCode(query: KucoinCodeQuery): KucoinCodeInfo | undefined {
  if (query === null || typeof query !== 'object')
    throw new InvalidArgumentError(`lookupKucoinCode: expected a query object { host, code, msg? }, got ${describeValue(query)}`);
  const host = field(query, 'host');
  const rawCode = field(query, 'code');
  const msg = field(query, 'msg');
  const product = field(query, 'product');
  if (typeof host !== 'string' || !Object.hasOwn(HOST_PRODUCTS, host)) {
    throw new InvalidArgumentError(`lookupKucoinCode: expected host to be one of ${Object.keys(HOST_PRODUCTS).join(', ')}, got ${describeValue(host)}`);
  }
  if (!((typeof rawCode === 'string' && rawCode.length <= 32) || (typeof rawCode === 'number' && Number.isSafeInteger(rawCode)))) {
    throw new InvalidArgumentError(`lookupKucoinCode: expected code to be a string (at most 32 characters) or an integer, got ${describeValue(rawCode)}`);
  }
  if (msg !== undefined && typeof msg !== 'string')
    throw new InvalidArgumentError(`lookupKucoinCode: expected msg to be a string or undefined, got ${describeValue(msg)}`);
  if (product !== undefined && !(KUCOIN_PRODUCTS as readonly unknown[]).includes(product)) {
    throw new InvalidArgumentError(`lookupKucoinCode: expected product to be one of ${KUCOIN_PRODUCTS.join(', ')} or undefined, got ${describeValue(product)}`);
  }
  const candidates = candidatesOf(host as KucoinCodeQuery['host'], String(rawCode).trim(), product as KucoinProduct | undefined);
  if (candidates.length === 0) return undefined;
  const rank = (row: Indexed): number => candidates.indexOf(row);

  if (msg !== undefined && msg.trim() !== '') {
    const text = normalize(msg.slice(0, 4096));
    let best: { row: Indexed; s: [number, number] } | undefined;
    for (const row of candidates) {
      const s = score(row, text);
      if (s[0] === 0) continue;
      if (!best || s[0] > best.s[0] || (s[0] === best.s[0] && s[1] > best.s[1])) best = { row, s }; // ties: the earlier (more specific) row
    }
    if (best) return info(best.row.entry, 'message');
  }
  const ambiguous = new Set(candidates.map((c) => c.entry.category)).size > 1;
  const order = (row: Indexed): number => (ambiguous ? LEAST_ACTION_FIRST.indexOf(row.entry.category) * 1000 : 0) + rank(row);
  const chosen = candidates.reduce((a, b) => (order(b) < order(a) ? b : a));
  return info(chosen.entry, 'code');
}

/**
 * The rows a code has on a host, most specific product first, in page order within a product (the rate-limit
 * rows of other pages last): what `lookupKucoinCode` chooses from. Query fields as for `lookupKucoinCode`.
 */
export function kucoinCodeRows(query: Pick<KucoinCodeQuery, 'host' | 'code' | 'product'>): readonly KucoinCodeEntry[] {
  return candidatesOf(query.host, String(query.code).trim(), query.product).map((r) => r.entry);
}

/** The rows of `code` for the host's products (or only `product`), plus other pages' rate-limit rows; best first. */
function candidatesOf(host: KucoinCodeQuery['host'], code: string, product: KucoinProduct | undefined): Indexed[] {
  const products = product !== undefined ? [product] : (HOST_PRODUCTS[host] ?? []);
  const rank = (e: KucoinCodeEntry): number => (products.includes(e.product) ? products.indexOf(e.product) : products.length);
  return (index().get(code) ?? [])
    .filter(
      ({ entry }) =>
        products.includes(entry.product) || (product === undefined && host !== 'websocket' && entry.category === 'rate-limit' && entry.product !== 'websocket'),
    )
    .sort((a, b) => rank(a.entry) - rank(b.entry)); // stable: page order within a product
}

function info(entry: KucoinCodeEntry, matchedBy: 'message' | 'code'): KucoinCodeInfo {
  return {
    code: entry.code,
    product: entry.product,
    category: entry.category,
    action: entry.action,
    retryable: entry.retryable,
    message: entry.message,
    status: entry.status,
    signal: entry.signal,
    matchedBy,
    entry,
  };
}
