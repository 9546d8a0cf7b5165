import { setTimeout as delay } from 'node:timers/promises';
import type { CliIo } from './cliIo.js';
import { numberFlag, parseFlags } from './flags.js';
import { groupHasKeys } from './accountKeys.js';
import { liveProcesses } from './liveProcesses.js';
import { redisTimeMs } from './redisConnection.js';
import { ACCOUNT_FLAGS, ACCOUNT_HELP, openAccount, type Account } from './account.js';
import { renderStatus, type FleetStatus } from './statusView.js';
import { readProxyRecords } from '../proxy/proxyStatus.js';

export const STATUS_HELP = `Usage: kucoin-scheduler status --redis URL --uid U [options]

Every bucket of one account as all its processes share it in Redis: weight used in the current span and the
limit in force (learned from replies, times the factor), the factor a 429000 tightened, the server window's
end when replies placed it, pauses, hidden weight (spent outside the scheduler), and the live processes
(heartbeats of createRedisStore), and each running \`kucoin-scheduler proxy\`'s traffic. Reads only: it changes nothing and is not counted as a process.

${ACCOUNT_HELP}
  --json          print JSON (with --watch: one JSON document per line)
  --watch         redraw until Ctrl-C
  --interval MS   time between redraws with --watch  (default 1000)
  -h, --help      this text
`;

async function read(a: Account): Promise<FleetStatus> {
  const empty = !(await groupHasKeys(a.client, a.prefix, a.quotaGroup)); // read first: reading creates nothing, but say what was there
  const { buckets } = await a.scheduler.snapshot();
  const at = buckets[0]?.now ?? (await redisTimeMs(a.client));
  const ids = await liveProcesses(a.client, a.prefix, a.quotaGroup, at);
  const proxies = await readProxyRecords(a.client, a.prefix, a.quotaGroup, at);
  return { at, prefix: a.prefix, uid: a.uid, ip: a.ip, quotaGroup: a.quotaGroup, empty, processes: { count: ids.length, ids }, buckets, proxies };
}

export async function statusCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags('status', argv, {
    ...ACCOUNT_FLAGS,
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string', default: '1000' },
  });
  if (values.help) {
    io.stdout.write(STATUS_HELP);
    return 0;
  }
  const intervalMs = numberFlag('status', 'interval', String(values.interval), 100, 3_600_000);
  const account = await openAccount('status', values);
  try {
    const tty = io.stdout.isTTY === true && !values.json;
    do {
      const status = await read(account);
      if (values.json) io.stdout.write(`${JSON.stringify(status, null, values.watch ? undefined : 2)}\n`);
      else {
        const lines = renderStatus(status, Math.max(40, (io.stdout.columns ?? 80) - 1));
        // a TTY redraws in place (home, clear below); a pipe gets one frame after another
        io.stdout.write(tty && values.watch ? `\x1b[H\x1b[J${lines.join('\n')}\n` : `${lines.join('\n')}\n${values.watch ? '\n' : ''}`);
      }
      if (!values.watch) break;
      await delay(intervalMs, undefined, { signal: io.signal }).catch(() => undefined);
    } while (!io.signal.aborted);
  } finally {
    await account.close();
  }
  return 0;
}
