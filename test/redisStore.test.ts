import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, RedisStore, StoreError, type BucketConfig } from '../src/index.js';
import { spawnRedisServer, type LocalRedis } from './helpers/redisServer.js';
import { bucketKeys } from '../src/store/redis/keys.js';
import { testRedis } from './helpers/redisClient.js';
import { describeStoreBehaviour } from './storeSuite.js';

describeStoreBehaviour('RedisStore', async (clock) => {
  const { client, prefix } = testRedis();
  const store = new RedisStore({ client, prefix, clock });
  return { store, cleanup: async () => void client.disconnect() };
});

describe('RedisStore specifics', () => {
  let local: LocalRedis;
  beforeAll(async () => {
    local = await spawnRedisServer();
  });
  afterAll(async () => local?.stop());

  const b = (): BucketConfig => ({ group: 'acct', id: 'uid:acct:Spot', limit: 10, windowMs: 1000, marginMs: 50, burst: 5, refillPerMs: 0.01 });

  it('falls back to EVAL when the script cache is empty (NOSCRIPT), e.g. after a restart', async () => {
    const client = new Redis(local.url);
    const store = new RedisStore({ client, prefix: 'p1' });
    expect((await store.acquire({ charges: [{ bucket: b(), weight: 1 }], share: 1 })).admitted).toBe(true);
    await client.script('FLUSH'); // a private server: never done on the shared one
    expect((await store.acquire({ charges: [{ bucket: b(), weight: 1 }], share: 1 })).admitted).toBe(true);
    expect((await store.inspect([b()]))[0]!.used).toBe(2);
    client.disconnect();
  });

  it('puts every key of a group under one hash tag and the prefix, and lets idle keys expire', async () => {
    const client = new Redis(local.url);
    const store = new RedisStore({ client, prefix: 'p2' });
    await store.acquire({ charges: [{ bucket: b(), weight: 1 }], share: 1 });
    const keys = (await client.keys('*')).filter((k) => k.startsWith('p2:')).sort();
    expect(keys).toEqual(['p2:{acct}:b:uid:acct:Spot', 'p2:{acct}:l:uid:acct:Spot']);
    for (const k of keys) {
      const ttl = await client.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1000 + 50 + 1000);
    }
    await store.pause(b(), Date.now() + 60_000);
    expect(await client.pttl('p2:{acct}:b:uid:acct:Spot')).toBeGreaterThan(59_000); // a pause outlives idleness
    client.disconnect();
  });

  it('keeps a bucket whose id ends in :log apart from its prefix bucket (keys cannot collide)', async () => {
    // before: 'GET /x:log' hashed onto 'GET /x''s log: WRONGTYPE on its acquire and on inspect of both
    const client = new Redis(local.url);
    const store = new RedisStore({ client, prefix: 'p7' });
    const x: BucketConfig = { ...b(), id: 'ep:acct:GET /x', burst: 0 };
    const xLog: BucketConfig = { ...x, id: 'ep:acct:GET /x:log' };
    expect(await store.acquire({ charges: [{ bucket: x, weight: 1 }], share: 1 })).toMatchObject({ admitted: true });
    expect(await store.acquire({ charges: [{ bucket: xLog, weight: 2 }], share: 1 })).toMatchObject({ admitted: true });
    expect(
      await store.acquire({
        charges: [
          { bucket: x, weight: 1 },
          { bucket: xLog, weight: 1 },
        ],
        share: 1,
      }),
    ).toMatchObject({ admitted: true });
    const [sx, sLog] = await store.inspect([x, xLog]);
    expect([sx!.used, sLog!.used]).toEqual([2, 3]);
    const hb = await store.heartbeat('acct', 'proc-1', 5000);
    expect(hb).toBe(1);
    const keys = (await client.keys('p7:*')).sort();
    expect(keys).toEqual([
      'p7:{acct}:b:ep:acct:GET /x',
      'p7:{acct}:b:ep:acct:GET /x:log',
      'p7:{acct}:hb',
      'p7:{acct}:l:ep:acct:GET /x',
      'p7:{acct}:l:ep:acct:GET /x:log',
    ]);
    await expect(store.acquire({ charges: [{ bucket: { ...x, group: 'a}b' }, weight: 1 }], share: 1 })).rejects.toMatchObject({ code: 'KS_INVALID_ARGUMENT' });
    client.disconnect();
  });

  it('builds every ARGV from scriptLayout.ts: no Lua file counts an ARGV position, and every name it reads is in the layout', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const { SCRIPT_LAYOUTS, BUCKET_FIELDS, STATE_FIELDS } = await import('../src/store/redis/scriptLayout.js');
    const dir = new URL('../src/store/redis/', import.meta.url);
    let all = '';
    // the libraries of lib/ (every script runs with them) read no argument of their own
    const lib = new URL('lib/', dir);
    for (const file of readdirSync(lib).filter((f) => f.endsWith('.lua'))) {
      const source = readFileSync(new URL(file, lib), 'utf8');
      all += source;
      expect(source, file).not.toMatch(/ARGV\[\s*\d/);
      expect(source, file).not.toMatch(/\bh\[\d/);
      expect(source, file).not.toMatch(/\bARG\./);
    }
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.lua'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      all += source;
      expect(source, file).not.toMatch(/ARGV\[\s*\d/);
      expect(source, file).not.toMatch(/\bh\[\d/); // no hand-counted HMGET positions either
      const layout = SCRIPT_LAYOUTS[file.replace('.lua', '') as keyof typeof SCRIPT_LAYOUTS];
      expect(layout, `${file} has a layout`).toBeDefined();
      const read = new Set([...source.matchAll(/ARG\.(\w+)/g)].map((m) => m[1]));
      expect([...read].sort(), file).toEqual([...layout.args].sort()); // reads every argument, and nothing else
    }
    for (const m of all.matchAll(/\bcfg\.(\w+)/g)) expect([...BUCKET_FIELDS, 'span', 'err'], `cfg.${m[1]}`).toContain(m[1]);
    for (const f of STATE_FIELDS) expect(all, f).toContain(`b.${f}`);
  });

  it("bounds a bucket's keys: one log entry per granule however many admissions", async () => {
    const client = new Redis(local.url);
    let t = 1_700_000_000_000;
    const store = new RedisStore({ client, prefix: 'p5', clock: () => t });
    const big: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 1e9, windowMs: 30_000, marginMs: 250, burst: 0, refillPerMs: 0 };
    for (let i = 0; i < 3000; i++) {
      await store.acquire({ charges: [{ bucket: big, weight: 1 }], share: 1, count: 4 });
      t += 5; // 12000 admissions over 15 s
    }
    const entries = await client.llen('p5:{acct}:uid:acct:Spot:log');
    expect(entries).toBeLessThanOrEqual(Math.ceil(15_000 / 25) + 1); // granule 25 ms for a 30 s window
    expect((await store.inspect([big]))[0]!.used).toBe(12_000);
    client.disconnect();
  });

  it('absorbs weight sent during an outage without touching the pacing tokens', async () => {
    const client = new Redis(local.url);
    const t = 1_700_000_000_000;
    const store = new RedisStore({ client, prefix: 'p6', clock: () => t });
    const paced: BucketConfig = { group: 'acct', id: 'uid:acct:Spot', limit: 100, windowMs: 1000, marginMs: 0, burst: 10, refillPerMs: 0.001 };
    await store.acquire({ charges: [{ bucket: paced, weight: 2 }], share: 1 });
    await store.absorb({ ...paced, burst: 2 }, 5); // a local share's (scaled) config, as the ResilientStore sends it
    const [state] = await store.inspect([paced]);
    expect(state).toMatchObject({ used: 7, tokens: 8 });
    client.disconnect();
  });

  it('uses Redis TIME by default, so processes with skewed clocks agree', async () => {
    const client = new Redis(local.url);
    const store = new RedisStore({ client, prefix: 'p3' });
    const [sec, usec] = await client.time();
    const r = await store.acquire({ charges: [{ bucket: b(), weight: 1 }], share: 1 });
    expect(Math.abs(r.now - (Number(sec) * 1000 + Math.floor(Number(usec) / 1000)))).toBeLessThan(1000);
    client.disconnect();
  });

  it('reads a senders field an older version wrote as text as no senders, and writes it back as MessagePack', async () => {
    const client = new Redis(local.url);
    const store = new RedisStore({ client, prefix: 'p7', clock: () => 1_700_000_000_000 });
    const bucket = b();
    const [hash] = bucketKeys('p7', bucket);
    await client.hset(hash, 'senders', 'pold|1|1700000000000|5|0|0|0|0|0|0|0|0|0|0');
    const r = await store.acquire({ charges: [{ bucket, weight: 1 }], share: 1, tier: 1, sender: { id: 'pnew', weight: 1 } });
    expect(r.admitted).toBe(true);
    const stored = await client.hgetBuffer(hash, 'senders');
    expect(stored![0]).toBe(0x91); // a MessagePack array of one sender: the old text is gone
    expect(stored!.includes(Buffer.from('pold'))).toBe(false);
    client.disconnect();
  });

  it('keeps the log in time order when the clock steps back: the earlier admission merges into the newest entry', async () => {
    const client = new Redis(local.url);
    let t = 1_700_000_000_000;
    const store = new RedisStore({ client, prefix: 'p8', clock: () => t });
    const bucket = { ...b(), windowMs: 30_000 };
    const [, log] = bucketKeys('p8', bucket);
    await store.acquire({ charges: [{ bucket, weight: 1 }], share: 1 });
    t -= 5_000; // Redis TIME stepped back (NTP), or a test clock
    await store.acquire({ charges: [{ bucket, weight: 2 }], share: 1 });
    expect(await client.lrange(log, 0, -1)).toEqual(['1700000000000:3']);
    client.disconnect();
  });

  it('maps a refused argument to a typed StoreError and validates options', async () => {
    const client = new Redis(local.url);
    const store = new RedisStore({ client, prefix: 'p4' });
    const err = await store.acquire({ charges: [{ bucket: { ...b(), windowMs: 0 }, weight: 1 }], share: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.message).toContain('KS_BAD_ARG:window');
    expect(() => new RedisStore({ client, prefix: 'a{b}' })).toThrow(InvalidArgumentError);
    expect(() => new RedisStore({ client: {} as never })).toThrow(InvalidArgumentError);
    client.disconnect();
  });
});
