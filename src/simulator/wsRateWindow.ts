/**
 * How the push server counts a rate limit ("30 new connections per minute", "100 uplink messages per 10 s").
 * KuCoin's docs give the numbers only; how the window moves and whether a refused attempt counts are the
 * simulator's choices, each an option (WsSimulatorOptions).
 * - `sliding`: at most `limit` counted events in any span of `windowMs` (the strictest reading: a client that
 *   passes it passes any window placement).
 * - `fixed`: KuCoin's REST arithmetic: a window opens at the first event when none is open and lasts
 *   `windowMs` (docs/window-mirroring.md).
 */
export type WsWindowKind = 'sliding' | 'fixed';

export interface WsRateRule {
  readonly limit: number;
  readonly windowMs: number;
  /** @default 'sliding' */
  readonly window?: WsWindowKind;
  /** A refused attempt counts against the limit too. @default false (the docs count connections and messages, not refusals) */
  readonly countRefused?: boolean;
}

/** One counter of a WsRateRule (per subject for connects, per connection for uplink messages). */
export class RateWindow {
  #times: number[] = [];
  #start = Number.NEGATIVE_INFINITY;
  #count = 0;
  readonly #kind: WsWindowKind;
  readonly #countRefused: boolean;

  constructor(private readonly rule: WsRateRule) {
    this.#kind = rule.window ?? 'sliding';
    this.#countRefused = rule.countRefused ?? false;
  }

  /** True when an event at `now` is within the limit; it is counted (a refused one only with `countRefused`). */
  admit(now: number): boolean {
    if (this.#kind === 'fixed') {
      if (now >= this.#start + this.rule.windowMs) {
        this.#start = now;
        this.#count = 0;
      }
      const ok = this.#count < this.rule.limit;
      if (ok || this.#countRefused) this.#count++;
      return ok;
    }
    let drop = 0;
    while (drop < this.#times.length && this.#times[drop]! <= now - this.rule.windowMs) drop++;
    if (drop > 0) this.#times = this.#times.slice(drop);
    const ok = this.#times.length < this.rule.limit;
    if (ok || this.#countRefused) this.#times.push(now);
    return ok;
  }
}

/** Most events in any span of `spanMs` (times ascending): what a client sent, whatever the server counted. */
export function maxInSpan(times: readonly number[], spanMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= spanMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}
