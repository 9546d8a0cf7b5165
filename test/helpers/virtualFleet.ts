/**
 * A fleet in virtual time: several Schedulers (one per simulated process) sharing one MemoryStore (the same
 * algorithm as the RedisStore: test/storeDifferential.test.ts), their lanes sending closed- or open-loop
 * requests to a simulated KuCoin gateway (a fixed window per pool that opens at the first arrival, replies
 * with gw-ratelimit-* headers, 429000 when over). Run under vitest's fake timers: the real Scheduler, lanes,
 * feedback and bucket math, no real time. What the server counted is the measure.
 *
 * It is a model of the bench (bench/family.ts), not a replacement: no Redis round trips, no CPU contention.
 */
import { vi } from 'vitest';
import { MemoryStore } from '../../src/store/memoryStore.js';
import type { Priority } from '../../src/store/types.js';
import { createScheduler, type Scheduler } from '../../src/index.js';
import { FixedWindowCounter, type ServerWindow } from '../../src/simulator/fixedWindow.js';

export interface VirtualCase {
  readonly processes: number;
  readonly lanes: number;
  readonly loop: 'closed' | 'open';
  readonly mix: Readonly<Record<Priority, number>>;
  readonly windowMs: number;
  readonly spotLimit: number;
  readonly publicLimit: number;
  /** Reply latency (server to client), uniform in [min, max] ms. */
  readonly latencyMs: { readonly min: number; readonly max: number };
  /** Share of the Spot quota a hidden consumer spends (every 100 ms), from a random phase. */
  readonly hiddenShare: number;
  readonly windows: number;
  /** Per process: the bot weight given to the scheduler. */
  readonly botWeights?: readonly number[];
  readonly seed: number;
}

export interface VirtualResult {
  readonly spotWindows: readonly ServerWindow[];
  /** Our Spot weight executed per whole window / (limit - hidden). */
  readonly perWindow: number;
  readonly worstWindow: number;
  readonly span: number;
  /** The same per-window figure for the Public pool (whole windows within the run). */
  readonly publicPerWindow: number;
  /** 429000 answers (the server never charges over its limit: it refuses). */
  readonly rejected: number;
  /** Admission waits (ms) per tier. */
  readonly waits: Record<Priority, number[]>;
  /** Per process, Spot weight executed in whole windows. */
  readonly byProcess: number[];
}

const REQUESTS: Record<Priority, { endpoint: string; pool: 'Spot' | 'Public'; weight: number }> = {
  critical: { endpoint: 'DELETE /api/v1/hf/orders/x1', pool: 'Spot', weight: 1 },
  high: { endpoint: 'POST /api/v1/hf/orders', pool: 'Spot', weight: 1 },
  normal: { endpoint: 'GET /api/v1/hf/orders/active', pool: 'Spot', weight: 2 },
  low: { endpoint: 'GET /api/v1/market/orderbook/level1', pool: 'Public', weight: 2 },
};

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = 1_800_000_000_000;

