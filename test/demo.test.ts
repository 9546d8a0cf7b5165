import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { expect, inject, it } from 'vitest';
import { LiveScreen } from '../src/cli/demo/liveScreen.js';
import { renderLive, renderSummary, type ViewState } from '../src/cli/demo/liveView.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'demo/demo.ts', ...args], { cwd: root, timeout: 60_000 });

it('the README demo runs on the embedded store, meets no rate-limit signal, says what binds, and ends by itself', async () => {
  const { stdout, stderr } = await demo('--seconds', '4');
  expect(stdout).toContain('MemoryStore');
  expect(stdout).toMatch(/429000 0 {2}Cloudflare 1015 0 \(IP blocks: 0\)/);
  expect(stdout).toMatch(/critical +\d+ done/);
  const executed = Number(/executed (\d+)/.exec(stdout)?.[1]);
  expect(executed).toBeGreaterThan(100);
  // its own setting is labelled, and it names the limit that binds (the IP's, not the Spot pool's)
  expect(stdout).toContain('demo setting: agingMs 5 s (library default 60 s)');
  expect(stdout).toMatch(/^binds now +Cloudflare per-IP limit \(500 requests \/ 10 s\)$/m);
  expect(stdout).toMatch(/^what bound the run: Cloudflare per-IP limit .*, \d+ % of the$/m);
  expect(stdout).toMatch(/^result: no request refused by the gateway/m);
  expect(stderr).toBe('');
}, 60_000);

it('adds no abort listener per request or pause (no MaxListenersExceededWarning), with or without the scheduler', async () => {
  const [without, withScheduler] = await Promise.all([demo('--seconds', '3', '--no-scheduler'), demo('--seconds', '3')]);
  expect(without.stdout).toContain('result: without the scheduler the gateway refused');
  expect(without.stderr).not.toContain('MaxListenersExceededWarning');
  expect(withScheduler.stderr).not.toContain('MaxListenersExceededWarning');
}, 60_000);

it('explains every flag, and refuses bad ones with a clear message (no stack trace)', async () => {
  const { stdout } = await demo('--help');
  for (const flag of ['--seconds', '--redis', '--processes', '--no-scheduler', '--help', 'agingMs']) expect(stdout).toContain(flag);
  const bad = await demo('--processes', '3').catch((e) => e);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--redis');
  const unknown = await demo('--bogus').catch((e) => e);
  expect(unknown.code).toBe(2);
  const bogus = await demo('--redis', 'bogus').catch((e) => e);
  expect(bogus.code).toBe(2);
  expect(bogus.stderr).toBe(
    'kucoin-scheduler: --redis expects a URL such as redis://127.0.0.1:6379 or rediss://host:6380/0 (AUTH from its user and password), but the value given is not a URL (not shown: it may hold a password)\nSee: kucoin-scheduler demo --help\n',
  );
  const down = await demo('--redis', 'redis://127.0.0.1:1').catch((e) => e);
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/^kucoin-scheduler: Redis at 127\.0\.0\.1:1 did not answer: .*\n$/);
}, 60_000);

/** A view with long, busy values: the worst case for the width. */
function busyView(): ViewState {
  const now = Date.now();
  const arrivals = Array.from({ length: 600 }, (_, i) => ({ at: now - i * 10, pool: 'Spot', weight: 2, outcome: 'ok', client: 'p1' }));
  return {
    title: 'kucoin-scheduler demo: 32 bot process(es), RedisStore at very-long-redis-hostname.internal.example.com:6379',
    note: 'demo setting: agingMs 5 s (library default 60 s)',
    elapsedMs: 123_456,
    durationMs: 3_600_000,
    stats: {
      requests: 123456,
      arrivals,
      outcomes: { ok: 99999, '429000': 12345, '1015': 23456, '200002': 34567, '429001': 45678, '429002': 56789 },
      windows: { 'uid:demo-uid:Spot': [{ start: now - 1000, end: now + 29_000, weight: 39999 }] },
      blocks: [{ scope: 'ip' }],
    } as unknown as ViewState['stats'],
    pools: [
      { label: 'Spot', key: 'uid:demo-uid:Spot', limit: 40000, windowMs: 30_000 },
      { label: 'Management', key: 'uid:demo-uid:Management', limit: 20000, windowMs: 30_000 },
    ],
    queued: { critical: 12345, high: 123456, normal: 1234567, low: 12345678 },
    records: [{ priority: 'low', waitMs: 123_456_789, outcome: 'ok' }],
    waits: { recent: new Map([['uid:demo-uid:ep:POST /api/v1/some/very/long/endpoint/path/that/goes/on', 5]]), total: new Map([['ip:default:cloudflare', 9]]) },
    cloudflare: { limit: 500, windowMs: 10_000 },
  };
}

