/** Every `code` this library's errors carry. Stable: match on these, never on message text. */
export const ERROR_CODES = [
  'KS_INVALID_ARGUMENT',
  'KS_UNKNOWN_POOL',
  'KS_INVALID_ENDPOINT',
  'KS_AMBIGUOUS_ENDPOINT',
  'KS_UNKNOWN_ENDPOINT',
  'KS_INVALID_WEIGHT',
  'KS_INVALID_PRIORITY',
  'KS_QUEUE_FULL',
  'KS_ABORTED',
  'KS_MAX_WAIT_EXCEEDED',
  'KS_CLOSED',
  'KS_STORE',
  'KS_STORE_UNAVAILABLE',
  'KS_KUCOIN_API',
  'KS_REQUEST_FAILED',
  'KS_KEY_CIRCUIT_OPEN',
  'KS_CLOCK_SYNC',
  // the WebSocket side (src/ws/errors.ts)
  'KS_WS_TOPIC_REFUSED',
  'KS_WS_NO_CAPACITY',
  'KS_WS_CONNECT_FAILED',
  'KS_WS_PROTOCOL',
  'KS_WS_TOO_LARGE',
  'KS_WS_CLOSED',
] as const;

export type KucoinSchedulerErrorCode = (typeof ERROR_CODES)[number];

const DESCRIBE_MAX_CHARS = 60;

function clip(text: string): string {
  return text.length > DESCRIBE_MAX_CHARS ? `${text.slice(0, DESCRIBE_MAX_CHARS)}...` : text;
}

/**
 * A short, safe description of any value for an error message: `"abc"`, `NaN`, `10n (a bigint)`,
 * `Symbol(x)`, `an array (length 3)`, `an instance of Date`, `a TypeError ("boom")`. Never throws: not on
 * a Symbol, a BigInt, a circular object, a revoked Proxy or an object whose getters or `toString` throw.
 */
export function describeValue(value: unknown): string {
  try {
    switch (typeof value) {
      case 'string':
        return value.length > DESCRIBE_MAX_CHARS
          ? `${JSON.stringify(value.slice(0, DESCRIBE_MAX_CHARS))}... (${value.length} characters)`
          : JSON.stringify(value);
      case 'number':
        return Object.is(value, -0) ? '-0' : String(value);
      case 'bigint':
        return `${clip(value.toString())}n (a bigint)`;
      case 'symbol':
        return clip(value.toString());
      case 'boolean':
      case 'undefined':
        return String(value);
      case 'function':
        return 'a function';
      default:
        return describeObject(value as object | null);
    }
  } catch {
    return 'an unreadable value';
  }
}

