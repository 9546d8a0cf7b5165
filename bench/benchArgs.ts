// Command-line parsing for the bench scripts: strict flags, --help prints the usage and exits 0 before
// anything runs, a bad flag exits 2 with one line (no stack trace).
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../src/cli/cliErrors.js';
import { numberFlag, parseFlags, redisUrlFlag, type FlagValues } from '../src/cli/flags.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function benchArgs<O extends Options>(script: string, usage: string, options: O): FlagValues<O> {
  try {
    const values = parseFlags(script, process.argv.slice(2), options);
    if (values.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    return values;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(script, err.message);
  }
}

/** A number flag within [min, max], or exit 2. */
export function benchNumber(script: string, name: string, raw: string, min: number, max: number, integer = false): number {
  try {
    return numberFlag(script, name, raw, min, max, integer);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(script, err.message);
  }
}

function usageError(script: string, message: string): never {
  process.stderr.write(`${script}: ${message}\nSee: npm run ${script} -- --help\n`);
  process.exit(2);
}

/** The Redis to use: --redis, else REDIS_URL, else the local default; a malformed URL exits 2. */
export function benchRedisUrl(script: string, flag: string | undefined): string {
  const raw = flag ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  try {
    return redisUrlFlag(script, raw).href;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(script, flag === undefined ? `REDIS_URL: ${err.message.replace('--redis ', '')}` : err.message);
  }
}

/** m:ss */
export const clock = (ms: number) => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`;
