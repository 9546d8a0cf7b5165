import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AbortError,
  createScheduler,
  InvalidArgumentError,
  InvalidEndpointError,
  InvalidPriorityError,
  InvalidWeightError,
  MaxWaitExceededError,
  MemoryStore,
  QueueFullError,
  SchedulerClosedError,
  UnknownPoolError,
  type AcquireRequest,
  type Priority,
  type SchedulerOptions,
} from '../src/index.js';
import { unlisted } from '../src/kucoin/unlisted.js';

const T0 = 1_700_000_000_000;

/** A MemoryStore that counts acquisitions, to prove the scheduler does not poll. */
class CountingStore extends MemoryStore {
  calls = 0;
  override acquire(request: AcquireRequest) {
    this.calls++;
    return super.acquire(request);
  }
}

function make(options: Partial<SchedulerOptions> = {}, store = new CountingStore()) {
  const scheduler = createScheduler({
    uid: 'u1',
    store,
    jitterMs: 0,
    transitMarginMs: 0,
    cloudflare: false,
    pools: { spot: { limit: 10, windowMs: 1000, burst: 0 } },
    ...options,
  });
  return { scheduler, store };
}

/** Schedules a request that records when it ran; returns its promise and the record. */
function track(scheduler: ReturnType<typeof make>['scheduler'], priority: Priority, weight = 1, extra: object = {}) {
  const rec = { ran: -1 };
  const p = scheduler.schedule({ pool: 'spot', weight, priority, ...extra }, () => {
    rec.ran = Date.now() - T0;
    return rec.ran;
  });
  return { p, rec };
}

