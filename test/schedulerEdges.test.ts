import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createScheduler,
  MemoryStore,
  RedisStore,
  type AcquireRequest,
  type AcquireResult,
  type BucketConfig,
  type Observation,
  type ObserveResult,
  type SchedulerOptions,
} from '../src/index.js';
import { testRedis } from './helpers/redisClient.js';
import { unlisted } from '../src/kucoin/unlisted.js';

const T0 = 1_700_000_000_000;

function make(options: Partial<SchedulerOptions> = {}, store: MemoryStore = new MemoryStore()) {
  const scheduler = createScheduler({
    uid: 'u1',
    store,
    jitterMs: 0,
    transitMarginMs: 0,
    cloudflare: false,
    pools: { spot: { limit: 100, windowMs: 3000, burst: 0 } },
    ...options,
  });
  return { scheduler, store };
}

async function spotState(scheduler: ReturnType<typeof make>['scheduler']) {
  return (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
}

/** A MemoryStore whose acquisitions wait for `open()`: the store is "answering" until then. */
class GatedStore extends MemoryStore {
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  calls = 0;
  close_(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  open(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.calls++;
    const gate = this.#gate;
    const result = await super.acquire(request); // charged now, as Redis would
    if (gate) await gate; // ...but the answer is still on its way
    return result;
  }
}

/** A MemoryStore that records the tier of every acquisition and answers each only when `step()` lets it. */
class SteppedStore extends MemoryStore {
  tiers: number[] = [];
  #waiting: (() => void)[] = [];
  stepped = true;
  step(): void {
    this.#waiting.shift()?.();
  }
  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.tiers.push(request.tier ?? -1);
    const result = await super.acquire(request);
    if (!this.stepped) return result;
    await new Promise<void>((r) => this.#waiting.push(r));
    return result;
  }
}

/** A MemoryStore whose observe and penalize fail, as a Redis dying after the send would. */
class FailingFeedbackStore extends MemoryStore {
  override async observe(_b: BucketConfig, _o: Observation): Promise<ObserveResult> {
    throw new Error('Redis went away after the send');
  }
  override async penalize(): Promise<never> {
    throw new Error('Redis went away after the send');
  }
}

describe('edges: pauses taken from replies are bounded, and can be cleared', () => {
  afterEach(() => vi.useRealTimers());

  it('a 429000 with gw-ratelimit-reset 999999999 pauses for at most window + margin', async () => {
    vi.useFakeTimers({ now: T0 });
    const { scheduler } = make({ transitMarginMs: 100 });
    const admission = await scheduler.schedule({ endpoint: 'GET /api/v1/hf/accounts/ledgers' }, (a) => a);
    expect(admission.pool).toBe('Spot');
    const outcome = await scheduler.feedback(admission, {
      status: 429,
      headers: { 'gw-ratelimit-limit': '100', 'gw-ratelimit-remaining': '0', 'gw-ratelimit-reset': '999999999' },
      body: { code: '429000', msg: 'Too Many Requests' },
    });
    const pausedFor = outcome.pausedUntil - T0;
    console.log(`429000 with reset 999999999: paused for ${pausedFor} ms (window 3000 + margin 100)`);
    expect(pausedFor).toBeLessThanOrEqual(3100);
    expect(pausedFor).toBeGreaterThan(0);
  });

  it('a 1015 with Retry-After of 11 days pauses for at most feedback.maxRetryAfterMs (default 120 s)', async () => {
    vi.useFakeTimers({ now: T0 });
    const { scheduler } = make();
    const admission = await scheduler.schedule({ endpoint: 'GET /api/v1/accounts' }, (a) => a);
    const outcome = await scheduler.feedback(admission, { status: 429, headers: { 'retry-after': '999999', server: 'cloudflare' }, body: 'error code: 1015' });
    console.log(`1015 with Retry-After 999999 s: paused for ${outcome.pausedUntil - T0} ms`);
    expect(outcome.signal).toBe('1015');
    expect(outcome.pausedUntil - T0).toBeLessThanOrEqual(120_000);
  });

  it('scheduler.resume(target) clears a pause for every process sharing the store', async () => {
    vi.useFakeTimers({ now: T0 });
    const store = new MemoryStore();
    const a = make({}, store).scheduler;
    const b = make({}, store).scheduler;
    await a.pause('spot', T0 + 86_400_000);
    const ran: string[] = [];
    const p = b.schedule({ pool: 'spot', maxWaitMs: 2 * 86_400_000 }, () => ran.push('b'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(ran).toEqual([]);
    await a.resume('spot');
    await b.resume(); // every bucket: wakes b's lanes too
    await vi.advanceTimersByTimeAsync(10);
    await p;
    expect(ran).toEqual(['b']);
    expect((await spotState(a)).pausedUntil).toBe(0);
  });

  it('resume clears an endpoint pause (200002) and rejects a malformed target with a typed error', async () => {
    vi.useFakeTimers({ now: T0 });
    const { scheduler } = make();
    const admission = await scheduler.schedule({ endpoint: 'POST /api/v1/orders', host: 'futures' }, (a) => a);
    const outcome = await scheduler.feedback(admission, {
      status: 200,
      body: { code: '200002', msg: 'Too many requests in a short period of time, please retry later.' },
    });
    expect(outcome.pausedUntil).toBeGreaterThan(T0);
    await scheduler.resume({ endpoint: 'POST /api/v1/orders', host: 'futures' });
    const started = Date.now();
    await scheduler.schedule({ endpoint: 'POST /api/v1/orders', host: 'futures' }, () => undefined);
    expect(Date.now() - started).toBeLessThan(100);
    await expect(scheduler.resume('nope' as never)).rejects.toMatchObject({ code: 'KS_UNKNOWN_POOL' });
    await expect(scheduler.resume({ endpoint: 'nonsense' })).rejects.toMatchObject({ code: 'KS_INVALID_ENDPOINT' });
  });
});

describe('edges: a reply only teaches the bucket it describes', () => {
  it('an endpoint missing from the table (guessed pool) learns nothing from its headers', async () => {
    const { scheduler } = make({ pools: { spot: { limit: 100, windowMs: 3000, burst: 0 } }, unknownEndpointWeight: 1 });
    // the real pool of this unknown endpoint has a higher limit and another phase
    for (let i = 0; i < 3; i++) {
      const admission = await scheduler.schedule({ endpoint: unlisted('GET /api/v9/not-in-the-table') }, (a) => a);
      await scheduler.feedback(admission, {
        status: 200,
        headers: { 'gw-ratelimit-limit': '2000', 'gw-ratelimit-remaining': '1990', 'gw-ratelimit-reset': '50' },
        body: { code: '200000' },
      });
    }
    const spot = await spotState(scheduler);
    // then a flood of known Spot requests: at most the limit in any 3 s
    let admitted = 0;
    const until = Date.now() + 1000;
    const ac = new AbortController();
    const loops = Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        try {
          await scheduler.schedule(
            { endpoint: 'GET /api/v1/hf/accounts/ledgers', weight: 1, priority: 'critical', signal: ac.signal, maxWaitMs: 2000 },
            () => admitted++,
          );
        } catch {
          return;
        }
      }
    });
    setTimeout(() => ac.abort(), 1000).unref();
    await Promise.all(loops);
    console.log(
      `unknown endpoint's headers: Spot limit in force ${spot.limit}, window end ${spot.windowEndHigh}; then ${admitted + 3} weight admitted in 1 s into a 100 / 3 s bucket`,
    );
    expect(spot.limit).toBe(100);
    expect(spot.windowEndHigh).toBe(0);
    expect(admitted + 3).toBeLessThanOrEqual(100);
    await scheduler.close();
  });
});

describe('edges: a cancel is offered next, whatever the lane was doing', () => {
  it('a critical request queued while the store answers a refused high one goes before the normal and low ones of that pass', async () => {
    const store = new SteppedStore();
    const { scheduler } = make({}, store);
    const tick = () => new Promise((r) => setTimeout(r, 2));
    // the window is nearly full: high, normal and low are refused (their shares), critical still fits
    store.stepped = false;
    await Promise.all(Array.from({ length: 97 }, () => scheduler.schedule({ pool: 'spot', weight: 1, priority: 'critical' }, () => undefined)));
    store.stepped = true;
    store.tiers = [];
    const stop = new AbortController();
    // they wait (a deadline they would miss would end them, and so the pass, at once)
    const wait = (priority: 'high' | 'normal' | 'low') =>
      scheduler.schedule({ pool: 'spot', weight: 1, priority, signal: stop.signal }, () => undefined).catch(() => undefined);
    const waiting = [wait('low')];
    await tick();
    waiting.push(wait('normal'), wait('high'));
    store.step(); // low refused: the next pass offers high, normal, low in turn
    await tick();
    expect(store.tiers).toEqual([3, 1]); // high's answer is on its way
    const cancel = scheduler.schedule({ pool: 'spot', weight: 1, priority: 'critical' }, () => 'cancelled');
    store.step(); // high refused
    await tick();
    // the cancel is asked for next, not after normal's and low's store calls
    expect(store.tiers).toEqual([3, 1, 0]);
    store.step();
    await expect(cancel).resolves.toBe('cancelled');
    stop.abort();
    store.stepped = false;
    for (let i = 0; i < 5; i++) store.step();
    await Promise.all(waiting);
    await scheduler.close();
  });
});

describe('edges: cancels first never starves the tiers below', () => {
  it('a stream of critical requests behind a refused one does not keep a low request from being offered', async () => {
    /** Refuses every critical request (a window it waits for), admits the rest; each critical ask brings another. */
    class CriticalRefusingStore extends MemoryStore {
      onCritical: () => void = () => undefined;
      override async acquire(request: AcquireRequest): Promise<AcquireResult> {
        if (request.tier === 0) {
          this.onCritical();
          await new Promise((r) => setTimeout(r, 1));
          return { admitted: false, now: Date.now(), waitMs: 30, bucketId: request.charges[0]!.bucket.id, reason: 'window' };
        }
        return super.acquire(request);
      }
    }
    const store = new CriticalRefusingStore();
    const { scheduler } = make({}, store);
    const stop = new AbortController();
    const critical = () =>
      void scheduler.schedule({ pool: 'spot', weight: 1, priority: 'critical', signal: stop.signal }, () => undefined).catch(() => undefined);
    critical();
    store.onCritical = critical;
    const low = scheduler.schedule({ pool: 'spot', weight: 1, priority: 'low', maxWaitMs: 1000 }, () => 'low ran');
    await expect(low).resolves.toBe('low ran');
    store.onCritical = () => undefined;
    stop.abort();
    await scheduler.close();
  });
});

describe('edges: rejected means never charged', () => {
  afterEach(() => vi.useRealTimers());

  it('an abort that lands while the store is answering gives the charge back before rejecting', async () => {
    const store = new GatedStore();
    const { scheduler } = make({}, store);
    const ac = new AbortController();
    store.close_();
    const ps = Array.from({ length: 5 }, () => scheduler.schedule({ pool: 'spot', weight: 2, signal: ac.signal }, () => 'ran'));
    const settled = Promise.allSettled(ps);
    await new Promise((r) => setTimeout(r, 5));
    expect(store.calls).toBe(1); // the batch is with the store
    ac.abort();
    store.open();
    const results = await settled;
    const spot = await spotState(scheduler);
    console.log(`aborted while the store answered: ${results.filter((r) => r.status === 'rejected').length} of 5 rejected, used ${spot.used}`);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'KS_ABORTED')).toBe(true);
    expect(spot.used).toBe(0);
  });

  it('RedisStore, maxWaitMs 0: the ones the first offer admits run, the rest are rejected uncharged (used = ran)', async () => {
    const { client, prefix } = testRedis();
    const store = new RedisStore({ client, prefix });
    const scheduler = createScheduler({ uid: 'u1', store, cloudflare: false, jitterMs: 0, pools: { spot: { limit: 10_000, windowMs: 3000 } } });
    let ran = 0;
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => scheduler.schedule({ pool: 'spot', weight: 1, maxWaitMs: 0 }, () => ran++)));
    const rejected = results.filter((r) => r.status === 'rejected');
    const spot = (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:u1:Spot')!;
    console.log(
      `RedisStore maxWaitMs 0: ${rejected.length} of 200 rejected (${[...new Set(rejected.map((r) => (r as PromiseRejectedResult).reason.code))].join(',')}), ${ran} ran, used ${spot.used}`,
    );
    expect(spot.used).toBe(ran);
    expect(ran).toBeGreaterThan(0);
    expect(ran + rejected.length).toBe(200);
    await scheduler.close();
    client.disconnect();
  });
});

