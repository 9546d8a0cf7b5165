import { AsyncLocalStorage } from 'node:async_hooks';
import { PRIORITIES, type Priority } from '../store/types.js';
import { InvalidPriorityError } from '../errors.js';

const current = new AsyncLocalStorage<Priority>();

/**
 * Runs `fn` with every request it makes through an SDK integration (ccxt, kucoin-universal-sdk, kucoin-api)
 * scheduled at `priority`, whatever the integration's rule says:
 * `await withPriority('critical', () => exchange.cancelOrder(id, 'BTC/USDT'))`.
 */
export function withPriority<T>(priority: Priority, fn: () => T): T {
  if (!(PRIORITIES as readonly unknown[]).includes(priority)) throw new InvalidPriorityError(priority);
  return current.run(priority, fn);
}

/** The priority `withPriority` set for the running call, if any. */
export function callPriority(): Priority | undefined {
  return current.getStore();
}

/** The default rule of every integration: cancels critical, orders high, the rest normal. */
export function defaultPriority(method: string): Priority {
  return method === 'DELETE' ? 'critical' : method === 'POST' ? 'high' : 'normal';
}
