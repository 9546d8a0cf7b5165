import type { Dispatcher } from 'undici';
import { PRIORITIES, type Priority } from '../store/types.js';
import { describeValue, InvalidArgumentError, KucoinSchedulerError } from '../errors.js';
import type { KucoinClient } from '../http/kucoinClient.js';
import { expectOption, numberOption, objectOption, type NumberRange } from '../util/optionChecks.js';
import type { ReconnectBackoff } from './backoff.js';
import { WsMemoryStore } from './store/wsMemoryStore.js';
import type { WsBudgetStore, WsSubjectLimits } from './store/wsStoreTypes.js';
import { kucoinTokenSource, type TokenSource, type WsKind } from './tokenSource.js';
import type { UplinkLimits } from './uplinkPacer.js';

/** Options of `createWsManager(...)`. */
export interface WsManagerOptions {
  /**
   * `public`: tokens from POST /api/v1/bullet-public, sessions counted per egress IP; `private`: tokens from
   * bullet-private (signed: the client needs credentials), sessions counted per UID. A private connection
   * carries public topics too.
   * @default 'public'
   */
  readonly kind?: WsKind;
  /** Fetches tokens through its scheduler (their weight is charged). Give this or `tokenSource`. */
  readonly client?: KucoinClient;
  /** Your own token fetch (it should go through the scheduler too). Give this or `client`. */
  readonly tokenSource?: TokenSource;
  /** Spot and futures tokens come from their own hosts. @default 'spot' */
  readonly host?: 'spot' | 'futures';
  /** The account. Required for `private`; private sessions are shared by every process with this uid. */
  readonly uid?: string;
  /** The egress IP identity: public sessions are shared by every process with this value. @default 'default' */
  readonly ip?: string;
  /** Where the budgets live. @default a new WsMemoryStore (this process only); a WsRedisStore shares them with the fleet */
  readonly store?: WsBudgetStore;
  /** Sessions per UID (private) or IP (public). KuCoin says 50 (it said 150 for a while). @default 50 */
  readonly sessionLimit?: number;
  /** New connections per window, over every process. @default { limit: 30, windowMs: 60_000, marginMs: 2_000 } */
  readonly connects?: { readonly limit?: number; readonly windowMs?: number; readonly marginMs?: number };
  /** Topics (symbols) per subscribe message. @default 100 */
  readonly topicsPerMessage?: number;
  /** Topics per connection. @default 300 */
  readonly topicsPerSession?: number;
  /** Uplink messages per connection. @default { limit: 100, windowMs: 10_000, marginMs: 250, reservedForPing: 5 } */
  readonly uplink?: Partial<UplinkLimits>;
  /**
   * A session's lease in the store: a process that stops renewing (crashed, frozen, cut off from the store)
   * loses its slots this long after its last renewal, and only then may another process take them. A process
   * cut off from the store closes its sockets in time; a frozen one cannot, so the lease outlasts the time the
   * server counts a silent session (the token's pingInterval + pingTimeout, 28 s at KuCoin): at least that +
   * `leaseMarginMs` + 3 x `heartbeatMs`, raised to it when a token says more.
   * @default 40_000
   */
  readonly leaseMs?: number;
  /** How often leases are renewed. @default leaseMs / 20 (2_000) */
  readonly heartbeatMs?: number;
  /**
   * Kept between the server dropping a session of this process and its lease's end (the close's transit, the
   * clocks' drift). A socket sends nothing once the server could count it past `lease end - leaseMarginMs` if
   * the process froze there (its last message + pingInterval + pingTimeout): it closes instead.
   * @default 2_000
   */
  readonly leaseMarginMs?: number;
  /**
   * Reconnects: jittered exponential backoff, always inside the connect budget; the delay starts over once
   * a connection stayed up `resetAfterMs`. After `maxAttempts` dials in a row that never got `welcome` (or
   * token fetches that failed) the connection gives up and its topics end with WsConnectError.
   * @default { baseMs: 1_000, maxMs: 30_000, jitter: 0.5, maxAttempts: 20, resetAfterMs: 60_000 }
   */
  readonly reconnect?: Partial<ReconnectBackoff & { readonly maxAttempts: number; readonly resetAfterMs: number }>;
  /** The shared pause after 509 "service busy" (every process). @default { baseMs: 2_000, maxMs: 60_000, jitter: 0.5, resetAfterMs: 300_000 } */
  readonly busyBackoff?: Partial<ReconnectBackoff & { readonly resetAfterMs: number }>;
  /**
   * After 509 "exceed max session count limitation of N" the fleet holds no more sessions than it held then
   * (a slot that frees is taken at once), and one more every `pauseMs` (a session held elsewhere on the
   * account costs one 509 per `pauseMs`). 0: no cap. @default { pauseMs: 10_000 }
   */
  readonly sessionRefusal?: { readonly pauseMs?: number };
  /** What a 509's text states (sessions, topics per message, topics per session) is believed this long, by every process sharing the store. @default 600_000 */
  readonly learnForMs?: number;
  /** Longest wait for `welcome` after dialing. @default 10_000 */
  readonly connectTimeoutMs?: number;
  /** Longest wait for a subscribe's `ack`; then the connection is dropped and made again. @default 10_000 */
  readonly ackTimeoutMs?: number;
  /** Default longest wait until a topic is served; then its subscribe rejects with WsCapacityError. @default 120_000 */
  readonly maxWaitMs?: number;
  /** A connection left without topics closes after this long (its session slot frees). @default 10_000 */
  readonly idleCloseMs?: number;
  /** A token is used for new dials this long after it was fetched (a 401 drops it at once). @default 600_000 */
  readonly tokenMaxAgeMs?: number;
  /** Priority of token requests in the scheduler (with `client`). @default 'high' */
  readonly tokenPriority?: Priority;
  /**
   * Longest message accepted from the push server (KuCoin's are a few KB). Without `dispatcher` each dial has
   * its own, which refuses a longer message at its frame header (nothing of it is read); through your
   * dispatcher the message is read whole first (set its `webSocket.maxPayloadSize` too). Either way the
   * socket closes, a `protocolError` event carries a WsTooLargeError, and the connection dials again.
   * @default 1_048_576
   */
  readonly maxMessageBytes?: number;
  /** undici dispatcher for the WebSocket dials (a proxy). @default a dispatcher of the dial's own (see maxMessageBytes) */
  readonly dispatcher?: Dispatcher;
}

