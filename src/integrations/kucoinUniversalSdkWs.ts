/**
 * kucoin-universal-sdk's WebSockets on the fleet's budgets: the second call, beside `withKucoinScheduler`.
 *
 * ```ts
 * const transport = withKucoinScheduler(new TransportOptionBuilder(), { scheduler, credentials }).build();
 * const client = withKucoinWebSockets(new DefaultClient(option), { uid, store: new WsRedisStore({ client: redis }) });
 * const spot = client.wsService().newSpotPublicWS(); // the SDK's own API (ticker, orderbookLevel50, ...)
 * await spot.start();
 * const id = await spot.ticker(['BTC-USDT', 'ETH-USDT'], (topic, subject, data) => console.log(data));
 * ```
 *
 * The SDK's own service fetches a token per dial, reconnects every 5 s forever and re-subscribes every topic
 * at once. Here every service of `client.wsService()` is the SDK's generated API class around a service
 * backed by a WsManager: session leases, connects per minute, topics per message and per session and uplink
 * pacing shared with every process on the same store, tokens fetched through the SDK's own REST client (so
 * `withKucoinScheduler` schedules them), and every WebSocket code acted on (WS_CODE_RULES). A refusal rejects
 * the SDK call with the typed error (WsCapacityError, WsTopicError...). The SDK is not imported here: it is
 * loaded from where it is installed, and the types below are its structural shape.
 */
import { createRequire } from 'node:module';
import { InvalidArgumentError } from '../errors.js';
import type { WsSubscription } from '../ws/topicRequest.js';
import { parseBullet, type TokenSource, type WsKind } from '../ws/tokenSource.js';
import { createWsManager, type WsManager } from '../ws/wsManager.js';
import { resolveWsOptions, type WsManagerOptions } from '../ws/wsOptions.js';
import { WsMemoryStore } from '../ws/store/wsMemoryStore.js';

/** The options of the managers behind the SDK's services: those of `createWsManager` but where tokens come from and which kind and host (each service says). */
export type KucoinSdkWebSocketOptions = Omit<WsManagerOptions, 'kind' | 'host' | 'client' | 'tokenSource'>;

interface SdkTokenApi {
  getPublicToken(): Promise<unknown>;
  getPrivateToken(): Promise<unknown>;
}

/** The parts of kucoin-universal-sdk's `DefaultClient` used here. */
export interface KucoinSdkClientLike {
  wsService(): object;
  restService(): { getSpotService(): { getMarketApi(): SdkTokenApi }; getFuturesService(): { getMarketApi(): SdkTokenApi } };
}

/** kucoin-universal-sdk's `WebSocketMessageCallback`: the generated wrappers read `topic`, `subject` and `data`. */
interface SdkMessageCallback {
  onMessage(message: never): void;
}

/** Each factory of the SDK's `KucoinWSService`: its generated class (by namespace path), the token kind and host. */
const SERVICES = {
  newSpotPublicWS: { path: ['Spot', 'SpotPublic', 'SpotPublicWSImpl'], kind: 'public', host: 'spot' },
  newSpotPrivateWS: { path: ['Spot', 'SpotPrivate', 'SpotPrivateWSImpl'], kind: 'private', host: 'spot' },
  newMarginPublicWS: { path: ['Margin', 'MarginPublic', 'MarginPublicWSImpl'], kind: 'public', host: 'spot' },
  newMarginPrivateWS: { path: ['Margin', 'MarginPrivate', 'MarginPrivateWSImpl'], kind: 'private', host: 'spot' },
  newFuturesPublicWS: { path: ['Futures', 'FuturesPublic', 'FuturesPublicWSImpl'], kind: 'public', host: 'futures' },
  newFuturesPrivateWS: { path: ['Futures', 'FuturesPrivate', 'FuturesPrivateWSImpl'], kind: 'private', host: 'futures' },
} as const satisfies Record<string, { path: readonly string[]; kind: WsKind; host: 'spot' | 'futures' }>;

/** The SDK's id of a subscription: prefix, then the sorted args (`EMPTY_ARGS` without), as its SubInfo writes it. */
function subscriptionId(prefix: string, args: readonly string[]): string {
  return `${prefix}@@${args.length === 0 ? 'EMPTY_ARGS' : [...args].sort().join(',')}`;
}

