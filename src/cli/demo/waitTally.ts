/** Time lanes slept per bucket (from `waited` events): over the whole run, and over a recent span. */
export class WaitTally {
  readonly total = new Map<string, number>();
  #recent: { at: number; bucketId: string; waitMs: number }[] = [];

  constructor(private readonly recentMs = 10_000) {}

  add(bucketId: string, waitMs: number, at = Date.now()): void {
    this.total.set(bucketId, (this.total.get(bucketId) ?? 0) + waitMs);
    this.#recent.push({ at, bucketId, waitMs });
  }

  /** Wait per bucket within the recent span before `now`. */
  recent(now = Date.now()): Map<string, number> {
    this.#recent = this.#recent.filter((w) => w.at > now - this.recentMs);
    const m = new Map<string, number>();
    for (const w of this.#recent) m.set(w.bucketId, (m.get(w.bucketId) ?? 0) + w.waitMs);
    return m;
  }
}
