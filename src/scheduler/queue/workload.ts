import type { Priority } from '../../store/types.js';
import { setLongTimeout } from '../../util/longTimeout.js';
import type { Job } from './job.js';
import { Lane, type LaneContext } from './lane.js';

/**
 * This process's work for one scheduler: its lanes (made on first use, dropped when idle) and the requests admitted
 * whose function still runs. Whoever waits for it to go quiet (`close`, `onIdle`) is told on the events themselves
 * (a lane goes idle, a request settles), never by polling.
 */
export class Workload {
  readonly #lanes = new Map<string, Lane>();
  /** Lanes `drainAll` took out that may still be answering the store for a job. */
  #draining: readonly Lane[] = [];
  readonly #running: Record<Priority, number> = { critical: 0, high: 0, normal: 0, low: 0 };
  /** `until`'s check, run at every quiet event. */
  #onQuiet: (() => void) | undefined;
  /** `onIdle()` callers. */
  #idleWaiters: (() => void)[] = [];

  constructor(private readonly context: Omit<LaneContext, 'onIdle'>) {}

  /** The lane of `id`, made on first use. */
  lane(id: string): Lane {
    let lane = this.#lanes.get(id);
    if (!lane) {
      lane = new Lane(id, {
        ...this.context,
        // a lane that has nothing to do is dropped: one per endpoint ever used would grow without bound
        onIdle: (idle) => {
          if (this.#lanes.get(idle.id) === idle) this.#lanes.delete(idle.id);
          this.quiet();
        },
      });
      this.#lanes.set(id, lane);
    }
    return lane;
  }

  /** Every lane asks the store again (a pause, a new limit or a factor changed every wait). */
  wakeAll(): void {
    for (const lane of this.#lanes.values()) lane.wake();
  }

  /** Lanes sleeping until weight of `bucketId`'s window stops counting ask again (weight was freed earlier). */
  wakeSleepingOn(bucketId: string): void {
    for (const lane of this.#lanes.values()) if (lane.sleepsOnWindowOf(bucketId)) lane.wake();
  }

  /** Requests queued, every lane and priority. */
  get queued(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.size;
    return n;
  }

  /** Requests admitted whose function has not settled. */
  get running(): number {
    return this.#running.critical + this.#running.high + this.#running.normal + this.#running.low;
  }

  /** Requests admitted whose function has not settled, per priority (the priority they were scheduled with). */
  runningByPriority(): Record<Priority, number> {
    return { ...this.#running };
  }

  /** Queued requests per lane and priority. */
  depths(): Record<string, Record<Priority, number>> {
    const queued: Record<string, Record<Priority, number>> = {};
    for (const [id, lane] of this.#lanes) queued[id] = lane.depth;
    return queued;
  }

  /** A request was admitted: its function runs. */
  started(priority: Priority): void {
    this.#running[priority]++;
  }

  /** An admitted request's function settled. */
  settled(priority: Priority): void {
    this.#running[priority]--;
    this.quiet();
  }

  /** Nothing queued anywhere (what is admitted may still run). */
  get empty(): boolean {
    for (const lane of this.#lanes.values()) if (lane.size > 0) return false;
    return true;
  }

  /** Nothing queued, nothing being dispatched or answered by the store, nothing running. */
  get idle(): boolean {
    if (this.running > 0) return false;
    for (const lane of this.#lanes.values()) if (!lane.idle) return false;
    return this.#draining.every((lane) => lane.idle);
  }

  /** Resolves when `idle` holds: at once if it holds now. */
  onIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Something settled or went idle (also a job that left a held lane, which has no dispatch to say so). */
  quiet(): void {
    this.#onQuiet?.();
    if (this.#idleWaiters.length > 0 && this.idle) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves when `done()` holds, checked at every quiet event, or after `ms`. */
  until(done: () => boolean, ms: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        timer.clear();
        this.#onQuiet = undefined;
        resolve();
      };
      const timer = setLongTimeout(finish, ms, true);
      this.#onQuiet = () => {
        if (done()) finish();
      };
    });
  }

  /** Takes every waiting job out of every lane (close); the lanes stay watched until the store has answered them. */
  drainAll(): Job[] {
    const lanes = [...this.#lanes.values()];
    const jobs = lanes.flatMap((lane) => lane.drain());
    this.#lanes.clear();
    this.#draining = lanes;
    return jobs;
  }
}
