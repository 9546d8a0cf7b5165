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
    // node's messages go on about positionals after '--': keep the first sentence; and they quote what was typed
    // (`Unexpected argument 'redis://:pw@host'`): an option name is shown, any other value described
    const message = (err as Error).message
      .split('. ')[0]!
      .replace(/\.$/, '')
      .replace(/'([^']*)'/g, (_, quoted: string) => (OPTION_NAME.test(quoted) ? `'${quoted}'` : shownValue(quoted)));
    throw new UsageError(message, command);
  }
}

/** An option as node's parser quotes it: `--redis`, `-h`, `--redis <value>`. */
const OPTION_NAME = /^--?[A-Za-z][\w-]{0,40}( <value>)?$/;

/**
 * A command-line value as a message may show it: quoted when it is short and plainly no secret (letters, digits,
 * `_ . + -`); anything else (a URL, `user:pw@host`, a query) is described, never shown: it may hold a password.
 */
export function shownValue(raw: string): string {
  return /^[\w.+-]{0,40}$/.test(raw) ? JSON.stringify(raw) : `a value of ${raw.length} characters (not shown: it may hold a credential)`;
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
    throw new UsageError(`--${name} expects ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${shownValue(raw)}`, command);
  }
  return n;
}

/** The database a Redis URL names: none, `/` or `/N` (ioredis SELECTs N). */
const DATABASE_PATH = /^\/?$|^\/(0|[1-9]\d{0,8})$/;

/**
 * A Redis URL (redis:// or rediss://, a host, at most a database number as its path); anything else is refused
 * before any connection is tried. No query and no fragment: ioredis would take options from a query (`?db=`,
 * `?host=`, `?password=`), so the URL would not say what the command operates on. The value itself is never shown.
 */
export function redisUrlFlag(command: string, raw: string): URL {
  const refuse = (why: string): never => {
    throw new UsageError(`--redis expects a URL such as redis://127.0.0.1:6379 or rediss://host:6380/0 (AUTH from its user and password), but ${why}`, command);
  };
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    return refuse('the value given is not a URL (not shown: it may hold a password)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    refuse(`its scheme is ${/^[a-z][a-z0-9+.-]{0,15}:$/.test(url.protocol) ? url.protocol : 'another one'}`);
  if (url.hostname === '') refuse('it names no host');
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) refuse('it has a query or a fragment');
  if (!DATABASE_PATH.test(url.pathname)) refuse('its path is not a database number (/0, /1...)');
  return url;
}

/** The database number a URL accepted by redisUrlFlag names (0 when it names none). */
export function databaseOf(url: URL): number {
  return url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
}
