import type { AbortError } from '../errors.js';
import { WsClosedError, type KucoinWsError, type WsWaitReason } from './errors.js';
import type { TopicName } from './topics.js';
import type { WsPush } from './wsEvents.js';

/** What a caller holds once its topic is served. */
export interface WsSubscription {
  readonly topic: string;
  /**
   * Settles when this subscription ends: with undefined after `unsubscribe()` or the manager's `close()`,
   * with the error when the manager lost the topic for good (refused on resubscription, connection gave up).
   * Never rejects.
   */
  readonly ended: Promise<KucoinWsError | undefined>;
  /** Stops this caller's interest; the topic is unsubscribed when no caller wants it any more. */
  unsubscribe(): Promise<void>;
}

export type TopicState = 'waiting' | 'sending' | 'subscribed' | 'ended';

/** One caller's subscribe: pending until its topic is served (or refused, or its wait ends). */
export class TopicHandle implements WsSubscription {
  readonly ended: Promise<KucoinWsError | undefined>;
  #endedResolve!: (error: KucoinWsError | undefined) => void;
  #settle: { resolve: (s: WsSubscription) => void; reject: (e: Error) => void } | undefined;
  #active = false;
  #done = false;
  readonly promise: Promise<WsSubscription>;

  constructor(
    readonly request: TopicRequest,
    readonly onMessage: ((push: WsPush) => void) | undefined,
    private readonly leave: (handle: TopicHandle) => Promise<void>,
  ) {
    this.ended = new Promise((resolve) => (this.#endedResolve = resolve));
    this.promise = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
  }

  get topic(): string {
    return this.request.name.topic;
  }

  get pending(): boolean {
    return !this.#active && !this.#done;
  }

  get active(): boolean {
    return this.#active && !this.#done;
  }

  /** The topic is served. */
  serve(): void {
    if (this.#done || this.#active) return;
    this.#active = true;
    this.#settle?.resolve(this);
    this.#settle = undefined;
  }

  /** Ends this handle: a pending one rejects with `error`, an active one settles `ended` with it. */
  end(error: KucoinWsError | AbortError | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#active) this.#endedResolve(error as KucoinWsError | undefined);
    else {
      this.#endedResolve(undefined);
      this.#settle?.reject(error ?? new WsClosedError());
    }
    this.#settle = undefined;
  }

  async unsubscribe(): Promise<void> {
    if (this.#done) return;
    this.end(undefined);
    await this.leave(this);
  }
}

/** One topic of the manager, shared by every caller that asked for it. */
export class TopicRequest {
  state: TopicState = 'waiting';
  /** Send it alone: a batch it was part of was refused. */
  isolate = false;
  /** 500 system errors in a row on its subscribe. */
  retries = 0;
  /** What it waits for, for the WsCapacityError of a caller whose wait ends. */
  waitReason: WsWaitReason = 'sessions';
  readonly handles = new Set<TopicHandle>();

  constructor(
    readonly name: TopicName,
    readonly privateChannel: boolean,
  ) {}

  get topic(): string {
    return this.name.topic;
  }
  get prefix(): string {
    return this.name.prefix;
  }
  get symbol(): string | undefined {
    return this.name.symbol;
  }

  /** Every caller that still wants it (pending or served). */
  get wanted(): boolean {
    for (const h of this.handles) if (!h.pending && !h.active) this.handles.delete(h);
    return this.handles.size > 0;
  }

  /** Served: every pending caller resolves. */
  serve(): void {
    this.state = 'subscribed';
    this.retries = 0;
    this.isolate = false;
    for (const h of this.handles) h.serve();
  }

  /** Over for good: every caller ends with `error`. */
  end(error: KucoinWsError | undefined): void {
    this.state = 'ended';
    for (const h of this.handles) h.end(error);
    this.handles.clear();
  }
}
