import { describe, expectTypeOf, it } from 'vitest';
import {
  createScheduler,
  InvalidArgumentError,
  KucoinSchedulerError,
  MaxWaitExceededError,
  type BucketState,
  type Priority,
  type Scheduler,
  type SchedulerEvents,
} from '../src/index.js';
import { ERROR_CODES, type KucoinSchedulerErrorCode } from '../src/errors.js';
import type { Endpoint, KnownEndpoint, UnlistedEndpoint } from '../src/kucoin/endpointTypes.js';
import { unlisted } from '../src/kucoin/unlisted.js';

describe('public API types', () => {
  it('schedule and wrap keep the function types', () => {
    const s = createScheduler({ uid: 'u' });
    expectTypeOf(s).toEqualTypeOf<Scheduler>();
    const n = s.schedule({ pool: 'spot' }, () => 42);
    const t = s.schedule({ pool: 'spot' }, async () => 'x');
    for (const p of [n, t]) p.catch(() => undefined); // real promises: the scheduler closes below
    expectTypeOf(n).toEqualTypeOf<Promise<number>>();
    expectTypeOf(t).toEqualTypeOf<Promise<string>>();
    const wrapped = s.wrap((a: number, b: string) => ({ a, b }), { pool: 'spot' });
    expectTypeOf(wrapped).toEqualTypeOf<(a: number, b: string) => Promise<{ a: number; b: string }>>();
    expectTypeOf<Priority>().toEqualTypeOf<'critical' | 'high' | 'normal' | 'low'>();
    void s.close();
  });

  it('events are typed by name', () => {
    const s = createScheduler({ uid: 'u' });
    s.on('admitted', (e) => expectTypeOf(e).toEqualTypeOf<SchedulerEvents['admitted']>());
    expectTypeOf(s.on('waited', () => {})).toEqualTypeOf<() => void>();
    expectTypeOf(s.snapshot()).resolves.toHaveProperty('buckets').toEqualTypeOf<readonly BucketState[]>();
    // @ts-expect-error unknown event name
    s.on('nope', () => {});
    void s.close();
  });

  it('endpoints are typed: a typo does not compile, unlisted() and run-time strings do', () => {
    // never called: these lines are checked by the typecheck (npm test runs tsc over test/)
    const calls = (s: Scheduler, method: string, path: string) => {
      void s.schedule({ endpoint: 'POST /api/v1/hf/orders' }, () => 1);
      void s.schedule({ endpoint: 'DELETE /api/v1/hf/orders/123' }, () => 1); // a {orderId} segment takes any string
      void s.schedule({ endpoint: 'GET /api/v1/accounts?type=trade' }, () => 1); // with its query
      void s.schedule({ endpoint: 'GET /api/ua/v1/account/mode' }, () => 1);
      // @ts-expect-error 'POST /api/v1/hf/order' is a typo (the table has /api/v1/hf/orders)
      void s.schedule({ endpoint: 'POST /api/v1/hf/order' }, () => 1);
      // @ts-expect-error the same typo through wrap
      s.wrap(() => 1, { endpoint: 'POST /api/v1/hf/order' });
      void s.schedule({ endpoint: unlisted('POST /api/v1/hf/order'), pool: 'spot', weight: 1 }, () => 1); // the escape hatch
      void s.schedule({ endpoint: `${method} ${path}` }, () => 1); // known only at run time: strictEndpoints checks it
    };
    void calls;
    expectTypeOf<'POST /api/v1/hf/orders'>().toMatchTypeOf<KnownEndpoint>();
    expectTypeOf<'POST /api/v1/hf/order'>().not.toMatchTypeOf<Endpoint>();
    expectTypeOf(unlisted('POST /x')).toEqualTypeOf<UnlistedEndpoint>();
  });

  it('error codes are literal types: a switch on `code` can be exhaustive', () => {
    expectTypeOf<KucoinSchedulerError['code']>().toEqualTypeOf<KucoinSchedulerErrorCode>();
    expectTypeOf<InvalidArgumentError['code']>().toEqualTypeOf<'KS_INVALID_ARGUMENT'>();
    expectTypeOf<MaxWaitExceededError['code']>().toEqualTypeOf<'KS_MAX_WAIT_EXCEEDED'>();
    expectTypeOf<(typeof ERROR_CODES)[number]>().toEqualTypeOf<KucoinSchedulerErrorCode>();
    const code = (e: KucoinSchedulerError): string => {
      switch (e.code) {
        case 'KS_INVALID_ARGUMENT':
        case 'KS_UNKNOWN_POOL':
        case 'KS_INVALID_ENDPOINT':
        case 'KS_AMBIGUOUS_ENDPOINT':
        case 'KS_UNKNOWN_ENDPOINT':
        case 'KS_INVALID_WEIGHT':
        case 'KS_INVALID_PRIORITY':
          return 'bad input';
        case 'KS_QUEUE_FULL':
        case 'KS_ABORTED':
        case 'KS_MAX_WAIT_EXCEEDED':
        case 'KS_CLOSED':
        case 'KS_STORE':
        case 'KS_STORE_UNAVAILABLE':
        case 'KS_KEY_CIRCUIT_OPEN':
          return 'not admitted';
        case 'KS_KUCOIN_API':
        case 'KS_REQUEST_FAILED':
        case 'KS_CLOCK_SYNC':
          return 'sent';
        case 'KS_WS_TOPIC_REFUSED':
        case 'KS_WS_NO_CAPACITY':
        case 'KS_WS_CONNECT_FAILED':
        case 'KS_WS_PROTOCOL':
        case 'KS_WS_TOO_LARGE':
        case 'KS_WS_CLOSED':
          return 'websocket';
        default: {
          const never: never = e.code;
          return never;
        }
      }
    };
    expectTypeOf(code).returns.toEqualTypeOf<string>();
  });
});
