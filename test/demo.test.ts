import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('the README demo runs on the embedded store and gets no 429000', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'demo/demo.ts', '--seconds', '3', '--window-ms', '1000', '--limit', '200'], { cwd: root, timeout: 30_000 });
  expect(stdout).toContain('with the scheduler');
  expect(stdout).toMatch(/429000 answers: 0\n/);
  const windows = [...stdout.matchAll(/weight arrived\s+(\d+) \/ 200/g)].map((m) => Number(m[1]));
  expect(windows.length).toBeGreaterThanOrEqual(2);
  for (const w of windows) expect(w).toBeLessThanOrEqual(200);
}, 40_000);
