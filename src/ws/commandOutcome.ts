import { pause } from './backoff.js';
import { WsProtocolError, WsTopicError, type KucoinWsError, type TopicRefusalCode } from './errors.js';
import type { CommandResult, KucoinSocket } from './kucoinSocket.js';
import type { Batch } from './topics.js';
import type { TopicRequest } from './topicRequest.js';
import { classifyWsError, type WsCodeRule } from './wsCodes.js';

/** 500 system errors a subscribe may get in a row before its topics end with WsProtocolError. */
const SYSTEM_ERROR_RETRIES = 3;

/** What the reaction to a subscribe's answer may touch on its connection. */
export interface CommandScope {
  /** The connection's topics (a topic no longer in it was unsubscribed meanwhile). */
  readonly requests: Set<TopicRequest>;
  readonly socket: KucoinSocket;
  learn(what: 'topicsPerMessage' | 'topicsPerSession', value: number): void;
  /** The session is full: the topic goes to another connection. */
  rehome(request: TopicRequest): void;
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
    case 'split-message':
      scope.learn('topicsPerMessage', Math.max(1, Math.floor(batch.items.length / 2)));
      return back();
    case 'session-full': {
      let subscribed = 0;
      for (const r of scope.requests) if (r.state === 'subscribed') subscribed++;
      scope.learn('topicsPerSession', Math.max(1, subscribed));
      for (const r of items) {
        scope.requests.delete(r);
        scope.rehome(r);
      }
      return;
    }
    case 'slow-down':
      scope.slowDown();
      return back();
    case 'protocol':
      for (const r of items) scope.end(r, new WsProtocolError(`KuCoin refused the subscribe of ${JSON.stringify(r.topic)}: ${rule.code} ${text}`, rule.code));
      return;
    case 'retry-later': {
      const retries = Math.max(...items.map((r) => ++r.retries), 0);
      if (retries > SYSTEM_ERROR_RETRIES) {
        for (const r of items)
          scope.end(r, new WsProtocolError(`KuCoin kept answering ${rule.code} to the subscribe of ${JSON.stringify(r.topic)}: ${text}`, rule.code));
        return;
      }
      back();
      await pause(100 * 2 ** retries, scope.socket.signal);
      return;
    }
    default:
      back();
      return scope.socket.close();
  }
}
