// Renders the demo's live view and summary from the simulator's stats (what the server saw) and the bots' records.
import type { Priority } from '../src/index.js';
import type { SimulatorStats } from '../src/simulator/simStats.js';
import type { RequestRecord } from './workload.js';

export interface ViewState {
  readonly title: string;
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly stats: SimulatorStats;
  readonly pools: readonly { readonly label: string; readonly key: string; readonly limit: number; readonly windowMs: number }[];
  readonly queued: Readonly<Record<Priority, number>> | undefined;
  readonly records: readonly RequestRecord[];
}

const PRIORITIES: readonly Priority[] = ['critical', 'high', 'normal', 'low'];

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

const SIGNALS = ['429000', '1015', '200002', '429001', '429002'] as const;

export function renderLive(v: ViewState): string[] {
  const now = Date.now();
  const lines = [`${v.title}   ${(v.elapsedMs / 1000).toFixed(1)} / ${(v.durationMs / 1000).toFixed(0)} s`, ''];
  lines.push('pool         weight this server window              resets in');
  for (const p of v.pools) {
    const w = v.stats.windows[p.key]?.at(-1);
    const open = w && w.end > now;
    const weight = open ? w.weight : 0;
    lines.push(`${p.label.padEnd(12)} ${bar(weight / p.limit)} ${String(weight).padStart(5)} / ${String(p.limit).padEnd(5)}  ${open ? `${((w.end - now) / 1000).toFixed(1)} s` : '(no window open)'}`);
  }
  const recent = v.stats.arrivals.filter((a) => a.client !== 'hidden' && a.at > now - 10_000).length;
  lines.push(`${'Cloudflare'.padEnd(12)} ${bar(recent / 500)} ${String(recent).padStart(5)} / 500    requests in the last 10 s (per IP)`);
  lines.push('');
  if (v.queued) lines.push(`queued       ${PRIORITIES.map((p) => `${p} ${v.queued![p]}`).join('   ')}`);
  lines.push(`wait p50/p99 ${PRIORITIES.map((p) => { const w = v.records.filter((r) => r.priority === p && r.outcome === 'ok').map((r) => r.waitMs); return `${p} ${fmt(quantile(w, 0.5))}/${fmt(quantile(w, 0.99))} ms`; }).join('   ')}`);
  lines.push(`signals met  ${SIGNALS.map((s) => `${s} ${v.stats.outcomes[s] ?? 0}`).join('   ')}`);
  lines.push(`requests     ${v.stats.requests} arrived, ${v.stats.outcomes.ok ?? 0} ok`);
  return lines;
}

const fmt = (n: number) => (Number.isNaN(n) ? '-' : String(Math.round(n)));

export function renderSummary(v: ViewState, startedAt: number): string[] {
  const elapsed = Math.max(1, Date.now() - startedAt);
  const lines = ['', `summary (${(elapsed / 1000).toFixed(1)} s)`];
  const ok = v.stats.arrivals.filter((a) => a.outcome === 'ok' && a.client !== 'hidden');
  lines.push(`  requests arrived at the gateway ${v.stats.requests}, executed ${ok.length}`);
  for (const p of v.pools) {
    const pool = p.key.split(':').at(-1);
    const weight = ok.filter((a) => a.pool === pool).reduce((x, a) => x + a.weight, 0);
    const quota = (p.limit * elapsed) / p.windowMs;
    lines.push(`  ${p.label.padEnd(11)} weight executed ${String(weight).padStart(6)}, quota for the run ${quota.toFixed(0).padStart(6)}: utilization ${((100 * weight) / quota).toFixed(1)} %`);
  }
  lines.push(`  429000 ${v.stats.outcomes['429000'] ?? 0}   Cloudflare 1015 ${v.stats.outcomes['1015'] ?? 0} (IP blocks: ${v.stats.blocks.filter((b) => b.scope === 'ip').length})   200002 ${v.stats.outcomes['200002'] ?? 0}   429001 ${v.stats.outcomes['429001'] ?? 0}   429002 ${v.stats.outcomes['429002'] ?? 0}`);
  for (const p of PRIORITIES) {
    const mine = v.records.filter((r) => r.priority === p);
    const w = mine.filter((r) => r.outcome === 'ok').map((r) => r.waitMs);
    const cut = mine.filter((r) => r.outcome === 'KS_ABORTED' || r.outcome === 'KS_REQUEST_FAILED').length;
    const failed = mine.length - w.length - cut;
    lines.push(`  ${p.padEnd(9)} ${String(w.length).padStart(6)} done   wait p50 ${fmt(quantile(w, 0.5)).padStart(5)} ms   p99 ${fmt(quantile(w, 0.99)).padStart(5)} ms   failed ${failed}   still waiting at the end ${cut}`);
  }
  return lines;
}
