import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './cliErrors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Value<T> = T extends { type: 'boolean' } ? boolean : string;
/** The parsed flags: a flag with a default is always there, one without may be missing. */
export type FlagValues<O extends Options> = { -readonly [K in keyof O as O[K] extends { default: unknown } ? K : never]: Value<O[K]> } & {
  -readonly [K in keyof O as O[K] extends { default: unknown } ? never : K]?: Value<O[K]>;
} & { help?: boolean };

/**
 * Parses one command's flags strictly (unknown flags, missing values and stray arguments are UsageErrors).
 * Every command also takes `--help` / `-h`.
 */
export function parseFlags<O extends Options>(command: string, argv: readonly string[], options: O): FlagValues<O> {
  try {
    return parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
      .values as unknown as FlagValues<O>;
  } catch (err) {
    // node's messages go on about positionals after '--': keep the first sentence
    const message = (err as Error).message.split('. ')[0]!.replace(/\.$/, '');
    throw new UsageError(message, command);
  }
}

/** A required string flag. */
export function required(command: string, values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command} needs --${name}`, command);
  return v;
}

/** A number flag within [min, max]; `integer` refuses fractions. */
export function numberFlag(command: string, name: string, raw: string, min: number, max: number, integer = false): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(raw)}`, command);
  }
  return n;
}

/** A Redis URL (redis:// or rediss://); anything else is refused before any connection is tried. */
export function redisUrlFlag(command: string, raw: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new UsageError(`--redis expects a URL such as redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0, got ${JSON.stringify(raw)}`, command);
  }
  return url;
}
