import { pause } from './backoff.js';
import { WsProtocolError, WsTopicError, type KucoinWsError, type TopicRefusalCode } from './errors.js';
import type { CommandResult, KucoinSocket } from './kucoinSocket.js';
import type { Batch } from './topics.js';
import type { TopicRequest } from './topicRequest.js';
import { classifyWsError, limitIn, type WsCodeRule } from './wsCodes.js';

/** Answers that make no sense for a topic (500, or a 509 a lone topic cannot fix) before it ends with WsProtocolError. */
const SYSTEM_ERROR_RETRIES = 3;

/** What the reaction to a subscribe's answer may touch on its connection. */
export interface CommandScope {
  /** The connection's topics (a topic no longer in it was unsubscribed meanwhile). */
  readonly requests: Set<TopicRequest>;
  readonly socket: KucoinSocket;
  learn(what: 'topicsPerMessage' | 'topicsPerSession', value: number): void;
  /** The topic goes to another connection. */
  rehome(request: TopicRequest): void;
  /** The connection keeps at most `limit` topics: its waiting ones beyond that go to other connections. */
  trim(limit: number): void;
  /** The topic ends for good with `error`. */
  end(request: TopicRequest, error: KucoinWsError): void;
  /** Records and reports a server error code. */
  serverError(rule: WsCodeRule, data: unknown): void;
  slowDown(): void;
}

/**
 * Applies the answer to one subscribe message (see WS_CODE_RULES): served, sent again (split, isolated,
 * after a backoff or a slower uplink), moved to another connection, or ended with a typed error. Answers
 * that concern the connection (token, sessions, busy, ping) close it: the connection's loop reacts.
 */
export async function settleSubscribe(batch: Batch<TopicRequest>, result: CommandResult, scope: CommandScope): Promise<void> {
  const items = batch.items.filter((r) => scope.requests.has(r));
  const back = () => items.forEach((r) => (r.state = 'waiting'));
  if (result.kind === 'ack') {
    for (const r of items) r.serve();
    return;
  }
  if (result.kind === 'closed') return back();
  if (result.kind === 'timeout') {
    back();
    return scope.socket.terminate('no ack in time');
  }
  const rule = classifyWsError(result.code, result.data, 'command');
  scope.serverError(rule, result.data);
  const text = typeof result.data === 'string' ? result.data : '';
  switch (rule.reaction) {
    case 'refuse-topic':
      if (batch.items.length > 1) {
        // which topic? each goes alone next time
        for (const r of items) {
          r.isolate = true;
          r.state = 'waiting';
        }
      } else {
        for (const r of items) scope.end(r, new WsTopicError(r.topic, rule.code as TopicRefusalCode, text));
      }
      return;
    case 'split-message': {
      // the server allows fewer topics per message than this batch: its number, else half the batch
      const size = batch.items.length;
      if (size <= 1) return retryOrEnd(items, rule, text, scope);
      scope.learn('topicsPerMessage', Math.max(1, Math.min(limitIn(text) ?? Math.floor(size / 2), size - 1)));
      return back();
    }
    case 'session-full': {
      // the server counts `subscribed` topics on this session and refused `size` more: its number, when it
      // fits that, is the limit; else the session holds what it holds
      let subscribed = 0;
      for (const r of scope.requests) if (r.state === 'subscribed') subscribed++;
      const stated = limitIn(text);
      const limit = stated !== undefined && stated < subscribed + batch.items.length ? stated : subscribed;
      if (limit < 1) {
        // a session with nothing on it refused the batch: another connection may take it, a few times
        for (const r of items) {
          if (++r.retries > SYSTEM_ERROR_RETRIES) {
            scope.end(r, new WsProtocolError(`KuCoin kept refusing ${JSON.stringify(r.topic)} on empty sessions: ${rule.code} ${text}`, rule.code));
            continue;
          }
          r.state = 'waiting';
          scope.requests.delete(r);
          scope.rehome(r);
        }
        return;
      }
      back();
      scope.learn('topicsPerSession', limit);
      scope.trim(limit);
      return;
    }
    case 'slow-down':
      scope.slowDown();
      return back();
    case 'protocol':
      for (const r of items) scope.end(r, new WsProtocolError(`KuCoin refused the subscribe of ${JSON.stringify(r.topic)}: ${rule.code} ${text}`, rule.code));
      return;
    case 'retry-later':
      return retryOrEnd(items, rule, text, scope);
    default:
      back();
      return scope.socket.close();
  }
}

/** Sends the topics again after a backoff (100 ms x 2^n), or ends them with WsProtocolError after SYSTEM_ERROR_RETRIES. */
async function retryOrEnd(items: readonly TopicRequest[], rule: WsCodeRule, text: string, scope: CommandScope): Promise<void> {
  const retries = Math.max(...items.map((r) => ++r.retries), 0);
  if (retries > SYSTEM_ERROR_RETRIES) {
    for (const r of items)
      scope.end(r, new WsProtocolError(`KuCoin kept answering ${rule.code} to the subscribe of ${JSON.stringify(r.topic)}: ${text}`, rule.code));
    return;
  }
  for (const r of items) r.state = 'waiting';
  await pause(100 * 2 ** retries, scope.socket.signal);
}