export interface ResolvedWsOptions {
  readonly kind: WsKind;
  readonly host: 'spot' | 'futures';
  readonly tokenSource: TokenSource;
  readonly store: WsBudgetStore;
  readonly limits: WsSubjectLimits;
  readonly topicsPerMessage: number;
  readonly topicsPerSession: number;
  readonly uplink: UplinkLimits;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly leaseMarginMs: number;
  readonly learnForMs: number;
  readonly reconnect: ReconnectBackoff & { readonly maxAttempts: number; readonly resetAfterMs: number };
  readonly busyBackoff: ReconnectBackoff & { readonly resetAfterMs: number };
  readonly sessionRefusal: { readonly pauseMs: number };
  readonly connectTimeoutMs: number;
  readonly ackTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly idleCloseMs: number;
  readonly tokenMaxAgeMs: number;
  readonly maxMessageBytes: number;
  readonly dispatcher: Dispatcher | undefined;
}

const DAY = 86_400_000;
const COUNT: NumberRange = { min: 1, max: 1_000_000, integer: true };
const MS: NumberRange = { min: 1, max: DAY, integer: true };
const MS0: NumberRange = { min: 0, max: DAY, integer: true };
const JITTER: NumberRange = { min: 0, max: 1 };

function identity(name: string, value: unknown): string {
  expectOption(
    typeof value === 'string' && value.length > 0 && value.length <= 128 && !/[{}\s\p{Cc}]/u.test(value),
    name,
    'a non-empty string of at most 128 characters without braces or spaces',
    value,
  );
  return value as string;
}

