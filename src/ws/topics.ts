import { describeValue, InvalidArgumentError } from '../errors.js';

/** One topic as the manager tracks it: `/market/ticker:BTC-USDT` is prefix `/market/ticker`, symbol `BTC-USDT`. */
export interface TopicName {
  readonly topic: string;
  readonly prefix: string;
  /** undefined for topics without a `:` part (`/spotMarket/tradeOrders`). */
  readonly symbol: string | undefined;
}

const TOPIC = /^\/[\x21-\x7e]{1,511}$/;

/**
 * Reads a topic: one prefix and at most one symbol. A comma list (`/market/ticker:BTC-USDT,ETH-USDT`) is
 * refused: subscribe to each topic, the manager batches them into messages itself.
 */
export function parseTopic(topic: unknown): TopicName {
  if (typeof topic !== 'string' || !TOPIC.test(topic)) {
    throw new InvalidArgumentError(
      `Expected a topic like "/market/ticker:BTC-USDT" (a "/" and up to 511 printable characters, no spaces), got ${describeValue(topic)}`,
    );
  }
  const colon = topic.indexOf(':');
  if (colon < 0) return { topic, prefix: topic, symbol: undefined };
  const symbol = topic.slice(colon + 1);
  if (symbol === '' || symbol.includes(',') || symbol.includes(':')) {
    throw new InvalidArgumentError(
      `Expected one symbol after ":" in topic ${describeValue(topic)}: subscribe to each topic on its own, the manager batches them`,
    );
  }
  return { topic, prefix: topic.slice(0, colon), symbol };
}

/** What a batch needs from a waiting topic. */
export interface Batchable extends TopicName {
  readonly privateChannel: boolean;
  /** Send it alone (its batch was refused: find which topic the server refuses). */
  readonly isolate: boolean;
}

export interface Batch<T extends Batchable> {
  /** The `topic` field of the subscribe message: `prefix:sym1,sym2,...` or one topic. */
  readonly topic: string;
  readonly privateChannel: boolean;
  readonly items: readonly T[];
}

/**
 * The next subscribe (or unsubscribe) message for `waiting`, in order: the first waiting topic and every
 * later one with the same prefix and channel, up to `perMessage` symbols. A topic without a symbol, or one
 * to isolate, goes alone.
 */
export function nextBatch<T extends Batchable>(waiting: Iterable<T>, perMessage: number): Batch<T> | undefined {
  let first: T | undefined;
  const items: T[] = [];
  for (const t of waiting) {
    if (!first) {
      first = t;
      items.push(t);
      if (t.symbol === undefined || t.isolate) break;
      continue;
    }
    if (items.length >= perMessage) break;
    if (t.prefix === first.prefix && t.privateChannel === first.privateChannel && t.symbol !== undefined && !t.isolate) items.push(t);
  }
  if (!first) return undefined;
  const topic = first.symbol === undefined || items.length === 1 ? first.topic : `${first.prefix}:${items.map((t) => t.symbol).join(',')}`;
  return { topic, privateChannel: first.privateChannel, items };
}
