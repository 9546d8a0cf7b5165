// Issue 21, items 5 and 6: what a hostile or broken push server puts in a token reply or a push is bounded.
// Ping timing is clamped to WS_PING_BOUNDS (it becomes how long a session slot is held), a token or endpoint
// over its cap and a message over maxMessageBytes are refused with WsTooLargeError. Against the simulator.
import fc from 'fast-check';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkToken,
  createWsManager,
  parseBullet,
  WS_ENDPOINT_MAX_LENGTH,
  WS_PING_BOUNDS,
  WS_TOKEN_MAX_LENGTH,
  WsRedisStore,
  WsTooLargeError,
  type WsManager,
  type WsManagerEvents,
  type WsManagerOptions,
  type WsToken,
} from '../src/index.js';
import { startWsSimulator, type WsSimulator } from '../src/simulator/index.js';
import { frameWatcher, readHeader } from '../src/ws/frameGuard.js';
import { wsKeys } from '../src/ws/redis/wsKeys.js';
import { testRedis } from './helpers/redisClient.js';

let ws: WsSimulator | undefined;
let manager: WsManager | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  await manager?.close();
  await ws?.close();
  for (const c of cleanups.splice(0)) await c();
  manager = ws = undefined;
});

const bullet = (server: Record<string, unknown>, token: unknown = 't') => ({
  token,
  instanceServers: [{ endpoint: 'wss://ws-api-spot.kucoin.com/', encrypt: true, protocol: 'websocket', ...server }],
});

describe('token replies: ping timing clamped, lengths capped', () => {
  it('clamps pingInterval and pingTimeout to WS_PING_BOUNDS; a missing or absurd value falls back, then is clamped', () => {
    expect(WS_PING_BOUNDS).toEqual({ intervalMs: { min: 1_000, max: 60_000 }, timeoutMs: { min: 1_000, max: 60_000 } });
    const read = (pingInterval: unknown, pingTimeout: unknown) => {
      const t = parseBullet(bullet({ pingInterval, pingTimeout }), 0);
      return [t.pingIntervalMs, t.pingTimeoutMs];
    };
    expect(read(18_000, 10_000)).toEqual([18_000, 10_000]);
    expect(read(1e12, 1e12)).toEqual([60_000, 60_000]);
    expect(read(1e300, Number.MAX_VALUE)).toEqual([60_000, 60_000]);
    expect(read(1, 0.5)).toEqual([1_000, 1_000]);
    expect(read(-5, Number.NaN)).toEqual([18_000, 10_000]);
    expect(read('18000', null)).toEqual([18_000, 10_000]);
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.constant(Infinity)), fc.oneof(fc.double(), fc.integer()), (i, t) => {
        const [pi, pt] = read(i, t);
        return pi! >= 1_000 && pi! <= 60_000 && pt! >= 1_000 && pt! <= 60_000;
      }),
    );
  });

  it('refuses a token over WS_TOKEN_MAX_LENGTH and an endpoint over WS_ENDPOINT_MAX_LENGTH with WsTooLargeError, never echoing them', () => {
    const huge = 'k'.repeat(50_000_000);
    let err: WsTooLargeError | undefined;
    try {
      parseBullet(bullet({}, huge), 0);
    } catch (e) {
      err = e as WsTooLargeError;
    }
    expect(err).toBeInstanceOf(WsTooLargeError);
    expect(err).toMatchObject({ code: 'KS_WS_TOO_LARGE', what: 'token', size: 50_000_000, limit: WS_TOKEN_MAX_LENGTH });
    expect(err!.message.length).toBeLessThan(200);
    expect(() => parseBullet(bullet({}, 'k'.repeat(WS_TOKEN_MAX_LENGTH)), 0)).not.toThrow();
    const longEndpoint = `wss://x/${'e'.repeat(WS_ENDPOINT_MAX_LENGTH)}`;
    expect(() => parseBullet({ token: 't', instanceServers: [{ endpoint: longEndpoint }] }, 0)).toThrow(
      expect.objectContaining({ code: 'KS_WS_TOO_LARGE', what: 'endpoint' }),
    );
    // a token from a source of the caller's own is held to the same rules
    const own: WsToken = { token: huge, endpoint: 'ws://127.0.0.1:1/', pingIntervalMs: 1e12, pingTimeoutMs: 1e12, fetchedAt: 0 };
    expect(() => checkToken(own)).toThrow(WsTooLargeError);
    expect(checkToken({ ...own, token: 't' })).toMatchObject({ pingIntervalMs: 60_000, pingTimeoutMs: 60_000 });
  });
});