/** Every option read once, validated eagerly, defaults applied here. A bad one is an InvalidArgumentError naming it. */
export function resolveWsOptions(options: WsManagerOptions): ResolvedWsOptions {
  try {
    expectOption(options !== null && typeof options === 'object', 'the WebSocket manager options', 'an object', options);
    const kind = options.kind ?? 'public';
    expectOption(kind === 'public' || kind === 'private', 'kind', "'public' or 'private'", kind);
    const host = options.host ?? 'spot';
    expectOption(host === 'spot' || host === 'futures', 'host', "'spot' or 'futures'", host);
    if ((options.client === undefined) === (options.tokenSource === undefined)) {
      throw new InvalidArgumentError(
        `Expected exactly one of options.client (a KucoinClient) and options.tokenSource, got ${options.client === undefined ? 'neither' : 'both'}`,
      );
    }
    expectOption(
      options.tokenSource === undefined || typeof options.tokenSource === 'function',
      'tokenSource',
      'a function (signal) => Promise<WsToken>',
      options.tokenSource,
    );
    expectOption(
      options.client === undefined || typeof (options.client as { request?: unknown }).request === 'function',
      'client',
      'a KucoinClient',
      options.client,
    );
    expectOption(
      options.tokenPriority === undefined || (PRIORITIES as readonly unknown[]).includes(options.tokenPriority),
      'tokenPriority',
      'one of critical, high, normal, low',
      options.tokenPriority,
    );
    const subject = kind === 'private' ? `uid:${identity('uid', options.uid)}` : `ip:${identity('ip', options.ip ?? 'default')}`;
    const store = options.store ?? new WsMemoryStore();
    const s = store as Partial<WsBudgetStore>;
    expectOption(
      typeof s.acquireSession === 'function' && typeof s.acquireConnect === 'function' && typeof s.renew === 'function',
      'store',
      'a WsMemoryStore or WsRedisStore',
      store,
    );

    const connects = objectOption('connects', options.connects) ?? {};
    const uplink = objectOption('uplink', options.uplink) ?? {};
    const reconnect = objectOption('reconnect', options.reconnect) ?? {};
    const busy = objectOption('busyBackoff', options.busyBackoff) ?? {};
    const refusal = objectOption('sessionRefusal', options.sessionRefusal) ?? {};
    const leaseMs = numberOption('leaseMs', options.leaseMs ?? 40_000, { min: 100, max: DAY, integer: true });
    expectOption(refusal.learnForMs === undefined, 'sessionRefusal.learnForMs', 'absent (it is the top-level option learnForMs now)', refusal.learnForMs);
    const uplinkLimit = numberOption('uplink.limit', uplink.limit ?? 100, COUNT);
    const resolved: ResolvedWsOptions = {
      kind,
      host,
      tokenSource: options.tokenSource ?? kucoinTokenSource(options.client!, { kind, host, priority: options.tokenPriority ?? 'high' }),
      store,
      limits: {
        subject,
        sessionLimit: numberOption('sessionLimit', options.sessionLimit ?? 50, COUNT),
        leaseMs,
        connectLimit: numberOption('connects.limit', connects.limit ?? 30, COUNT),
        connectSpanMs: numberOption('connects.windowMs', connects.windowMs ?? 60_000, MS) + numberOption('connects.marginMs', connects.marginMs ?? 2_000, MS0),
      },
      topicsPerMessage: numberOption('topicsPerMessage', options.topicsPerMessage ?? 100, COUNT),
      topicsPerSession: numberOption('topicsPerSession', options.topicsPerSession ?? 300, COUNT),
      uplink: {
        limit: uplinkLimit,
        windowMs: numberOption('uplink.windowMs', uplink.windowMs ?? 10_000, MS),
        marginMs: numberOption('uplink.marginMs', uplink.marginMs ?? 250, MS0),
        reservedForPing: numberOption('uplink.reservedForPing', uplink.reservedForPing ?? Math.min(5, uplinkLimit - 1), {
          min: 0,
          max: uplinkLimit - 1,
          integer: true,
        }),
      },
      leaseMs,
      heartbeatMs: numberOption('heartbeatMs', options.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 20)), { min: 1, max: leaseMs - 1, integer: true }),
      leaseMarginMs: numberOption('leaseMarginMs', options.leaseMarginMs ?? 2_000, MS0),
      learnForMs: numberOption('learnForMs', options.learnForMs ?? 600_000, MS0),
      reconnect: {
        baseMs: numberOption('reconnect.baseMs', reconnect.baseMs ?? 1_000, MS),
        maxMs: numberOption('reconnect.maxMs', reconnect.maxMs ?? 30_000, MS),
        jitter: numberOption('reconnect.jitter', reconnect.jitter ?? 0.5, JITTER),
        maxAttempts: numberOption('reconnect.maxAttempts', reconnect.maxAttempts ?? 20, COUNT),
        resetAfterMs: numberOption('reconnect.resetAfterMs', reconnect.resetAfterMs ?? 60_000, MS0),
      },
      busyBackoff: {
        baseMs: numberOption('busyBackoff.baseMs', busy.baseMs ?? 2_000, MS),
        maxMs: numberOption('busyBackoff.maxMs', busy.maxMs ?? 60_000, MS),
        jitter: numberOption('busyBackoff.jitter', busy.jitter ?? 0.5, JITTER),
        resetAfterMs: numberOption('busyBackoff.resetAfterMs', busy.resetAfterMs ?? 300_000, MS0),
      },
      sessionRefusal: {
        pauseMs: numberOption('sessionRefusal.pauseMs', refusal.pauseMs ?? 10_000, MS0),
      },
      connectTimeoutMs: numberOption('connectTimeoutMs', options.connectTimeoutMs ?? 10_000, MS),
      ackTimeoutMs: numberOption('ackTimeoutMs', options.ackTimeoutMs ?? 10_000, MS),
      maxWaitMs: numberOption('maxWaitMs', options.maxWaitMs ?? 120_000, MS0),
      idleCloseMs: numberOption('idleCloseMs', options.idleCloseMs ?? 10_000, MS0),
      tokenMaxAgeMs: numberOption('tokenMaxAgeMs', options.tokenMaxAgeMs ?? 600_000, MS0),
      maxMessageBytes: numberOption('maxMessageBytes', options.maxMessageBytes ?? 1_048_576, { min: 1_024, max: 134_217_728, integer: true }),
      dispatcher: options.dispatcher,
    };
    return resolved;
  } catch (error) {
    if (error instanceof KucoinSchedulerError) throw error;
    throw new InvalidArgumentError(`Expected readable WebSocket manager options, but reading them threw ${describeValue(error)}`, { cause: error });
  }
}
