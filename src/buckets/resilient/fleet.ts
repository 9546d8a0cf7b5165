/**
 * The fleet heartbeat of a ResilientStore: this process registers in the heartbeat set of every quota group it uses
 * (a lease of `ttlMs`), and counts the live processes there: the n its local shares divide by.
 */
import { randomUUID } from 'node:crypto';
import type { RedisStore } from '../redis/redisStore.js';
import { liveProcessesOf, nextLiveCount, type LiveCount } from './shareMath.js';

export class Fleet {
  readonly id = randomUUID();
  readonly #groups = new Set<string>();
  readonly #live = new Map<string, LiveCount>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly heartbeatMs: number,
    private readonly clock: () => number,
  ) {}

  /** How long one heartbeat keeps this process live in Redis. */
  get ttlMs(): number {
    return this.heartbeatMs * 3;
  }

  get groups(): ReadonlySet<string> {
    return this.#groups;
  }

  /** Adds `group` to those heartbeats register in; true when it is new. */
  join(group: string): boolean {
    if (this.#groups.has(group)) return false;
    this.#groups.add(group);
    return true;
  }

  /** Live processes last counted in `group` (undefined before a heartbeat of that group answered). */
  liveProcesses(group: string): number | undefined {
    const count = this.#live.get(group);
    return count && liveProcessesOf(count, this.clock(), this.ttlMs);
  }

  /** Registers this process in every group and counts the live ones; rejects when Redis fails. */
  async beat(primary: RedisStore): Promise<void> {
    for (const group of [...this.#groups]) {
      const n = Math.max(1, await primary.heartbeat(group, this.id, this.ttlMs));
      this.#live.set(group, nextLiveCount(this.#live.get(group), n, this.clock(), this.ttlMs));
    }
  }

  /**
   * Blind while Redis fails: the last counts age only from when Redis answers again (a restarted Redis has lost every
   * heartbeat, and the others register again within a heartbeat).
   */
  blind(now: number): void {
    for (const [group, count] of this.#live) this.#live.set(group, { ...count, peakAt: now });
  }

  /** Calls `tick` every heartbeat, on an unref'd timer (it never holds the process open). */
  start(tick: () => void): void {
    if (this.#timer) return;
    this.#timer = setInterval(tick, this.heartbeatMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
