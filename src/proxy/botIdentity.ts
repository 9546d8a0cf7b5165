/**
 * Who sent a request: the one place the proxy decides which bot a request belongs to. In order:
 *
 * 1. the `X-KS-Bot` header, when the bot names itself (1-64 characters of `A-Z a-z 0-9 _ . -`);
 * 2. `key:<keyId>` for a signed request (`keyId` = the first 12 hex digits of the key's SHA-256, never the key);
 * 3. `addr:<remote address>` otherwise.
 *
 * The identity names the bot in log lines and events, and is its bot in the scheduler's fair shares (each bot at
 * least an equal share of its priority when all want more: `ScheduleOptions.bot`), so it is always a valid bot
 * name (1-64 characters of A-Z a-z 0-9 _ . : -; an address's other characters, an IPv6 zone's %, become _).
 */
import type { IncomingHttpHeaders } from 'node:http';

export const BOT_HEADER = 'x-ks-bot';
const BOT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export type BotIdentity = { readonly bot: string } | { readonly invalid: string };

/** The bot's identity; `invalid` when the header is there but malformed (the request is refused, not guessed). */
export function botIdentity(headers: IncomingHttpHeaders, keyId: string | undefined, remoteAddress: string | undefined): BotIdentity {
  const named = headers[BOT_HEADER];
  if (named !== undefined) {
    const value = Array.isArray(named) ? named[0] : named;
    if (value === undefined || !BOT_NAME.test(value)) return { invalid: `${BOT_HEADER} must be 1-64 characters of A-Z a-z 0-9 _ . -` };
    return { bot: value };
  }
  if (keyId !== undefined) return { bot: `key:${keyId}` };
  return { bot: `addr:${remoteAddress ?? 'unknown'}`.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) };
}
