import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'demo/demo.ts', ...args], { cwd: root, timeout: 60_000 });

it('the README demo runs on the embedded store, meets no rate-limit signal, and ends by itself', async () => {
  const { stdout } = await demo('--seconds', '4');
  expect(stdout).toContain('MemoryStore');
  expect(stdout).toMatch(/429000 0 {3}Cloudflare 1015 0 \(IP blocks: 0\)/);
  expect(stdout).toMatch(/critical +\d+ done/);
  const executed = Number(/executed (\d+)/.exec(stdout)?.[1]);
  expect(executed).toBeGreaterThan(100);
}, 60_000);

it('explains every flag, and refuses bad ones with a clear message', async () => {
  const { stdout } = await demo('--help');
  for (const flag of ['--seconds', '--redis', '--processes', '--no-scheduler', '--help']) expect(stdout).toContain(flag);
  const bad = await demo('--processes', '3').catch((e) => e);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--redis');
  const unknown = await demo('--bogus').catch((e) => e);
  expect(unknown.code).toBe(2);
}, 60_000);