describe('edges: an executed request reaches its caller, whatever the store does after the send', () => {
  it('wrap returns the result when the store fails while applying the reply (a storeError event says so)', async () => {
    const { scheduler } = make({}, new FailingFeedbackStore());
    const errors: string[] = [];
    scheduler.on('storeError', (e) => errors.push(e.lane));
    const placeOrder = scheduler.wrap(async () => ({ orderId: 'o-1', commonResponse: { rateLimit: { limit: 100, remaining: 50, reset: 1000 } } }), {
      endpoint: 'POST /api/v1/hf/orders',
    });
    await expect(placeOrder()).resolves.toMatchObject({ orderId: 'o-1' });
    const failing = scheduler.wrap(
      async () => {
        throw Object.assign(new Error('429'), { response: { status: 429, headers: {}, data: { code: '429000', msg: 'Too Many Requests' } } });
      },
      { endpoint: 'POST /api/v1/hf/orders', maxWaitMs: 200 },
    );
    // the refusal is still recognised and re-sent; the store's fault is an event, not the caller's error
    await expect(failing()).rejects.toMatchObject({ response: { status: 429 } });
    expect(errors.some((l) => l.startsWith('feedback:'))).toBe(true);
  });

  it('scheduler.feedback never rejects on a store fault', async () => {
    const { scheduler } = make({}, new FailingFeedbackStore());
    const admission = await scheduler.schedule({ endpoint: 'GET /api/v1/accounts' }, (a) => a);
    const outcome = await scheduler.feedback(admission, {
      status: 429,
      headers: { 'gw-ratelimit-limit': '100', 'gw-ratelimit-remaining': '5', 'gw-ratelimit-reset': '100' },
      body: { code: '429000' },
    });
    expect(outcome.signal).toBe('429000');
  });
});

