import type { Priority } from '../store/types.js';
import type { PoolName } from '../kucoin/pools.js';
import type { RequestPlan } from './requestPlan.js';

/** Handed to the scheduled function: what was admitted, and when. Pass it to `scheduler.feedback`. */
export interface Admission {
  /** Store time (epoch ms; Redis TIME with a RedisStore) at which every bucket admitted the request. */
  readonly sentAt: number;
  readonly pool: PoolName;
  readonly weight: number;
  readonly priority: Priority;
  readonly endpoint: string | undefined;
  /** 1 for the first send; higher when the request is sent again (after a rate-limit signal or a safe transport retry). */
  readonly attempt: number;
  /**
   * The request's `signal` (p-queue style: `schedule(opts, ({ signal }) => fetch(url, { signal }))`), so an
   * abort reaches the call in flight too. Undefined when the request has none.
   */
  readonly signal: AbortSignal | undefined;
  /** @internal the buckets the request was charged to */
  readonly plan: RequestPlan;
}
