import { KucoinSchedulerError } from '../errors.js';

/** Every `code` the WebSocket side's errors carry. Stable: match on these, never on message text. */
export const WS_ERROR_CODES = [
  'KS_WS_TOPIC_REFUSED',
  'KS_WS_NO_CAPACITY',
  'KS_WS_CONNECT_FAILED',
  'KS_WS_PROTOCOL',
  'KS_WS_TOO_LARGE',
  'KS_WS_CLOSED',
] as const;

/** The `code` of every WebSocket error (WS_ERROR_CODES): switch on it. */
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

/** Every error of the WebSocket side: a KucoinSchedulerError whose `code` is one of WS_ERROR_CODES. */
export abstract class KucoinWsError extends KucoinSchedulerError {
  declare readonly code: WsErrorCode;
}

/** KuCoin's codes that refuse a topic (seed 001): 400 topic invalid, 403 login required, 404 no such topic, 406 topic required. */
export type TopicRefusalCode = 400 | 403 | 404 | 406;

/** The server refused the topic (400, 403, 404 or 406): sending it again would get the same answer. */
export class WsTopicError extends KucoinWsError {
  declare readonly code: 'KS_WS_TOPIC_REFUSED';
  readonly topic: string;
  /** KuCoin's WebSocket error code. */
  readonly kucoinCode: TopicRefusalCode;
  /** The server's text (`data` of its error message). */
  readonly msg: string;
  constructor(topic: string, kucoinCode: TopicRefusalCode, msg: string) {
    super('KS_WS_TOPIC_REFUSED', `KuCoin refused topic ${JSON.stringify(topic)}: ${kucoinCode} ${msg}`);
    this.topic = topic;
    this.kucoinCode = kucoinCode;
    this.msg = msg;
  }
}

/** Why a topic found no connection in time. */
export type WsWaitReason = 'sessions' | 'connects' | 'paused' | 'connecting' | 'subscribing';

/**
 * The topic was not served within its `maxWaitMs`: every session the account may hold was taken (by this
 * or other processes), or the connect budget, a shared pause or the connection was still in the way.
 * Nothing of it was sent.
 */
export class WsCapacityError extends KucoinWsError {
  declare readonly code: 'KS_WS_NO_CAPACITY';
  readonly topic: string;
  readonly maxWaitMs: number;
  /** What it was waiting for when its time ran out. */
  readonly reason: WsWaitReason;
  constructor(topic: string, maxWaitMs: number, reason: WsWaitReason) {
    super(
      'KS_WS_NO_CAPACITY',
      `Topic ${JSON.stringify(topic)} was not served within maxWaitMs (${maxWaitMs} ms): waiting for ${describeReason(reason)}; raise \`sessionLimit\` only if KuCoin allows the account more sessions`,
    );
    this.topic = topic;
    this.maxWaitMs = maxWaitMs;
    this.reason = reason;
  }
}

function describeReason(reason: WsWaitReason): string {
  switch (reason) {
    case 'sessions':
      return 'a session slot (every session of the account is held)';
    case 'connects':
      return 'the connect budget (new connections per minute)';
    case 'paused':
      return 'a pause the server asked for (509)';
    case 'connecting':
      return 'the connection (token or dial)';
    case 'subscribing':
      return "the server's acknowledgement";
  }
}

/** A connection kept failing (`reconnect.maxAttempts` in a row): its topics end with this error. */
export class WsConnectError extends KucoinWsError {
  declare readonly code: 'KS_WS_CONNECT_FAILED';
  readonly attempts: number;
  /** KuCoin's code of the last refusal, when the server sent one (401, 509...). */
  readonly kucoinCode: number | undefined;
  constructor(attempts: number, detail: string, kucoinCode?: number, cause?: unknown) {
    super('KS_WS_CONNECT_FAILED', `The WebSocket connection failed ${attempts} time(s) in a row (option \`reconnect.maxAttempts\`): ${detail}`, { cause });
    this.attempts = attempts;
    this.kucoinCode = kucoinCode;
  }
}

/**
 * The server answered something this client cannot recover from by waiting: 415 command type invalid,
 * 500 system error after every retry, a malformed token reply or message.
 */
export class WsProtocolError extends KucoinWsError {
  declare readonly code: 'KS_WS_PROTOCOL';
  readonly kucoinCode: number | undefined;
  constructor(message: string, kucoinCode?: number, cause?: unknown) {
    super('KS_WS_PROTOCOL', message, { cause });
    this.kucoinCode = kucoinCode;
  }
}

/** What was too large: a token or an endpoint in a bullet reply, or a message from the push server. */
export type WsTooLargeWhat = 'token' | 'endpoint' | 'message';

/**
 * The server sent something longer than the library accepts: a token over WS_TOKEN_MAX_LENGTH characters or an
 * endpoint over WS_ENDPOINT_MAX_LENGTH (the token is not used: it would go into the URL of every dial), or a
 * message over `maxMessageBytes` (refused at its frame header where the manager dials itself: nothing of it
 * is read). Neither the token nor the message is in the error.
 */
export class WsTooLargeError extends KucoinWsError {
  declare readonly code: 'KS_WS_TOO_LARGE';
  readonly what: WsTooLargeWhat;
  /** Its length: characters for a token or endpoint, bytes for a message. */
  readonly size: number;
  readonly limit: number;
  constructor(what: WsTooLargeWhat, size: number, limit: number) {
    const unit = what === 'message' ? 'bytes' : 'characters';
    super('KS_WS_TOO_LARGE', `The push server sent a ${what} of ${size} ${unit}, over the limit of ${limit}: refused`);
    this.what = what;
    this.size = size;
    this.limit = limit;
  }
}

/** `close()` was called: topics still waiting, and new ones, end with this. */
export class WsClosedError extends KucoinWsError {
  declare readonly code: 'KS_WS_CLOSED';
  constructor() {
    super('KS_WS_CLOSED', 'The WebSocket manager is closed');
  }
}
