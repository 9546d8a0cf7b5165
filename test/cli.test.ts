// The `kucoin-scheduler` command, run as a real process (through tsx) against the suite's real Redis.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScheduler, RedisStore, type BucketState, type Scheduler } from '../src/index.js';
import type { FleetStatus } from '../src/cli/statusView.js';
import { testRedis } from './helpers/redisClient.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = ['--import', 'tsx', 'src/cli/main.ts'];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [...main, ...args], { cwd: root, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A user error is one message, never a stack trace. */
function expectNoStack(r: Run): void {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('Error:');
}

describe('command line', () => {
  it('explains itself: kucoin-scheduler --help, help <command>, and --help on every command (exit 0)', async () => {
    const [top, helpStatus, status, resume, reset, demo] = await Promise.all([
      cli('--help'),
      cli('help', 'status'),
      cli('status', '--help'),
      cli('resume', '-h'),
      cli('reset', '--help'),
      cli('demo', '--help'),
    ]);
    expect(top.code).toBe(0);
    for (const c of ['status', 'resume', 'reset', 'demo']) expect(top.stdout).toContain(c);
    expect(helpStatus.stdout).toBe(status.stdout);
    for (const r of [status, resume, reset, demo]) expect(r.code).toBe(0);
    for (const flag of ['--redis', '--prefix', '--uid', '--ip', '--json', '--watch']) expect(status.stdout).toContain(flag);
    for (const flag of ['--target', '--endpoint', 'cloudflare', 'system']) expect(resume.stdout).toContain(flag);
    expect(reset.stdout).toContain('--yes');
    for (const flag of ['--seconds', '--redis', '--processes', '--no-scheduler']) expect(demo.stdout).toContain(flag);
  });

  it('refuses a bad command line with one message and exit 2', async () => {
    const runs = await Promise.all([
      cli(),
      cli('stauts'),
      cli('status', '--bogus'),
      cli('status', '--uid', 'u'),
      cli('status', '--redis', 'bogus', '--uid', 'u'),
      cli('status', '--redis', 'redis://127.0.0.1:6379', '--uid', 'u', '--vip', '13'),
      cli('status', '--redis', 'redis://127.0.0.1:6379'),
      cli('resume', '--redis', 'redis://127.0.0.1:6379', '--uid', 'u', '--target', 'spot', '--endpoint', 'GET /api/v1/accounts'),
      cli('reset', '--redis', 'redis://127.0.0.1:6379', '--uid', 'u'),
      cli('demo', '--seconds', 'soon'),
      cli('demo', '--redis', 'bogus'),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(2);
      expectNoStack(r);
    }
    const [none, typo, unknown, noRedis, badUrl, vip, noUid, both, noYes, seconds, demoUrl] = runs.map((r) => r.stderr);
    expect(none).toContain('Usage: kucoin-scheduler <command>');
    expect(typo).toContain('unknown command "stauts"');
    expect(unknown).toContain("Unknown option '--bogus'");
    expect(unknown).toContain('See: kucoin-scheduler status --help');
    expect(noRedis).toContain('status needs --redis');
    expect(badUrl).toContain('--redis expects a URL');
    expect(vip).toContain('--vip expects an integer in [0, 12], got "13"');
    expect(noUid).toContain('status needs --uid');
    expect(both).toContain('not both');
    expect(noYes).toContain('--yes');
    expect(seconds).toContain('--seconds expects a number');
    expect(demoUrl).toContain('--redis expects a URL');
  });

  it('says so in one line, exit 1, when Redis does not answer (and never shows the password)', async () => {
    const r = await cli('status', '--redis', 'redis://user:s3cret@127.0.0.1:1', '--uid', 'u');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kucoin-scheduler: Redis at 127\.0\.0\.1:1 did not answer: .*ECONNREFUSED/);
    expect(r.stderr).not.toContain('s3cret');
    expectNoStack(r);
  });
});

