import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const worker = fileURLToPath(new URL('./fixtures/shutdownWorker.ts', import.meta.url));

describe('clean shutdown: a process that closes what it opened exits by itself', () => {
  for (const args of [['--close-store'], []]) {
    it(`scheduler.close()${args.length ? ', store.close()' : ''}, redis.quit(): exits without being killed`, async () => {
      const started = Date.now();
      // no explicit exit in the worker: if a timer or socket were left behind, the 15 s timeout would kill it
      const { stdout } = await run(process.execPath, ['--import', 'tsx', worker, ...args], {
        env: { ...process.env, REDIS_URL: inject('redisUrl') },
        timeout: 15_000,
      });
      expect(stdout).toBe('closed\n');
      console.log(`exited ${Date.now() - started} ms after start`);
    }, 20_000);
  }
});
