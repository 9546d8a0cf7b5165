/**
 * KuCoin's WebSocket error codes (seed page 001, docs/ws-error-codes.md) and what the manager does about
 * each. The server sends them as `{ id?, type: 'error', code, data }`; several share a code (400, 509) and
 * differ only in `data`, so a rule matches the code, the text and where it came (on connect, in reply to a
 * command, or unprompted).
 */

import type { WsReaction } from '../kucoin/wsReaction.js';

export type { WsReaction } from '../kucoin/wsReaction.js';

/** Where the error came: while connecting (before `welcome`), in reply to a command (same `id`), or unprompted. */
export type WsErrorPhase = 'connect' | 'command' | 'any';

/** One row of WS_CODE_RULES: a WebSocket error code (and text), where it came, and the manager's reaction. */
export interface WsCodeRule {
  readonly code: number;
  /** The server's text, as the seed page gives it; matched case-insensitively. */
  readonly text: RegExp;
  readonly phase: WsErrorPhase;
  readonly reaction: WsReaction;
  readonly meaning: string;
}

/** Every code of the seed page, in the order it lists them, then the gateway's disconnect codes. */
export const WS_CODE_RULES: readonly WsCodeRule[] = [
  { code: 400, text: /ping timeout/i, phase: 'any', reaction: 'ping-sooner', meaning: 'ping timeout' },
  { code: 400, text: /./, phase: 'command', reaction: 'refuse-topic', meaning: 'topic is invalid' },
  { code: 403, text: /./, phase: 'command', reaction: 'refuse-topic', meaning: 'login is required' },
  { code: 404, text: /./, phase: 'command', reaction: 'refuse-topic', meaning: 'topic does not exist' },
  { code: 406, text: /./, phase: 'command', reaction: 'refuse-topic', meaning: 'topic is required' },
  { code: 509, text: /per time/i, phase: 'command', reaction: 'split-message', meaning: 'exceed max subscription count limitation of 100 per time' },
  { code: 509, text: /per session/i, phase: 'command', reaction: 'session-full', meaning: 'exceed max subscription count limitation of 300 per session' },
  { code: 509, text: /permits/i, phase: 'any', reaction: 'slow-down', meaning: 'exceed max permits per second' },
  { code: 401, text: /./, phase: 'any', reaction: 'new-token', meaning: 'token is invalid' },
  { code: 509, text: /session count/i, phase: 'any', reaction: 'wait-session-slot', meaning: 'exceed max session count limitation of 50' },
  { code: 509, text: /busy/i, phase: 'any', reaction: 'reconnect-later', meaning: 'service busy, please retry later' },
  { code: 415, text: /./, phase: 'command', reaction: 'protocol', meaning: 'command type is invalid' },
  { code: 500, text: /./, phase: 'command', reaction: 'retry-later', meaning: 'system error' },
  { code: 500, text: /./, phase: 'any', reaction: 'reconnect-later', meaning: 'system error' },
  { code: 420001, text: /./, phase: 'any', reaction: 'reconnect-later', meaning: 'Too many errors, disconnected. Please try again later.' },
  { code: 420002, text: /./, phase: 'any', reaction: 'reconnect-later', meaning: 'Error receiving data.' },
  { code: 501000, text: /./, phase: 'any', reaction: 'reconnect-later', meaning: 'The service has stopped running. Please disconnect' },
];

/** Anything else the server sends as an error: treated like "busy" on a connection, like a system error on a command. */
const FALLBACK: Record<WsErrorPhase, WsCodeRule> = {
  connect: { code: 0, text: /./, phase: 'connect', reaction: 'reconnect-later', meaning: 'unknown error' },
  command: { code: 0, text: /./, phase: 'command', reaction: 'retry-later', meaning: 'unknown error' },
  any: { code: 0, text: /./, phase: 'any', reaction: 'reconnect-later', meaning: 'unknown error' },
};

/** The rule for an error message: `code` as sent (number or numeric string), `data` its text. */
export function classifyWsError(code: unknown, data: unknown, phase: WsErrorPhase): WsCodeRule {
  const n = typeof code === 'number' ? code : typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : Number.NaN;
  const text = typeof data === 'string' ? data : '';
  const fits = (r: WsCodeRule) => r.code === n && r.text.test(text) && (r.phase === 'any' || r.phase === phase);
  return WS_CODE_RULES.find(fits) ?? FALLBACK[phase];
}

/**
 * The number a 509 states: "exceed max session count limitation of 50", "... of 100 per time", "... of 300 per
 * session". Undefined when the text has none, or one that is not a plausible limit (an integer in [1, 1_000_000]).
 */
export function limitIn(data: unknown): number | undefined {
  const m = typeof data === 'string' ? /limitation of (\d{1,7})(?!\d)/i.exec(data) : null;
  const n = m ? Number(m[1]) : Number.NaN;
  return Number.isInteger(n) && n >= 1 && n <= 1_000_000 ? n : undefined;
}
