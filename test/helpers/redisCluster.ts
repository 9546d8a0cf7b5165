import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, spawnRedisServer, type LocalRedis } from './redisServer.js';

const run = promisify(execFile);

export interface LocalCluster {
  readonly nodes: readonly LocalRedis[];
  readonly startupNodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** A port whose cluster-bus twin (port + 10000) is free as well. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + 10_000 > 65_535) continue;
    const bus = await new Promise<boolean>((resolve) => {
      import('node:net').then(({ createServer }) => {
        const s = createServer();
        s.once('error', () => resolve(false));
        s.listen(p + 10_000, '127.0.0.1', () => s.close(() => resolve(true)));
      });
    });
    if (bus) return p;
  }
}

/** Starts `masters` redis-server processes in cluster mode, with `replicas` replicas each, and joins them. */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<LocalCluster> {
  const nodes: LocalRedis[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await clusterPort();
      nodes.push(
        await spawnRedisServer(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
            '--cluster-replica-validity-factor',
            '0',
          ],
          port,
        ),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (const n of nodes) {
      const c = new Redis(n.url);
      try {
        while (!(await c.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok');
          await new Promise((r) => setTimeout(r, 100));
        }
        // a replica that has not synced once cannot take over: wait for every link
        for (;;) {
          const info = await c.info('replication');
          if (!info.includes('role:slave') || info.includes('master_link_status:up')) break;
          if (Date.now() > deadline) throw new Error('a replica did not sync with its master');
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        c.disconnect();
      }
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))),
  };
}
