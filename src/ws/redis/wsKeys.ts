import { InvalidArgumentError } from '../../errors.js';

/**
 * Every key the WsRedisStore writes. All keys of one subject share the hash tag `{ws:<subject>}`, so each
 * script touches one slot (single server or Cluster). Keys expire once idle, so a fleet that stops leaves nothing.
 *
 * | key                            | type | holds                                                             |
 * |--------------------------------|------|-------------------------------------------------------------------|
 * | `<prefix>:{ws:<subject>}:s`    | zset | session leases: member = session id, score = lease end (ms)        |
 * | `<prefix>:{ws:<subject>}:c`    | list | connect times (ms), oldest first, none older than the connect span |
 * | `<prefix>:{ws:<subject>}:st`   | hash | pausedUntil, backoffLevel, backoffAt (busy); learned:<what> and    |
 * |                                |      | learned:<what>:until (sessionLimit, topicsPerMessage,              |
 * |                                |      | topicsPerSession); capValue, capAt, capStepMs (session-count cap)  |
 */
export function wsKeys(prefix: string, subject: string): [sessions: string, connects: string, state: string] {
  if (typeof subject !== 'string' || subject === '' || /[{}]/.test(subject)) {
    throw new InvalidArgumentError(`Expected a WebSocket budget subject to be a non-empty string without braces, got ${JSON.stringify(subject)}`);
  }
  const tag = `${prefix}:{ws:${subject}}`;
  return [`${tag}:s`, `${tag}:c`, `${tag}:st`];
}