function describeObject(value: object | null): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array (length ${(value as unknown[]).length})`;
  const proto: unknown = Object.getPrototypeOf(value);
  const ctor: unknown = proto && typeof proto === 'object' ? Object.getOwnPropertyDescriptor(proto, 'constructor')?.value : undefined;
  const name = typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '' ? clip(ctor.name) : undefined;
  if (value instanceof Error) {
    const message: unknown = Object.getOwnPropertyDescriptor(value, 'message')?.value;
    return `${/^[AEIOU]/.test(name ?? 'Error') ? 'an' : 'a'} ${name ?? 'Error'}${typeof message === 'string' ? ` (${describeValue(message)})` : ''}`;
  }
  return name === undefined || name === 'Object' ? 'an object' : `an instance of ${name}`;
}

/**
 * Every error this library throws or rejects with is a `KucoinSchedulerError` with a stable `code`.
 * Match on `code` (or `instanceof`), never on the message text.
 */
export class KucoinSchedulerError extends Error {
  readonly code: KucoinSchedulerErrorCode;
  constructor(code: KucoinSchedulerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or argument is malformed: wrong type, out of range, missing. Nothing was charged or queued. */
export class InvalidArgumentError extends KucoinSchedulerError {
  declare readonly code: 'KS_INVALID_ARGUMENT';
  constructor(message: string, options?: { cause?: unknown }) {
    super('KS_INVALID_ARGUMENT', message, options);
  }
}

/** The pool name is not one the scheduler knows. */
export class UnknownPoolError extends KucoinSchedulerError {
  declare readonly code: 'KS_UNKNOWN_POOL';
  /** The name given; a description of the value when it was not a string. */
  readonly pool: string;
  constructor(pool: unknown, known: readonly string[]) {
    super('KS_UNKNOWN_POOL', `Expected a pool name, one of ${known.join(', ')} (any case), got ${describeValue(pool)}`);
    this.pool = typeof pool === 'string' ? pool : describeValue(pool);
  }
}

/** The endpoint string is not of the form `METHOD /path`, or names a host the scheduler does not know. */
export class InvalidEndpointError extends KucoinSchedulerError {
  declare readonly code: 'KS_INVALID_ENDPOINT';
  constructor(message: string) {
    super('KS_INVALID_ENDPOINT', message);
  }
}

/**
 * Under `strictEndpoints`, the endpoint is not in KuCoin's table (a typo, or a route the table lacks) and the
 * request did not name `pool` and `weight` to charge instead. Nothing was charged or queued.
 */
export class UnknownEndpointError extends KucoinSchedulerError {
  declare readonly code: 'KS_UNKNOWN_ENDPOINT';
  /** The endpoint as given. */
  readonly endpoint: string;
  /** The table's endpoint nearest to it (`'METHOD /path/{param}'`), as a hint. */
  readonly nearest: string;
  constructor(endpoint: string, nearest: string) {
    super(
      'KS_UNKNOWN_ENDPOINT',
      `Endpoint ${describeValue(endpoint)} is not in KuCoin's endpoint table (nearest: "${nearest}"); with strictEndpoints an endpoint the table lacks needs \`pool\` and \`weight\` in the schedule options (or turn strictEndpoints off)`,
    );
    this.endpoint = endpoint;
    this.nearest = nearest;
  }
}

/** The path exists on several hosts with different pools, and no `host` was given to decide. */
export class AmbiguousEndpointError extends KucoinSchedulerError {
  declare readonly code: 'KS_AMBIGUOUS_ENDPOINT';
  readonly hosts: readonly string[];
  constructor(endpoint: string, hosts: readonly string[]) {
    super('KS_AMBIGUOUS_ENDPOINT', `Endpoint ${describeValue(endpoint)} exists on hosts ${hosts.join(' and ')}: pass \`host\` to say which`);
    this.hosts = hosts;
  }
}

/** The weight is not a finite number > 0, or can never be admitted (above the pool's limit). */
export class InvalidWeightError extends KucoinSchedulerError {
  declare readonly code: 'KS_INVALID_WEIGHT';
  constructor(message: string) {
    super('KS_INVALID_WEIGHT', message);
  }
}

/** The priority is not one of critical, high, normal, low. */
export class InvalidPriorityError extends KucoinSchedulerError {
  declare readonly code: 'KS_INVALID_PRIORITY';
  constructor(priority: unknown) {
    super('KS_INVALID_PRIORITY', `Expected priority to be one of critical, high, normal, low, got ${describeValue(priority)}`);
  }
}

/** The per-priority queue of this process is full (option `maxQueued`). The request was not queued. */
export class QueueFullError extends KucoinSchedulerError {
  declare readonly code: 'KS_QUEUE_FULL';
  readonly priority: string;
  readonly depth: number;
  constructor(priority: string, depth: number) {
    super('KS_QUEUE_FULL', `The ${priority} queue is full (${depth} requests waiting); raise \`maxQueued\` or shed load`);
    this.priority = priority;
    this.depth = depth;
  }
}

/** The caller's AbortSignal fired before the request was admitted. Nothing was charged, nothing was sent. */
export class AbortError extends KucoinSchedulerError {
  declare readonly code: 'KS_ABORTED';
  constructor(reason?: unknown) {
    super('KS_ABORTED', 'The request was aborted before it was admitted', { cause: reason });
  }
}

