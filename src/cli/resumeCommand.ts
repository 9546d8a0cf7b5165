import { KucoinSchedulerError } from '../errors.js';
import type { ResumeTarget } from '../scheduler/scheduler.js';
import type { CliIo } from './cliIo.js';
import { CliFailure, UsageError } from './cliErrors.js';
import { groupHasKeys, nothingThere } from './accountKeys.js';
import { parseFlags } from './flags.js';
import { ACCOUNT_FLAGS, ACCOUNT_HELP, openAccount } from './account.js';

export const RESUME_HELP = `Usage: kucoin-scheduler resume --redis URL --uid U [--target T | --endpoint "METHOD /path"] [options]

Clears a pause for every process of the account: the pause itself, the spent marking a 429000 left and the
backoff level of a 429001 storm. For a pause known to be wrong (a garbage reply, a block lifted early).
Without --target or --endpoint, every pool, the IP (Cloudflare) and the system guard are resumed.

${ACCOUNT_HELP}
  --target T      spot, futures, management, earn, copytrading, broker, public, unifiedaccount,
                  cloudflare (the egress IP) or system (429001 backoff)
  --endpoint E    one endpoint's pause after a 200002, e.g. "POST /api/v1/hf/orders"
  --host H        the endpoint's host: spot, futures or broker  (default spot)
  --force         resume even when Redis holds no key of the account (creates its keys)
  -h, --help      this text
`;

export async function resumeCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags('resume', argv, {
    ...ACCOUNT_FLAGS,
    target: { type: 'string' },
    endpoint: { type: 'string' },
    host: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(RESUME_HELP);
    return 0;
  }
  if (values.target !== undefined && values.endpoint !== undefined) throw new UsageError('give --target or --endpoint, not both', 'resume');
  if (values.host !== undefined && values.endpoint === undefined) throw new UsageError('--host goes with --endpoint', 'resume');
  const target: ResumeTarget | undefined =
    values.endpoint !== undefined
      ? { endpoint: values.endpoint, ...(values.host !== undefined ? { host: values.host } : {}) }
      : (values.target as ResumeTarget | undefined);
  const account = await openAccount('resume', values);
  try {
    // resuming writes the bucket's keys: on an account with none (a typo in --prefix or --uid) it would create them
    if (!values.force && !(await groupHasKeys(account.client, account.prefix, account.quotaGroup))) {
      throw new CliFailure(
        `${nothingThere(account.prefix, account.uid, account.quotaGroup)}. Nothing was resumed and no key was created (--force resumes anyway)`,
      );
    }
    await account.scheduler.resume(target);
  } catch (err) {
    // a target or endpoint the scheduler does not know is a bad flag, said in the library's own words
    if (
      err instanceof KucoinSchedulerError &&
      ['KS_UNKNOWN_POOL', 'KS_INVALID_ARGUMENT', 'KS_INVALID_ENDPOINT', 'KS_AMBIGUOUS_ENDPOINT', 'KS_UNKNOWN_ENDPOINT'].includes(err.code)
    ) {
      throw new UsageError(err.message, 'resume');
    }
    throw err;
  } finally {
    await account.close();
  }
  const what = values.endpoint !== undefined ? `endpoint ${values.endpoint}` : (values.target ?? 'every bucket');
  io.stdout.write(`resumed ${what} of uid ${account.uid} (prefix ${account.prefix}, ip ${account.ip})\n`);
  return 0;
}
