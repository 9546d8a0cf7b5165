import type { KucoinWsError } from './errors.js';
import type { WsDenyReason } from './store/wsStoreTypes.js';
import type { WsErrorPhase, WsReaction } from './wsCodes.js';

/** A push from the server: `{ type: 'message', topic, subject, data }`. */
export interface WsPush {
  readonly topic: string;
  readonly subject: string | undefined;
  readonly data: unknown;
  /** The whole message as received. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Every event of a WsManager, by name. Listeners get them synchronously; a throwing listener is ignored. */
export interface WsManagerEvents {
  /** A connection got its `welcome` (attempt 1 for a first connect, more for a reconnect). */
  connected: { connectionId: number; attempt: number };
  /** A connection ended; `clean` when the close handshake completed. */
  disconnected: { connectionId: number; clean: boolean; code: number; reason: string };
  /** A connection waits: for a session slot, the connect budget, a shared pause, a lapsed lease, or its own backoff. */
  waiting: { connectionId: number; reason: WsDenyReason | 'backoff' | 'store'; waitMs: number };
  /** The server sent an error code and the manager reacted (see WS_CODE_RULES). */
  serverError: { connectionId: number; code: number; text: string; phase: WsErrorPhase; reaction: WsReaction };
  /** A limit was learned from the server: topics per message or per session, or the account's session limit. */
  learned: { what: 'topicsPerMessage' | 'topicsPerSession' | 'sessionLimit'; value: number };
  /**
   * The connection's session slot is no longer its own: `taken` (its lease lapsed and another process took the
   * slot) or `unrenewed` (the store was out of reach too long: the socket closes before the lease may end). It
   * dials again once it holds a slot.
   */
  leaseLost: { connectionId: number; reason: 'taken' | 'unrenewed' };
  /** A subscribed topic ended for good (refused on resubscription, or its connection gave up). */
  topicEnded: { topic: string; error: KucoinWsError };
  /** Fetching a token failed; the connection counts it as a failed attempt and backs off. */
  tokenError: { connectionId: number; error: Error };
  /** The server sent what the manager refuses (a message over `maxMessageBytes`): the connection closes and dials again. */
  protocolError: { connectionId: number; error: KucoinWsError };
  /** The budget store failed; the operation is retried after `retryInMs`. */
  storeError: { error: Error; retryInMs: number };
  /** A push on any topic of this manager. */
  message: WsPush;
}
