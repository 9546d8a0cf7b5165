// The one attempt loop (src/send/attemptLoop.ts): the policy every client shares, tested on its own.
import { describe, expect, it } from 'vitest';
import { createScheduler, MemoryStore, type Admission, type SchedulerOptions } from '../src/index.js';
import type { GatewayReply } from '../src/kucoin/errorFeedback.js';
import { sendWithAttempts, AttemptLoop } from '../src/send/attemptLoop.js';
import { portOf } from '../src/scheduler/scheduler.js';

const OK: GatewayReply = { status: 200, body: { code: '200000' } };
const TOO_MANY: GatewayReply = { status: 200, body: { code: '200002', msg: 'Too many requests in a short period of time, please retry later' } };
const CONNECTION: GatewayReply = { status: 429, body: { code: '429002', msg: 'Too many requests on one connection' } };
const UNAVAILABLE: GatewayReply = { status: 503, body: 'Service Unavailable' };

const schedulerWith = (options: Partial<SchedulerOptions> = {}) => createScheduler({ uid: 'loop', store: new MemoryStore(), jitterMs: 0, ...options });

/** A send that answers each attempt with the next reply (the last one repeats) and records its admissions. */
function scripted(replies: readonly (GatewayReply | Error)[]) {
  const admissions: Admission[] = [];
  const sentAt: number[] = [];
  const send = async (admission: Admission): Promise<GatewayReply> => {
    admissions.push(admission);
    sentAt.push(Date.now());
    const reply = replies[Math.min(admissions.length - 1, replies.length - 1)]!;
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return { admissions, sentAt, send };
}

describe('AttemptLoop: one send -> feedback -> re-send policy', () => {
  it('a refusal (not executed) is sent again, whatever the method, and the feedback paused its scope', async () => {
    const scheduler = schedulerWith({ feedback: { endpointPauseMs: 30 } });
    const s = scripted([TOO_MANY, OK]);
    const done = await sendWithAttempts(scheduler, {
      schedule: { endpoint: 'DELETE /api/v1/hf/orders/1', priority: 'critical' },
      send: s.send,
      replyOf: (r) => r,
    });
    expect(done.attempts).toBe(2);
    expect(s.admissions.map((a) => a.attempt)).toEqual([1, 2]);
    expect(s.sentAt[1]! - s.sentAt[0]!).toBeGreaterThanOrEqual(25); // waited for the endpoint's pause
    expect(done.outcome?.signal).toBeUndefined();
  });

  it('stops at feedback.maxAttempts and hands back the last refusal (the caller makes it its error)', async () => {
    const scheduler = schedulerWith({ feedback: { endpointPauseMs: 1, maxAttempts: 3 } });
    const s = scripted([TOO_MANY]);
    const done = await sendWithAttempts(scheduler, { schedule: { endpoint: 'POST /api/v1/hf/orders' }, send: s.send, replyOf: (r) => r });
    expect(done.attempts).toBe(3);
    expect(done.outcome?.signal).toBe('200002');
  });

  it("carries the first attempt's deadline: a re-send that would wait past it rejects with KS_MAX_WAIT_EXCEEDED at the deadline", async () => {
    const scheduler = schedulerWith({ feedback: { endpointPauseMs: 10_000 } });
    const s = scripted([TOO_MANY, OK]);
    const started = Date.now();
    const error = await sendWithAttempts(scheduler, {
      schedule: { endpoint: 'POST /api/v1/hf/orders', maxWaitMs: 150 },
      send: s.send,
      replyOf: (r) => r,
    }).catch((e) => e);
    expect(error).toMatchObject({ code: 'KS_MAX_WAIT_EXCEEDED' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(s.admissions).toHaveLength(1);
  });

  it('after a transport failure or a 5xx only a request safe to repeat is sent again, up to transportRetries', async () => {
    const scheduler = schedulerWith();
    const reset = new Error('socket hang up');
    for (const [safeToRepeat, sends] of [
      [false, 1],
      [true, 3],
    ] as const) {
      const s = scripted([reset]);
      const loop = new AttemptLoop(
        portOf(scheduler),
        { schedule: { endpoint: 'POST /api/v1/hf/orders' }, safeToRepeat, send: s.send, replyOf: (r) => r },
        { transportRetries: 2, transportBackoffMs: () => 1 },
      );
      await expect(loop.run()).rejects.toBe(reset); // the send's own error
      expect(loop.attempts).toBe(sends);
    }
    const unsafe = scripted([UNAVAILABLE, OK]);
    const once = await sendWithAttempts(
      scheduler,
      { schedule: { endpoint: 'POST /api/v1/hf/orders' }, send: unsafe.send, replyOf: (r) => r },
      { transportRetries: 2 },
    );
    expect([once.attempts, once.value.status]).toEqual([1, 503]); // may have been executed: never sent twice
    const safe = scripted([UNAVAILABLE, OK]);
    const twice = await sendWithAttempts(
      scheduler,
      { schedule: { endpoint: 'GET /api/v1/timestamp', host: 'spot' }, safeToRepeat: true, send: safe.send, replyOf: (r) => r },
      { transportRetries: 2, transportBackoffMs: () => 1 },
    );
    expect([twice.attempts, twice.value.status]).toEqual([2, 200]);
  });

  it('a 429002 holds the next send back for what the connection pool says', async () => {
    const scheduler = schedulerWith();
    const s = scripted([CONNECTION, OK]);
    const done = await sendWithAttempts(scheduler, {
      schedule: { endpoint: 'GET /api/v1/timestamp', host: 'spot' },
      send: s.send,
      replyOf: (r) => r,
      onConnectionLimited: () => 80,
    });
    expect(done.attempts).toBe(2);
    expect(s.sentAt[1]! - s.sentAt[0]!).toBeGreaterThanOrEqual(75);
  });

  it("passes the request's AbortSignal to the called function beside the admission (p-queue style); an abort in flight is never repeated", async () => {
    const scheduler = schedulerWith();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const value = await scheduler.schedule(
      { endpoint: 'GET /api/v1/timestamp', host: 'spot', signal: controller.signal },
      ({ signal }) => ((seen = signal), 'ran'),
    );
    expect([value, seen]).toEqual(['ran', controller.signal]);
    const loop = new AttemptLoop(
      portOf(scheduler),
      {
        schedule: { endpoint: 'GET /api/v1/timestamp', host: 'spot', signal: controller.signal },
        safeToRepeat: true,
        send: (admission) => {
          controller.abort();
          throw new Error(`aborted in flight: ${admission.signal?.aborted}`);
        },
        replyOf: (r: GatewayReply) => r,
      },
      { transportRetries: 2 },
    );
    await expect(loop.run()).rejects.toThrow('aborted in flight: true');
    expect(loop.attempts).toBe(1);
  });

  it("a throwing replyOf never turns an executed request's result into an error", async () => {
    const scheduler = schedulerWith();
    const done = await sendWithAttempts(scheduler, {
      schedule: { endpoint: 'GET /api/v1/timestamp', host: 'spot' },
      send: () => 'result',
      replyOf: () => {
        throw new Error('bad reader');
      },
    });
    expect([done.value, done.attempts]).toEqual(['result', 1]);
  });
});
