import { heartbeatKey } from '../store/redis/keys.js';
import type { CliRedis } from './redisConnection.js';

/** Keys asked for per SCAN call. */
export const SCAN_COUNT = 1000;

/**
 * SCAN calls allowed for a database of `size` keys: 10 x what a full scan of its table takes at SCAN_COUNT (a
 * sparse table after deletions takes more calls than size / COUNT), + 100, at most 100,000 (100 million keys).
 * A server whose cursor never comes back to 0 is stopped there.
 */
export function maxScanCalls(size: number): number {
  return Math.min(100_000, 10 * Math.ceil(size / SCAN_COUNT) + 100);
}

/** The start every key of a quota group shares (its hash tag included): the heartbeat key's name without its last part. */
export function groupKeyPrefix(prefix: string, quotaGroup: string): string {
  const hb = heartbeatKey(prefix, quotaGroup);
  return hb.slice(0, hb.lastIndexOf(':') + 1);
}

/** Escapes glob characters for SCAN MATCH. */
export const glob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

/**
 * True when Redis holds at least one key of the quota group: what `status` reports and `resume` changes is there.
 * Stops at the first key found; a server whose SCAN does not end or answers garbage counts as holding some (the
 * command then goes on and meets the fault itself).
 */
export async function groupHasKeys(client: CliRedis, prefix: string, quotaGroup: string): Promise<boolean> {
  const start = groupKeyPrefix(prefix, quotaGroup);
  const maxCalls = maxScanCalls(await client.dbsize());
  let cursor = '0';
  for (let calls = 0; calls < maxCalls; calls++) {
    const reply = (await client.scan(cursor, 'MATCH', `${glob(start)}*`, 'COUNT', SCAN_COUNT)) as unknown;
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || !Array.isArray(reply[1])) return true;
    if ((reply[1] as unknown[]).some((k) => typeof k === 'string' && k.startsWith(start))) return true;
    cursor = reply[0];
    if (cursor === '0') return false;
  }
  return true;
}

/** The one message for an account with nothing in Redis: a wrong --prefix, --uid or --group is the usual cause. */
export function nothingThere(prefix: string, uid: string, quotaGroup: string): string {
  return `Redis holds nothing for uid ${uid}${quotaGroup !== uid ? ` (quota group ${quotaGroup})` : ''} under prefix ${prefix}: no process of this account has used this deployment yet, or --prefix / --uid${quotaGroup !== uid ? ' / --group' : ''} is not the one the bots use`;
}
