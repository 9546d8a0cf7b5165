// docker-compose.yml: Redis, two demo bots in Redis mode with metrics, and Prometheus scraping them.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

interface Compose {
  services: Record<string, { image?: string; command?: string[]; volumes?: string[] }>;
}

/** `docker compose` (the v2 plugin), when this machine has it. */
async function composeAvailable(): Promise<boolean> {
  try {
    await promisify(execFile)('docker', ['compose', 'version'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
const hasCompose = await composeAvailable();

describe('docker-compose.yml', () => {
  it('parses, runs two demo bots on one Redis prefix with metrics, and Prometheus scrapes both', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
    expect(Object.keys(compose.services).sort()).toEqual(['bot-a', 'bot-b', 'prometheus', 'redis']);
    for (const bot of ['bot-a', 'bot-b']) {
      const command = compose.services[bot]!.command!;
      expect(command.slice(0, 3)).toEqual(['node', 'dist/cli/main.js', 'demo']);
      expect(command.join(' ')).toContain('--redis redis://redis:6379 --prefix ks-compose');
      expect(command.join(' ')).toContain('--metrics 9464');
    }
    const prometheus = parse(read('docker/prometheus.yml')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(prometheus.scrape_configs[0]!.static_configs[0]!.targets).toEqual(['bot-a:9464', 'bot-b:9464']);
    expect(compose.services.prometheus!.volumes).toContain('./docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });

  it.skipIf(!hasCompose)('is valid for docker compose (`docker compose config`; skipped where the docker compose plugin is absent)', async () => {
    const { stdout } = await promisify(execFile)('docker', ['compose', 'config', '--quiet'], { cwd: root, timeout: 30_000 });
    expect(stdout).toBe('');
  });
});