async function simManager(tokenOf: (issue: () => WsToken) => WsToken, options: Partial<WsManagerOptions> = {}) {
  ws = await startWsSimulator();
  const sim = ws;
  const issue = () => parseBullet(sim.issueToken({ kind: 'private', uid: 'u1', ip: 'x' }), Date.now());
  const events: { [K in keyof WsManagerEvents]?: WsManagerEvents[K][] } = {};
  manager = createWsManager({ tokenSource: async () => tokenOf(issue), kind: 'private', uid: 'u1', reconnect: { baseMs: 20, maxMs: 50 }, ...options });
  for (const name of ['disconnected', 'tokenError', 'protocolError', 'connected'] as const) {
    manager.on(name, (e) => ((events[name] ??= [] as never[]) as unknown[]).push(e));
  }
  return { sim, manager, events };
}

describe('hostile ping timing from the token reply (issue 21 item 5)', () => {
  it('pingInterval and pingTimeout of 1e12: no ping storm, no timer overflow, the dial stays up', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    // the reply as KuCoin's parser would read it, with the server's numbers replaced
    const { sim, manager, events } = await simManager((issue) => ({ ...issue(), pingIntervalMs: 1e12, pingTimeoutMs: 1e12 }));
    await manager.subscribe('/market/ticker:BTC-USDT');
    const received = sim.stats().received;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sim.stats().received - received).toBe(0); // the next ping is 60 s away, not 1 ms
    expect(events.disconnected ?? []).toEqual([]);
    expect(warnings.filter((w) => w === 'TimeoutOverflowWarning')).toEqual([]);
  });

  it('a socket that ended without the handshake holds its slot for at most 120 s (the bounds), also after close()', async () => {
    const { client, prefix } = testRedis();
    cleanups.push(() => client.disconnect());
    const store = new WsRedisStore({ client, prefix });
    const { sim, manager, events } = await simManager((issue) => ({ ...issue(), pingIntervalMs: 1e12, pingTimeoutMs: 1e12 }), { store });
    await manager.subscribe('/market/ticker:BTC-USDT');
    sim.dropAll(); // no close handshake: the server may still count the session until its ping timeout
    await expect.poll(() => events.connected?.length ?? 0, { timeout: 5_000 }).toBe(2);
    await manager.close();
    const [sessions] = wsKeys(prefix, 'uid:u1');
    const scores = (await client.zrange(sessions, '0', '-1', 'WITHSCORES'))
      .flat()
      .filter((_, i) => i % 2 === 1)
      .map(Number);
    expect(scores).toHaveLength(1); // the dropped session's slot, held; the closed one released
    const heldForMs = scores[0]! - Date.now();
    expect(heldForMs).toBeGreaterThan(100_000);
    expect(heldForMs).toBeLessThanOrEqual(WS_PING_BOUNDS.intervalMs.max + WS_PING_BOUNDS.timeoutMs.max);
  });
});

