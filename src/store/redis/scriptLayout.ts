import { StoreError } from '../../errors.js';
import { BUCKET_CONSTANTS } from '../bucketConstants.js';
import type { BucketConfig } from '../types.js';

/**
 * The one description of what goes between TypeScript and each Lua script: its arguments in ARGV order,
 * the per-bucket config block, the bucket state's hash fields, and its reply's fields. `scriptArgs` builds
 * ARGV from it and `parseReply` reads replies with it; `luaPrelude` writes the same tables at the top of
 * every script (`ARG`, `CFG`, `STATE`, `REPLY`, `EACH`, `K`), so no Lua file counts an ARGV position by
 * hand and a field added here cannot shift another's reading. Reading a name the table lacks is an error.
 *
 * ARGV of a script: its own `args` first (ARGV[1] is always `time`: '' for Redis TIME, else a test's
 * clock), then one block of `BUCKET_FIELDS` per bucket (KEYS: the bucket's hash and log, see keys.ts, then the
 * script's own `keys`, read in Lua as `KEYS[2 * n + KEY.<name>]`).
 */

/** One bucket's config as every bucket script reads it, in block order. */
export const BUCKET_FIELDS = ['weight', 'limit', 'windowMs', 'marginMs', 'burst', 'refillPerMs', 'alignPhase', 'measureMargin', 'coldStart'] as const;
export type BucketField = (typeof BUCKET_FIELDS)[number];

/** The bucket hash's fields: the scalar state of `BucketFields` in state.ts, under the same names. */
export const STATE_FIELDS = [
  'used',
  'tokens',
  'tokensAt',
  'pausedUntil',
  'factor',
  'learnedLimit',
  'pendingLimit',
  'pendingAt',
  'wlo',
  'whi',
  'observedAt',
  'hidden',
  'hiddenUntil',
  'tightenedUntil',
  'backoffLevel',
  'backoffAt',
  'conflictUntil',
  'demandFrom',
  'demand0',
  'demand1',
  'demand2',
  'prior0',
  'prior1',
  'prior2',
  'spreadLo',
  'spreadNow',
  'spreadLast',
  'samplesNow',
  'samplesLast',
  'hiddenNow',
  'hiddenLast',
  'prevWlo',
  'prevWhi',
  'settleNext',
  'burstFrom',
  'burstNow',
  'burstPeak',
  'burstAt',
  'createdAt',
  'hiddenAt',
] as const;

/** How many bucket blocks a script takes: none, exactly one, or one per pair of keys. */
type Buckets = 'none' | 'one' | 'many';

interface ScriptLayout {
  readonly args: readonly string[];
  readonly buckets: Buckets;
  /** Keys of the script's own, after the buckets' (for bucket scripts). */
  readonly keys?: readonly string[];
  /** Fields of each row: a script that takes rows (one or more) reads them after the bucket blocks, in this order. */
  readonly rows?: readonly string[];
  /** The reply: an array of these fields (as strings), in order... */
  readonly reply: readonly string[];
  /** ...followed, for `many`, by one array of these fields per bucket (per row, for a script that takes rows). */
  readonly each?: readonly string[];
}

export const SCRIPT_LAYOUTS = {
  acquire: {
    args: ['time', 'share', 'count', 'tier', 'senderId', 'senderWeight'],
    buckets: 'many',
    reply: ['admitted', 'now', 'count', 'waitMs', 'bucket', 'reason'],
    each: ['counted'],
  },
  release: { args: ['time', 'share', 'count', 'at'], buckets: 'many', reply: ['now'] },
  inspect: {
    args: ['time'],
    buckets: 'many',
    reply: ['now'],
    each: ['used', 'effectiveLimit', 'factor', 'tokens', 'pausedUntil', 'limit', 'hidden', 'wlo', 'whi'],
  },
  observe: {
    args: ['time'],
    buckets: 'one',
    rows: ['sentAt', 'limit', 'remaining', 'resetMs', 'recoverStep', 'minLimit', 'maxLimit', 'weight'],
    reply: ['count'],
    each: ['applied', 'limit', 'limitInForce', 'phaseConflict', 'freed'],
  },
  pause: { args: ['time', 'untilMs'], buckets: 'one', reply: ['pausedUntil'] },
  resume: { args: ['time'], buckets: 'one', reply: ['now'] },
  setFactor: { args: ['time', 'factor'], buckets: 'one', reply: ['factor'] },
  penalize: {
    args: ['time', 'pauseMs', 'spent', 'tightenBy', 'tightenMin', 'backoffBaseMs', 'backoffMaxMs', 'backoffJitter', 'backoffRandom', 'backoffResetAfterMs'],
    buckets: 'one',
    reply: ['pausedUntil', 'factor', 'tightened', 'now'],
  },
  absorb: { args: ['time'], buckets: 'one', reply: ['used'] },
  hold: { args: ['time', 'holdUntil'], buckets: 'one', keys: ['guard'], reply: ['held'] },
  heartbeat: { args: ['time', 'processId', 'ttlMs', 'leaseMs'], buckets: 'none', reply: ['live'], each: ['processId', 'expiresAt'] },
  leave: { args: ['time', 'processId'], buckets: 'none', reply: ['live'] },
} as const satisfies Record<string, ScriptLayout>;

