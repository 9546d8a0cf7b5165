import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface LocalRedis {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a private redis-server (no persistence) on a free port; for tests that kill or reconfigure Redis. */
export async function spawnRedisServer(extraArgs: string[] = [], port?: number): Promise<LocalRedis> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ks-redis-'));
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
    stdio: 'ignore',
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `redis://127.0.0.1:${p}`;
  const deadline = Date.now() + 10_000;
  // up when it accepts TCP connections (a PING would need the password of a --requirepass server)
  for (;;) {
    const up = await Promise.race([
      spawnError,
      new Promise<boolean>((resolve) => {
        const sock = connect(p, '127.0.0.1');
        sock.once('connect', () => (sock.destroy(), resolve(true)));
        sock.once('error', () => resolve(false));
      }),
    ]).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new Error('redis-server is not installed (apt-get install redis-server)');
      throw err;
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${p} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: p,
    url,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
