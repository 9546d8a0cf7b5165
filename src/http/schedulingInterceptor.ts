import type { Dispatcher } from 'undici';
import type { Admission } from '../admission.js';
import type { Priority } from '../buckets/types.js';
import type { Scheduler } from '../scheduler.js';

export interface SchedulingInterceptorOptions {
  readonly scheduler: Scheduler;
  /** Which KuCoin host the composed dispatcher talks to: decides shared paths. @default 'spot' */
  readonly host?: string;
  /** Priority of requests that set none (`opts.priority` on a request may set one). @default 'normal' */
  readonly priority?: Priority;
  /** Bytes of each response body kept to classify it (KuCoin envelopes and Cloudflare pages are small). @default 16_384 */
  readonly maxBodyBytes?: number;
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/** Forwards every callback unchanged, keeping status, headers and the start of the body for feedback. */
class FeedbackHandler implements Handler {
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;

  constructor(
    private readonly handler: Handler,
    private readonly done: (reply: { status: number; headers: Record<string, string | string[] | undefined>; body: string } | undefined) => void,
    private readonly maxBodyBytes: number,
  ) {}

  onRequestStart(controller: Controller, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Record<string, string | string[]>, socket: never): void {
    this.handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    this.#status = statusCode;
    this.#headers = headers;
    this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#size < this.maxBodyBytes) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    }
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Record<string, string | string[] | undefined>): void {
    this.done({ status: this.#status, headers: this.#headers, body: Buffer.concat(this.#chunks).subarray(0, this.maxBodyBytes).toString('utf8') });
    this.handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.done(undefined);
    this.handler.onResponseError?.(controller, error);
  }
}

const noController: Controller = {
  abort() {},
  pause() {},
  resume() {},
  get aborted() {
    return false;
  },
  get paused() {
    return false;
  },
  get reason() {
    return null;
  },
};

/**
 * An undici interceptor for code that already uses undici: `new Agent().compose(kucoinScheduling({ scheduler }))`.
 * Each request waits for admission with its endpoint's pool and weight, then its response is fed back
 * (headers and signals) to the scheduler. Responses pass through unchanged; a request that the scheduler
 * rejects (abort, timeout, queue full) fails with the scheduler's typed error.
 */
export function kucoinScheduling(options: SchedulingInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const { scheduler } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 16_384;
  return (dispatch) => (opts, handler) => {
    const method = (opts.method ?? 'GET').toUpperCase();
    const priority = (opts as { priority?: Priority }).priority ?? options.priority;
    const signal = (opts as { signal?: unknown }).signal;
    scheduler
      .schedule(
        { endpoint: `${method} ${opts.path}`, host: options.host ?? 'spot', ...(priority ? { priority } : {}), ...(signal instanceof AbortSignal ? { signal } : {}) },
        (admission: Admission) =>
          new Promise<void>((resolve) => {
            const onDone = (reply: { status: number; headers: Record<string, string | string[] | undefined>; body: string } | undefined) => {
              if (reply) void scheduler.feedback(admission, reply).catch(() => undefined);
              resolve();
            };
            dispatch(opts, new FeedbackHandler(handler, onDone, maxBodyBytes));
          }),
      )
      .catch((error: Error) => handler.onResponseError?.(noController, error));
    return true;
  };
}
