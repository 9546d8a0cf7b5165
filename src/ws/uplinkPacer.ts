/** How fast one connection may send (KuCoin: 100 messages per 10 s per connection). */
export interface UplinkLimits {
  readonly limit: number;
  readonly windowMs: number;
  /** Added to the window: the spread of transit time between our send and the server's count. */
  readonly marginMs: number;
  /** Slots only pings may use, so a connection busy subscribing never misses a ping. */
  readonly reservedForPing: number;
}

export type UplinkKind = 'ping' | 'command';

/**
 * Paces the uplink of one connection: no more than `limit` messages in any span of `windowMs + marginMs`
 * (commands: `limit - reservedForPing`). In-process: a connection belongs to one process.
 */
export class UplinkPacer {
  #sent: number[] = [];
  #quietUntil = 0;

  constructor(
    private readonly limits: UplinkLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  get #span(): number {
    return this.limits.windowMs + this.limits.marginMs;
  }

  /** How long a message of `kind` must wait before it may go (0: now). */
  delay(kind: UplinkKind): number {
    const now = this.clock();
    const from = now - this.#span;
    if (this.#sent.length > 0 && this.#sent[0]! <= from) this.#sent = this.#sent.filter((t) => t > from);
    if (kind === 'command' && this.#quietUntil > now) return this.#quietUntil - now;
    const cap = kind === 'ping' ? this.limits.limit : Math.max(1, this.limits.limit - this.limits.reservedForPing);
    if (this.#sent.length < cap) return 0;
    return Math.max(1, this.#sent[this.#sent.length - cap]! + this.#span - now);
  }

  /** Counts a message sent now. */
  record(): void {
    this.#sent.push(this.clock());
  }

  /** The server said "exceed max permits": commands wait a whole span (pings still go). */
  slowDown(): void {
    this.#quietUntil = this.clock() + this.#span;
  }

  /** Messages counted in the current span. */
  get inSpan(): number {
    this.delay('ping');
    return this.#sent.length;
  }
}
