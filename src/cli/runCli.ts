import { readFileSync } from 'node:fs';
import { KucoinSchedulerError } from '../errors.js';
import { CliFailure, UsageError } from './cliErrors.js';
import type { CliIo } from './cliIo.js';
import { shownValue } from './flags.js';

export const MAIN_HELP = `Usage: kucoin-scheduler <command> [options]

Commands:
  status    every bucket of an account as its processes share it in Redis (--json, --watch)
  resume    clear a pause for every process of an account (a pool, the IP, the system guard, an endpoint)
  reset     delete every key of an account's quota group
  demo      bots sharing one quota against a local KuCoin-like gateway (no Redis needed)
  proxy     a local KuCoin proxy: bots in any language share the fleet's quota

Run kucoin-scheduler <command> --help for a command's options; kucoin-scheduler --version prints the version.
Exit codes: 0 done, 1 failed (e.g. Redis unreachable), 2 bad command line.
`;

/** The version in the package's package.json: two folders up from src/cli/ and from dist/cli/ alike. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  status: async () => (await import('./statusCommand.js')).statusCommand,
  resume: async () => (await import('./resumeCommand.js')).resumeCommand,
  reset: async () => (await import('./resetCommand.js')).resetCommand,
  demo: async () => (await import('./demo/demoCommand.js')).demoCommand,
  proxy: async () => (await import('./proxyCommand.js')).proxyCommand,
};

/**
 * The last guard on what the CLI prints about a failure: a word holding `@` (the `user:password@` of a URL, however
 * malformed) is hidden. The messages themselves never quote a URL; this catches one a library message would.
 */
function withoutCredentials(message: string): string {
  return message.replace(/[^\s'"]*@[^\s'"]*/g, '<hidden>');
}

/**
 * Runs one command line and returns the exit code. User errors print one message (no stack trace):
 * a bad command line exits 2, a failure the user can act on exits 1.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`kucoin-scheduler ${packageVersion()}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const load = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    if (load) return (await load())(['--help'], io);
    (name === undefined ? io.stderr : io.stdout).write(MAIN_HELP);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  try {
    if (!load) throw new UsageError(`unknown command ${shownValue(name)}: expected one of ${Object.keys(COMMANDS).join(', ')}`);
    return await (
      await load()
    )(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`kucoin-scheduler: ${withoutCredentials(err.message)}\nSee: kucoin-scheduler ${err.command ? `${err.command} ` : ''}--help\n`);
      return 2;
    }
    if (err instanceof CliFailure || err instanceof KucoinSchedulerError) {
      io.stderr.write(`kucoin-scheduler: ${withoutCredentials(err.message)}\n`);
      return 1;
    }
    throw err; // a bug: let node print it in full
  }
}
