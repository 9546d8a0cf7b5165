// What a new user gets from `npm pack`: the tarball is built by prepack, ships dist (no dead source maps),
// installs into an empty project, and every example of examples/ (the README quick start among them) runs from it
// with plain node.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EXAMPLE_OUTPUT, printed, runExamples } from './fixtures/exampleOutput.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ks-package-'));
const app = join(work, 'app');

interface PackedFile {
  readonly path: string;
}
let files: string[] = [];

const node = (file: string, env: Record<string, string> = {}) => run(process.execPath, [file], { cwd: app, timeout: 20_000, env: { ...process.env, ...env } });

beforeAll(async () => {
  // prepack builds dist/: no build step before `npm pack`, as in a fresh clone
  const { stdout } = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: root, timeout: 120_000, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as { filename: string; files: PackedFile[] }[];
  files = packed!.files.map((f) => f.path);
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ks-package-test', private: true, type: 'module' }));
  // ioredis and prom-client are optional peers: the user installs them next to the package to use Redis, metrics
  await run(
    'npm',
    ['install', join(work, packed!.filename), 'ioredis@6', 'prom-client@15', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    {
      cwd: app,
      timeout: 120_000,
    },
  );
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the npm tarball', () => {
  it('ships the built package, its licence, the docs and examples the README links, and no source maps and no loose .lua file', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/simulator/index.js',
        'dist/cli/main.js',
        'dist/cli/demo/botProcess.js',
      ]),
    );
    expect(files).toEqual(expect.arrayContaining(['dist/store/redis/luaSources.generated.js', 'dist/ws/redis/luaSources.generated.js']));
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.lua'))).toEqual([]);
    // besides dist: the docs the README links (Markdown, pictures, the Grafana dashboard) and the examples, nothing else
    const extra = files.filter((f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json'].includes(f));
    expect(extra.filter((f) => !/^docs\/[\w.-]+\.(md|svg)$|^docs\/grafana\/[\w.-]+\.json$|^examples\/[\w.-]+\.mjs$/.test(f))).toEqual([]);
    expect(extra).toEqual(expect.arrayContaining(['docs/guarantees.md', 'docs/how-it-works.svg', 'examples/quickstart.mjs']));
  });

  it('declares its licence, repository, Node engine, and ioredis as an optional peer only', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/kucoin-scheduler/package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository.url).toContain('github.com/kucoin-scheduler/kucoin-scheduler');
    expect(pkg.engines.node).toBe('>=20.0.0');
    expect(pkg.dependencies.ioredis).toBeUndefined();
    expect(pkg.peerDependenciesMeta.ioredis.optional).toBe(true);
    expect(pkg.peerDependenciesMeta['prom-client'].optional).toBe(true);
    expect(Object.keys(pkg.dependencies)).toEqual(['undici']);
  });

  it('inlines every Lua script of src/ into the JavaScript, text unchanged (bundlers need no .lua file)', async () => {
    const folders = [
      ...new Set(
        readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile() && e.name.endsWith('.lua'))
          .map((e) => relative(join(root, 'src'), e.parentPath)),
      ),
    ];
    expect(folders).toEqual(expect.arrayContaining(['store/redis', 'ws/redis']));
    for (const folder of folders) {
      const { LUA_SOURCES } = (await import(join(app, 'node_modules/kucoin-scheduler/dist', folder, 'luaSources.generated.js'))) as {
        LUA_SOURCES: Record<string, string>;
      };
      const mine = readdirSync(join(root, 'src', folder)).filter((f) => f.endsWith('.lua'));
      expect(Object.keys(LUA_SOURCES).sort()).toEqual(mine.map((f) => f.slice(0, -4)).sort());
      for (const f of mine) expect(LUA_SOURCES[f.slice(0, -4)]).toBe(readFileSync(join(root, 'src', folder, f), 'utf8'));
    }
  });

  it('runs every example of examples/ from the installed package, as written', async () => {
    // the SDKs the examples drive are the user's own dependencies: linked from the repository's instead of downloaded
    for (const dep of ['ccxt', 'kucoin-universal-sdk', 'kucoin-node-sdk', 'ws']) symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep));
    cpSync(join(root, 'examples'), join(app, 'examples'), { recursive: true });
    const runs = runExamples(app, { REDIS_URL: inject('redisUrl') });
    for (const [file, expected] of Object.entries(EXAMPLE_OUTPUT)) {
      const { stdout, stderr } = await runs.get(file)!;
      expect([file, ...printed(stdout)]).toEqual([file, expect.stringMatching(expected)]);
      expect(stderr).toBe('');
    }
  }, 60_000);

  it('runs a RedisStore from the installed package (its Lua scripts are found) and the simulator entry point', async () => {
    writeFileSync(
      join(app, 'redis.mjs'),
      `import { Redis } from 'ioredis';
import { createScheduler, RedisStore } from 'kucoin-scheduler';
import { startGatewaySimulator } from 'kucoin-scheduler/simulator';
const client = new Redis(process.env.REDIS_URL);
const scheduler = createScheduler({ uid: 'pkg', store: new RedisStore({ client, prefix: process.env.PREFIX }) });
await scheduler.schedule({ pool: 'spot', weight: 3 }, async () => 'ok');
const spot = (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:pkg:Spot');
const sim = await startGatewaySimulator({ accounts: [] });
console.log(\`used \${spot.used} simulator \${typeof sim.urls.spot}\`);
await sim.close();
await scheduler.close();
client.disconnect();
`,
    );
    const { stdout } = await node('redis.mjs', { REDIS_URL: inject('redisUrl'), PREFIX: `ks-test-${randomUUID()}` });
    expect(stdout).toBe('used 3 simulator string\n');
  });

  it('installs the kucoin-scheduler command: --help, status against Redis, and the demo with 2 bot processes', async () => {
    const bin = join(app, 'node_modules/.bin/kucoin-scheduler');
    const help = await run(bin, ['--help'], { cwd: app, timeout: 20_000 });
    expect(help.stdout).toContain('Usage: kucoin-scheduler <command>');
    const status = await run(bin, ['status', '--redis', inject('redisUrl'), '--prefix', `ks-test-${randomUUID()}`, '--uid', 'pkg', '--json'], {
      cwd: app,
      timeout: 20_000,
    });
    expect(JSON.parse(status.stdout).buckets.length).toBeGreaterThan(8);
    const demo = await run(bin, ['demo', '--help'], { cwd: app, timeout: 20_000 });
    expect(demo.stdout).toContain('--no-scheduler');
    // the compiled demo forks its compiled bot processes (no tsx in the user's project)
    const fleet = await run(bin, ['demo', '--seconds', '5', '--processes', '2', '--redis', inject('redisUrl')], { cwd: app, timeout: 40_000 });
    expect(fleet.stdout).toMatch(/^kucoin-scheduler demo: 2 bot processes, Redis at /m);
    expect(Number(/executed (\d+)/.exec(fleet.stdout)?.[1])).toBeGreaterThan(20);
    expect(fleet.stdout).toMatch(/^ {2}Redis prefix ks-demo-[0-9a-f]{8}, uid demo-uid, live processes at most 2$/m); // both beat
    expect(fleet.stderr).toBe('');
  }, 60_000);

  it('serves Prometheus metrics from kucoin-scheduler/metrics; only that entry point loads prom-client', async () => {
    writeFileSync(
      join(app, 'metrics.mjs'),
      `import { Registry } from 'prom-client';
import { createScheduler } from 'kucoin-scheduler';
import { collectMetrics } from 'kucoin-scheduler/metrics';
const scheduler = createScheduler({ uid: 'pkg' });
const registry = new Registry();
const stop = collectMetrics(scheduler, { registry });
await scheduler.schedule({ pool: 'spot', weight: 4 }, async () => 'ok');
const text = await registry.metrics();
console.log(text.split('\\n').find((l) => l.startsWith('kucoin_scheduler_bucket_used_weight{bucket="uid:pkg:Spot"}')));
stop();
await scheduler.close();
`,
    );
    expect((await node('metrics.mjs')).stdout).toBe('kucoin_scheduler_bucket_used_weight{bucket="uid:pkg:Spot"} 4\n');
    const dist = join(app, 'node_modules/kucoin-scheduler/dist');
    const loaders = files.filter((f) => f.endsWith('.js') && readFileSync(join(dist, '..', f), 'utf8').includes("from 'prom-client'"));
    expect(loaders).toEqual(['dist/metrics/collectMetrics.js']);
  });

  it('is ESM; on Node >= 20.19 require() loads it too', async () => {
    writeFileSync(join(app, 'require.cjs'), `console.log(typeof require('kucoin-scheduler').createScheduler);`);
    const features = process.features as { require_module?: boolean };
    if (features.require_module) expect((await node('require.cjs')).stdout).toBe('function\n');
    else expect((await node('require.cjs').catch((e: { stderr: string }) => e)).stderr).toContain('ERR_REQUIRE_ESM');
  });
});
