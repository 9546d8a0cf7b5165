// Issue 21 item 6 figures: what a 50 MB token and a 20 MB push cost a WsManager's process (RSS growth, the
// longest event-loop stall). The manager runs in a child process of its own, so the simulator's memory and
// work are not counted. Runs against an older src/ too (that is how the "before" figures were taken).
//
//   npx tsx bench/wsHostile.ts [--case control|token|push] [--runs 3]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createWsManager, parseBullet, type WsToken } from '../src/index.js';
import { startWsSimulator } from '../src/simulator/index.js';

/** token: a 50 MB token; push: a 20 MB push; control: a 100-byte push (what the process grows by anyway after the GC that starts the count). */
type Case = 'token' | 'push' | 'control';

interface ChildConfig {
  readonly case: Case;
  readonly endpoint: string;
  /** A token the simulator issued (push case). */
  readonly token: string;
}

interface Figures {
  readonly case: string;
  readonly rssGrowthMb: number;
  readonly maxStallMs: number;
  readonly outcome: string;
}

const TOKEN_BYTES = 50_000_000;
const PUSH_BYTES = { push: 20_000_000, control: 100 } as const;

/** In the child: one manager, the hostile input, then the figures over the next 3 s. */
async function child(cfg: ChildConfig): Promise<Figures> {
  const events: string[] = [];
  // as a bullet reply's JSON.parse leaves it: one flat 50 MB string, in memory before the count starts
  const huge = cfg.case === 'token' ? (JSON.parse(JSON.stringify({ token: 'k'.repeat(TOKEN_BYTES) })) as { token: string }).token : '';
  const tokenSource = async (): Promise<WsToken> =>
    cfg.case === 'token'
      ? parseBullet({ token: huge, instanceServers: [{ endpoint: cfg.endpoint, pingInterval: 18_000, pingTimeout: 10_000 }] }, Date.now())
      : parseBullet({ token: cfg.token, instanceServers: [{ endpoint: cfg.endpoint, pingInterval: 18_000, pingTimeout: 10_000 }] }, Date.now());
  const manager = createWsManager({ tokenSource, kind: 'private', uid: 'u1', reconnect: { baseMs: 200, maxMs: 400, maxAttempts: 5 } });
  for (const name of ['tokenError', 'protocolError', 'disconnected'] as const) {
    manager.on(name as never, (e: { error?: { code?: string } }) => events.push(`${name}${e.error?.code ? `:${e.error.code}` : ''}`));
  }
  let pushes = 0;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  if (cfg.case !== 'token') {
    await manager.subscribe('/market/ticker:BTC-USDT', { onMessage: () => void pushes++ });
    process.send!({ type: 'subscribed' });
  }
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  delay.enable();
  const sub = cfg.case === 'token' ? manager.subscribe('/market/ticker:BTC-USDT', { maxWaitMs: 3_000 }).catch((e: { code?: string }) => e.code) : undefined;
  for (const end = Date.now() + 3_000; Date.now() < end;) {
    peak = Math.max(peak, process.memoryUsage().rss);
    await new Promise((r) => setTimeout(r, 20));
  }
  delay.disable();
  const subscribed = await sub;
  await manager.close();
  return {
    case: cfg.case,
    rssGrowthMb: Math.round((peak - base) / 1e5) / 10,
    maxStallMs: Math.round(delay.max / 1e6),
    outcome: `${pushes} pushes delivered; ${subscribed ?? ''} ${[...new Set(events)].join(' ')}`.trim(),
  };
}

async function run(which: Case): Promise<Figures> {
  const sim = await startWsSimulator();
  try {
    const { token } = sim.issueToken({ kind: 'private', uid: 'u1', ip: 'x' });
    const proc = fork(fileURLToPath(import.meta.url), ['--child'], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      env: { ...process.env, KS_HOSTILE: JSON.stringify({ case: which, endpoint: sim.url, token } satisfies ChildConfig) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return await new Promise<Figures>((resolve, reject) => {
      proc.on('message', (m: { type: string; figures?: Figures }) => {
        if (m.type === 'subscribed') setTimeout(() => sim.publish('/market/ticker:BTC-USDT', 'x'.repeat(PUSH_BYTES[which as 'push' | 'control'])), 500);
        if (m.type === 'figures') resolve(m.figures!);
      });
      proc.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
  } finally {
    await sim.close();
  }
}

if (process.argv.includes('--child')) {
  const figures = await child(JSON.parse(process.env.KS_HOSTILE!) as ChildConfig);
  process.send!({ type: 'figures', figures }, () => process.exit(0));
} else {
  const { values } = parseArgs({ options: { case: { type: 'string' }, runs: { type: 'string', default: '1' } } });
  const cases = values.case ? [values.case as Case] : (['control', 'token', 'push'] as const);
  for (const c of cases) for (let i = 0; i < Number(values.runs); i++) console.log(`[ws hostile] ${JSON.stringify(await run(c))}`);
  process.exit(0);
}