describe('Scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('waits exactly as long as the store says, without polling', async () => {
    const { scheduler, store } = make();
    const first = Array.from({ length: 10 }, () => track(scheduler, 'critical'));
    const late = track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    expect(first.every((r) => r.rec.ran === 0)).toBe(true);
    expect(late.rec.ran).toBe(-1);
    const callsWhileBlocked = store.calls;
    await vi.advanceTimersByTimeAsync(999);
    expect(late.rec.ran).toBe(-1);
    expect(store.calls).toBe(callsWhileBlocked); // slept, did not poll
    await vi.advanceTimersByTimeAsync(1);
    expect(await late.p).toBe(1000);
    expect(store.calls).toBe(callsWhileBlocked + 1);
  });

  it('lets a tier fill what no tier above uses; the demand above (in the first window: 10 %) keeps room for it', async () => {
    const { scheduler } = make();
    const lows = Array.from({ length: 10 }, () => track(scheduler, 'low'));
    await vi.advanceTimersByTimeAsync(0);
    // the pool's first window: no cancel seen yet, 10 % is kept for the first ones (before: all 10 ran, and the first
    // cancels waited for the window to pass)
    expect(lows.filter((r) => r.rec.ran === 0)).toHaveLength(9);
    const first = track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    expect(first.rec.ran).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(lows.filter((r) => r.rec.ran === 1000)).toHaveLength(1); // the window passed
    const more = Array.from({ length: 10 }, () => track(scheduler, 'low'));
    await vi.advanceTimersByTimeAsync(0);
    expect(more.filter((r) => r.rec.ran === 1000)).toHaveLength(7); // 10 - 1 low - a reserve of 2 x the critical demand, 1
    const crit = track(scheduler, 'critical', 2);
    await vi.advanceTimersByTimeAsync(0);
    expect(crit.rec.ran).toBe(1000); // at once: critical finds the reserve low cannot touch
    const normal = track(scheduler, 'normal');
    const critLate = track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(1000);
    expect(critLate.rec.ran).toBe(2000);
    expect(normal.rec.ran).toBe(2000);
  });

  it('promotes a waiting low request one tier per agingMs, so it is not starved', async () => {
    const { scheduler } = make({ agingMs: 1000, pools: { spot: { limit: 10, windowMs: 10_000, burst: 0 } }, shares: { low: 0.5 } });
    await vi.advanceTimersByTimeAsync(0);
    track(scheduler, 'high'); // demand above normal: 1, so normal leaves a reserve of 1 (in this first window: 10 %, 1)
    for (let i = 0; i < 8; i++) track(scheduler, 'normal');
    await vi.advanceTimersByTimeAsync(0);
    const low = track(scheduler, 'low');
    await vi.advanceTimersByTimeAsync(1999);
    expect(low.rec.ran).toBe(-1); // low (reserve 50 %) and then normal (reserve 1) cannot fit into 9 of 10
    await vi.advanceTimersByTimeAsync(1);
    expect(low.rec.ran).toBe(-1); // promoted twice: high, but the first window keeps 10 % for cancels
    await vi.advanceTimersByTimeAsync(8000);
    expect(low.rec.ran).toBe(10_000); // the first window passed: high (nobody above uses the pool) fits
  });

  it('adds jitter to non-critical waits only', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { scheduler } = make({ jitterMs: 40 });
    for (let i = 0; i < 10; i++) track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    const high = track(scheduler, 'high');
    await vi.advanceTimersByTimeAsync(1019);
    expect(high.rec.ran).toBe(-1);
    await vi.advanceTimersByTimeAsync(1);
    expect(high.rec.ran).toBe(1020);
  });

  it('takes every bucket or none: the Cloudflare request limit holds a request the pool would admit', async () => {
    const { scheduler } = make({ cloudflare: { limit: 3, windowMs: 500, burst: 0 } });
    const runs = Array.from({ length: 4 }, () => track(scheduler, 'critical'));
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.map((r) => r.rec.ran)).toEqual([0, 0, 0, -1]);
    const snap = await scheduler.snapshot();
    expect(snap.buckets.find((b) => b.id === 'uid:u1:Spot')!.used).toBe(3);
    await vi.advanceTimersByTimeAsync(500);
    expect(runs[3]!.rec.ran).toBe(500);
  });

  it('ends a wait on abort with AbortError, charging nothing', async () => {
    const { scheduler } = make();
    for (let i = 0; i < 10; i++) track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    const ac = new AbortController();
    const fn = vi.fn();
    const p = scheduler.schedule({ pool: 'spot', priority: 'critical', signal: ac.signal }, fn);
    const caught = p.catch((e) => e);
    ac.abort();
    expect(await caught).toBeInstanceOf(AbortError);
    expect((await caught).code).toBe('KS_ABORTED');
    await vi.advanceTimersByTimeAsync(2000);
    expect(fn).not.toHaveBeenCalled();
    await expect(scheduler.schedule({ pool: 'spot', signal: AbortSignal.abort() }, fn)).rejects.toBeInstanceOf(AbortError);
    // the lane has nothing left to do: it is dropped (one per endpoint ever used would grow without bound)
    expect((await scheduler.snapshot()).queued['uid:u1:Spot']).toBeUndefined();
  });

  it('runs the rest of a batch when its first request is aborted while the store answers', async () => {
    const store = new (class extends MemoryStore {
      onAcquire: (() => void) | undefined;
      override acquire(request: AcquireRequest) {
        this.onAcquire?.();
        this.onAcquire = undefined;
        return super.acquire(request);
      }
    })();
    const { scheduler } = make({}, store as never);
    await scheduler.schedule({ pool: 'spot', weight: 10, priority: 'critical' }, () => 0); // full until +1000
    const ac = new AbortController();
    const first = scheduler.schedule({ pool: 'spot', priority: 'high', signal: ac.signal }, () => 'first').catch((e) => e.code);
    const rest = [1, 2, 3].map((i) => scheduler.schedule({ pool: 'spot', priority: 'high' }, () => i));
    await vi.advanceTimersByTimeAsync(0); // all four wait
    store.onAcquire = () => ac.abort(); // the call that admits the batch of four
    await vi.advanceTimersByTimeAsync(1000);
    expect(await first).toBe('KS_ABORTED');
    expect(await Promise.all(rest)).toEqual([1, 2, 3]);
    // the aborted one was charged with the batch and given back before it was rejected
    expect((await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!.used).toBe(3);
  });

  it('rejects at once when the store says the wait exceeds maxWaitMs, and at the deadline when queued', async () => {
    const { scheduler } = make();
    for (let i = 0; i < 10; i++) track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    const err = await scheduler.schedule({ pool: 'spot', priority: 'critical', maxWaitMs: 100 }, () => 1).catch((e) => e);
    expect(err).toBeInstanceOf(MaxWaitExceededError);
    expect(err).toMatchObject({ code: 'KS_MAX_WAIT_EXCEEDED', maxWaitMs: 100, retryAfterMs: 1000 });

    // queued behind others: the deadline timer ends it
    const { scheduler: s2 } = make({ maxQueued: 100 });
    for (let i = 0; i < 10; i++) track(s2, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    const fn = vi.fn();
    const p = s2.schedule({ pool: 'spot', priority: 'low', maxWaitMs: 1500 }, fn).catch((e) => e);
    for (let i = 0; i < 30; i++) track(s2, 'critical');
    await vi.advanceTimersByTimeAsync(1500);
    expect(await p).toBeInstanceOf(MaxWaitExceededError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('gives each bot of one priority its weighted share when all want more (fair shares), and validates bots', async () => {
    const { scheduler } = make({ bot: 'default-bot', pools: { spot: { limit: 60, windowMs: 1000 } } });
    expect(() => make({ bot: 'has space' })).toThrow(InvalidArgumentError);
    expect(() => make({ bot: { name: 'ok', weight: 0 } })).toThrow(/bot.weight/);
    await expect(scheduler.schedule({ pool: 'spot', bot: 'x'.repeat(65) }, () => 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    const got = { small: 0, big: 0 };
    let stop = false;
    const lane = async (name: 'small' | 'big', weight: number) => {
      while (!stop) await scheduler.schedule({ pool: 'spot', priority: 'normal', bot: { name, weight } }, () => void got[name]++);
    };
    const lanes = [...Array.from({ length: 8 }, () => lane('small', 1)), ...Array.from({ length: 8 }, () => lane('big', 3))];
    await vi.advanceTimersByTimeAsync(3000); // the shares settle in
    got.small = got.big = 0;
    await vi.advanceTimersByTimeAsync(10_000);
    stop = true;
    await vi.advanceTimersByTimeAsync(3000);
    await Promise.all(lanes);
    const share = got.small / (got.small + got.big);
    expect(got.small + got.big).toBeGreaterThan(500); // the pool stays full (60 a second)
    expect(share).toBeGreaterThan(0.25 * 0.9); // before: about a half each, whoever asks first
    expect(share).toBeLessThan(0.25 * 1.1);
    await scheduler.close();
  });

  it('rejects with QueueFullError past maxQueued per priority', async () => {
    const { scheduler } = make({ maxQueued: 2 });
    await scheduler.schedule({ pool: 'spot', weight: 10, priority: 'critical' }, () => 1);
    const a = track(scheduler, 'high');
    const b = track(scheduler, 'high');
    const err = await track(scheduler, 'high').p.catch((e) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect(err).toMatchObject({ code: 'KS_QUEUE_FULL', priority: 'high', depth: 2 });
    await vi.advanceTimersByTimeAsync(1000);
    expect([a.rec.ran, b.rec.ran]).toEqual([1000, 1000]);
  });

  it('gives bad input a typed error at once, charging and queueing nothing', async () => {
    const { scheduler, store } = make();
    const fn = vi.fn();
    const cases: [object, new (...a: never[]) => Error][] = [
      [{ pool: 'spott' }, UnknownPoolError],
      [{ pool: 'spot', weight: 0 }, InvalidWeightError],
      [{ pool: 'spot', weight: -1 }, InvalidWeightError],
      [{ pool: 'spot', weight: Number.NaN }, InvalidWeightError],
      [{ pool: 'spot', weight: Number.POSITIVE_INFINITY }, InvalidWeightError],
      [{ pool: 'spot', weight: 11 }, InvalidWeightError],
      [{ pool: 'spot', weight: 8, priority: 'low' }, InvalidWeightError],
      [{ pool: 'spot', priority: 'urgent' }, InvalidPriorityError],
      [{ endpoint: 'GET' }, InvalidEndpointError],
      [{ endpoint: 'GET /api/v1/accounts', host: 'example.com' }, InvalidEndpointError],
      [{}, InvalidEndpointError],
      [{ pool: 'spot', maxWaitMs: -5 }, InvalidArgumentError],
      [{ pool: 'spot', signal: 'stop' }, InvalidArgumentError],
    ];
    for (const [opts, type] of cases) {
      await expect(scheduler.schedule(opts as never, fn), JSON.stringify(opts)).rejects.toBeInstanceOf(type);
    }
    await expect(scheduler.schedule({ pool: 'spot' }, 'nope' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(fn).not.toHaveBeenCalled();
    expect(store.calls).toBe(0);
    expect((await scheduler.snapshot()).buckets.every((b) => b.used === 0)).toBe(true);
    expect(() => createScheduler({} as never)).toThrow(InvalidArgumentError);
    expect(() => createScheduler({ uid: 'a b' })).toThrow(InvalidArgumentError);
    expect(() => createScheduler({ uid: 'u', vipLevel: 13 })).toThrow(InvalidArgumentError);
    expect(() => createScheduler({ uid: 'u', pools: { nope: {} } })).toThrow(UnknownPoolError);
    expect(() => createScheduler({ uid: 'u', pools: { spot: { limit: -1 } } })).toThrow(/pools.Spot.limit/);
    expect(() => createScheduler({ uid: 'u', shares: { low: 2 } })).toThrow(/shares.low/);
  });

  it('charges the table weight of an endpoint, and the default with an event for an unknown one', async () => {
    const { scheduler } = make({ pools: { spot: { limit: 100, windowMs: 1000, burst: 0 }, futures: { limit: 100, burst: 0 } } });
    const unknown = vi.fn();
    scheduler.on('unknownEndpoint', unknown);
    await scheduler.schedule({ endpoint: 'DELETE /api/v1/hf/orders/cancelAll', priority: 'critical' }, () => 1);
    await scheduler.schedule({ endpoint: 'GET /api/v1/hf/orders/active?symbol=BTC-USDT' }, () => 1);
    await scheduler.schedule({ endpoint: unlisted('GET /api/v1/brand-new'), host: 'futures' }, () => 1);
    const snap = await scheduler.snapshot();
    expect(snap.buckets.find((b) => b.id === 'uid:u1:Spot')!.used).toBe(30 + 2);
    expect(snap.buckets.find((b) => b.id === 'uid:u1:Futures')!.used).toBe(30);
    expect(unknown).toHaveBeenCalledWith({ endpoint: 'GET /api/v1/brand-new', host: 'futures', pool: 'Futures', weight: 30 });
  });

  it('keys Public and Cloudflare by IP and private pools by UID', async () => {
    const store = new MemoryStore();
    const a = createScheduler({ uid: 'A', ip: 'host1', store, quotaGroup: 'farm', pools: { public: { limit: 4, burst: 0 }, spot: { limit: 4, burst: 0 } } });
    const b = createScheduler({ uid: 'B', ip: 'host1', store, quotaGroup: 'farm', pools: { public: { limit: 4, burst: 0 }, spot: { limit: 4, burst: 0 } } });
    await a.schedule({ endpoint: 'GET /api/v1/market/orderbook/level1', priority: 'critical' }, () => 1);
    await b.schedule({ endpoint: 'GET /api/v1/market/orderbook/level1', priority: 'critical' }, () => 1);
    await a.schedule({ pool: 'spot', weight: 4, priority: 'critical' }, () => 1);
    const snapB = await b.snapshot();
    expect(snapB.buckets.find((x) => x.id === 'ip:host1:Public')!.used).toBe(4); // shared by IP
    expect(snapB.buckets.find((x) => x.id === 'uid:B:Spot')!.used).toBe(0); // A's Spot is A's
    expect(snapB.buckets.find((x) => x.id === 'ip:host1:cloudflare')!.used).toBe(3);
  });

  it('emits admitted, waited and rejected events', async () => {
    const { scheduler } = make();
    const events: string[] = [];
    scheduler.on('admitted', (e) => events.push(`admitted ${e.priority} ${e.weight} ${e.waitedMs}`));
    scheduler.on('waited', (e) => events.push(`waited ${e.reason} ${e.waitMs}`));
    const off = scheduler.on('rejected', (e) => events.push(`rejected ${e.code}`));
    await scheduler.schedule({ pool: 'spot', weight: 10, priority: 'critical' }, () => 1);
    const p = scheduler.schedule({ pool: 'spot', priority: 'critical' }, () => 1);
    await scheduler.schedule({ pool: 'spot', weight: 11 }, () => 1).catch(() => {});
    off();
    await scheduler.schedule({ pool: 'spot', weight: 11 }, () => 1).catch(() => {});
    await vi.advanceTimersByTimeAsync(1000);
    await p;
    expect(events).toEqual(['admitted critical 10 0', 'rejected KS_INVALID_WEIGHT', 'waited window 1000', 'admitted critical 1 1000']);
  });

  it('wraps a function: validates at wrap time, passes arguments, returns the result', async () => {
    const { scheduler } = make();
    const add = scheduler.wrap(async (a: number, b: number) => a + b, { pool: 'spot', priority: 'high' });
    expect(await add(2, 3)).toBe(5);
    expect(() => scheduler.wrap(() => 1, { pool: 'nope' })).toThrow(UnknownPoolError);
    const failing = scheduler.wrap(
      () => {
        throw new Error('boom');
      },
      { pool: 'spot' },
    );
    await expect(failing()).rejects.toThrow('boom');
  });

  it('close() rejects every waiting request and refuses new ones', async () => {
    const { scheduler } = make();
    for (let i = 0; i < 10; i++) track(scheduler, 'critical');
    const waiting = [track(scheduler, 'low'), track(scheduler, 'critical')].map((r) => r.p.catch((e) => e));
    await vi.advanceTimersByTimeAsync(0);
    await scheduler.close();
    for (const e of await Promise.all(waiting)) expect(e).toBeInstanceOf(SchedulerClosedError);
    await expect(scheduler.schedule({ pool: 'spot' }, () => 1)).rejects.toBeInstanceOf(SchedulerClosedError);
  });

  it('close({ drainMs }) admits what fits in the drain time, rejects the rest, and waits for running work', async () => {
    const { scheduler } = make();
    for (let i = 0; i < 10; i++) track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(0);
    let finished = false;
    const slow = scheduler.schedule({ pool: 'spot', priority: 'critical' }, () => new Promise<void>((r) => setTimeout(() => ((finished = true), r()), 1500)));
    const late = scheduler.schedule({ pool: 'spot', weight: 10, priority: 'critical' }, () => 1).catch((e) => e);
    await expect(scheduler.close({ drainMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await scheduler.schedule({ pool: 'futures', priority: 'critical' }, () => 'open')).toBe('open'); // bad input changed nothing
    const closing = scheduler.close({ drainMs: 1200 });
    await expect(scheduler.schedule({ pool: 'spot' }, () => 1)).rejects.toBeInstanceOf(SchedulerClosedError);
    await vi.advanceTimersByTimeAsync(1200);
    expect(await late).toBeInstanceOf(SchedulerClosedError); // 10 more did not fit by then
    await vi.advanceTimersByTimeAsync(2000);
    await closing;
    await slow;
    expect(finished).toBe(true);
  });

  it('pauses and tightens a bucket through the scheduler', async () => {
    const { scheduler } = make();
    await scheduler.pause('spot', T0 + 500);
    const r = track(scheduler, 'critical');
    await vi.advanceTimersByTimeAsync(499);
    expect(r.rec.ran).toBe(-1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.rec.ran).toBe(500);
    await scheduler.setFactor('Spot', 0.5);
    const snap = await scheduler.snapshot();
    expect(snap.buckets.find((b) => b.id === 'uid:u1:Spot')).toMatchObject({ effectiveLimit: 5, factor: 0.5 });
    await expect(scheduler.pause('nope' as never, 1)).rejects.toBeInstanceOf(UnknownPoolError);
  });
});