export type ScriptName = keyof typeof SCRIPT_LAYOUTS;
type Layout<S extends ScriptName> = (typeof SCRIPT_LAYOUTS)[S];
export type ScriptArgs<S extends ScriptName> = { readonly [F in Layout<S>['args'][number]]: string | number };
/** One row of a script that takes rows (observe: one reply's observation). */
export type ScriptRow<S extends ScriptName> = Layout<S> extends { rows: readonly (infer F extends string)[] } ? { readonly [K in F]: string | number } : never;
type ReplyFields<S extends ScriptName> = { readonly [F in Layout<S>['reply'][number]]: string };
type EachFields<S extends ScriptName> = Layout<S> extends { each: readonly (infer F extends string)[] } ? { readonly [K in F]: string } : never;

/** One bucket a script reads, with the weight it charges there (0 for scripts that charge nothing). */
export interface ScriptBucket {
  readonly bucket: BucketConfig;
  readonly weight: number;
}

function bucketBlock({ bucket, weight }: ScriptBucket): number[] {
  const value: Record<BucketField, number> = {
    weight,
    limit: bucket.limit,
    windowMs: bucket.windowMs,
    marginMs: bucket.marginMs,
    burst: bucket.burst,
    refillPerMs: bucket.refillPerMs,
    alignPhase: bucket.alignPhase === false ? 0 : 1,
    measureMargin: bucket.measureMargin === true ? 1 : 0,
    coldStart: bucket.coldStart === true ? 1 : 0,
  };
  return BUCKET_FIELDS.map((f) => value[f]);
}

/** ARGV for `script`: its named arguments in layout order, then one config block per bucket, then its rows. */
export function scriptArgs<S extends ScriptName>(
  script: S,
  args: ScriptArgs<S>,
  buckets: readonly ScriptBucket[] = [],
  rows: readonly ScriptRow<S>[] = [],
): (string | number)[] {
  const layout: ScriptLayout = SCRIPT_LAYOUTS[script];
  const named = args as Record<string, string | number>;
  const rowFields = layout.rows ?? [];
  const rowValues = (rows as readonly Record<string, string | number>[]).flatMap((row) => rowFields.map((f) => row[f]!));
  return [...layout.args.map((f) => named[f]!), ...buckets.flatMap(bucketBlock), ...rowValues];
}

export interface ParsedReply<S extends ScriptName> {
  readonly fields: ReplyFields<S>;
  readonly each: EachFields<S>[];
}

/** Reads a script's reply by its layout's field names; a reply of another shape is a StoreError. */
export function parseReply<S extends ScriptName>(script: S, reply: unknown): ParsedReply<S> {
  const layout: ScriptLayout = SCRIPT_LAYOUTS[script];
  const bad = (): StoreError => new StoreError(`Unexpected reply from the ${script} script: ${safeJson(reply)}`);
  if (!Array.isArray(reply) || reply.length < layout.reply.length) throw bad();
  const record = (fieldNames: readonly string[], values: readonly unknown[]): Record<string, string> => {
    const out: Record<string, string> = {};
    fieldNames.forEach((f, i) => {
      const v = values[i];
      if (typeof v !== 'string' && typeof v !== 'number') throw bad();
      out[f] = String(v);
    });
    return out;
  };
  const fields = record(layout.reply, reply) as ReplyFields<S>;
  const each = reply.slice(layout.reply.length).map((part) => {
    if (!layout.each || !Array.isArray(part) || part.length < layout.each.length) throw bad();
    return record(layout.each, part) as EachFields<S>;
  });
  return { fields, each };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

const luaString = (s: string): string => `'${s}'`;
const luaList = (names: readonly string[]): string => `{ ${names.map(luaString).join(', ')} }`;
const luaMap = (entries: [string, number][]): string => `{ ${entries.map(([k, v]) => `${k} = ${String(v)}`).join(', ')} }`;

/**
 * The Lua block put before bucket.lua and the script itself: the layout tables, generated from this file.
 * Tables are strict: reading a name they lack fails the script with `KS_LAYOUT:<table>.<name>`.
 */
export function luaPrelude(script: ScriptName): string {
  const layout: ScriptLayout = SCRIPT_LAYOUTS[script];
  return [
    `-- Generated at load by src/store/redis/scriptLayout.ts for script '${script}': do not edit.`,
    'local function strict(name, t)',
    "  return setmetatable(t, { __index = function(_, k) error('KS_LAYOUT:' .. name .. '.' .. tostring(k)) end })",
    'end',
    `local SCRIPT = ${luaString(script)}`,
    `local ARG = strict('ARG', ${luaMap(layout.args.map((f, i) => [f, i + 1]))})`,
    `local ARG_COUNT = ${layout.args.length}`,
    `local BUCKETS = ${luaString(layout.buckets)}`,
    `local KEY = strict('KEY', ${luaMap((layout.keys ?? []).map((k, i) => [k, i + 1]))})`,
    `local KEY_COUNT = ${(layout.keys ?? []).length}`,
    `local CFG = strict('CFG', ${luaMap(BUCKET_FIELDS.map((f, i) => [f, i]))})`,
    `local CFG_SIZE = ${BUCKET_FIELDS.length}`,
    `local ROW = strict('ROW', ${luaMap((layout.rows ?? []).map((f, i) => [f, i]))})`,
    `local ROW_SIZE = ${(layout.rows ?? []).length}`,
    `local STATE = ${luaList(STATE_FIELDS)}`,
    `local REPLY = ${luaList(layout.reply)}`,
    `local EACH = ${luaList(layout.each ?? [])}`,
    `local K = strict('K', ${luaMap(Object.entries(BUCKET_CONSTANTS))})`,
    '',
  ].join('\n');
}
