/** One server window: it opens at the first arrival when none is open and lasts `windowMs`. */
export interface ServerWindow {
  /** Arrival time (ms) of the request that opened it. */
  readonly start: number;
  readonly end: number;
  /** Weight charged (admitted requests only). */
  weight: number;
  /** Weight that arrived, charged or not: what the senders tried to put into this window. */
  offered: number;
  /** Requests admitted. */
  requests: number;
  /** Requests refused because the window was spent (their weight is not charged). */
  rejected: number;
}

/**
 * KuCoin's window arithmetic: a fixed window per (subject, pool) that opens at the first request to
 * arrive and closes `windowMs` later; the next opens at the first arrival at or after that.
 */
export class FixedWindowCounter {
  readonly #windows: ServerWindow[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** The window an arrival at `at` falls in, opening a new one when needed. */
  current(at: number): ServerWindow {
    let w = this.#windows[this.#windows.length - 1];
    if (!w || at >= w.end) {
      w = { start: at, end: at + this.windowMs, weight: 0, offered: 0, requests: 0, rejected: 0 };
      this.#windows.push(w);
    }
    return w;
  }

  /** Charges `weight` at `at` if the window has room; returns the window and whether it was admitted. */
  charge(at: number, weight: number): { window: ServerWindow; admitted: boolean } {
    const window = this.current(at);
    window.offered += weight;
    if (window.weight + weight > this.limit) {
      window.rejected++;
      return { window, admitted: false };
    }
    window.weight += weight;
    window.requests++;
    return { window, admitted: true };
  }

  windows(): readonly ServerWindow[] {
    return this.#windows;
  }
}
