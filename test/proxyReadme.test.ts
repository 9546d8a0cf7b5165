// docs/proxy.md's snippets (the README links there) that can run here (ccxt for JS, the official Node SDK, a Python bot
// on Debian's python3-requests, curl), run exactly as printed: only the proxy's URL and the credentials differ.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, proxyBed, type ProxyBed } from './helpers/proxySetup.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The fenced block after `<!-- proxy-snippet: name -->` in docs/proxy.md, with the proxy's URL put in. */
function snippet(name: string, proxyUrl: string): string {
  const readme = readFileSync(`${root}/docs/proxy.md`, 'utf8');
  const m = new RegExp(`<!-- proxy-snippet: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!m) throw new Error(`docs/proxy.md has no snippet ${name}`);
  return m[1]!.replaceAll('http://127.0.0.1:8080', proxyUrl);
}

let bed: ProxyBed;
beforeAll(async () => {
  bed = await proxyBed();
});
afterAll(() => bed.close());

const env = { ...process.env, KUCOIN_KEY: KEY.key, KUCOIN_SECRET: KEY.secret, KUCOIN_PASSPHRASE: KEY.passphrase };
const node = async (code: string) => (await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env, timeout: 30_000 })).stdout;

describe('docs/proxy.md: Bots in any language', () => {
  it('the ccxt for JS snippet places, cancels and reads through the proxy', async () => {
    expect(await node(snippet('ccxt-js', bed.proxy.url))).toBe('ccxt 200000 200000\n');
  });

  it('the official Node SDK snippet places, cancels and reads through the proxy', async () => {
    expect(await node(snippet('universal-sdk-node', bed.proxy.url))).toMatch(/\nsdk 200000 200000\n$/); // after the SDK's own log line
  });

  it('the Python requests bot snippet (Debian python3-requests) places, cancels and reads through the proxy', async () => {
    const { stdout } = await run('/usr/bin/python3', ['-c', snippet('python-requests', bed.proxy.url)], { env, timeout: 30_000 });
    expect(stdout).toBe('python 200000 200000\n');
  });

  it('the curl snippet reads, sends a signed call, and uses X-Proxy-To', async () => {
    const { stdout } = await run('bash', ['-ec', snippet('curl', bed.proxy.url)], { env, timeout: 30_000 });
    const replies = stdout
      .replace(/\}\{/g, '}\n{')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { code: string });
    expect(replies.map((r) => r.code)).toEqual(['200000', '200000', '200000']);
  });

  it('KuCoin (the simulator) verified every signature the snippets sent', () => {
    const outcomes = bed.sim.stats().arrivals.map((a) => a.outcome);
    expect(outcomes.length).toBeGreaterThanOrEqual(12);
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  });
});