export async function runVirtualFleet(c: VirtualCase): Promise<VirtualResult> {
  const random = seeded(c.seed);
  const realRandom = Math.random;
  Math.random = seeded(c.seed + 1); // the lanes' jitter
  vi.useFakeTimers({ now: T0 + Math.floor(random() * 10_000), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  try {
    const store = new MemoryStore();
    const servers = { Spot: new FixedWindowCounter(c.spotLimit, c.windowMs), Public: new FixedWindowCounter(c.publicLimit, c.windowMs) };
    const ours: { at: number; pool: string; weight: number; process: number; ok: boolean }[] = [];
    const hidden: { at: number; weight: number }[] = [];
    const waits: Record<Priority, number[]> = { critical: [], high: [], normal: [], low: [] };
    let rejected = 0;
    const schedulers: Scheduler[] = Array.from({ length: c.processes }, (_, i) =>
      createScheduler({
        uid: 'virtual',
        store,
        cloudflare: false,
        pools: { spot: { limit: c.spotLimit, windowMs: c.windowMs }, public: { limit: c.publicLimit, windowMs: c.windowMs } },
        ...(c.botWeights ? { bot: { name: `p${i}`, weight: c.botWeights[i]! } } : {}),
      }),
    );
    const stop = { now: false };
    if (process.env.VDEBUG_WAITS)
      for (const [i, s] of schedulers.entries())
        s.on('waited', (e) => {
          if (e.waitMs < Number(process.env.VDEBUG_WAITS)) return;
          void s.snapshot().then((snap) => {
            const b = snap.buckets.find((x) => x.id === e.bucketId);
            console.log(`+${Date.now() - T0} p${i} ${e.priority} waits ${Math.round(e.waitMs)} ${e.reason} ${e.bucketId} ${JSON.stringify(b)}`);
          });
        });
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const latency = () => c.latencyMs.min + random() * (c.latencyMs.max - c.latencyMs.min);

    const send = async (p: number, priority: Priority): Promise<void> => {
      const r = REQUESTS[priority];
      const queued = Date.now();
      await schedulers[p]!.schedule({ endpoint: r.endpoint, priority }, async (admission) => {
        waits[priority].push(Date.now() - queued);
        await sleep(0.2 + random() * 1.5); // admission to arrival
        const at = Date.now();
        const server = servers[r.pool];
        const { window, admitted } = server.charge(at, r.weight);
        ours.push({ at, pool: r.pool, weight: r.weight, process: p, ok: admitted });
        if (!admitted) {
          rejected++;
          if (process.env.VDEBUG)
            console.log(
              `429000 at +${at - start} (window +${window.start - start}, ${window.weight}/${server.limit}) ${priority} sent -${at - admission.sentAt}`,
            );
        }
        const headers = {
          'gw-ratelimit-limit': String(server.limit),
          'gw-ratelimit-remaining': String(Math.max(0, server.limit - window.weight)),
          'gw-ratelimit-reset': String(Math.max(0, Math.round(window.end - at))),
        };
        await sleep(latency());
        await schedulers[p]!.feedback(admission, {
          status: admitted ? 200 : 429,
          headers,
          body: { code: admitted ? '200000' : '429000', msg: admitted ? '' : 'Too many requests' },
        });
      });
    };
    const pick = (mix: Readonly<Record<Priority, number>>): Priority => {
      let x = random() * (mix.critical + mix.high + mix.normal + mix.low);
      for (const p of ['critical', 'high', 'normal', 'low'] as const) if ((x -= mix[p]) < 0) return p;
      return 'low';
    };
    const closedLane = async (p: number, mix: Readonly<Record<Priority, number>>) => {
      while (!stop.now) await send(p, pick(mix)).catch(() => undefined);
    };
    const openStream = async (p: number, priority: Priority, perSecond: number) => {
      if (perSecond <= 0) return;
      while (!stop.now) {
        void send(p, priority).catch(() => undefined);
        await sleep(-Math.log(1 - random()) * (1000 / perSecond));
      }
    };
    // the hidden consumer, at a phase of its own
    // whole weights, as KuCoin charges them: the interval is what spends the share
    const hiddenWeight = c.hiddenShare > 0 ? Math.max(1, Math.round((c.spotLimit * c.hiddenShare) / (c.windowMs / 100))) : 0;
    const hiddenEveryMs = c.hiddenShare > 0 ? Math.round((hiddenWeight * c.windowMs) / (c.spotLimit * c.hiddenShare)) : 0;
    let hiddenTimer: ReturnType<typeof setInterval> | undefined;
    if (hiddenWeight > 0) {
      setTimeout(
        () => {
          hiddenTimer = setInterval(() => {
            const at = Date.now();
            if (servers.Spot.charge(at, hiddenWeight).admitted) hidden.push({ at, weight: hiddenWeight });
          }, hiddenEveryMs);
        },
        Math.floor(random() * c.windowMs),
      );
    }
    const start = Date.now();
    const runs: Promise<void>[] = [];
    for (let p = 0; p < c.processes; p++) {
      if (c.loop === 'closed') for (let l = 0; l < c.lanes; l++) runs.push(closedLane(p, c.mix));
      else {
        const quotaPerS = c.spotLimit / (c.windowMs / 1000) / c.processes;
        runs.push(openStream(p, 'critical', (c.mix.critical * quotaPerS) / REQUESTS.critical.weight));
        runs.push(openStream(p, 'high', (c.mix.high * quotaPerS) / REQUESTS.high.weight));
        for (let l = 0; l < c.lanes; l++) runs.push(closedLane(p, { critical: 0, high: 0, normal: c.mix.normal, low: c.mix.low }));
      }
    }
    if (process.env.VDEBUG_STATE) {
      const snap = async () => {
        const s0 = await schedulers[0]!.snapshot();
        const b = s0.buckets.find((x) => x.id.endsWith(process.env.VDEBUG_BUCKET ?? ':Spot'))!;
        const q: Record<string, number> = { critical: 0, high: 0, normal: 0, low: 0 };
        for (const s of schedulers) for (const lane of Object.values((await s.snapshot()).queued)) for (const [k, v] of Object.entries(lane)) q[k]! += v;
        console.log(
          `+${Date.now() - start} used ${b.used} hidden ${b.hidden} tokens ${b.tokens.toFixed(1)} w [${b.windowEndLow - start}, ${b.windowEndHigh - start}] queued ${JSON.stringify(q)}`,
        );
      };
      setInterval(() => void snap(), Number(process.env.VDEBUG_STATE));
    }
    await vi.advanceTimersByTimeAsync(c.windows * c.windowMs);
    stop.now = true;
    if (hiddenTimer) clearInterval(hiddenTimer);
    const closing = Promise.all(schedulers.map((s) => s.close()));
    await vi.advanceTimersByTimeAsync(5 * c.windowMs);
    await closing;
    await Promise.all(runs);

    const lastOurs = ours.reduce((x, a) => Math.max(x, a.at), 0);
    const spotWindows = servers.Spot.windows().filter((w) => w.start >= start && w.end <= lastOurs);
    const sumIn = (w: ServerWindow, pick: (a: (typeof ours)[number]) => boolean) =>
      ours.filter((a) => a.pool === 'Spot' && a.ok && a.at >= w.start && a.at < w.end && pick(a)).reduce((x, a) => x + a.weight, 0);
    const hiddenIn = (from: number, until: number) => hidden.filter((h) => h.at >= from && h.at < until).reduce((x, h) => x + h.weight, 0);
    const mine = spotWindows.map((w) => sumIn(w, () => true));
    const rests = spotWindows.map((w) => c.spotLimit - hiddenIn(w.start, w.end));
    const perWindow = mine.reduce((a, b) => a + b, 0) / rests.reduce((a, b) => a + b, 0);
    const worstWindow = Math.min(...mine.map((m, i) => m / rests[i]!));
    const first = spotWindows[0];
    const last = spotWindows[spotWindows.length - 1];
    const span =
      first && last ? mine.reduce((a, b) => a + b, 0) / ((c.spotLimit * (last.end - first.start)) / c.windowMs - hiddenIn(first.start, last.end)) : Number.NaN;
    if (process.env.VDEBUG) {
      for (const w of spotWindows) {
        const tenths = Array.from({ length: 10 }, (_, i) =>
          ours
            .filter((a) => a.pool === 'Spot' && a.ok && a.at >= w.start + (i * c.windowMs) / 10 && a.at < w.start + ((i + 1) * c.windowMs) / 10)
            .reduce((x, a) => x + a.weight, 0),
        );
        console.log(`window +${w.start - start} ms: ${w.weight} (hidden ${hiddenIn(w.start, w.end)}) tenths ${tenths.join(' ')}`);
      }
      for (const w of servers.Public.windows().filter((x) => x.start >= start && x.end <= lastOurs))
        console.log(`public window +${w.start - start}..+${w.end - start}: ${w.weight}`);
    }
    const publicWindows = servers.Public.windows().filter((w) => w.start >= start && w.end <= lastOurs);
    const publicPerWindow = publicWindows.reduce((x, w) => x + w.weight, 0) / (publicWindows.length * c.publicLimit);
    const byProcess = Array.from({ length: c.processes }, (_, p) => spotWindows.reduce((x, w) => x + sumIn(w, (a) => a.process === p), 0));
    return { spotWindows, perWindow, worstWindow, span, publicPerWindow, rejected, waits, byProcess };
  } finally {
    vi.useRealTimers();
    Math.random = realRandom;
  }
}

export function quantileOf(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
}