describe('against a deployment in Redis', () => {
  const { client, prefix } = testRedis();
  const url = inject('redisUrl');
  const account = ['--redis', url, '--prefix', prefix, '--uid', 'cli-uid'];
  let store: RedisStore;
  let bot: Scheduler;
  let pausedUntil = 0;

  beforeAll(async () => {
    // a bot process of the account: it spent weight, a 1015 paused its IP, and it beats as a live process
    store = new RedisStore({ client, prefix });
    bot = createScheduler({ uid: 'cli-uid', store });
    await bot.schedule({ pool: 'spot', weight: 7 }, async () => 'order');
    await bot.schedule({ endpoint: 'GET /api/v1/accounts' }, async () => 'balance');
    pausedUntil = Date.now() + 60_000;
    await bot.pause('cloudflare', pausedUntil);
    await store.heartbeat('cli-uid', 'bot-process-1', 60_000);
  });

  afterAll(async () => {
    await bot.close();
    await client.quit();
  });

  const bucket = (s: FleetStatus, suffix: string): BucketState => s.buckets.find((b) => b.id.endsWith(suffix))!;

  it('status --json: every bucket of the account as the fleet shares it, and the live processes', async () => {
    const r = await cli('status', ...account, '--json');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as FleetStatus;
    expect(s).toMatchObject({ prefix, uid: 'cli-uid', ip: 'default', quotaGroup: 'cli-uid', processes: { count: 1, ids: ['bot-process-1'] } });
    expect(Math.abs(s.at - Date.now())).toBeLessThan(5_000); // Redis time
    expect(bucket(s, ':Spot')).toMatchObject({ used: 7, limit: 4000, effectiveLimit: 4000, factor: 1, pausedUntil: 0 });
    expect(bucket(s, ':Management')).toMatchObject({ used: 5 });
    expect(bucket(s, ':cloudflare').pausedUntil).toBeGreaterThanOrEqual(pausedUntil - 1);
    expect(s.buckets.map((b) => b.id)).toEqual(expect.arrayContaining(['uid:cli-uid:Futures', 'ip:default:Public', 'system']));
  });

  it('status: a table that fits 80 columns, idle buckets folded', async () => {
    const r = await cli('status', ...account);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toContain(`prefix ${prefix}`);
    expect(lines[1]).toContain('live processes 1');
    expect(r.stdout).toMatch(/^Spot +7 \/ 4000 +1\.00 /m);
    expect(r.stdout).toMatch(/^Management +5 \/ 2000 /m);
    expect(r.stdout).toMatch(/^cloudflare \(IP\) .* [1-6]\d\.\d s /m);
    expect(r.stdout).toMatch(/^idle: Futures, .*system/m);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(79);
  });

  it('status --watch redraws until Ctrl-C, then exits 0', async () => {
    const child = spawn(process.execPath, [...main, 'status', ...account, '--watch', '--json', '--interval', '200'], { cwd: root });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await expect.poll(() => out.split('\n').filter(Boolean).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    for (const line of out.trim().split('\n')) expect((JSON.parse(line) as FleetStatus).uid).toBe('cli-uid');
  });

  it('resume --target cloudflare clears the pause for every process; a target it does not know is exit 2', async () => {
    const bad = await cli('resume', ...account, '--target', 'nowhere');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('nowhere');
    expectNoStack(bad);
    const r = await cli('resume', ...account, '--target', 'cloudflare');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`resumed cloudflare of uid cli-uid (prefix ${prefix}, ip default)\n`);
    const cf = (await bot.snapshot()).buckets.find((b) => b.id === 'ip:default:cloudflare')!;
    expect(cf.pausedUntil).toBe(0);
    expect((await bot.snapshot()).buckets.find((b) => b.id === 'uid:cli-uid:Spot')!.used).toBe(7); // nothing else touched
  });

  it("reset --yes deletes the quota group's keys, and only those", async () => {
    const other = `${prefix}:{other-uid}:keep`;
    await client.set(other, '1');
    const r = await cli('reset', ...account, '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deleted [1-9]\d* key\(s\) of quota group cli-uid/);
    expect(await client.keys(`${prefix}:{cli-uid}*`)).toEqual([]);
    expect(await client.get(other)).toBe('1');
    const s = JSON.parse((await cli('status', ...account, '--json')).stdout) as FleetStatus;
    expect(bucket(s, ':Spot').used).toBe(0);
    expect(s.processes.count).toBe(0);
    await client.del(other);
  });
});
