import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  classifyWsError,
  createWsManager,
  InvalidArgumentError,
  KucoinSchedulerError,
  parseBullet,
  WS_CODE_RULES,
  WsCapacityError,
  WsProtocolError,
  WsTopicError,
  type KucoinWsError,
  type WsErrorCode,
  type WsManager,
  type WsSubscription,
} from '../src/index.js';
import { reconnectDelay } from '../src/ws/backoff.js';
import { nextBatch, parseTopic, type Batchable } from '../src/ws/topics.js';
import { UplinkPacer } from '../src/ws/uplinkPacer.js';
import { limitIn } from '../src/ws/wsCodes.js';

describe('WebSocket codes: every code of the seed page has a reaction', () => {
  // docs/ws-error-codes.md (seed 001): subscribing, connecting, other; then the gateway's WebSocket codes
  const seed: [number, string, 'connect' | 'command' | 'any', string][] = [
    [400, 'topic is invalid', 'command', 'refuse-topic'],
    [403, 'login is required', 'command', 'refuse-topic'],
    [404, 'topic does not exist', 'command', 'refuse-topic'],
    [406, 'topic is required', 'command', 'refuse-topic'],
    [509, 'exceed max subscription count limitation of 100 per time', 'command', 'split-message'],
    [509, 'exceed max subscription count limitation of 300 per session', 'command', 'session-full'],
    [401, 'token is invalid', 'connect', 'new-token'],
    [509, 'exceed max session count limitation of 50', 'connect', 'wait-session-slot'],
    [509, 'service busy, please retry later', 'connect', 'reconnect-later'],
    [400, 'ping timeout', 'any', 'ping-sooner'],
    [415, 'command type is invalid', 'command', 'protocol'],
    [500, 'system error', 'command', 'retry-later'],
    [500, 'system error', 'any', 'reconnect-later'],
    [509, 'exceed max permits per second', 'any', 'slow-down'],
    [509, 'exceed max permits per 10 seconds', 'command', 'slow-down'],
    [420001, 'Too many errors, disconnected. Please try again later.', 'any', 'reconnect-later'],
    [420002, 'Error receiving data.', 'any', 'reconnect-later'],
    [501000, 'The service has stopped running. Please disconnect: exiting', 'any', 'reconnect-later'],
  ];
  it.each(seed)('%i %s (%s) -> %s', (code, text, phase, reaction) => {
    expect(classifyWsError(code, text, phase).reaction).toBe(reaction);
    expect(classifyWsError(String(code), text, phase).reaction).toBe(reaction);
  });

  it('a ping timeout in reply to a command is still a ping timeout; unknown codes fall back safely', () => {
    expect(classifyWsError(400, 'ping timeout', 'command').reaction).toBe('ping-sooner');
    expect(classifyWsError(999, 'what', 'connect').reaction).toBe('reconnect-later');
    expect(classifyWsError(999, 'what', 'command').reaction).toBe('retry-later');
    expect(classifyWsError(undefined, undefined, 'any').reaction).toBe('reconnect-later');
    expect(new Set(WS_CODE_RULES.map((r) => r.code))).toEqual(new Set([400, 401, 403, 404, 406, 415, 500, 509, 420001, 420002, 501000]));
  });

  it('reads the number out of every 509 that states one: sessions (50 today, 150 for a while), per time, per session', () => {
    expect(limitIn('exceed max session count limitation of 50')).toBe(50);
    expect(limitIn('exceed max session count limitation of 150')).toBe(150);
    expect(limitIn('exceed max subscription count limitation of 100 per time')).toBe(100);
    expect(limitIn('exceed max subscription count limitation of 4 per time')).toBe(4);
    expect(limitIn('exceed max subscription count limitation of 300 per session')).toBe(300);
    expect(limitIn('Exceed Max Subscription Count Limitation Of 10 Per Session')).toBe(10);
    for (const none of ['service busy', 'exceed max permits per second', 'limitation of 0', 'limitation of 99999999', 'limitation of -3', 42, undefined]) {
      expect(limitIn(none)).toBeUndefined();
    }
  });
});

describe('topics', () => {
  const t = (topic: string, over: Partial<Batchable> = {}): Batchable => ({ ...parseTopic(topic), privateChannel: false, isolate: false, ...over });

  it('parses one topic and refuses comma lists, spaces and non-strings', () => {
    expect(parseTopic('/market/ticker:BTC-USDT')).toEqual({ topic: '/market/ticker:BTC-USDT', prefix: '/market/ticker', symbol: 'BTC-USDT' });
    expect(parseTopic('/spotMarket/tradeOrdersV2')).toEqual({ topic: '/spotMarket/tradeOrdersV2', prefix: '/spotMarket/tradeOrdersV2', symbol: undefined });
    for (const bad of ['/market/ticker:BTC-USDT,ETH-USDT', 'market/ticker', '/a b', '/x:', 42, undefined])
      expect(() => parseTopic(bad)).toThrow(InvalidArgumentError);
  });

  it('batches same prefix and channel up to perMessage, in order; symbol-less and isolated topics go alone', () => {
    const waiting = [
      t('/market/ticker:A-USDT'),
      t('/market/level2:A-USDT'),
      t('/market/ticker:B-USDT'),
      t('/market/ticker:C-USDT'),
      t('/market/ticker:D-USDT', { privateChannel: true }),
    ];
    expect(nextBatch(waiting, 2)).toMatchObject({ topic: '/market/ticker:A-USDT,B-USDT', privateChannel: false });
    expect(nextBatch(waiting, 100)!.topic).toBe('/market/ticker:A-USDT,B-USDT,C-USDT');
    expect(nextBatch([t('/spotMarket/tradeOrdersV2'), t('/market/ticker:A-USDT')], 100)!.topic).toBe('/spotMarket/tradeOrdersV2');
    expect(nextBatch([t('/market/ticker:A-USDT', { isolate: true }), t('/market/ticker:B-USDT')], 100)!.topic).toBe('/market/ticker:A-USDT');
    expect(nextBatch([t('/market/ticker:A-USDT'), t('/market/ticker:B-USDT', { isolate: true })], 100)!.topic).toBe('/market/ticker:A-USDT');
    expect(nextBatch([], 100)).toBeUndefined();
  });
});

