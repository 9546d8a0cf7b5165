import { heartbeatKey } from '../buckets/redis/keys.js';
import type { CliIo } from './cliIo.js';
import { UsageError } from './cliErrors.js';
import { parseFlags } from './flags.js';
import { ACCOUNT_FLAGS, ACCOUNT_HELP, openAccount } from './account.js';

export const RESET_HELP = `Usage: kucoin-scheduler reset --redis URL --uid U --yes [options]

Deletes every key of the account's quota group in the deployment (buckets, admission logs, pauses, factors,
heartbeats): the next request starts from an empty window. Running processes are not stopped: they only lose
what they had counted, so the gateway may refuse a burst right after. Accounts that share a quota group
(\`quotaGroup\`) are reset together.

${ACCOUNT_HELP}
  --yes           required: confirms the deletion
  -h, --help      this text
`;

/** Escapes glob characters for SCAN MATCH. */
const glob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

export async function resetCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags('reset', argv, { ...ACCOUNT_FLAGS, yes: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write(RESET_HELP);
    return 0;
  }
  if (!values.yes) throw new UsageError("reset deletes the account's keys: add --yes to confirm", 'reset');
  const account = await openAccount('reset', values);
  let deleted = 0;
  try {
    // every key of a group shares its hash tag: the heartbeat key's name without its last part
    const hb = heartbeatKey(account.prefix, account.quotaGroup);
    const pattern = `${glob(hb.slice(0, hb.lastIndexOf(':') + 1))}*`;
    let cursor = '0';
    do {
      const [next, keys] = await account.client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) deleted += await account.client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await account.close();
  }
  io.stdout.write(`deleted ${deleted} key(s) of quota group ${account.quotaGroup} (prefix ${account.prefix})\n`);
  return 0;
}
