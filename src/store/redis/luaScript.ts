import { createHash } from 'node:crypto';
import { StoreError } from '../../errors.js';
import { LUA_SOURCES as LIB_SOURCES } from './lib/luaSources.generated.js';
import { LUA_SOURCES } from './luaSources.generated.js';
import { luaPrelude, type ScriptName } from './scriptLayout.js';

/** The narrowest client a RedisStore needs: ioredis `Redis` and `Cluster` both fit. */
export interface RedisLike {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** The `.lua` files of this folder, inlined at generation time (no file is read at run time: bundles work). */
function source(name: string): string {
  const text = LUA_SOURCES[name];
  if (text === undefined) throw new StoreError(`No Lua script named ${name} (run npm run gen:lua)`);
  return text;
}

/**
 * The bucket algorithm's Lua libraries (lib/*.lua), in the order they build on each other; each is the twin of the
 * TypeScript file of the same name in src/store/.
 */
const LIB_ORDER = ['state', 'settle', 'senders', 'reserve', 'admit', 'observe', 'penalize'] as const;
const LIB = LIB_ORDER.map((name) => {
  const text = LIB_SOURCES[name];
  if (text === undefined) throw new StoreError(`No Lua library named ${name} (run npm run gen:lua)`);
  return text;
}).join('\n');

/**
 * One Lua script of this folder, run as: its layout tables (generated from scriptLayout.ts), the libraries of lib/
 * (LIB_ORDER), then `<name>.lua`. Run with EVALSHA and, when the server's script cache does not have it (NOSCRIPT: a
 * restart, a failover, SCRIPT FLUSH), with EVAL, which caches it.
 */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(readonly name: ScriptName) {
    this.source = `${luaPrelude(name)}\n${LIB}\n${source(name)}`;
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(client: RedisLike, keys: readonly string[], args: readonly (string | number)[], timeoutMs?: number): Promise<unknown> {
    return runLua(client, { label: this.name, sha: this.sha, source: this.source }, keys, args, timeoutMs);
  }
}

/** A loaded script as `runLua` runs it: `label` names it in errors. */
export interface LoadedLua {
  readonly label: string;
  readonly sha: string;
  readonly source: string;
}

/**
 * Runs a script with EVALSHA and, when the server's script cache lacks it (NOSCRIPT), with EVAL; maps every
 * failure to one StoreError, and a reply slower than `timeoutMs` too. The one runner of every Lua script of
 * the library (the bucket stores and the WebSocket budget store).
 */
export async function runLua(
  client: RedisLike,
  script: LoadedLua,
  keys: readonly string[],
  args: readonly (string | number)[],
  timeoutMs?: number,
): Promise<unknown> {
  if (timeoutMs !== undefined) return withTimeout(runLua(client, script, keys, args), timeoutMs, script.label);
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw toStoreError(script.label, err);
    try {
      return await client.eval(script.source, keys.length, ...keys, ...args);
    } catch (err2) {
      throw toStoreError(script.label, err2);
    }
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.includes('NOSCRIPT');
}

/** Maps a Lua `redis.error_reply('KS_CODE:detail')` or a connection failure to one typed error. */
function toStoreError(script: string, err: unknown): StoreError {
  const message = err instanceof Error ? err.message : String(err);
  const code = /KS_[A-Z_]+:[\w.]+/.exec(message)?.[0];
  return new StoreError(code ? `Redis script ${script} refused its arguments (${code})` : `Redis script ${script} failed: ${message}`, err);
}

/** Rejects with a StoreError when Redis has not answered in `ms` (a slow or partitioned server). */
async function withTimeout<T>(p: Promise<T>, ms: number, script: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new StoreError(`Redis did not answer script ${script} within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