describe('uplink pacing and backoff', () => {
  it('never lets more than limit messages into any span of window + margin; pings keep reserved slots', () => {
    let now = 0;
    const pacer = new UplinkPacer({ limit: 5, windowMs: 1000, marginMs: 100, reservedForPing: 1 }, () => now);
    for (let i = 0; i < 4; i++) {
      expect(pacer.delay('command')).toBe(0);
      pacer.record();
      now += 10;
    }
    expect(pacer.delay('command')).toBe(1100 - 40);
    expect(pacer.delay('ping')).toBe(0); // the reserved slot
    pacer.record();
    expect(pacer.delay('ping')).toBe(1100 - 40);
    now = 1100; // the message sent at 0 has left the span; the reserved ping still counts
    expect(pacer.delay('command')).toBe(10);
    now = 1110;
    expect(pacer.delay('command')).toBe(0);
    pacer.slowDown();
    expect(pacer.delay('command')).toBe(1100);
    expect(pacer.delay('ping')).toBe(0);
  });

  it('reconnect delays double up to the cap, less jitter', () => {
    const b = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 40].map((a) => reconnectDelay(b, a, 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(reconnectDelay(b, 3, 1)).toBe(200);
  });
});

describe('token replies, options and errors', () => {
  it('reads a bullet reply and refuses a malformed one with WsProtocolError', () => {
    const data = {
      token: 't',
      instanceServers: [{ endpoint: 'wss://ws-api-spot.kucoin.com/', encrypt: true, protocol: 'websocket', pingInterval: 18000, pingTimeout: 10000 }],
    };
    expect(parseBullet(data, 5)).toEqual({ token: 't', endpoint: 'wss://ws-api-spot.kucoin.com/', pingIntervalMs: 18000, pingTimeoutMs: 10000, fetchedAt: 5 });
    for (const bad of [
      undefined,
      {},
      { token: 't', instanceServers: [] },
      { token: '', instanceServers: data.instanceServers },
      { token: 't', instanceServers: [{ endpoint: 'http://x' }] },
    ]) {
      expect(() => parseBullet(bad, 0)).toThrow(WsProtocolError);
    }
  });

  it('validates options eagerly, naming the option', () => {
    const tokenSource = async () => parseBullet({ token: 't', instanceServers: [{ endpoint: 'ws://127.0.0.1:1/' }] }, 0);
    expect(() => createWsManager({ kind: 'private', tokenSource })).toThrow(/uid/);
    expect(() => createWsManager({ tokenSource, sessionLimit: 0 })).toThrow(/sessionLimit/);
    expect(() => createWsManager({ tokenSource, connects: { limit: 1.5 } })).toThrow(/connects\.limit/);
    expect(() => createWsManager({ tokenSource, uplink: { limit: 3, reservedForPing: 3 } })).toThrow(/uplink\.reservedForPing/);
    expect(() => createWsManager({ tokenSource, leaseMs: 1000, heartbeatMs: 1000 })).toThrow(/heartbeatMs/);
    expect(() => createWsManager({ tokenSource, leaseMarginMs: -1 })).toThrow(/leaseMarginMs/);
    expect(() => createWsManager({ tokenSource, maxMessageBytes: 10 })).toThrow(/maxMessageBytes/);
    expect(() => createWsManager({ tokenSource, sessionRefusal: { learnForMs: 1 } as never })).toThrow(/top-level option learnForMs/);
    expect(() => createWsManager({} as never)).toThrow(/exactly one of options.client/);
    expect(() => createWsManager({ tokenSource, kind: 'x' as never })).toThrow(InvalidArgumentError);
  });

  it('every WebSocket error is a KucoinSchedulerError with a literal code', () => {
    const errors = [new WsTopicError('/t', 404, 'topic does not exist'), new WsCapacityError('/t', 10, 'sessions'), new WsProtocolError('x', 415)];
    for (const e of errors) {
      expect(e).toBeInstanceOf(KucoinSchedulerError);
      expect(e.name).toBe(e.constructor.name);
    }
    expect(errors.map((e) => e.code)).toEqual(['KS_WS_TOPIC_REFUSED', 'KS_WS_NO_CAPACITY', 'KS_WS_PROTOCOL']);
  });
});

describe('public types', () => {
  it('codes are literals a caller can switch on exhaustively', () => {
    expectTypeOf<WsTopicError['code']>().toEqualTypeOf<'KS_WS_TOPIC_REFUSED'>();
    expectTypeOf<WsCapacityError['code']>().toEqualTypeOf<'KS_WS_NO_CAPACITY'>();
    expectTypeOf<KucoinWsError['code']>().toEqualTypeOf<WsErrorCode>();
    expectTypeOf<WsTopicError['kucoinCode']>().toEqualTypeOf<400 | 403 | 404 | 406>();
    expectTypeOf<WsManager['subscribe']>().returns.resolves.toEqualTypeOf<WsSubscription>();
    expectTypeOf<WsSubscription['ended']>().resolves.toEqualTypeOf<KucoinWsError | undefined>();
  });
});
