import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { InvalidArgumentError } from '../src/index.js';
import { WsMemoryStore } from '../src/ws/store/wsMemoryStore.js';
import { WsRedisStore } from '../src/ws/redis/wsRedisStore.js';
import type { WsBudgetStore, WsSubjectLimits } from '../src/ws/store/wsStoreTypes.js';
import { testRedis } from './helpers/redisClient.js';

interface Fixture {
  readonly store: WsBudgetStore;
  cleanup(): Promise<void>;
}

let seq = 0;
const limits = (over: Partial<WsSubjectLimits> = {}): WsSubjectLimits => ({
  subject: `uid:ws-${++seq}`,
  sessionLimit: 3,
  leaseMs: 1000,
  connectLimit: 4,
  connectSpanMs: 2000,
  ...over,
});

/** The same rules in TypeScript (one process) and Lua (the fleet): both stores run this suite. */
function describeWsStore(name: string, make: (clock: () => number) => Fixture): void {
  describe(`${name}: WebSocket budgets`, () => {
    let t = 1_700_000_000_000;
    let fx: Fixture;
    beforeEach(() => {
      t = 1_700_000_000_000;
      fx = make(() => t);
    });
    afterEach(async () => fx.cleanup());

    it('leases at most sessionLimit sessions; a held one renews; a lapsed lease frees its slot', async () => {
      const l = limits();
      for (const id of ['a', 'b', 'c']) expect(await fx.store.acquireSession(l, id)).toMatchObject({ granted: true });
      t += 100;
      expect(await fx.store.acquireSession(l, 'a')).toMatchObject({ granted: true }); // renewal, not a 4th
      expect(await fx.store.acquireSession(l, 'd')).toMatchObject({ granted: false, now: t, reason: 'sessions', waitMs: 900 });
      t += 900; // b and c lapse (leased at t0, 1000 ms), a was renewed at t0+100
      expect(await fx.store.acquireSession(l, 'd')).toMatchObject({ granted: true });
      expect((await fx.store.inspect(l)).sessions).toBe(2);
    });

    it('counts connects in a sliding span and says when the oldest leaves it', async () => {
      const l = limits({ sessionLimit: 10, connectLimit: 2, connectSpanMs: 1000 });
      await fx.store.acquireSession(l, 's1');
      expect(await fx.store.acquireConnect(l, 's1')).toMatchObject({ granted: true });
      t += 300;
      expect(await fx.store.acquireConnect(l, 's1')).toMatchObject({ granted: true });
      t += 100;
      expect(await fx.store.acquireConnect(l, 's1')).toMatchObject({ granted: false, now: t, reason: 'connects', waitMs: 600 });
      t += 600;
      expect(await fx.store.acquireConnect(l, 's1')).toMatchObject({ granted: true });
      expect((await fx.store.inspect(l)).connects).toBe(2);
    });

    it('a connect needs a lease: a lapsed one is taken again when a slot is free, else refused', async () => {
      const l = limits({ sessionLimit: 1, leaseMs: 500 });
      await fx.store.acquireSession(l, 'x');
      t += 600;
      await fx.store.acquireSession(l, 'y');
      expect(await fx.store.acquireConnect(l, 'x')).toMatchObject({ granted: false, reason: 'lease' });
      await fx.store.release(l, 'y', 0);
      expect(await fx.store.acquireConnect(l, 'x')).toMatchObject({ granted: true });
    });

    it('renew keeps live leases, takes lapsed ones back while there is room, and reports the rest lost', async () => {
      const l = limits({ sessionLimit: 2, leaseMs: 500 });
      await fx.store.acquireSession(l, 'p1');
      await fx.store.acquireSession(l, 'p2');
      t += 400;
      expect((await fx.store.renew(l, ['p1', 'p2'])).lost).toEqual([]);
      t += 800; // both lapsed (renewed to t0+900)
      await fx.store.acquireSession(l, 'q1');
      expect((await fx.store.renew(l, ['p1', 'p2'])).lost).toEqual(['p2']);
      expect((await fx.store.inspect(l)).sessions).toBe(2);
    });

    it('release frees at once, or after holdMs', async () => {
      const l = limits({ sessionLimit: 1 });
      await fx.store.acquireSession(l, 'a');
      await fx.store.release(l, 'a', 300);
      expect(await fx.store.acquireSession(l, 'b')).toMatchObject({ granted: false, reason: 'sessions', waitMs: 300 });
      t += 300;
      expect(await fx.store.acquireSession(l, 'b')).toMatchObject({ granted: true });
      await fx.store.release(l, 'b', 0);
      expect((await fx.store.inspect(l)).sessions).toBe(0);
    });

    it('509 session count: the refused lease goes, the stated limit holds learnForMs, and the fleet holds no more than then, one more per pauseMs', async () => {
      const l = limits({ sessionLimit: 5 });
      for (const id of ['a', 'b', 'c']) await fx.store.acquireSession(l, id);
      const none = { sessionLimit: undefined, topicsPerMessage: undefined, topicsPerSession: undefined };
      expect((await fx.store.inspect(l)).learned).toEqual(none);
      // c was refused by a server that says 4: the fleet holds 2 now, so a hidden session holds the other two
      await fx.store.penalize(l, { kind: 'sessions', sessionId: 'c', learnedLimit: 4, learnForMs: 5000, pauseMs: 400 });
      expect(await fx.store.inspect(l)).toMatchObject({ sessions: 2, sessionLimit: 2, learned: { ...none, sessionLimit: 4 } });
      expect(await fx.store.acquireSession(l, 'd')).toMatchObject({ granted: false, reason: 'sessions', learned: { sessionLimit: 4 } });
      // no pause: a slot that frees under the cap is taken at once
      await fx.store.release(l, 'a', 0);
      expect(await fx.store.acquireSession(l, 'd')).toMatchObject({ granted: true });
      expect(await fx.store.acquireConnect(l, 'd')).toMatchObject({ granted: true });
      // one more slot every pauseMs, up to what the server stated
      t += 400;
      expect((await fx.store.inspect(l)).sessionLimit).toBe(3);
      t += 4000;
      expect((await fx.store.inspect(l)).sessionLimit).toBe(4);
      // a higher number later does not raise what was learned while it is in force
      await fx.store.acquireSession(l, 'e');
      await fx.store.penalize(l, { kind: 'sessions', sessionId: 'e', learnedLimit: 5, learnForMs: 5000, pauseMs: 0 });
      expect((await fx.store.inspect(l)).learned.sessionLimit).toBe(4);
      t += 5001;
      expect(await fx.store.inspect(l)).toMatchObject({ sessionLimit: 5, learned: none });
    });

    it('a held lease gives up its connect when the other leases already fill a limit learned since', async () => {
      const l = limits({ sessionLimit: 3 });
      for (const id of ['a', 'b', 'c']) await fx.store.acquireSession(l, id);
      await fx.store.penalize(l, { kind: 'sessions', sessionId: 'refused-elsewhere', learnedLimit: 2, learnForMs: 5000, pauseMs: 0 });
      // a, b and c were leased under 3; the server says 2: the first to dial finds the two others fill it and
      // gives its lease up; then there is room for the other two
      expect(await fx.store.acquireConnect(l, 'a')).toMatchObject({ granted: false, reason: 'lease' });
      expect((await fx.store.inspect(l)).sessions).toBe(2);
      expect(await fx.store.acquireConnect(l, 'b')).toMatchObject({ granted: true });
      expect(await fx.store.acquireConnect(l, 'c')).toMatchObject({ granted: true });
      expect(await fx.store.acquireSession(l, 'a')).toMatchObject({ granted: false, reason: 'sessions' });
    });

    it('topic limits a 509 stated are kept for every process for learnForMs, the lower one winning', async () => {
      const l = limits();
      expect(await fx.store.learn(l, 'topicsPerMessage', 40, 1000)).toMatchObject({ topicsPerMessage: 40, topicsPerSession: undefined });
      expect(await fx.store.learn(l, 'topicsPerMessage', 60, 1000)).toMatchObject({ topicsPerMessage: 40 });
      expect(await fx.store.learn(l, 'topicsPerSession', 250, 2000)).toMatchObject({ topicsPerMessage: 40, topicsPerSession: 250 });
      expect((await fx.store.renew(l, [])).learned).toMatchObject({ topicsPerMessage: 40, topicsPerSession: 250 });
      await fx.store.acquireSession(l, 's');
      expect(await fx.store.acquireConnect(l, 's')).toMatchObject({ granted: true, learned: { topicsPerMessage: 40, topicsPerSession: 250 } });
      t += 1000;
      expect((await fx.store.inspect(l)).learned).toEqual({ sessionLimit: undefined, topicsPerMessage: undefined, topicsPerSession: 250 });
      await expect(fx.store.learn(l, 'topicsPerMessage', 0, 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(fx.store.learn(l, 'topicsPerMessage', 1.5, 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('refuses a hold that would pin a slot (negative, NaN, longer than a day)', async () => {
      const l = limits();
      await fx.store.acquireSession(l, 'a');
      for (const bad of [-1, Number.NaN, 2e12, Infinity]) await expect(fx.store.release(l, 'a', bad)).rejects.toBeInstanceOf(InvalidArgumentError);
      expect((await fx.store.inspect(l)).sessions).toBe(1);
    });

    it('busy: one backoff step per round however many processes report it, doubling, reset after calm', async () => {
      const l = limits();
      const busy = { kind: 'busy', baseMs: 100, maxMs: 350, jitter: 0, resetAfterMs: 10_000, random: 0 } as const;
      expect((await fx.store.penalize(l, busy)).pausedUntil).toBe(t + 100);
      expect((await fx.store.penalize(l, busy)).pausedUntil).toBe(t + 100); // same round
      t += 100;
      expect((await fx.store.penalize(l, busy)).pausedUntil).toBe(t + 200);
      t += 200;
      expect((await fx.store.penalize(l, busy)).pausedUntil).toBe(t + 350); // capped
      expect((await fx.store.inspect(l)).backoffLevel).toBe(3);
      t += 20_000;
      expect((await fx.store.penalize(l, { ...busy, jitter: 0.5, random: 1 })).pausedUntil).toBe(t + 50);
    });
  });
}

describeWsStore('WsMemoryStore', (clock) => ({ store: new WsMemoryStore({ clock }), cleanup: async () => {} }));

describeWsStore('WsRedisStore', (clock) => {
  const { client, prefix } = testRedis();
  return { store: new WsRedisStore({ client, prefix, clock }), cleanup: async () => void client.disconnect() };
});

describe('WsRedisStore specifics', () => {
  it('keeps one subject under one hash tag, lets idle keys expire, and uses Redis TIME without a clock', async () => {
    const { client, prefix } = testRedis();
    const store = new WsRedisStore({ client, prefix });
    const l = limits({ subject: 'uid:tagged' });
    await store.acquireSession(l, 's');
    await store.acquireConnect(l, 's');
    await store.penalize(l, { kind: 'sessions', sessionId: 'gone', learnedLimit: 2, learnForMs: 1000, pauseMs: 10 });
    const keys = (await client.keys(`${prefix}:*`)).sort();
    expect(keys).toEqual([`${prefix}:{ws:uid:tagged}:c`, `${prefix}:{ws:uid:tagged}:s`, `${prefix}:{ws:uid:tagged}:st`]);
    for (const k of keys) expect(await client.pttl(k)).toBeGreaterThan(0);
    const state = await store.inspect(l);
    expect(Math.abs(state.now - Date.now())).toBeLessThan(2000);
    client.disconnect();
  });

  it('refuses malformed input with typed errors before anything runs', async () => {
    const { client, prefix } = testRedis();
    const store = new WsRedisStore({ client, prefix });
    await expect(store.acquireSession(limits({ subject: 'a{b}' }), 's')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.acquireSession(limits(), 'has space')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => new WsRedisStore({ client, prefix: 'x{y}' })).toThrow(InvalidArgumentError);
    await expect(store.acquireSession(limits({ sessionLimit: 0 }), 's')).rejects.toMatchObject({ code: 'KS_STORE' });
    client.disconnect();
  });
});
