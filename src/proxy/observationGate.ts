/**
 * How often a proxy writes KuCoin's `gw-ratelimit-*` headers to the shared store. Every reply is read; every
 * rate-limit signal (429000, 1015, 200002...) is fed back at once, with the reply, as always. But a proxy carries
 * thousands of replies a second, and each header observation is a store script (observe.lua: about 0.35 ms of Redis
 * per call on a busy 30 s window, measured on the bench machine), which would make Redis the proxy's limit. Header
 * observations of one pool therefore go one at a time, at most one per `minGapMs`: a reply that arrives meanwhile
 * is not observed by its own request (which returns to its bot without waiting for Redis) but kept, newest first,
 * and observed as soon as the pool's previous observation is done and the gap has passed. So the store always gets
 * the freshest observation, at most `1000 / minGapMs` a second per pool and proxy.
 */
import type { Admission } from '../scheduler/admission.js';
import type { GatewayReply } from '../kucoin/errorFeedback.js';
import type { HeaderBag } from '../kucoin/headers.js';
import type { Scheduler } from '../scheduler/scheduler.js';

/** Default spacing of one pool's header observations per proxy. */
export const OBSERVATION_GAP_MS = 10;

interface PoolGate {
  busy: boolean;
  /** When the last observation began. */
  lastAt: number;
  /** The newest reply not observed yet, with its admission. */
  pending: { admission: Admission; reply: GatewayReply } | undefined;
  timer: NodeJS.Timeout | undefined;
}

const RATE_HEADERS = /^gw-ratelimit-/i;

/** The reply without its `gw-ratelimit-*` headers: fed back, it observes nothing (its code and status still count). */
function withoutRateHeaders(reply: GatewayReply): GatewayReply {
  const headers = reply.headers as Record<string, unknown> | undefined;
  if (!headers || typeof headers !== 'object') return reply;
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) if (!RATE_HEADERS.test(name)) kept[name] = value;
  return { ...reply, headers: kept as HeaderBag };
}

export class ObservationGate {
  readonly #pools = new Map<string, PoolGate>();

  constructor(private readonly minGapMs: number = OBSERVATION_GAP_MS) {}

  /**
   * The reply as the request's own feedback should see it: whole when it may observe now (`holds` is then true,
   * and the request calls `release` once its feedback is done), else without its rate-limit headers (kept for
   * the pool's next observation). Call only for replies that carry no rate-limit signal.
   */
  take(key: string, scheduler: Scheduler, admission: Admission, reply: GatewayReply, now = Date.now()): { reply: GatewayReply; holds: boolean } {
    let gate = this.#pools.get(key);
    if (!gate) this.#pools.set(key, (gate = { busy: false, lastAt: 0, pending: undefined, timer: undefined }));
    if (!gate.busy && gate.timer === undefined && now - gate.lastAt >= this.minGapMs) {
      gate.busy = true;
      gate.lastAt = now;
      gate.pending = undefined;
      return { reply, holds: true };
    }
    if (!gate.pending || gate.pending.admission.sentAt <= admission.sentAt) gate.pending = { admission, reply };
    this.#next(key, gate, scheduler);
    return { reply: withoutRateHeaders(reply), holds: false };
  }

  /** The observation of `key` that a request held is done: the newest kept one goes next, after the gap. */
  release(key: string, scheduler: Scheduler): void {
    const gate = this.#pools.get(key);
    if (!gate) return;
    gate.busy = false;
    this.#next(key, gate, scheduler);
  }

  #next(key: string, gate: PoolGate, scheduler: Scheduler): void {
    if (!gate.pending || gate.busy || gate.timer !== undefined) return;
    const wait = Math.max(0, gate.lastAt + this.minGapMs - Date.now());
    gate.timer = setTimeout(() => {
      gate.timer = undefined;
      const pending = gate.pending;
      if (!pending) return;
      gate.pending = undefined;
      gate.busy = true;
      gate.lastAt = Date.now();
      // a store fault is the scheduler's `storeError` event; the request this came from was answered long ago
      void scheduler
        .feedback(pending.admission, pending.reply)
        .catch(() => undefined)
        .finally(() => {
          gate.busy = false;
          this.#next(key, gate, scheduler);
        });
    }, wait);
    gate.timer.unref();
  }

  /** Stops the timers (the proxy is closing: the newest kept observations are dropped). */
  close(): void {
    for (const gate of this.#pools.values()) if (gate.timer) clearTimeout(gate.timer);
    this.#pools.clear();
  }
}
