/**
 * The fleet heartbeat of a ResilientStore: every heartbeat this process registers in the heartbeat set of each quota
 * group it uses and counts the live processes there (the n its local shares divide by). A heartbeat is a lease of
 * `leaseMs` (lease.ts); the set keeps a member for `ttlMs`, one heartbeat longer, so the others see it overdue.
 */
import { randomUUID } from 'node:crypto';
import type { OverdueProcess, RedisStore } from '../redis/redisStore.js';
import { liveProcessesOf, nextLiveCount, type LiveCount } from './shareMath.js';

export class Fleet {
  readonly id = randomUUID();
  readonly #groups = new Set<string>();
  readonly #live = new Map<string, LiveCount>();
  /** Per group, when the last heartbeat Redis answered was sent (this process's clock). */
  readonly #answeredAt = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly heartbeatMs: number,
    private readonly clock: () => number,
  ) {}

  /** How long one heartbeat keeps this process in the heartbeat set (counted live). */
  get ttlMs(): number {
    return this.heartbeatMs * 3;
  }

  /** How long one heartbeat vouches for this process: the others hold back its share once it is older (lease.ts). */
  get leaseMs(): number {
    return this.heartbeatMs * 2;
  }

  /** When the lease of this process's last answered heartbeat in `group` ends (this process's clock). */
  leaseUntil(group: string): number | undefined {
    const at = this.#answeredAt.get(group);
    return at === undefined ? undefined : at + this.leaseMs;
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

  /**
   * Registers this process in every group and counts the live ones; resolves to the other processes overdue there, by
   * group; rejects when Redis fails.
   */
  async beat(primary: RedisStore): Promise<Map<string, OverdueProcess[]>> {
    const overdue = new Map<string, OverdueProcess[]>();
    for (const group of [...this.#groups]) {
      const sentAt = this.clock();
      const reply = await primary.leasedHeartbeat(group, this.id, this.ttlMs, this.leaseMs);
      this.#answeredAt.set(group, sentAt);
      this.#live.set(group, nextLiveCount(this.#live.get(group), Math.max(1, reply.live), this.clock(), this.ttlMs));
      const others = reply.overdue.filter((p) => p.processId !== this.id);
      if (others.length > 0) overdue.set(group, others);
    }
    return overdue;
  }

  /** Leaves every group's heartbeat set (closing): the others need not hold back this process's share. */
  async leave(primary: RedisStore): Promise<void> {
    for (const group of this.#groups) await primary.leave(group, this.id);
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