/** The request could not be admitted within `maxWaitMs`. Nothing was charged, nothing was sent. */
export class MaxWaitExceededError extends KucoinSchedulerError {
  declare readonly code: 'KS_MAX_WAIT_EXCEEDED';
  readonly maxWaitMs: number;
  /** How much longer the store said the request would have had to wait, when known. */
  readonly retryAfterMs: number | undefined;
  constructor(maxWaitMs: number, retryAfterMs?: number) {
    super(
      'KS_MAX_WAIT_EXCEEDED',
      retryAfterMs === undefined
        ? `The request was not admitted within maxWaitMs (${maxWaitMs} ms)`
        : `The request would have to wait ${Math.ceil(retryAfterMs)} ms more, beyond maxWaitMs (${maxWaitMs} ms)`,
    );
    this.maxWaitMs = maxWaitMs;
    this.retryAfterMs = retryAfterMs;
  }
}

/** `close()` was called: pending requests are rejected with this, new ones too. */
export class SchedulerClosedError extends KucoinSchedulerError {
  declare readonly code: 'KS_CLOSED';
  constructor() {
    super('KS_CLOSED', 'The scheduler is closed');
  }
}

/** The store (Redis) failed or answered something unexpected. */
export class StoreError extends KucoinSchedulerError {
  declare readonly code: 'KS_STORE';
  constructor(message: string, cause?: unknown) {
    super('KS_STORE', message, { cause });
  }
}

/** The store is degraded (Redis unreachable) and this priority is set to fail closed (`failClosed`). */
export class StoreUnavailableError extends KucoinSchedulerError {
  declare readonly code: 'KS_STORE_UNAVAILABLE';
  readonly priority: string;
  constructor(priority: string) {
    super('KS_STORE_UNAVAILABLE', `Redis is unreachable and ${priority} requests fail closed (option \`failClosed\`); nothing was sent`);
    this.priority = priority;
  }
}

/** The rate-limit headers of a reply; -1 where missing. */
export interface ReplyRateLimit {
  readonly limit: number;
  readonly remaining: number;
  readonly resetMs: number;
}

/** What the attempt loop made of a KuCoin error reply (src/send/errorActions.ts, docs/error-codes.md). */
export interface ErrorClassification {
  /** The code's category: rate-limit, retry-later, clock, auth, region-kyc, restricted, business, request, service-stopping. */
  readonly category: string;
  /** Whether the library may send the same request again (for retry-later: only reads and clientOid orders). */
  readonly retryable: boolean;
  /**
   * What was done: `resent` (sent again and failed again), `clock-synced` (400002: clock offset learned, sent
   * again once), `key-circuit-opened`, `host-paused` (501000), `host-backoff` (retry later, not sent again),
   * `paused` (a rate-limit signal), `none` (business, request, region-kyc, restricted: failed at once).
   */
  readonly action: string;
}

/**
 * KuCoin answered with an error envelope (`{ code, msg }`), or kept refusing with a rate-limit signal after
 * every attempt. `kucoinCode` is KuCoin's code; no credential is ever part of it.
 */
