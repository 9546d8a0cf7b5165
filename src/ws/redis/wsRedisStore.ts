import type { RedisLike } from '../../store/redis/luaScript.js';
import { InvalidArgumentError, StoreError } from '../../errors.js';
import { checkHold, checkLearned } from '../store/wsBudgetMath.js';
import type {
  WsBudgetState,
  WsBudgetStore,
  WsDenyReason,
  WsGrant,
  WsLearnable,
  WsLearned,
  WsPenalty,
  WsPenaltyResult,
  WsRenewal,
  WsSubjectLimits,
} from '../store/wsStoreTypes.js';
import { wsKeys } from './wsKeys.js';
import { SESSION_ID, WsLuaScript, type WsScriptName, type WsScriptReply } from './wsScripts.js';

/** Options of `new WsRedisStore(...)`: the WebSocket budget shared by the fleet through Redis. */
export interface WsRedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` (anything with `evalsha` and `eval`). The caller owns and closes it. */
  readonly client: RedisLike;
  /**
   * Namespace of every key: one per deployment or tenant. The same prefix as the RedisStore is fine (the
   * WebSocket keys carry their own `{ws:...}` tag).
   * @default 'kucoin-scheduler'
   */
  readonly prefix?: string;
  /** Clock in epoch ms passed to the scripts instead of Redis `TIME`. Tests only. @default undefined (Redis TIME) */
  readonly clock?: () => number;
  /** A script Redis has not answered in this long fails with StoreError. @default 1000 */
  readonly commandTimeoutMs?: number;
}

const SCRIPTS = {
  session: new WsLuaScript('session'),
  connect: new WsLuaScript('connect'),
  renew: new WsLuaScript('renew'),
  release: new WsLuaScript('release'),
  penalize: new WsLuaScript('penalize'),
  learn: new WsLuaScript('learn'),
  inspect: new WsLuaScript('inspect'),
} as const;

const DENY_REASONS = new Set<string>(['sessions', 'connects', 'paused', 'lease']);

/**
 * WebSocket budgets in Redis, shared by every process of the fleet: session leases (a crashed process's
 * sessions free when their lease ends) and the connect window, with Redis TIME as the one clock.
 */
export class WsRedisStore implements WsBudgetStore {
  readonly #client: RedisLike;
  readonly #prefix: string;
  readonly #clock: (() => number) | undefined;
  readonly #timeoutMs: number;

  constructor(options: WsRedisStoreOptions) {
    if (!options?.client || typeof options.client.evalsha !== 'function' || typeof options.client.eval !== 'function') {
      throw new InvalidArgumentError('Expected options.client to be an ioredis Redis or Cluster instance');
    }
    const prefix = options.prefix ?? 'kucoin-scheduler';
    if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
      throw new InvalidArgumentError(`Expected prefix to be a non-empty string without braces, got ${JSON.stringify(prefix)}`);
    }
    const timeoutMs = options.commandTimeoutMs ?? 1000;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidArgumentError(`Expected commandTimeoutMs to be a number > 0, got ${String(options.commandTimeoutMs)}`);
    }
    this.#client = options.client;
    this.#prefix = prefix;
    this.#clock = options.clock;
    this.#timeoutMs = timeoutMs;
  }

  #run<S extends WsScriptName>(name: S, limits: WsSubjectLimits, args: Record<string, string | number>): Promise<WsScriptReply<S>> {
    const [sessions, connects, state] = wsKeys(this.#prefix, limits.subject);
    const byName: Record<string, string> = { sessions, connects, state };
    const script = SCRIPTS[name] as unknown as WsLuaScript<S>;
    const keys = script.keyNames.map((k) => byName[k]!);
    return script.run(this.#client, keys, { ...args, time: this.#clock ? String(this.#clock()) : '' } as never, this.#timeoutMs);
  }

  async acquireSession(limits: WsSubjectLimits, sessionId: string): Promise<WsGrant> {
    checkId(sessionId);
    return grant(await this.#run('session', limits, { sessionId, sessionLimit: limits.sessionLimit, leaseMs: limits.leaseMs }));
  }

  async acquireConnect(limits: WsSubjectLimits, sessionId: string): Promise<WsGrant> {
    checkId(sessionId);
    return grant(
      await this.#run('connect', limits, {
        sessionId,
        sessionLimit: limits.sessionLimit,
        leaseMs: limits.leaseMs,
        connectLimit: limits.connectLimit,
        connectSpanMs: limits.connectSpanMs,
      }),
    );
  }

  async renew(limits: WsSubjectLimits, sessionIds: readonly string[]): Promise<WsRenewal> {
    sessionIds.forEach(checkId);
    const reply = await this.#run('renew', limits, { sessionLimit: limits.sessionLimit, leaseMs: limits.leaseMs, sessionIds: sessionIds.join(' ') });
    return { lost: reply.lost === '' ? [] : reply.lost.split(' '), learned: learned(reply) };
  }

  async release(limits: WsSubjectLimits, sessionId: string, holdMs: number): Promise<void> {
    checkId(sessionId);
    await this.#run('release', limits, { sessionId, holdMs: Math.ceil(checkHold(holdMs)) });
  }

  async learn(limits: WsSubjectLimits, what: WsLearnable, value: number, learnForMs: number): Promise<WsLearned> {
    checkLearned(value, learnForMs);
    if (what !== 'topicsPerMessage' && what !== 'topicsPerSession')
      throw new InvalidArgumentError(`Expected what to be topicsPerMessage or topicsPerSession, got ${String(what)}`);
    return learned(await this.#run('learn', limits, { what, value, learnForMs }));
  }

  async penalize(limits: WsSubjectLimits, penalty: WsPenalty): Promise<WsPenaltyResult> {
    if (penalty.kind === 'sessions') checkId(penalty.sessionId);
    const args =
      penalty.kind === 'sessions'
        ? {
            kind: 'sessions',
            sessionId: penalty.sessionId,
            sessionLimit: limits.sessionLimit,
            pauseMs: penalty.pauseMs,
            learnedLimit: penalty.learnedLimit ?? '',
            learnForMs: penalty.learnForMs,
            baseMs: 1,
            maxMs: 1,
            jitter: 0,
            resetAfterMs: 0,
            random: 0,
          }
        : {
            kind: 'busy',
            sessionId: '',
            sessionLimit: limits.sessionLimit,
            pauseMs: 0,
            learnedLimit: '',
            learnForMs: 0,
            baseMs: penalty.baseMs,
            maxMs: penalty.maxMs,
            jitter: penalty.jitter,
            resetAfterMs: penalty.resetAfterMs,
            random: penalty.random,
          };
    const reply = await this.#run('penalize', limits, args);
    return { pausedUntil: num(reply.pausedUntil, 'pausedUntil'), now: num(reply.now, 'now') };
  }

  async inspect(limits: WsSubjectLimits): Promise<WsBudgetState> {
    const r = await this.#run('inspect', limits, { sessionLimit: limits.sessionLimit, connectSpanMs: limits.connectSpanMs });
    return {
      now: num(r.now, 'now'),
      sessions: num(r.sessions, 'sessions'),
      connects: num(r.connects, 'connects'),
      pausedUntil: num(r.pausedUntil, 'pausedUntil'),
      sessionLimit: num(r.sessionLimit, 'sessionLimit'),
      backoffLevel: num(r.backoffLevel, 'backoffLevel'),
      learned: learned(r),
    };
  }
}

function checkId(id: string): void {
  if (typeof id !== 'string' || !SESSION_ID.test(id))
    throw new InvalidArgumentError(`Expected a session id of 1-200 characters [A-Za-z0-9_:.-], got ${JSON.stringify(id)}`);
}

function num(v: string, field: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new StoreError(`Unexpected ${field} from a WebSocket budget script: ${JSON.stringify(v)}`);
  return n;
}

/** A learned value of a reply: 0 is none. */
function learned(r: { learnedSessionLimit: string; learnedPerMessage: string; learnedPerSession: string }): WsLearned {
  const value = (v: string, field: string) => num(v, field) || undefined;
  return {
    sessionLimit: value(r.learnedSessionLimit, 'learnedSessionLimit'),
    topicsPerMessage: value(r.learnedPerMessage, 'learnedPerMessage'),
    topicsPerSession: value(r.learnedPerSession, 'learnedPerSession'),
  };
}

function grant(r: WsScriptReply<'session'>): WsGrant {
  const now = num(r.now, 'now');
  if (r.granted === '1') return { granted: true, now, learned: learned(r) };
  if (!DENY_REASONS.has(r.reason)) throw new StoreError(`Unexpected deny reason from a WebSocket budget script: ${JSON.stringify(r.reason)}`);
  return { granted: false, now, reason: r.reason as WsDenyReason, waitMs: num(r.waitMs, 'waitMs'), learned: learned(r) };
}