describe('oversized tokens and pushes (issue 21 item 6)', () => {
  it('a 5 MB token from the source is refused before any dial: tokenError with WsTooLargeError', async () => {
    const { sim, manager, events } = await simManager((issue) => ({ ...issue(), token: 'k'.repeat(5_000_000) }), {
      reconnect: { baseMs: 5, maxMs: 5, maxAttempts: 2 },
    });
    const err = await manager.subscribe('/market/ticker:BTC-USDT').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KS_WS_CONNECT_FAILED', attempts: 2 });
    expect((err as Error).cause).toBeInstanceOf(WsTooLargeError);
    expect(events.tokenError!.map((e) => e.error)).toEqual([expect.any(WsTooLargeError), expect.any(WsTooLargeError)]);
    expect(sim.stats().connects).toEqual([]);
  });

  for (const via of ['its own dispatcher (refused at the frame header)', 'a caller dispatcher (refused before parsing)'] as const) {
    it(`a push over maxMessageBytes, through ${via}: never delivered, protocolError with WsTooLargeError, the connection dials again`, async () => {
      const dispatcher = via.startsWith('a caller') ? new Agent() : undefined;
      if (dispatcher) cleanups.push(() => dispatcher.close());
      const { sim, manager, events } = await simManager((issue) => issue(), { maxMessageBytes: 65_536, ...(dispatcher ? { dispatcher } : {}) });
      const sizes: number[] = [];
      await manager.subscribe('/market/ticker:BTC-USDT', { onMessage: (p) => sizes.push(JSON.stringify(p.data).length) });
      sim.publish('/market/ticker:BTC-USDT', 'x'.repeat(100));
      sim.publish('/market/ticker:BTC-USDT', 'x'.repeat(2_000_000));
      await expect.poll(() => events.protocolError?.length ?? 0, { timeout: 3_000 }).toBe(1);
      const error = events.protocolError![0]!.error;
      expect(error).toBeInstanceOf(WsTooLargeError);
      expect(error).toMatchObject({ code: 'KS_WS_TOO_LARGE', what: 'message', limit: 65_536 });
      expect((error as WsTooLargeError).size).toBeGreaterThan(65_536);
      await expect.poll(() => events.connected?.length ?? 0, { timeout: 5_000 }).toBe(2);
      await expect.poll(() => sim.publish('/market/ticker:BTC-USDT', 'y'), { timeout: 3_000 }).toBe(1);
      await expect.poll(() => sizes).toEqual([102, 3]);
    });
  }
});

describe('frame guard: reads frame headers across any chunking', () => {
  const frame = (opcode: number, fin: boolean, length: number, masked: boolean) => {
    const ext = length > 65_535 ? 8 : length > 125 ? 2 : 0;
    const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = (masked ? 0x80 : 0) | (ext === 8 ? 127 : ext === 2 ? 126 : length);
    if (ext === 2) head.writeUInt16BE(length, 2);
    if (ext === 8) head.writeBigUInt64BE(BigInt(length), 2);
    return Buffer.concat([head, Buffer.alloc(length, 'a')]);
  };

  it('reports the first message (frames summed) over the limit, at its header, however the bytes are split', () => {
    const frameArb = fc.record({
      opcode: fc.constantFrom(0x1, 0x2, 0x9, 0xa),
      parts: fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 3 }),
      masked: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 6 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1 }),
        (msgs, limit, cuts) => {
          const bytes: Buffer[] = [Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n')];
          let expected: number | undefined;
          for (const m of msgs) {
            const control = m.opcode >= 0x8;
            const parts = control ? [Math.min(125, m.parts[0]!)] : m.parts;
            let sum = 0;
            parts.forEach((len, i) => {
              bytes.push(frame(i === 0 ? m.opcode : 0x0, i === parts.length - 1, len, m.masked));
              sum += len;
              if (!control && expected === undefined && sum > limit) expected = sum;
            });
          }
          const all = Buffer.concat(bytes);
          const seen: number[] = [];
          const watch = frameWatcher(limit, (n) => seen.push(n));
          for (let at = 0, i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            watch(all.subarray(at, at + n));
            at += n;
          }
          expect(seen).toEqual(expected === undefined ? [] : [expected]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads 7-, 16- and 64-bit lengths', () => {
    expect(readHeader(Buffer.from([0x81, 0x05]))).toEqual({ fin: true, opcode: 1, headerBytes: 2, payloadBytes: 5 });
    expect(readHeader(Buffer.from([0x01, 126, 0x01, 0x00]))).toEqual({ fin: false, opcode: 1, headerBytes: 4, payloadBytes: 256 });
    expect(readHeader(Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]))).toMatchObject({ headerBytes: 10, payloadBytes: 2 ** 32 });
    expect(readHeader(Buffer.from([0x82, 127, 0, 0]))).toBeUndefined();
  });
});
