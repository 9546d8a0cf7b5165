/**
 * This process's local shares (shareMath.ts) in a MemoryStore: while Redis decides it mirrors this process's own
 * admissions there, so a failure finds them counted; when Redis fails, each share is first seeded with this process's
 * part of the fleet's use, then admits on its own.
 */
import { MemoryStore } from '../memoryStore.js';
import type { AcquireRequest, BucketConfig, BucketState } from '../types.js';
import { bucketKey } from './bucketKey.js';
import type { Fleet } from './fleet.js';
import type { Reading, Readings } from './readings.js';
import { localShare, seedWeight } from './shareMath.js';

export class LocalShares {
  readonly store: MemoryStore;
  readonly #scaled = new Map<string, BucketConfig>();
  /** Buckets whose local share counts the fleet's use since the failure. */
  readonly #seeded = new Set<string>();
  #seeding: Promise<void> = Promise.resolve();

  constructor(
    clock: () => number,
    private readonly fleet: Fleet,
    private readonly readings: Readings,
  ) {
    this.store = new MemoryStore({ clock });
  }

  /** The local share of a bucket; undefined while its group's processes are uncounted. */
  share(bucket: BucketConfig): BucketConfig | undefined {
    const n = this.fleet.liveProcesses(bucket.group);
    if (n === undefined) return undefined;
    const limit = this.readings.get(bucket)?.limit ?? bucket.limit;
    const key = [bucket.group, bucket.id, n, limit, bucket.limit, bucket.windowMs, bucket.marginMs, bucket.burst, bucket.refillPerMs, bucket.alignPhase].join(
      '\u0000',
    );
    let scaled = this.#scaled.get(key);
    if (!scaled) {
      scaled = localShare(bucket, n, limit);
      if (this.#scaled.size > 10_000) this.#scaled.clear();
      this.#scaled.set(key, scaled);
    }
    return scaled;
  }

  /** The mirror's config: the share, or the full bucket while its group is uncounted (only recorded into). */
  mirror(bucket: BucketConfig): BucketConfig {
    return this.share(bucket) ?? bucket;
  }

  /** The request against the local shares; undefined when a group's processes are uncounted (no share). */
  request(request: AcquireRequest): AcquireRequest | undefined {
    const charges = [];
    for (const c of request.charges) {
      const bucket = this.share(c.bucket);
      if (!bucket) return undefined;
      charges.push({ bucket, weight: c.weight });
    }
    return { ...request, charges };
  }

  /** The request against the mirrors (recording and releasing this process's own admissions). */
  mirrorRequest(request: AcquireRequest): AcquireRequest {
    return { ...request, charges: request.charges.map((c) => ({ bucket: this.mirror(c.bucket), weight: c.weight })) };
  }

  /** Redis failed: every share counts the fleet's use at this failure again. */
  forget(): void {
    this.#seeded.clear();
  }

  /** Seeds the buckets not seeded since the failure at `failedAt`; chained, so `seeded` waits for every seed. */
  seedLater(buckets: readonly BucketConfig[], failedAt: number): void {
    const unseeded = buckets.filter((b) => !this.#seeded.has(bucketKey(b)));
    if (unseeded.length === 0) return;
    for (const b of unseeded) this.#seeded.add(bucketKey(b));
    this.#seeding = this.#seeding.then(() => this.#seed(unseeded, failedAt)).catch(() => undefined);
  }

  /** Resolves when every seed asked for so far is in. */
  seeded(): Promise<void> {
    return this.#seeding;
  }

  /** Brings each local share up to this process's part of the fleet's use at the failure (shareMath.ts). */
  async #seed(buckets: readonly BucketConfig[], failedAt: number): Promise<void> {
    const shares = buckets.map((b) => this.mirror(b));
    const states = await this.store.inspect(shares);
    buckets.forEach((bucket, i) => {
      const n = this.fleet.liveProcesses(bucket.group) ?? 1;
      // the others admit through Redis until they see this process overdue: a lease and a heartbeat (lease.ts)
      const failure = { at: failedAt, holdDelayMs: n > 1 ? this.fleet.leaseMs + this.fleet.heartbeatMs : 0 };
      const missing = seedWeight(bucket, this.readings.get(bucket), failure, n, states[i]!.used + states[i]!.hidden);
      if (missing > 0) this.store.record({ charges: [{ bucket: shares[i]!, weight: missing }], share: 1 });
    });
  }

  /** Copies Redis's factor and pause (whichever process set or cleared them) onto the share, read at `now`. */
  async copy(reading: Reading, state: BucketState, now: number): Promise<void> {
    const share = this.mirror(reading.bucket);
    await this.store.resume(share); // clears the factor too: set it after
    await this.store.setFactor(share, state.factor);
    if (state.pausedUntil > state.now) await this.store.pause(share, now + (state.pausedUntil - state.now));
  }
}
