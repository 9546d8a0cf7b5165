// Section 3: total admitted per second as processes grow, and Redis CPU time per acquisition, on a private
// redis-server so its CPU counters see only this load.
import { fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export interface ScalingRow {
  readonly processes: number;
  readonly admittedPerSecond: number;
  readonly redisCpuUsPerAcquisition: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

export async function runScaling(counts: readonly number[], durationMs: number, progress: (msg: string) => void): Promise<ScalingRow[]> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { retryStrategy: (n) => (n > 50 ? null : 100) });
  admin.on('error', () => undefined); // refused until the server listens
  await admin.ping();
  const rows: ScalingRow[] = [];
  const file = fileURLToPath(new URL('./scalingWorker.ts', import.meta.url));
  try {
    for (const n of counts) {
      progress(`scaling: ${n} process(es)`);
      const prefix = `bench-scale-${randomUUID()}`;
      const children = Array.from({ length: n }, () =>
        fork(file, [], {
          execArgv: ['--import', 'tsx'],
          env: { ...process.env, KS_WORKER: JSON.stringify({ redisUrl: url, prefix }) },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        }),
      );
      const message = (c: (typeof children)[number], type: string) =>
        new Promise<{ admitted?: number }>((resolve) => c.on('message', (m: { type: string; admitted?: number }) => m.type === type && resolve(m)));
      await Promise.all(children.map((c) => message(c, 'ready')));
      const done = children.map((c) => message(c, 'done'));
      const cpu0 = await redisCpuSeconds(admin);
      const t0 = performance.now();
      for (const c of children) c.send({ type: 'go', durationMs });
      const admitted = (await Promise.all(done)).reduce((x, m) => x + (m.admitted ?? 0), 0);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = (await redisCpuSeconds(admin)) - cpu0;
      rows.push({ processes: n, admittedPerSecond: admitted / seconds, redisCpuUsPerAcquisition: (cpu * 1e6) / Math.max(1, admitted) });
    }
  } finally {
    admin.disconnect();
    server.kill('SIGKILL');
  }
  return rows;
}
