// bench:proxy behaves like the other bench scripts: --help runs nothing, a bad flag is one line and exit 2.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

async function script(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/proxy.ts', ...args], { cwd: root, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

it('bench:proxy --help explains the parts and flags and runs nothing; bad flags exit 2 with one line', async () => {
  const [help, bogus, skip] = await Promise.all([script('--help'), script('--bogus'), script('--skip', 'everything')]);
  expect(help.code).toBe(0);
  for (const word of ['overhead', 'throughput', 'fleet', 'expired', '--redis', '--fleet-seconds', '--skip']) expect(help.stdout).toContain(word);
  expect(help.stderr).toBe('');
  for (const r of [bogus, skip]) {
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }
  expect(bogus.stderr).toContain("Unknown option '--bogus'");
  expect(skip.stderr).toContain('--skip expects overhead, throughput, fleet or expired');
});
