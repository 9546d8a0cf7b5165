import { RedisStore } from '../store/redis/redisStore.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { createScheduler } from '../send/createScheduler.js';
import { UsageError } from './cliErrors.js';
import { numberFlag, redisUrlFlag, required } from './flags.js';
import { connectRedis, type CliRedis } from './redisConnection.js';

/** The flags that name one account in one deployment, shared by status, resume and reset. */
export const ACCOUNT_FLAGS = {
  redis: { type: 'string' },
  prefix: { type: 'string', default: 'kucoin-scheduler' },
  uid: { type: 'string' },
  ip: { type: 'string', default: 'default' },
  group: { type: 'string' },
  vip: { type: 'string', default: '0' },
} as const;

export const ACCOUNT_HELP = `  --redis URL     the deployment's Redis (redis:// or rediss://; AUTH and TLS from the URL)  (required)
  --prefix P      the RedisStore prefix of the deployment  (default kucoin-scheduler)
  --uid U         the account's UID  (required)
  --ip I          the egress IP identity the processes use (their \`ip\` option)  (default default)
  --group G       the quota group, when the processes set \`quotaGroup\`  (default the uid)
  --vip N         the account's VIP level, for limits not yet learned from replies  (default 0)`;

export interface Account {
  readonly client: CliRedis;
  readonly scheduler: Scheduler;
  readonly prefix: string;
  readonly uid: string;
  readonly ip: string;
  readonly quotaGroup: string;
  close(): Promise<void>;
}

/**
 * Validates the account flags, then connects: a scheduler over a bare RedisStore on the deployment's keys.
 * It only reads and writes what the command asks (no heartbeat, so it is not counted as a process).
 * `reconnect` false: a dropped connection fails the command (see connectRedis).
 */
export async function openAccount(command: string, values: Record<string, unknown>, reconnect = true): Promise<Account> {
  const url = redisUrlFlag(command, required(command, values, 'redis'));
  const uid = required(command, values, 'uid');
  const prefix = String(values.prefix);
  const ip = String(values.ip);
  const quotaGroup = typeof values.group === 'string' ? values.group : uid;
  // these names are printed and become key names: a URL given by mistake (its password) is refused, not shown
  for (const [name, value] of [
    ['uid', uid],
    ['prefix', prefix],
    ['ip', ip],
    ['group', quotaGroup],
  ] as const) {
    if (/@|:\/\//.test(value)) throw new UsageError(`--${name} looks like a URL (not shown: it may hold a password)`, command);
  }
  const vipLevel = numberFlag(command, 'vip', String(values.vip), 0, 12, true);
  const client = await connectRedis(url, undefined, reconnect);
  try {
    const scheduler = createScheduler({ uid, ip, quotaGroup, vipLevel, store: new RedisStore({ client, prefix }) });
    return {
      client,
      scheduler,
      prefix,
      uid,
      ip,
      quotaGroup,
      async close() {
        await scheduler.close();
        // QUIT, but never wait on a server that does not answer it
        await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        client.disconnect();
      },
    };
  } catch (err) {
    client.disconnect();
    throw err;
  }
}