export class KucoinApiError extends KucoinSchedulerError {
  declare readonly code: 'KS_KUCOIN_API';
  readonly kucoinCode: string | undefined;
  readonly msg: string | undefined;
  readonly status: number;
  readonly rateLimit: ReplyRateLimit;
  /** The rate-limit signal, when the last refusal was one (the request was then not executed). */
  readonly signal: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;
  /** The code's category (undefined for a code none of KuCoin's pages lists). */
  readonly category: string | undefined;
  /** Whether the library may send such a request again. */
  readonly retryable: boolean;
  /** What the library did about it (see ErrorClassification). */
  readonly action: string;
  constructor(init: {
    kucoinCode: string | undefined;
    msg: string | undefined;
    status: number;
    rateLimit: ReplyRateLimit;
    signal: string | undefined;
    method: string;
    path: string;
    attempts: number;
    classification?: ErrorClassification | undefined;
    /** What else went wrong (a 400002 whose clock sync failed: the ClockSyncError). */
    cause?: unknown;
  }) {
    super(
      'KS_KUCOIN_API',
      `${init.method} ${init.path} failed: HTTP ${init.status}, KuCoin code ${init.kucoinCode ?? 'none'}${init.msg ? ` (${init.msg.length > 200 ? `${init.msg.slice(0, 200)}...` : init.msg})` : ''}${init.signal ? `, rate-limit signal ${init.signal} after ${init.attempts} attempt(s)` : ''}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.kucoinCode = init.kucoinCode;
    this.msg = init.msg;
    this.status = init.status;
    this.rateLimit = init.rateLimit;
    this.signal = init.signal;
    this.method = init.method;
    this.path = init.path;
    this.attempts = init.attempts;
    this.category = init.classification?.category;
    this.retryable = init.classification?.retryable ?? false;
    this.action = init.classification?.action ?? 'none';
  }
}

/**
 * The API key's circuit is open: an auth failure (400003 key not found, 400004 passphrase, 400005 signature,
 * 400006 IP not allowed, 411100 frozen...) stopped every process from sending with it. Nothing was sent. After
 * the open time one request goes as a probe: success closes the circuit, an auth failure opens it longer.
 * `keyId` is a short hash of the key, never the key.
 */
export class KeyCircuitOpenError extends KucoinSchedulerError {
  declare readonly code: 'KS_KEY_CIRCUIT_OPEN';
  readonly keyId: string;
  /** Epoch ms until which the circuit is open; 0 while a probe is in flight. */
  readonly openUntil: number;
  /** The KuCoin code that opened it, when this process saw it. */
  readonly kucoinCode: string | undefined;
  constructor(keyId: string, openUntil: number, kucoinCode: string | undefined) {
    super(
      'KS_KEY_CIRCUIT_OPEN',
      openUntil > 0
        ? `The circuit of key ${keyId} is open (auth failure${kucoinCode ? ` ${kucoinCode}` : ''}) for ${Math.max(0, Math.ceil((openUntil - Date.now()) / 1000))} s more; nothing was sent`
        : `The circuit of key ${keyId} is half-open: its probe request is in flight; nothing was sent`,
    );
    this.keyId = keyId;
    this.openUntil = openUntil;
    this.kucoinCode = kucoinCode;
  }
}

/**
 * KuCoin's time (`GET /api/v1/timestamp`, read after a 400002) was not believed: not a number of ms since the
 * epoch between 2020 and 2100, or further from the local clock than `maxClockOffsetMs`. The offset in force was
 * kept. A 400002 it was read for fails with this as its `cause`.
 */
export class ClockSyncError extends KucoinSchedulerError {
  declare readonly code: 'KS_CLOCK_SYNC';
  /** The offset still in force (ms, KuCoin's clock minus the local one). */
  readonly offsetMs: number;
  constructor(reason: string, offsetMs: number) {
    super('KS_CLOCK_SYNC', `KuCoin's time was not believed: ${reason}; the clock offset stays ${offsetMs} ms`);
    this.offsetMs = offsetMs;
  }
}

/**
 * The request failed in transport (timeout, connection reset) or with a 5xx, and was not sent again
 * because that could duplicate it: only reads and orders with a `clientOid` are retried.
 */
export class KucoinRequestError extends KucoinSchedulerError {
  declare readonly code: 'KS_REQUEST_FAILED';
  readonly method: string;
  readonly path: string;
  readonly attempts: number;
  /** Whether the request may have been executed by the exchange. */
  readonly maybeExecuted: boolean;
  constructor(method: string, path: string, attempts: number, cause: unknown, status?: number) {
    super('KS_REQUEST_FAILED', `${method} ${path} failed after ${attempts} attempt(s): ${status ? `HTTP ${status}` : describeCause(cause)}`, { cause });
    this.method = method;
    this.path = path;
    this.attempts = attempts;
    this.maybeExecuted = true;
  }
}

function describeCause(cause: unknown): string {
  try {
    if (cause instanceof Error && typeof cause.message === 'string') return cause.message;
  } catch {
    // a hostile error object: describe it instead
  }
  return describeValue(cause);
}
