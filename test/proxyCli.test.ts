// `kucoin-scheduler proxy`, run as a real process (through tsx) against the suite's Redis and the simulator:
// JSON log lines, `status` shows its traffic, SIGTERM drains and exits 0.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { apiKeyHash } from '../src/index.js';
import type { FleetStatus } from '../src/cli/statusView.js';
import { startGatewaySimulator, type GatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import { KEY, send, UID } from './helpers/proxySetup.js';
import { startProxyProcess } from './helpers/proxyProcess.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = ['--import', 'tsx', 'src/cli/main.ts'];

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [...main, ...args], { cwd: root, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let sim: GatewaySimulator | undefined;
let dir: string | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('kucoin-scheduler proxy', () => {
  it('explains itself, and refuses a bad command line with one message and exit 2', async () => {
    const [help, listen, account, port] = await Promise.all([
      cli('proxy', '--help'),
      cli('proxy', '--listen', 'bogus'),
      cli('proxy', '--account', 'not-a-hash=u'),
      cli('proxy', '--spot-port', '70000'),
    ]);
    expect(help.code).toBe(0);
    for (const flag of ['--redis', '--listen', '--account', '--config', '--spot-port', '--drain', 'sha256sum']) expect(help.stdout).toContain(flag);
    for (const r of [listen, account, port]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    expect(account.stderr).toContain('never the key');
    expect((await cli('--help')).stdout).toContain('proxy');
  });

  it('serves through Redis, logs one JSON line per refusal and signal (no secret), shows its traffic in `status`, and drains on SIGTERM (exit 0)', async () => {
    sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: UID }] });
    dir = mkdtempSync(join(tmpdir(), 'ks-proxy-cli-'));
    const config = join(dir, 'proxy.json');
    writeFileSync(config, JSON.stringify({ upstreams: sim.urls }));
    const prefix = `ks-test-${randomUUID()}`;
    const p = startProxyProcess([
      '--redis',
      inject('redisUrl'),
      '--prefix',
      prefix,
      '--listen',
      '127.0.0.1:0',
      '--account',
      `${apiKeyHash(KEY.key)}=${UID}`,
      '--config',
      config,
    ]);
    const url = await p.url;
    expect((await send(url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY })).json?.code).toBe('200000');
    expect((await send(url, 'GET', '/spot/api/v1/hf/orders/active?symbol=BTC-USDT', { credentials: KEY, signedAt: Date.now() - 6_000 })).json?.code).toBe(
      '429000',
    );
    await new Promise((r) => setTimeout(r, 2_300)); // the status record is rewritten every 2 s
    const status = await cli('status', '--redis', inject('redisUrl'), '--prefix', prefix, '--uid', UID, '--json');
    expect(status.code, status.stderr).toBe(0);
    const fleet = JSON.parse(status.stdout) as FleetStatus;
    expect(fleet.proxies).toHaveLength(1);
    expect(fleet.proxies![0]!.url).toBe(url);
    expect(fleet.proxies![0]!.stats.forwarded).toBe(1);
    expect(fleet.proxies![0]!.stats.refused).toEqual({ '429000': 1 });
    const human = await cli('status', '--redis', inject('redisUrl'), '--prefix', prefix, '--uid', UID);
    expect(human.stdout).toMatch(/proxies 1\n.*forwarded 1 {2}answered locally 429000 x1/);

    const exited = new Promise<number | null>((resolve) => p.child.once('exit', (code) => resolve(code)));
    p.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = p.lines();
    expect(lines.map((l) => l.event)).toEqual(['listening', 'refused', 'shutdown', 'draining', 'closed']);
    expect(lines[2]).toMatchObject({ signal: 'SIGTERM', drainMs: 10_000 });
    expect(lines[1]).toMatchObject({ code: '429000', status: 429, uid: UID, bot: expect.stringMatching(/^key:[0-9a-f]{12}$/) });
    const text = JSON.stringify(lines);
    for (const secret of [KEY.key, KEY.secret, KEY.passphrase]) expect(text).not.toContain(secret);
    const after = JSON.parse((await cli('status', '--redis', inject('redisUrl'), '--prefix', prefix, '--uid', UID, '--json')).stdout) as FleetStatus;
    expect(after.proxies).toEqual([]); // its record is removed on close
  });
});