it('fits the terminal: no line of the live view or the summary is wider than 79 columns at 80, or 59 at 60', () => {
  for (const columns of [80, 60]) {
    const lines = [...renderLive(busyView(), columns - 1), ...renderSummary(busyView(), Date.now() - 123_456, columns - 1)];
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns - 1);
  }
});

it('keeps the timer in the header at 80 columns, however long the title; in Redis mode shows the prefix and the live processes', () => {
  const view = { ...busyView(), redis: { prefix: 'ks-demo-1a2b3c4d', uid: 'demo-uid', live: 2, mostLive: 2 } };
  const lines = renderLive(view, 79);
  expect(lines[0]).toMatch(/^kucoin-scheduler demo: 32 bot process.*…   123\.5 \/ 3600 s$/);
  expect(lines[0]!.length).toBeLessThanOrEqual(79);
  expect(lines[2]).toBe('prefix ks-demo-1a2b3c4d  uid demo-uid  live processes 2');
  expect(renderSummary(view, Date.now() - 1000, 79)).toContain('  Redis prefix ks-demo-1a2b3c4d, uid demo-uid, live processes at most 2');
});

it('the 2-process Redis demo prints its prefix, and status pointed at it counts 2 live processes', async () => {
  const redis = inject('redisUrl');
  // long enough for two bot processes to start on a loaded machine; Ctrl-C ends it once status has been asked
  const run = demo('--seconds', '60', '--processes', '2', '--redis', redis);
  const child = run.child;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await expect.poll(() => /^prefix (ks-demo-[0-9a-f]{8})  uid demo-uid  live processes 2$/m.exec(out), { timeout: 45_000, interval: 200 }).toBeTruthy();
  const prefix = /^prefix (ks-demo-[0-9a-f]{8})/m.exec(out)![1]!;
  const status = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'status', '--redis', redis, '--prefix', prefix, '--uid', 'demo-uid'],
    {
      cwd: root,
      timeout: 30_000,
    },
  );
  expect(status.stdout).toMatch(/live processes 2/);
  child.kill('SIGINT');
  const { stdout, stderr } = await run;
  expect(stdout).toMatch(/^kucoin-scheduler demo: 2 bot processes, Redis at 127\.0\.0\.1:\d+ +\d/m);
  expect(stdout).toContain(`  Redis prefix ${prefix}, uid demo-uid, live processes at most 2`);
  expect(stderr).toBe('');
  const client = new Redis(redis);
  for await (const keys of client.scanStream({ match: `${prefix}*` }) as AsyncIterable<string[]>) if (keys.length) await client.del(...keys);
  await client.quit();
}, 90_000);

it('redraws in place on a terminal: back up over exactly the previous frame, no stale line left', () => {
  const writes: string[] = [];
  const tty = { isTTY: true, columns: 80, write: (s: string) => writes.push(s) };
  const screen = new LiveScreen(tty);
  screen.draw(['a title that is far too long for eighty columns '.repeat(3), 'two']);
  screen.draw(['one', 'two', 'three']);
  screen.draw(['x']);
  expect(writes[0]!.startsWith('\x1b[')).toBe(false);
  expect(writes[1]!.startsWith('\x1b[2A\r\x1b[J')).toBe(true); // the first frame had 2 rows (its long line cut)
  expect(writes[2]!.startsWith('\x1b[3A\r\x1b[J')).toBe(true);
  for (const w of writes) for (const row of w.replace(/\x1b\[\d+A\r\x1b\[J/, '').split('\n')) expect(row.length).toBeLessThanOrEqual(79);
  tty.columns = 40; // resized: the next frame is cut to the new width
  screen.draw(['y'.repeat(100)]);
  expect(writes[3]!.split('\n')[0]!.replace(/^\x1b\[\d+A\r\x1b\[J/, '').length).toBe(39);
});
