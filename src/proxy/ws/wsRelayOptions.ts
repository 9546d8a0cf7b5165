import { numberOption, objectOption } from '../../util/optionChecks.js';
import type { WsBudgetStore } from '../../ws/store/wsStoreTypes.js';
import type { UplinkLimits } from '../../ws/uplinkPacer.js';
import { resolveWsOptions, type ResolvedWsOptions, type WsManagerOptions } from '../../ws/wsOptions.js';

/**
 * The WebSocket relay's options. The budgets are the WebSocket manager's (src/ws/wsOptions.ts), with its defaults,
 * held in the same store: a fleet of proxies and library processes on one WsRedisStore shares one session, connect,
 * topic and uplink budget per UID (private) and per egress IP (public).
 */
export interface ProxyWsOptions extends Pick<
  WsManagerOptions,
  'store' | 'sessionLimit' | 'connects' | 'topicsPerMessage' | 'topicsPerSession' | 'uplink' | 'leaseMs'
> {
  /** Longest wait for the connect budget; then the bot's connection gets KuCoin's 509 "service busy". @default 10_000 */
  readonly connectWaitMs?: number;
  /** Bot messages held per connection while its uplink budget is spent; more get KuCoin's 509 "exceed max permits". @default 100 */
  readonly maxHeldMessages?: number;
  /** Largest message relayed either way, in bytes. @default 1_048_576 */
  readonly maxMessageBytes?: number;
}

export interface ResolvedRelayOptions {
  readonly store: WsBudgetStore | undefined;
  /** The manager's options every subject is resolved with (budgets and their defaults). */
  readonly budgets: Omit<WsManagerOptions, 'kind' | 'uid' | 'ip' | 'client' | 'tokenSource'>;
  readonly connectWaitMs: number;
  readonly maxHeldMessages: number;
  readonly maxMessageBytes: number;
}

export function resolveRelayOptions(options: ProxyWsOptions): ResolvedRelayOptions {
  const o = objectOption('websocket', options) ?? {};
  const budgets = {
    ...(o.sessionLimit === undefined ? {} : { sessionLimit: o.sessionLimit as number }),
    ...(o.connects === undefined ? {} : { connects: o.connects as ProxyWsOptions['connects'] }),
    ...(o.topicsPerMessage === undefined ? {} : { topicsPerMessage: o.topicsPerMessage as number }),
    ...(o.topicsPerSession === undefined ? {} : { topicsPerSession: o.topicsPerSession as number }),
    ...(o.uplink === undefined ? {} : { uplink: o.uplink as Partial<UplinkLimits> }),
    ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs as number }),
  };
  const resolved: ResolvedRelayOptions = {
    store: o.store as WsBudgetStore | undefined,
    budgets,
    connectWaitMs: numberOption('websocket.connectWaitMs', o.connectWaitMs ?? 10_000, { min: 0, max: 600_000, integer: true }),
    maxHeldMessages: numberOption('websocket.maxHeldMessages', o.maxHeldMessages ?? 100, { min: 0, max: 100_000, integer: true }),
    maxMessageBytes: numberOption('websocket.maxMessageBytes', o.maxMessageBytes ?? 1_048_576, { min: 1_024, max: 67_108_864, integer: true }),
  };
  // validated now (the manager's own checks), not at the first connection
  subjectOptions(resolved, { kind: 'public', ip: 'default' });
  return resolved;
}

/** The manager's resolution of one subject's budgets (a token source is required there; the relay fetches none). */
export function subjectOptions(
  relay: ResolvedRelayOptions,
  subject: { readonly kind: 'public'; readonly ip: string } | { readonly kind: 'private'; readonly uid: string },
  store?: WsBudgetStore,
): ResolvedWsOptions {
  return resolveWsOptions({
    ...relay.budgets,
    ...subject,
    ...((store ?? relay.store) ? { store: store ?? relay.store } : {}),
    tokenSource: () => Promise.reject(new Error('the proxy relays tokens, it does not fetch them')),
  });
}
