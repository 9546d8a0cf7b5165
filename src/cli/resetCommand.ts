import { glob, groupKeyPrefix, maxScanCalls, nothingThere, SCAN_COUNT } from './accountKeys.js';
import type { CliIo } from './cliIo.js';
import { CliFailure, UsageError } from './cliErrors.js';
import { parseFlags } from './flags.js';
import { ACCOUNT_FLAGS, ACCOUNT_HELP, openAccount } from './account.js';

export const RESET_HELP = `Usage: kucoin-scheduler reset --redis URL --uid U --yes [options]

Deletes every key of the account's quota group in the deployment (buckets, admission logs, pauses, factors,
heartbeats): the next request starts from an empty window. Running processes are not stopped: they only lose
what they had counted, so the gateway may refuse a burst right after. Accounts that share a quota group
(\`quotaGroup\`) are reset together.

${ACCOUNT_HELP}
  --yes           required: confirms the deletion
  --force         exit 0 even when the account has no keys (else: exit 1, a likely wrong --prefix or --uid)
  -h, --help      this text
`;

/** A SCAN reply as Redis gives it: a cursor (an unsigned 64-bit integer) and a list of key names; else undefined. */
function scanReply(reply: unknown): [string, string[]] | undefined {
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const [cursor, keys] = reply as unknown[];
  if (typeof cursor !== 'string' || !/^\d{1,20}$/.test(cursor) || !Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) return undefined;
  return [cursor, keys as string[]];
}

export async function resetCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags('reset', argv, { ...ACCOUNT_FLAGS, yes: { type: 'boolean' }, force: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write(RESET_HELP);
    return 0;
  }
  if (!values.yes) throw new UsageError("reset deletes the account's keys: add --yes to confirm", 'reset');
  // no reconnection: one that lands in another database (a SELECT that fails there) must not go on deleting
  const account = await openAccount('reset', values, false);
  let deleted = 0;
  const stop = (why: string): never => {
    throw new CliFailure(`reset stopped: ${why}; ${deleted} key(s) of quota group ${account.quotaGroup} were deleted, none outside it`);
  };
  try {
    // every key of a group shares its hash tag
    const groupPrefix = groupKeyPrefix(account.prefix, account.quotaGroup);
    const pattern = `${glob(groupPrefix)}*`;
    const size = await account.client.dbsize();
    if (!Number.isSafeInteger(size) || size < 0) stop('Redis answered DBSIZE with something other than a count of keys');
    const maxCalls = maxScanCalls(size);
    let cursor = '0';
    let calls = 0;
    do {
      if (++calls > maxCalls) stop(`${maxCalls} SCAN calls over ${size} keys and the scan had not ended: the server does not behave like Redis`);
      const reply = scanReply(await account.client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      if (!reply) return stop('Redis answered SCAN with something other than a cursor and a list of keys');
      const [next, keys] = reply;
      // only keys of the group are ever deleted, whatever the server answers
      const outside = keys.filter((k) => !k.startsWith(groupPrefix)).length;
      if (outside > 0) stop(`Redis answered SCAN with ${outside} key(s) outside the pattern: the server does not behave like Redis`);
      if (keys.length > 0) {
        const count = await account.client.del(...keys);
        if (!Number.isSafeInteger(count) || count < 0 || count > keys.length) stop('Redis answered DEL with something other than a count of the keys deleted');
        deleted += count;
      }
      cursor = next;
    } while (cursor !== '0');
  } catch (err) {
    if (err instanceof CliFailure) throw err;
    stop(`Redis failed (${(err as Error)?.message ?? String(err)})`);
  } finally {
    await account.close();
  }
  if (deleted === 0 && !values.force)
    throw new CliFailure(`${nothingThere(account.prefix, account.uid, account.quotaGroup)}. Nothing was deleted (--force accepts this)`);
  io.stdout.write(`deleted ${deleted} key(s) of quota group ${account.quotaGroup} (prefix ${account.prefix})\n`);
  return 0;
}
