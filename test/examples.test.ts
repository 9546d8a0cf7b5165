// Every file of examples/ runs with plain node as a user runs it, importing 'kucoin-scheduler' by name: the package
// is transpiled into a scratch copy of the repository (package.json's exports resolve the name to its dist/), so the
// suite never races `npm pack`'s rebuild of dist/ (test/package.test.ts runs them from the built tarball). The examples run two at a time, each against its own simulator.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { transpileSrc } from './helpers/transpileSrc.js';
import { EXAMPLE_OUTPUT, printed, runExamples, type ExampleRun } from './fixtures/exampleOutput.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'ks-examples-'));
let runs = new Map<string, Promise<ExampleRun>>();

beforeAll(async () => {
  cpSync(join(root, 'package.json'), join(copy, 'package.json'));
  cpSync(join(root, 'examples'), join(copy, 'examples'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  transpileSrc(root, join(copy, 'dist'));
  runs = runExamples(copy, { REDIS_URL: inject('redisUrl') });
}, 90_000);
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('examples/', () => {
  it('has a test for every example, and the quick start is at most 20 lines', () => {
    const files = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.mjs') && f !== 'simulator.mjs');
    expect(files.sort()).toEqual(Object.keys(EXAMPLE_OUTPUT).sort());
    expect(readFileSync(join(root, 'examples/quickstart.mjs'), 'utf8').trimEnd().split('\n').length).toBeLessThanOrEqual(20);
  });

  it.each(Object.entries(EXAMPLE_OUTPUT))('%s runs with plain node and exits cleanly', async (file, expected) => {
    const { stdout, stderr } = await runs.get(file)!;
    expect(printed(stdout)).toEqual([expect.stringMatching(expected)]);
    expect(stderr).toBe('');
  });
});

/** The fenced block after `<!-- readme-example: name -->` in the README. */
function readmeExample(name: string): string {
  const m = new RegExp(`<!-- readme-example: ${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\\n\`\`\``).exec(readFileSync(join(root, 'README.md'), 'utf8'));
  if (!m) throw new Error(`README has no example ${name}`);
  return m[1]!;
}

describe('the README', () => {
  it('shows examples/quickstart.mjs as it is', () => {
    expect(readmeExample('quickstart')).toBe(readFileSync(join(root, 'examples/quickstart.mjs'), 'utf8').trimEnd());
  });

  it('runs its Redis fleet snippet as printed (a random prefix for its own), and the process exits by itself', async () => {
    const prefix = `readme-${randomUUID()}`;
    const code = readmeExample('fleet');
    expect(code).toContain("prefix: 'my-deployment'");
    writeFileSync(join(copy, 'fleet.mjs'), code.replace("'my-deployment'", `'${prefix}'`));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['fleet.mjs'], {
      cwd: copy,
      timeout: 20_000,
      env: { ...process.env, REDIS_URL: inject('redisUrl') },
    });
    expect(stdout + stderr).toBe('');
    const redis = new Redis(inject('redisUrl'));
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0); // it did share through Redis
    await redis.del(...keys);
    await redis.quit();
  });
});
