/**
 * What the relay reads of the messages it carries (KuCoin's classic push protocol, docs/ws-error-codes.md):
 * a bot's `ping`, `subscribe` and `unsubscribe` commands (their topics are counted against the session's budget),
 * and the server's `error` frames (a 509 teaches the fleet's store). Everything else passes unread.
 */

/** A bot's uplink message, as far as the budgets care. */
export interface UplinkMessage {
  readonly kind: 'ping' | 'command';
  readonly id: unknown;
  /** For subscribe / unsubscribe: the topics it names (`/market/ticker:A,B` is two). */
  readonly topics: readonly string[];
  readonly type: string | undefined;
}

/** Largest message parsed for its type; a longer one is relayed as a command without being read. */
const MAX_PARSED = 65_536;

function topicsOf(topic: unknown): string[] {
  if (typeof topic !== 'string' || topic === '') return [];
  const colon = topic.indexOf(':');
  if (colon < 0) return [topic];
  const prefix = topic.slice(0, colon);
  return topic
    .slice(colon + 1)
    .split(',')
    .map((symbol) => `${prefix}:${symbol}`);
}

export function readUplink(text: string): UplinkMessage {
  if (text.length > MAX_PARSED) return { kind: 'command', id: undefined, topics: [], type: undefined };
  let msg: { id?: unknown; type?: unknown; topic?: unknown } | null;
  try {
    msg = JSON.parse(text) as typeof msg;
  } catch {
    return { kind: 'command', id: undefined, topics: [], type: undefined }; // KuCoin answers 415: relayed as it is
  }
  const type = typeof msg?.type === 'string' ? msg.type : undefined;
  const topics = type === 'subscribe' || type === 'unsubscribe' ? topicsOf(msg?.topic) : [];
  return { kind: type === 'ping' ? 'ping' : 'command', id: msg?.id, topics, type };
}

/** A server `error` frame: its code, text and command id; undefined for any other message. */
export function readServerError(text: string): { readonly code: unknown; readonly data: unknown; readonly id: unknown } | undefined {
  if (text.length > MAX_PARSED || !text.includes('"error"')) return undefined;
  try {
    const msg = JSON.parse(text) as { type?: unknown; code?: unknown; data?: unknown; id?: unknown } | null;
    return msg?.type === 'error' ? { code: msg.code, data: msg.data, id: msg.id } : undefined;
  } catch {
    return undefined;
  }
}

/** An error frame as KuCoin sends it: `{ id?, type: 'error', code, data }`. */
export function errorFrame(id: unknown, code: number, data: string): string {
  return JSON.stringify({ ...(id === undefined ? {} : { id }), type: 'error', code, data });
}
