import type { Dispatcher } from 'undici';
import type { Priority } from '../store/types.js';
import { AttemptLoop } from '../send/attemptLoop.js';
import { isSafeToRepeat } from '../send/safeToRepeat.js';
import { keyIdOf } from '../kucoin/signing.js';
import { portOf, type Scheduler } from '../scheduler/scheduler.js';
import { TRANSPORT_RETRIES } from '../send/sendDefaults.js';

/** Options of `kucoinScheduling(...)`, the undici interceptor. */
export interface SchedulingInterceptorOptions {
  readonly scheduler: Scheduler;
  /** Which KuCoin host the composed dispatcher talks to: decides shared paths. @default 'spot' */
  readonly host?: string;
  /** Priority of requests that set none (`opts.priority` on a request may set one). @default 'normal' */
  readonly priority?: Priority;
  /** Bytes of each response body kept to classify it (KuCoin envelopes and Cloudflare pages are small). @default 16_384 */
  readonly maxBodyBytes?: number;
  /** Sends again after a transport failure or a 5xx, of reads and orders with a clientOid only. @default TRANSPORT_RETRIES (2) */
  readonly transportRetries?: number;
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = Record<string, string | string[] | undefined>;

/** One attempt's response, held until the attempt loop decides it is the one the caller gets. */
interface Captured {
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly headers: Headers;
  readonly chunks: readonly Buffer[];
  readonly trailers: Headers;
  readonly controller: Controller;
}

/** Keeps one attempt's whole response (KuCoin replies are small) instead of passing it on. */
class CaptureHandler implements Handler {
  #status = 0;
  #statusMessage: string | undefined;
  #headers: Headers = {};
  readonly #chunks: Buffer[] = [];

  constructor(
    private readonly onStart: (controller: Controller) => void,
    private readonly resolve: (captured: Captured) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  onRequestStart(controller: Controller): void {
    this.onStart(controller);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    this.#status = statusCode;
    this.#headers = headers;
    this.#statusMessage = statusMessage;
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    this.resolve({ status: this.#status, statusMessage: this.#statusMessage, headers: this.#headers, chunks: this.#chunks, trailers, controller });
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.reject(error);
  }
}

/** The caller's controller: aborts whichever attempt is running. */
class AttemptController implements Controller {
  current: Controller | undefined;
  #aborted = false;
  #reason: Error | null = null;
  abort(reason: Error): void {
    this.#aborted = true;
    this.#reason = reason;
    this.current?.abort(reason);
  }
  pause(): void {}
  resume(): void {}
  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return false;
  }
  get reason(): Error | null {
    return this.#reason;
  }
}

/** A body that can be sent twice: none, a string or bytes (a stream can be sent once). */
function replayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

/**
 * An undici interceptor for code that already uses undici: `new Agent().compose(kucoinScheduling({ scheduler }))`.
 * Wiring only: each request goes through the one attempt loop (src/send/attemptLoop.ts), which admits it with
 * its endpoint's pool and weight, feeds every reply back (headers and signals), and sends a refused request
 * again (it was not executed). The caller's handler sees the last attempt's response only; a request that the
 * scheduler rejects (abort, timeout, queue full) fails with the scheduler's typed error.
 */
/** The key's circuit id from a signed request's KC-API-KEY header (a short hash, never the key); none when unsigned. */
function keyIdOfHeaders(headers: unknown): { keyId?: string } {
  try {
    let key: unknown;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'kc-api-key') key = headers[i + 1];
    } else if (headers && typeof headers === 'object') {
      for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'kc-api-key') key = value;
    }
    if (Array.isArray(key)) key = key[0];
    return typeof key === 'string' && key !== '' ? { keyId: keyIdOf(key) } : {};
  } catch {
    return {}; // unreadable headers: no circuit for this request
  }
}

/**
 * An undici interceptor (`dispatcher.compose(kucoinScheduling({ scheduler }))`): every request through it is scheduled
 * with its endpoint's pool and weight, fed back, and sent again as the attempt loop decides (src/send/attemptLoop.ts).
 */
export function kucoinScheduling(options: SchedulingInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const port = portOf(options.scheduler);
  const maxBodyBytes = options.maxBodyBytes ?? 16_384;
  return (dispatch) => (opts, handler) => {
    const method = (opts.method ?? 'GET').toUpperCase();
    const priority = (opts as { priority?: Priority }).priority ?? options.priority;
    const signal = (opts as { signal?: unknown }).signal;
    const controller = new AttemptController();
    let started = false;
    const repeatable = replayable(opts.body);
    const loop = new AttemptLoop<Captured>(
      port,
      {
        schedule: {
          endpoint: `${method} ${opts.path}`,
          host: options.host ?? 'spot',
          ...(priority ? { priority } : {}),
          ...(signal instanceof AbortSignal ? { signal } : {}),
          ...keyIdOfHeaders(opts.headers),
        },
        safeToRepeat: repeatable && isSafeToRepeat(method, opts.body),
        send: () =>
          new Promise<Captured>((resolve, reject) => {
            const onStart = (c: Controller): void => {
              controller.current = c;
              if (controller.aborted) c.abort(controller.reason!);
              if (!started) {
                started = true;
                handler.onRequestStart?.(controller, undefined);
              }
            };
            dispatch(opts, new CaptureHandler(onStart, resolve, reject));
          }),
        replyOf: (c) => ({ status: c.status, headers: c.headers, body: Buffer.concat(c.chunks).subarray(0, maxBodyBytes).toString('utf8') }),
      },
      { transportRetries: repeatable ? (options.transportRetries ?? TRANSPORT_RETRIES) : 0, ...(repeatable ? {} : { maxAttempts: 1 }) },
    );
    loop.run().then(
      ({ value }) => {
        if (!started) handler.onRequestStart?.(controller, undefined);
        handler.onResponseStart?.(controller, value.status, value.headers, value.statusMessage);
        for (const chunk of value.chunks) handler.onResponseData?.(controller, chunk);
        handler.onResponseEnd?.(controller, value.trailers);
      },
      (error: Error) => handler.onResponseError?.(controller, error),
    );
    return true;
  };
}