describe('edges: long waits neither spin nor warn', () => {
  afterEach(() => vi.useRealTimers());

  class Counting extends MemoryStore {
    calls = 0;
    override acquire(r: AcquireRequest) {
      this.calls++;
      return super.acquire(r);
    }
  }

  it('a 30-day pause costs one store call, not one per millisecond (real timers, 300 ms)', async () => {
    const store = new Counting();
    const { scheduler } = make({}, store);
    await scheduler.pause('spot', Date.now() + 30 * 86_400_000);
    const p = scheduler.schedule({ pool: 'spot', priority: 'critical', maxWaitMs: Number.POSITIVE_INFINITY }, () => 'ran').catch((e) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    console.log(`30-day pause, maxWaitMs Infinity: ${store.calls} store calls in 300 ms`);
    expect(store.calls).toBeLessThanOrEqual(2);
    await scheduler.close();
    expect(await p).toBe('KS_CLOSED');
  });

  it('maxWaitMs of 3e9 or Infinity waits out a 30-day pause, then runs', async () => {
    vi.useFakeTimers({ now: T0 });
    const store = new Counting();
    const { scheduler } = make({}, store);
    await scheduler.pause('spot', T0 + 30 * 86_400_000);
    const outcomes: string[] = [];
    const a = scheduler
      .schedule({ pool: 'spot', maxWaitMs: Number.POSITIVE_INFINITY }, () => 'ran')
      .then(
        () => outcomes.push('a ran'),
        (e) => outcomes.push(`a ${e.code}`),
      );
    const b = scheduler
      .schedule({ pool: 'spot', maxWaitMs: 3e9 }, () => 'ran')
      .then(
        () => outcomes.push('b ran'),
        (e) => outcomes.push(`b ${e.code}`),
      );
    await vi.advanceTimersByTimeAsync(1000);
    console.log(`30-day pause: outcomes after 1 s: ${JSON.stringify(outcomes)}`);
    expect(outcomes).toEqual([]);
    await vi.advanceTimersByTimeAsync(30 * 86_400_000 + 100);
    await Promise.all([a, b]);
    expect(outcomes.sort()).toEqual(['a ran', 'b ran']);
    expect(store.calls).toBeLessThanOrEqual(8);
    await scheduler.close();
  });

  it('prints no TimeoutOverflowWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const { scheduler } = make({ maxWaitMs: 3e9 });
    await scheduler.pause('spot', Date.now() + 30 * 86_400_000);
    const p = scheduler.schedule({ pool: 'spot' }, () => undefined).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    await scheduler.close();
    await p;
    process.off('warning', onWarning);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});

describe('edges: unknown paths do not grow memory', () => {
  it('20k distinct paths of an unknown endpoint leave no lanes behind', async () => {
    const { scheduler } = make({ pools: { spot: { limit: 1_000_000, windowMs: 3000, burst: 0 } }, unknownEndpointWeight: 1 });
    for (let i = 0; i < 20_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => scheduler.schedule({ endpoint: `GET /api/v9/things/x${i + j}y/details` }, () => undefined)));
    }
    const snap = await scheduler.snapshot();
    const lanes = Object.keys(snap.queued).length;
    const buckets = snap.buckets.length;
    console.log(`20k unknown paths: ${lanes} lanes left, ${buckets} buckets listed`);
    expect(lanes).toBeLessThanOrEqual(1);
    expect(buckets).toBeLessThanOrEqual(2000);
    await scheduler.close();
  });
});

