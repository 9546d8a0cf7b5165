// The p-queue habits on Scheduler (issue 22, 7): size, pending, onIdle(), pause() / start(), per process.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createScheduler, MemoryStore, type SchedulerOptions } from '../src/index.js';

const T0 = 1_700_000_000_000;
const SPOT_READ = { endpoint: 'GET /api/v1/hf/accounts/ledgers' } as const;

function make(options: Partial<SchedulerOptions> = {}, store = new MemoryStore()) {
  return createScheduler({ uid: 'pq', store, jitterMs: 0, transitMarginMs: 0, cloudflare: false, ...options });
}

/** A function the test ends when it wants: what runs stays `pending` until then. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, run: () => opened.then(() => 'done') };
}

/** Whether a promise has settled, read without waiting for it. */
function watch(promise: Promise<unknown>) {
  const state = { settled: false };
  void promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

describe('p-queue surface: size, pending, onIdle', () => {
  afterEach(() => vi.useRealTimers());

  it('size counts what waits, pending what runs; onIdle settles when both are zero, not before', async () => {
    vi.useFakeTimers({ now: T0 });
    const scheduler = make();
    await scheduler.pause('Spot', T0 + 1000); // the pool admits nothing for 1 s: requests queue
    const g = gate();
    const runs = [1, 2, 3].map(() => scheduler.schedule(SPOT_READ, g.run));
    await vi.advanceTimersByTimeAsync(10);
    expect([scheduler.size, scheduler.pending]).toEqual([3, 0]);
    const idle = watch(scheduler.onIdle());

    await vi.advanceTimersByTimeAsync(1000);
    expect([scheduler.size, scheduler.pending]).toEqual([0, 3]);
    expect(idle.settled).toBe(false); // admitted, still running

    g.open();
    expect(await Promise.all(runs)).toEqual(['done', 'done', 'done']);
    await vi.advanceTimersByTimeAsync(0);
    expect([scheduler.size, scheduler.pending, idle.settled]).toEqual([0, 0, true]);
    await scheduler.close();
  });

  it('onIdle resolves at once when nothing is queued or running', async () => {
    const scheduler = make();
    await expect(scheduler.onIdle()).resolves.toBeUndefined();
    await scheduler.schedule(SPOT_READ, () => 'ran');
    await expect(scheduler.onIdle()).resolves.toBeUndefined();
    await scheduler.close();
  });
});

describe('p-queue surface: pause() and start(), this process only', () => {
  afterEach(() => vi.useRealTimers());

  it('pause() holds new and queued work below critical; a critical request still goes; start() admits the rest', async () => {
    vi.useFakeTimers({ now: T0 });
    const scheduler = make();
    scheduler.pause();
    expect(scheduler.isPaused).toBe(true);
    const normal = watch(scheduler.schedule({ ...SPOT_READ, priority: 'normal' }, () => 'normal'));
    const high = watch(scheduler.schedule({ ...SPOT_READ, priority: 'high' }, () => 'high'));
    await vi.advanceTimersByTimeAsync(5_000);
    expect([scheduler.size, normal.settled, high.settled]).toEqual([2, false, false]);

    await expect(scheduler.schedule({ ...SPOT_READ, priority: 'critical' }, () => 'cancel')).resolves.toBe('cancel');
    expect(scheduler.size).toBe(2);

    scheduler.start();
    expect(scheduler.isPaused).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    expect([scheduler.size, normal.settled, high.settled]).toEqual([0, true, true]);
    await scheduler.onIdle();
    await scheduler.close();
  });

  it('work held by pause() keeps its deadline (MaxWaitExceededError), and onIdle settles once it has gone', async () => {
    vi.useFakeTimers({ now: T0 });
    const scheduler = make();
    scheduler.pause();
    const held = scheduler.schedule({ ...SPOT_READ, maxWaitMs: 200 }, () => 'never');
    const rejected = expect(held).rejects.toMatchObject({ code: 'KS_MAX_WAIT_EXCEEDED' });
    const idle = watch(scheduler.onIdle());
    await vi.advanceTimersByTimeAsync(250);
    await rejected;
    expect([scheduler.size, scheduler.pending, idle.settled]).toEqual([0, 0, true]);
    await scheduler.close();
  });

  it('pause() is per process: another scheduler on the same store keeps admitting; pause(target, until) still pauses the bucket for all', async () => {
    vi.useFakeTimers({ now: T0 });
    const store = new MemoryStore();
    const a = make({}, store);
    const b = make({}, store);
    a.pause();
    await expect(b.schedule(SPOT_READ, () => 'b ran')).resolves.toBe('b ran');
    a.start();

    await expect(a.pause('Spot', T0 + 500)).resolves.toBeUndefined(); // the fleet-wide bucket pause, as before
    expect(a.isPaused).toBe(false);
    const late = watch(b.schedule(SPOT_READ, () => 'after the pause'));
    await vi.advanceTimersByTimeAsync(400);
    expect(late.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(late.settled).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('start() without pause() changes nothing', async () => {
    const scheduler = make();
    scheduler.start();
    await expect(scheduler.schedule(SPOT_READ, () => 'ran')).resolves.toBe('ran');
    await scheduler.close();
  });
});
