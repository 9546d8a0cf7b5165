import type { SchedulerOptions } from '../scheduler/options.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { WrapSender } from '../scheduler/schedulerPort.js';
import { AttemptLoop } from './attemptLoop.js';
import { WRAP_TRANSPORT_RETRIES } from './sendDefaults.js';

/** `Scheduler.wrap`'s calls, each through the one attempt loop. */
const wrapSender: WrapSender = async (port, request) => {
  const done = await new AttemptLoop(port, request, { transportRetries: WRAP_TRANSPORT_RETRIES }).run();
  return done.value;
};

/**
 * Creates a scheduler. Only `uid` is required; see SchedulerOptions for every default.
 *
 * ```ts
 * const scheduler = createScheduler({ uid: '123456', store: createRedisStore({ client: redis }) });
 * const ticker = await scheduler.schedule({ endpoint: 'GET /api/v1/market/orderbook/level1' }, () => fetchTicker());
 * ```
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  return new Scheduler(options, wrapSender);
}