describe('edges: an abort or a close always wins over a deadline that lapsed while the store answered (review)', () => {
  class HeldStore extends MemoryStore {
    acquireGate: Promise<void> | undefined;
    openAcquire!: () => void;
    releaseGate: Promise<void> | undefined;
    openRelease!: () => void;
    holdAcquire(): void {
      this.acquireGate = new Promise((r) => (this.openAcquire = r));
    }
    holdRelease(): void {
      this.releaseGate = new Promise((r) => (this.openRelease = r));
    }
    override async acquire(r: AcquireRequest): Promise<AcquireResult> {
      const gate = this.acquireGate;
      const result = await super.acquire(r);
      if (gate) await gate;
      return result;
    }
    override async release(r: AcquireRequest, count: number, at: number): Promise<void> {
      const gate = this.releaseGate;
      await super.release(r, count, at);
      if (gate) await gate;
    }
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a deadline passes while the store answers, then the caller aborts: the request is not sent, and is given back', async () => {
    const store = new HeldStore();
    const { scheduler } = make({}, store);
    store.holdAcquire();
    const ac = new AbortController();
    let ran = false;
    const p = scheduler.schedule({ pool: 'spot', maxWaitMs: 10, signal: ac.signal }, () => (ran = true)).catch((e) => e.code);
    await sleep(30);
    ac.abort();
    store.openAcquire();
    expect(await p).toBe('KS_ABORTED');
    expect(ran).toBe(false);
    expect((await spotState(scheduler)).used).toBe(0);
  });

  it('close() resolves only once a request the store is answering for has ended (and never runs it after)', async () => {
    const store = new HeldStore();
    const { scheduler } = make({}, store);
    store.holdAcquire();
    let closed = false;
    let ranAfterClose = false;
    const p = scheduler.schedule({ pool: 'spot', maxWaitMs: 10 }, () => (ranAfterClose = closed)).catch((e) => e.code);
    await sleep(30);
    const closing = scheduler.close().then(() => (closed = true));
    await sleep(10);
    expect(closed).toBe(false); // the store has not answered yet
    store.openAcquire();
    await closing;
    expect(await p).toBe('KS_CLOSED');
    expect(ranAfterClose).toBe(false);
    expect((await store.inspect([{ group: 'u1', id: 'uid:u1:Spot', limit: 100, windowMs: 3000, marginMs: 0, burst: 0, refillPerMs: 0 }]))[0]!.used).toBe(0);
  });

  it('a deadline during the refund round trip does not count the job out twice (the queue depth stays right)', async () => {
    const store = new HeldStore();
    const { scheduler } = make({ pools: { spot: { limit: 1, windowMs: 3000, burst: 0 } } }, store);
    store.holdAcquire();
    store.holdRelease();
    const ac = new AbortController();
    const r = scheduler.schedule({ pool: 'spot', priority: 'critical', signal: ac.signal, maxWaitMs: 100 }, () => 'R sent').catch((e) => e.code);
    const x = scheduler.schedule({ pool: 'spot', priority: 'critical', maxWaitMs: 10_000 }, () => 'X sent').catch((e) => e.code);
    await sleep(5);
    ac.abort();
    store.openAcquire();
    await sleep(150); // R's deadline passes while its charge is being given back
    const queued = Object.values((await scheduler.snapshot()).queued).reduce((n, q) => n + q.critical, 0);
    expect(queued).toBe(1); // X still waits and is counted
    store.openRelease();
    expect(await r).toBe('KS_ABORTED');
    expect(await x).toBe('X sent');
    await scheduler.close();
  });
});
