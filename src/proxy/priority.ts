import type { IncomingHttpHeaders } from 'node:http';
import { PRIORITIES, type Priority } from '../store/types.js';
import { ccxtDefaultPriority } from '../integrations/ccxt.js';

/** The header a bot may set to choose its request's priority: `critical`, `high`, `normal` or `low`. */
export const PRIORITY_HEADER = 'x-ks-priority';

/**
 * A proxied request's priority: the `X-KS-Priority` header when the bot sets one, else the rule every
 * integration uses (cancels critical: a DELETE or a cancel path; other POSTs high; the rest normal).
 * `invalid` when the header is there but names no priority (refused, not guessed).
 */
export function priorityOf(headers: IncomingHttpHeaders, method: string, path: string): { readonly priority: Priority } | { readonly invalid: string } {
  const raw = headers[PRIORITY_HEADER];
  if (raw === undefined) return { priority: ccxtDefaultPriority(method, path) };
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim().toLowerCase();
  if (value !== undefined && (PRIORITIES as readonly string[]).includes(value)) return { priority: value as Priority };
  return { invalid: `${PRIORITY_HEADER} must be one of ${PRIORITIES.join(', ')}` };
}
