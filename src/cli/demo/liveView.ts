// Renders the demo's live view and summary from the simulator's stats (what the server saw), the bots'
// records and the scheduler's waits. Every line fits `width` columns (an 80-column terminal never wraps).
import { PRIORITIES, type Priority } from '../../index.js';
import type { SimulatorStats } from '../../simulator/simStats.js';
import type { RequestRecord } from './workload.js';

export interface PoolView {
  readonly label: string;
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

export interface ViewState {
  readonly title: string;
  /** What the demo sets differently from the library's defaults, said on screen. */
  readonly note: string;
  /** In Redis mode: the deployment's prefix and uid (for `kucoin-scheduler status`) and the live processes counted. */
  readonly redis?: { readonly prefix: string; readonly uid: string; readonly live: number | undefined; readonly mostLive: number | undefined };
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly stats: SimulatorStats;
  readonly pools: readonly PoolView[];
  readonly queued: Readonly<Record<Priority, number>> | undefined;
  readonly records: readonly RequestRecord[];
  /** Time lanes slept per bucket, recent (last 10 s) and over the run; undefined without the scheduler. */
  readonly waits: { readonly recent: ReadonlyMap<string, number>; readonly total: ReadonlyMap<string, number> } | undefined;
  readonly cloudflare: { readonly limit: number; readonly windowMs: number };
}

const SIGNALS = ['429000', '1015', '200002', '429001', '429002'] as const;
/** The span the live view's 'binds now' looks back over (the scheduler's recent waits use the same). */
const RECENT_MS = 10_000;

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const fmt = (n: number) => (Number.isNaN(n) ? '-' : String(Math.round(n)));
const pct = (x: number) => `${Math.round(100 * x)} %`;

function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

/** Cuts a line to `width` columns (characters: the view uses no wide characters). */
export function clip(line: string, width: number): string {
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/** Where the demo's keys are, and the live processes: `prefix ks-demo-1a2b3c4d  uid demo-uid  live processes 2`. */
function redisLine(r: NonNullable<ViewState['redis']>): string {
  return `prefix ${r.prefix}  uid ${r.uid}  live processes ${r.live ?? '-'}`;
}

/** A bucket id in words: what limit it stands for. */
export function describeBucket(id: string, v: Pick<ViewState, 'pools' | 'cloudflare'>): string {
  if (id.endsWith(':cloudflare')) return `Cloudflare per-IP limit (${v.cloudflare.limit} requests / ${v.cloudflare.windowMs / 1000} s)`;
  if (id === 'system') return '429001 system backoff';
  if (id.includes(':ep:')) return `endpoint limit ${id.slice(id.indexOf(':ep:') + 4)}`;
  const pool = v.pools.find((p) => p.key.endsWith(`:${id.split(':').at(-1)}`));
  return pool ? `${pool.label} pool quota (${pool.limit} / ${pool.windowMs / 1000} s)` : id;
}

/** Weight a pool executed over the last `spanMs`, against its quota for that time (its quota rate). */
function utilization(v: ViewState, p: PoolView, spanMs: number, now: number): number {
  const pool = p.key.split(':').at(-1);
  const span = Math.max(1000, spanMs);
  const weight = v.stats.arrivals
    .filter((a) => a.outcome === 'ok' && a.client !== 'hidden' && a.pool === pool && a.at > now - span)
    .reduce((x, a) => x + a.weight, 0);
  return weight / ((p.limit * span) / p.windowMs);
}

/**
 * What binds, in two parts: the limit the lanes slept on most (recently, or over the run), then its share
 * of the waiting and how much of the main pool was used meanwhile. Without the scheduler, the gateway.
 */
export function whatBinds(v: ViewState, span: 'recent' | 'total', now = Date.now()): string[] {
  const main = v.pools[0]!;
  const used =
    span === 'recent'
      ? `${main.label} at ${pct(utilization(v, main, Math.min(v.elapsedMs, RECENT_MS), now))} of its quota rate`
      : `${main.label} used ${pct(utilization(v, main, v.elapsedMs, now))} of its quota`;
  if (!v.waits) {
    const refused = SIGNALS.reduce((x, s) => x + (v.stats.outcomes[s] ?? 0), 0);
    return [refused > 0 ? `the gateway: it refused ${refused} requests` : 'nothing paces the bots', used];
  }
  const byBucket = v.waits[span];
  const total = [...byBucket.values()].reduce((x, ms) => x + ms, 0);
  const top = [...byBucket].sort((a, b) => b[1] - a[1])[0];
  if (!top || total === 0) return ['nothing: no request had to wait', used];
  return [describeBucket(top[0], v), `${pct(top[1] / total)} of the waiting; ${used}`];
}

export function renderLive(v: ViewState, width = 79): string[] {
  const now = Date.now();
  const barWidth = Math.max(8, Math.min(24, width - 44));
  // the timer always shows: the title gives way to it on a narrow terminal
  const timer = `${(v.elapsedMs / 1000).toFixed(1)} / ${(v.durationMs / 1000).toFixed(0)} s`;
  const lines = [`${clip(v.title, width - timer.length - 3)}   ${timer}`, v.note];
  if (v.redis) lines.push(redisLine(v.redis));
  lines.push('');
  lines.push(`${'pool'.padEnd(12)} ${'weight this server window'.padEnd(barWidth + 14)} resets in`);
  for (const p of v.pools) {
    const w = v.stats.windows[p.key]?.at(-1);
    const open = w && w.end > now;
    const weight = open ? w.weight : 0;
    lines.push(
      `${p.label.padEnd(12)} ${bar(weight / p.limit, barWidth)} ${String(weight).padStart(5)} / ${String(p.limit).padEnd(5)}  ${open ? `${((w.end - now) / 1000).toFixed(1)} s` : '-'}`,
    );
  }
  const recent = v.stats.arrivals.filter((a) => a.client !== 'hidden' && a.at > now - v.cloudflare.windowMs).length;
  lines.push(
    `${'Cloudflare'.padEnd(12)} ${bar(recent / v.cloudflare.limit, barWidth)} ${String(recent).padStart(5)} / ${String(v.cloudflare.limit).padEnd(5)}  requests / ${v.cloudflare.windowMs / 1000} s, per IP`,
  );
  lines.push('');
  lines.push(`${'priority'.padEnd(10)}${'queued'.padStart(7)}${'done'.padStart(8)}   wait p50 / p99 ms`);
  for (const p of PRIORITIES) {
    const w = v.records.filter((r) => r.priority === p && r.outcome === 'ok').map((r) => r.waitMs);
    lines.push(
      `${p.padEnd(10)}${(v.queued ? String(v.queued[p]) : '-').padStart(7)}${String(w.length).padStart(8)}   ${fmt(quantile(w, 0.5)).padStart(8)} / ${fmt(quantile(w, 0.99))}`,
    );
  }
  lines.push('');
  lines.push(`signals met  ${SIGNALS.map((s) => `${s} ${v.stats.outcomes[s] ?? 0}`).join('   ')}`);
  const [limit, detail] = whatBinds(v, 'recent', now);
  lines.push(`binds now    ${limit}`, `             ${detail}`);
  return lines.map((l) => clip(l, width));
}

export function renderSummary(v: ViewState, startedAt: number, width = 79): string[] {
  const elapsed = Math.max(1, Date.now() - startedAt);
  const lines = ['', `summary (${(elapsed / 1000).toFixed(1)} s)`];
  if (v.redis) lines.push(`  Redis prefix ${v.redis.prefix}, uid ${v.redis.uid}, live processes at most ${v.redis.mostLive ?? 0}`);
  const ok = v.stats.arrivals.filter((a) => a.outcome === 'ok' && a.client !== 'hidden');
  lines.push(`  requests arrived at the gateway ${v.stats.requests}, executed ${ok.length}`);
  for (const p of v.pools) {
    const pool = p.key.split(':').at(-1);
    const weight = ok.filter((a) => a.pool === pool).reduce((x, a) => x + a.weight, 0);
    const quota = (p.limit * elapsed) / p.windowMs;
    lines.push(
      `  ${p.label.padEnd(11)} weight ${String(weight).padStart(6)} of ${quota.toFixed(0).padStart(6)} for the run: utilization ${((100 * weight) / quota).toFixed(1)} %`,
    );
  }
  const blocks = v.stats.blocks.filter((b) => b.scope === 'ip').length;
  lines.push(
    `  429000 ${v.stats.outcomes['429000'] ?? 0}  Cloudflare 1015 ${v.stats.outcomes['1015'] ?? 0} (IP blocks: ${blocks})  200002 ${v.stats.outcomes['200002'] ?? 0}  429001 ${v.stats.outcomes['429001'] ?? 0}  429002 ${v.stats.outcomes['429002'] ?? 0}`,
  );
  for (const p of PRIORITIES) {
    const mine = v.records.filter((r) => r.priority === p);
    const w = mine.filter((r) => r.outcome === 'ok').map((r) => r.waitMs);
    const cut = mine.filter((r) => r.outcome === 'KS_ABORTED' || r.outcome === 'KS_REQUEST_FAILED').length;
    const failed = mine.length - w.length - cut;
    lines.push(
      `  ${p.padEnd(9)} ${String(w.length).padStart(6)} done  wait p50 ${fmt(quantile(w, 0.5)).padStart(5)} ms  p99 ${fmt(quantile(w, 0.99)).padStart(5)} ms  failed ${failed}  cut ${cut}`,
    );
  }
  lines.push('', `what bound the run: ${whatBinds({ ...v, elapsedMs: elapsed }, 'total', startedAt + elapsed).join(', ')}`);
  const refused = (v.stats.outcomes['429000'] ?? 0) + (v.stats.outcomes['1015'] ?? 0);
  const critical = v.records.filter((r) => r.priority === 'critical' && r.outcome === 'ok').map((r) => r.waitMs);
  lines.push(
    v.waits
      ? `result: ${refused === 0 ? 'no request refused by the gateway' : `${refused} refusals`}; ${critical.length > 0 ? `cancels (critical) waited p99 ${fmt(quantile(critical, 0.99))} ms while lower tiers queued` : 'no cancel burst yet (one every 7 s)'}`
      : `result: without the scheduler the gateway refused ${refused} requests (429000 and 1015) and blocked the IP ${blocks} time(s)`,
  );
  // the summary stays on screen: wrap long lines at word boundaries instead of cutting them
  return lines.flatMap((l) => wrap(l, width));
}

/** Wraps a line at spaces to `width` columns, continuation lines indented by two. */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    if (cut <= 2) break;
    out.push(rest.slice(0, cut));
    rest = `  ${rest.slice(cut + 1).trimStart()}`;
  }
  out.push(rest);
  return out;
}
