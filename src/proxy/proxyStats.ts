/**
 * The proxy's traffic counters: what `/healthz`, `/metrics` and `kucoin-scheduler status` report. Plain numbers
 * in this process; the metrics and the status record read them, nothing counts twice.
 */
export interface ProxyStatsSnapshot {
  /** Requests sent to KuCoin (each send counts: a re-sent refusal counts twice). */
  readonly forwarded: number;
  /** Replies KuCoin gave, by HTTP status class (`2xx`, `4xx`...). */
  readonly replies: Readonly<Record<string, number>>;
  /** Local answers, by code (`429000`, `KS_PROXY_BUSY`...). */
  readonly refused: Readonly<Record<string, number>>;
  /** KuCoin's rate-limit signals, by signal (`429000`, `1015`...). */
  readonly signals: Readonly<Record<string, number>>;
  /** Requests in the proxy now (waiting for admission, or forwarded and not answered yet). */
  readonly inFlight: number;
  /** WebSocket connections relayed now. */
  readonly websockets: number;
}

/** A timing the metrics observe: `seconds` spent, by `kind`. */
export type TimingListener = (kind: 'wait' | 'upstream' | 'total', seconds: number) => void;

export class ProxyStats {
  forwarded = 0;
  inFlight = 0;
  websockets = 0;
  readonly replies: Record<string, number> = {};
  readonly refused: Record<string, number> = {};
  readonly signals: Record<string, number> = {};
  #timing: TimingListener | undefined;

  static #add(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }

  reply(status: number): void {
    ProxyStats.#add(this.replies, `${Math.floor(status / 100)}xx`);
  }

  refusal(code: string): void {
    ProxyStats.#add(this.refused, code);
  }

  signal(signal: string): void {
    ProxyStats.#add(this.signals, signal);
  }

  get refusedTotal(): number {
    return Object.values(this.refused).reduce((a, b) => a + b, 0);
  }

  onTiming(listener: TimingListener): void {
    this.#timing = listener;
  }

  timing(kind: 'wait' | 'upstream' | 'total', ms: number): void {
    this.#timing?.(kind, ms / 1000);
  }

  snapshot(): ProxyStatsSnapshot {
    return {
      forwarded: this.forwarded,
      replies: { ...this.replies },
      refused: { ...this.refused },
      signals: { ...this.signals },
      inFlight: this.inFlight,
      websockets: this.websockets,
    };
  }
}
