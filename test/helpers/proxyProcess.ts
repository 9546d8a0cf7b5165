import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = ['--import', 'tsx', 'src/cli/main.ts'];

/** Starts the proxy command; resolves with its URL once it logs `listening`. */
export function startProxyProcess(args: string[]): { child: ChildProcess; lines: () => Record<string, unknown>[]; url: Promise<string> } {
  const child = spawn(process.execPath, [...main, 'proxy', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`proxy exited (${code}): ${err}`)));
  });
  url.catch(() => undefined);
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, lines, url };
}
