/**
 * What the WebSocket manager (src/ws/) does about one of KuCoin's WebSocket codes: the vocabulary of the code
 * table's WebSocket rows (src/kucoin/errorCodes.ts, src/ws/wsCodes.ts).
 */
export type WsReaction =
  /** The topic is refused for good: its subscribe rejects with WsTopicError (after splitting a batch to find it). */
  | 'refuse-topic'
  /** Too many topics in one message: learn the limit the text states (or halve the batch) for every process, send the batch again. */
  | 'split-message'
  /** The connection holds all the topics it may: learn the limit the text states for every process; its waiting topics beyond it go to another connection. */
  | 'session-full'
  /** Too many uplink messages: this connection sends nothing but pings for a whole window, then again. */
  | 'slow-down'
  /** The token is invalid: drop it, fetch a new one (through the scheduler), reconnect. */
  | 'new-token'
  /** Every session of the account is taken at the server: learn its limit (all processes), hold no more sessions than now until one frees, wait for a slot. */
  | 'wait-session-slot'
  /** The server is busy or dropped us: reconnect after a shared, jittered backoff (all processes). */
  | 'reconnect-later'
  /** The server closed us for a missing ping: ping sooner, reconnect. */
  | 'ping-sooner'
  /** Our message was not understood: the command rejects with WsProtocolError. */
  | 'protocol'
  /** The server failed: send the command again after a backoff, a few times. */
  | 'retry-later';
