// The bench and soak scripts behave like tools: --help runs nothing, bad flags are one line and exit 2,
// nothing is written unless asked, and soak says how far it is.
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

async function script(file: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Modification times of every file bench --write would touch. */
function written(): Record<string, number> {
  const files = ['README.md', 'docs/benchmarks.md', 'docs/benchmarks.svg', ...readdirSync(join(root, 'bench/results')).map((f) => `bench/results/${f}`)];
  return Object.fromEntries(files.map((f) => [f, statSync(join(root, f)).mtimeMs]));
}

it('bench --help explains the flags and exits 0 at once, measuring and writing nothing', async () => {
  const before = written();
  const started = Date.now();
  const r = await script('bench/run.ts', '--help');
  expect(r.code).toBe(0);
  for (const flag of ['--redis', '--quick', '--write', '--help']) expect(r.stdout).toContain(flag);
  expect(r.stderr).not.toContain('overhead'); // no progress line: nothing started
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(written()).toEqual(before);
});

it('bench, render and soak refuse bad flags with one line and exit 2', async () => {
  const runs = await Promise.all([
    script('bench/run.ts', '--bogus'),
    script('bench/run.ts', '--redis', 'bogus'),
    script('bench/render.ts', '--quick'),
    script('bench/soak.ts', '--minutes', 'x'),
    script('bench/soak.ts', '--processes', '0'),
  ]);
  for (const r of runs) {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }
  expect(runs[0]!.stderr).toContain("bench: Unknown option '--bogus'\nSee: npm run bench -- --help");
  expect(runs[1]!.stderr).toContain('--redis expects a URL');
  expect(runs[3]!.stderr).toContain('--minutes expects a number');
  expect(runs[4]!.stderr).toContain('--processes expects an integer in [1, 64], got "0"');
});

it('soak --help exits 0; a short soak reports progress while it runs, then the checks', async () => {
  const help = await script('bench/soak.ts', '--help');
  expect(help.code).toBe(0);
  for (const flag of ['--minutes', '--processes', '--redis']) expect(help.stdout).toContain(flag);
  const before = written();
  const r = await script('bench/soak.ts', '--minutes', '0.12', '--processes', '2', '--redis', inject('redisUrl'));
  expect(r.code, r.stderr + r.stdout).toBe(0);
  expect(r.stderr).toMatch(/^soak: 2 processes for 0:07 against /m);
  expect(r.stderr).toMatch(/^soak: 0:0\d of 0:07 \(\d+ %\), 2 processes/m);
  expect(r.stdout).toMatch(/over the limit 0, 429000 0, idle seconds 0/);
  expect(r.stdout).toMatch(/^process 2: sent \d+/m);
  expect(written()).toEqual(before);
}, 60_000);