/**
 * kucoin-universal-sdk's `WebSocketService` (start, stop, subscribe, unsubscribe) on a WsManager. A subscribe
 * of several symbols resolves once the server acknowledged every one (batched and paced by the manager), or
 * rejects with the first typed error (the symbols served meanwhile are unsubscribed again).
 */
export class SchedulerWsService {
  #manager: WsManager | undefined;
  readonly #subs = new Map<string, Promise<WsSubscription[]>>();

  constructor(
    private readonly make: () => WsManager,
    private readonly privateChannel: boolean,
  ) {}

  /** Nothing dials before a topic is asked for: the manager's connections open with their first topic. */
  async start(): Promise<void> {
    this.#manager ??= this.make();
  }

  /** Closes every connection (close handshake, session slots released); `start()` makes a new manager. */
  async stop(): Promise<void> {
    const manager = this.#manager;
    this.#manager = undefined;
    this.#subs.clear();
    await manager?.close();
  }

  async subscribe(prefix: string, args: readonly string[] | undefined, callback: SdkMessageCallback): Promise<string> {
    const manager = (this.#manager ??= this.make());
    const list = args ?? [];
    const id = subscriptionId(prefix, list);
    if (this.#subs.has(id)) throw new InvalidArgumentError(`Already subscribed: ${id}`);
    const topics = list.length === 0 ? [prefix] : list.map((a) => `${prefix}:${a}`);
    const onMessage = (push: { raw: unknown }) => callback.onMessage(push.raw as never);
    const pending = Promise.allSettled(topics.map((t) => manager.subscribe(t, { privateChannel: this.privateChannel, onMessage }))).then(async (results) => {
      const served = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) return served;
      await Promise.all(served.map((s) => s.unsubscribe()));
      throw failed.reason;
    });
    this.#subs.set(id, pending);
    try {
      await pending;
      return id;
    } catch (error) {
      this.#subs.delete(id);
      throw error;
    }
  }

  async unsubscribe(id: string): Promise<void> {
    const pending = this.#subs.get(id);
    if (!pending) throw new InvalidArgumentError(`No subscription ${JSON.stringify(id)}`);
    this.#subs.delete(id);
    await Promise.all((await pending).map((s) => s.unsubscribe()));
  }
}

/**
 * Makes `client.wsService()` return the SDK's WebSocket APIs on the fleet's budgets (see the module comment).
 * Each `newXxxWS()` gets its own manager (its own connections) on the one store given here: pass a
 * WsRedisStore and the `uid` (private) or `ip` (public) every process of the account uses. Returns `client`.
 */
export function withKucoinWebSockets<C extends KucoinSdkClientLike>(client: C, options: KucoinSdkWebSocketOptions = {}): C {
  const store = options.store ?? new WsMemoryStore();
  const shared = { ...options, store };
  // every option checked now (as a public manager; `uid` when a private service is made)
  resolveWsOptions({ ...shared, kind: 'public', tokenSource: async () => Promise.reject(new Error('unused')) });
  const sdk = createRequire(import.meta.url)('kucoin-universal-sdk') as Record<string, unknown>;
  const factories: Record<string, () => object> = {};
  for (const [name, { path, kind, host }] of Object.entries(SERVICES)) {
    const Api = path.reduce<unknown>((o, key) => (o as Record<string, unknown> | undefined)?.[key], sdk) as (new (service: unknown) => object) | undefined;
    if (typeof Api !== 'function') throw new InvalidArgumentError(`This kucoin-universal-sdk has no ${path.join('.')}: withKucoinWebSockets supports 1.3`);
    const market = () => (host === 'futures' ? client.restService().getFuturesService() : client.restService().getSpotService()).getMarketApi();
    const tokenSource: TokenSource = async () => parseBullet(await (kind === 'private' ? market().getPrivateToken() : market().getPublicToken()), Date.now());
    factories[name] = () => {
      const make = () => createWsManager({ ...shared, kind, host, tokenSource });
      if (kind === 'private') resolveWsOptions({ ...shared, kind, host, tokenSource });
      return new Api(new SchedulerWsService(make, kind === 'private'));
    };
  }
  Object.defineProperty(client, 'wsService', { value: () => factories, configurable: true, writable: true });
  return client;
}
