/**
 * Observations of one bucket that arrive while one is being written go together in the next call: a burst of
 * replies (a window's first second, a batch admitted at once) costs Redis a few script calls, not one per reply,
 * and a lone reply is written at once (nothing waits for a batch to fill). Each caller gets its own row's result,
 * or the error of its call, or of the call it waited behind.
 */
export class ObserveBatches<Key, Row, Result> {
  readonly #queues = new Map<Key, { row: Row; resolve: (r: Result) => void; reject: (e: unknown) => void }[]>();

  constructor(
    /** Writes `rows` of `key` in one call; answers one result per row, in order. */
    private readonly write: (key: Key, rows: readonly Row[]) => Promise<readonly Result[]>,
    /** Most rows in one call. */
    private readonly maxRows: number,
  ) {}

  /** Writes `row` of `key`: now when nothing of `key` is being written, else with the next call. */
  add(key: Key, row: Row): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const queued = this.#queues.get(key);
      if (queued) {
        queued.push({ row, resolve, reject });
        return;
      }
      this.#queues.set(key, [{ row, resolve, reject }]);
      void this.#drain(key);
    });
  }

  async #drain(key: Key): Promise<void> {
    const queue = this.#queues.get(key)!;
    // the queue stays in the map while a call is out: rows added meanwhile wait for the next call
    while (queue.length > 0) {
      const batch = queue.slice(0, this.maxRows);
      try {
        const results = await this.write(
          key,
          batch.map((e) => e.row),
        );
        batch.forEach((e, i) => e.resolve(results[i]!));
        queue.splice(0, batch.length);
      } catch (error) {
        // the rows queued behind a failed call fail with it: each waits for at most one call (its timeout), not
        // for one per batch ahead of it while Redis is away
        for (const e of queue.splice(0, queue.length)) e.reject(error);
      }
    }
    this.#queues.delete(key);
  }
}
