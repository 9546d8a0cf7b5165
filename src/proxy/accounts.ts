import { createHash } from 'node:crypto';
import { describeValue, InvalidArgumentError } from '../errors.js';
import { resolveOptions, type ResolvedOptions, type SchedulerOptions } from '../scheduler/options.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { createScheduler } from '../send/createScheduler.js';

/** One account the proxy serves: its API key, known only by its SHA-256, and its UID. */
export interface ProxyAccount {
  /** The API key's SHA-256, 64 hex digits (`printf %s "$KEY" | sha256sum`): the key itself is never configured. */
  readonly keyHash: string;
  /** The account (UID) whose private pools the key's requests are charged to. */
  readonly uid: string;
  /** The account's VIP level (0..12): picks its quotas until replies teach them. @default 0 */
  readonly vipLevel?: number;
}

/** SHA-256 of an API key, hex: what `ProxyAccount.keyHash` holds. */
export function apiKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** An account as a request finds it: its scheduler, and the key's short id (the key circuit's and the logs'). */
export interface AccountEntry {
  readonly uid: string;
  readonly scheduler: Scheduler;
  /** Resolved options of the scheduler (pool limits for a local 429000's headers). */
  readonly resolved: ResolvedOptions;
}

/**
 * The schedulers of the accounts, one per UID, sharing one store (and one quota group, so the Public pool and
 * the egress IP's Cloudflare budget are one, whoever sends). Unsigned requests are charged through the first
 * account's scheduler (its Public and IP buckets are the group's), or a scheduler of its own when none is set.
 */
export class Accounts {
  readonly #byHash = new Map<string, AccountEntry>();
  readonly #byUid = new Map<string, AccountEntry>();
  readonly public: AccountEntry;

  constructor(accounts: readonly ProxyAccount[], base: Omit<SchedulerOptions, 'uid' | 'vipLevel'>, publicUid: string) {
    const make = (uid: string, vipLevel: number | undefined): AccountEntry => {
      const options: SchedulerOptions = { ...base, uid, ...(vipLevel === undefined ? {} : { vipLevel }) };
      return { uid, scheduler: createScheduler(options), resolved: resolveOptions(options) };
    };
    accounts.forEach((a, i) => {
      const name = `accounts[${i}]`;
      if (a === null || typeof a !== 'object') throw new InvalidArgumentError(`Expected ${name} to be { keyHash, uid, vipLevel? }, got ${describeValue(a)}`);
      const keyHash = typeof a.keyHash === 'string' ? a.keyHash.toLowerCase() : a.keyHash;
      if (typeof keyHash !== 'string' || !/^[0-9a-f]{64}$/.test(keyHash)) {
        throw new InvalidArgumentError(`Expected ${name}.keyHash to be the key's SHA-256 (64 hex digits), got ${describeValue(a.keyHash)}`);
      }
      if (this.#byHash.has(keyHash)) throw new InvalidArgumentError(`Expected each key once in accounts, got ${name}.keyHash twice`);
      let entry = this.#byUid.get(String(a.uid));
      if (!entry) {
        entry = make(a.uid, a.vipLevel);
        this.#byUid.set(entry.uid, entry);
      } else if ((a.vipLevel ?? 0) !== (entry.resolved.vipLevel ?? 0)) {
        throw new InvalidArgumentError(`Expected one vipLevel per UID, got two for UID ${describeValue(a.uid)}`);
      }
      this.#byHash.set(keyHash, entry);
    });
    this.public = this.#byUid.values().next().value ?? make(publicUid, undefined);
  }

  /** The account of a signed request's key, by the key's hash (`apiKeyHash`); undefined for a key no account names. */
  byHash(hash: string): AccountEntry | undefined {
    return this.#byHash.get(hash);
  }

  /** Every account's entry (one per UID), and the public one when no account is configured. */
  entries(): AccountEntry[] {
    return [...new Set([...this.#byUid.values(), this.public])];
  }

  /** Every scheduler (one per UID, and the public one). */
  schedulers(): Scheduler[] {
    return this.entries().map((e) => e.scheduler);
  }
}
