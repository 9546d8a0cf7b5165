import { createHash } from 'node:crypto';
import { runLua, type RedisLike } from '../../store/redis/luaScript.js';
import { StoreError } from '../../errors.js';
import { LUA_SOURCES } from './luaSources.generated.js';

/**
 * The one description of each WebSocket budget script: its KEYS (see wsKeys.ts), its ARGV by name and its
 * reply's fields. `args` builds ARGV from it, `reply` reads replies with it, and the Lua prelude of every
 * script defines `ARG.<name>` from the same table, so no .lua file counts ARGV positions by hand. ARGV[1]
 * is always `time`: '' for Redis TIME, else a test's clock.
 */
const LEARNED = ['learnedSessionLimit', 'learnedPerMessage', 'learnedPerSession'] as const;

export const WS_SCRIPT_LAYOUTS = {
  session: { keys: ['sessions', 'state'], args: ['time', 'sessionId', 'sessionLimit', 'leaseMs'], reply: ['granted', 'now', 'reason', 'waitMs', ...LEARNED] },
  connect: {
    keys: ['sessions', 'connects', 'state'],
    args: ['time', 'sessionId', 'sessionLimit', 'leaseMs', 'connectLimit', 'connectSpanMs'],
    reply: ['granted', 'now', 'reason', 'waitMs', ...LEARNED],
  },
  renew: { keys: ['sessions', 'state'], args: ['time', 'sessionLimit', 'leaseMs', 'sessionIds'], reply: ['now', 'lost', ...LEARNED] },
  release: { keys: ['sessions'], args: ['time', 'sessionId', 'holdMs'], reply: ['now'] },
  penalize: {
    keys: ['state', 'sessions'],
    args: ['time', 'kind', 'sessionId', 'sessionLimit', 'pauseMs', 'learnedLimit', 'learnForMs', 'baseMs', 'maxMs', 'jitter', 'resetAfterMs', 'random'],
    reply: ['pausedUntil', 'now'],
  },
  learn: { keys: ['state'], args: ['time', 'what', 'value', 'learnForMs'], reply: ['now', ...LEARNED] },
  inspect: {
    keys: ['sessions', 'connects', 'state'],
    args: ['time', 'sessionLimit', 'connectSpanMs'],
    reply: ['now', 'sessions', 'connects', 'pausedUntil', 'sessionLimit', 'backoffLevel', ...LEARNED],
  },
} as const;

export type WsScriptName = keyof typeof WS_SCRIPT_LAYOUTS;
type Layout<S extends WsScriptName> = (typeof WS_SCRIPT_LAYOUTS)[S];
export type WsScriptArgs<S extends WsScriptName> = { readonly [F in Layout<S>['args'][number]]: string | number };
export type WsScriptReply<S extends WsScriptName> = { readonly [F in Layout<S>['reply'][number]]: string };

/** The `.lua` files of this folder, inlined at generation time (npm run gen:lua): nothing is read at run time. */
function source(name: string): string {
  const text = LUA_SOURCES[name];
  if (text === undefined) throw new StoreError(`No Lua script named ${name} (run npm run gen:lua)`);
  return text;
}

const LIB = source('wsLib');
/** Session ids travel in one argument, separated by spaces; an id is made of [A-Za-z0-9:._-]. */
export const SESSION_ID = /^[\w:.-]{1,200}$/;

function prelude(name: WsScriptName): string {
  const layout = WS_SCRIPT_LAYOUTS[name];
  const map = (names: readonly string[]) => `{ ${names.map((n, i) => `${n} = ${i + 1}`).join(', ')} }`;
  return [
    `-- Generated at load by src/ws/redis/wsScripts.ts for script '${name}': do not edit.`,
    "local function strict(t, what) return setmetatable(t, { __index = function(_, k) error('KS_LAYOUT:' .. what .. '.' .. tostring(k)) end }) end",
    `local KEY = strict(${map(layout.keys)}, 'KEY')`,
    `local ARG = strict(${map(layout.args)}, 'ARG')`,
    `local REPLY = { ${layout.reply.map((r) => `'${r}'`).join(', ')} }`,
    "local function now_ms(t) if t ~= nil and t ~= '' then return tonumber(t) end local tm = redis.call('TIME') return tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000) end",
    'local function pack(values) local out = {} for i, f in ipairs(REPLY) do out[i] = tostring(values[f]) end return out end',
    '',
  ].join('\n');
}

/** One script of this folder, after its prelude and wsLib.lua; EVALSHA, then EVAL when the server lacks it (NOSCRIPT). */
export class WsLuaScript<S extends WsScriptName> {
  readonly source: string;
  readonly sha: string;
  /** KEYS in order, by name (wsKeys.ts). */
  readonly keyNames: readonly string[];

  constructor(readonly name: S) {
    this.keyNames = WS_SCRIPT_LAYOUTS[name].keys;
    this.source = `${prelude(name)}${LIB}\n${source(name)}`;
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(client: RedisLike, keys: readonly string[], args: WsScriptArgs<S>, timeoutMs: number): Promise<WsScriptReply<S>> {
    const named = args as Record<string, string | number>;
    const argv = WS_SCRIPT_LAYOUTS[this.name].args.map((a) => named[a]!);
    return this.#parse(await runLua(client, { label: `ws/${this.name}`, sha: this.sha, source: this.source }, keys, argv, timeoutMs));
  }

  #parse(raw: unknown): WsScriptReply<S> {
    const fields = WS_SCRIPT_LAYOUTS[this.name].reply;
    if (!Array.isArray(raw) || raw.length !== fields.length) throw new StoreError(`Unexpected reply from the ws/${this.name} script: ${String(raw)}`);
    const out: Record<string, string> = {};
    fields.forEach((f, i) => (out[f] = String(raw[i])));
    return out as WsScriptReply<S>;
  }
}
