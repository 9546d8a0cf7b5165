import { describe, expectTypeOf, it } from 'vitest';
import { createScheduler, type BucketState, type Priority, type Scheduler, type SchedulerEvents } from '../src/index.js';

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
});
