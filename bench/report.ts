// Turns a bench run into Markdown and an SVG chart.
import { readFileSync, writeFileSync } from 'node:fs';
import type { FamilyRow } from './family.js';
import { familyTargets, toFamilyMarkdown } from './familyReport.js';
import type { FidelityRow } from './fidelity.js';
import type { OverheadRow } from './overhead.js';
import type { ScalingRow } from './scaling.js';

export interface BenchResult {
  readonly date: string;
  readonly machine: string;
  readonly overhead: readonly OverheadRow[];
  readonly fidelity: readonly FidelityRow[];
  readonly fidelityConfig: { readonly limit: number; readonly windowMs: number };
  /** The workload family and its named rows (absent in results written before it existed). */
  readonly family?: readonly FamilyRow[];
  readonly familySeed?: number;
  readonly scaling: readonly ScalingRow[];
}

const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 1 ? n.toFixed(3) : n.toFixed(1));
const k = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));

/** A share as a percentage; '-' when there is none (no whole server window in the run: see the note under the table). */
const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)} %`);

/** The issue's targets, per case and size, kucoin-scheduler rows at the defaults only (the tuned row is not a target). */
function fidelityTargets(r: BenchResult): { label: string; value: string; met: boolean }[] {
  const ours = r.fidelity.filter((f) => f.mode === 'kucoin-scheduler' && f.case !== 'tuned');
  const out: { label: string; value: string; met: boolean }[] = [];
  for (const f of ours) {
    const at = `${f.case ?? 'mixed'}, ${f.processes} process${f.processes === 1 ? '' : 'es'}`;
    if (f.case === 'hidden') {
      const perWindow = f.rejected429000 / f.windows;
      out.push({
        label: `>= 95 % of the rest, <= 1 x 429000 per window (${at})`,
        value: `${pct(f.utilizationOfRest)}, ${f.rejected429000} x 429000 in ${f.windows} windows`,
        met: (f.utilizationOfRest ?? 0) >= 0.95 && perWindow <= 1,
      });
    } else if (f.case !== 'wan') {
      out.push({
        label: `>= 98 % utilization, zero 429000 (${at})`,
        value: `${pct(f.utilization)}, ${f.rejected429000} x 429000`,
        met: f.utilization >= 0.98 && f.rejected429000 === 0,
      });
    } else {
      out.push({ label: `zero 429000 on a 50-200 ms path (${at})`, value: `${pct(f.utilization)}, ${f.rejected429000} x 429000`, met: f.rejected429000 === 0 });
    }
    if (f.case !== 'single')
      out.push({
        label: `critical p99 wait < 50 ms under a low-priority flood (${at})`,
        value: `${ms(f.waits.critical.p99)} ms`,
        met: f.waits.critical.p99 < 50,
      });
    if (f.firstWindow !== undefined) out.push({ label: `first window >= 90 % of what is left (${at})`, value: pct(f.firstWindow), met: f.firstWindow >= 0.9 });
  }
  return out;
}

export function targets(r: BenchResult, fidelityOnly = false): { label: string; value: string; met: boolean }[] {
  if (fidelityOnly) return fidelityTargets(r);
  const floor = r.overhead.find((o) => o.name.startsWith('bare EVALSHA'))!;
  const ours = r.overhead.find((o) => o.name === 'kucoin-scheduler, RedisStore')!;
  const bn = r.overhead.find((o) => o.name === 'Bottleneck, Redis datastore')!;
  const ratio = ours.sequential.p50Ms / floor.sequential.p50Ms;
  const speedup = ours.concurrent64.perSecond / bn.concurrent64.perSecond;
  return [
    {
      label: 'acquisition p50 <= 1.5 x bare EVALSHA',
      value: `${ratio.toFixed(2)} x (${ms(ours.sequential.p50Ms)} ms vs ${ms(floor.sequential.p50Ms)} ms)`,
      met: ratio <= 1.5,
    },
    {
      label: '>= 20 x Bottleneck Redis-datastore jobs/s',
      value: `${speedup.toFixed(1)} x (${k(ours.concurrent64.perSecond)}/s vs ${k(bn.concurrent64.perSecond)}/s, 64 in flight)`,
      met: speedup >= 20,
    },
    ...fidelityTargets(r),
  ];
}

/** The quota-fidelity table alone (--fidelity-only). */
export function toFidelityMarkdown(r: BenchResult): string {
  return `${fidelityLines(r).join('\n')}\n`;
}

function fidelityLines(r: BenchResult): string[] {
  const lines: string[] = [];
  lines.push(
    `**2. Quota fidelity**: Spot ${r.fidelityConfig.limit} weight / ${r.fidelityConfig.windowMs / 1000} s in the gateway simulator, one UID. kucoin-scheduler: createRedisStore (as the README makes it), KucoinClient, **every option at its default** (only the pool's quota configured) except the row labelled TUNED. Cases: *single*: 8 loops per process, every request at the default priority; *mixed*: per process a low-priority flood (4 loops), 2 order loops (high), a poller (normal) and ~5 cancels/s (critical); *hidden*: mixed, and a hidden consumer on the same UID spending 10 % of the pool; *wan*: mixed with 50-200 ms latency (12 x the loops); the others 2-15 ms. Bottleneck: its Redis datastore with a reservoir of ${r.fidelityConfig.limit} refreshed every ${r.fidelityConfig.windowMs / 1000} s, as its README advises, priorities mapped to 0/3/5/9. No limiter: sends at once, 10 ms pause after a failure. Utilization = weight executed in the first 4 windows of time from the first arrival / their quota; "of the rest" = per server window wholly within the run, weight executed / (quota - the hidden consumer's weight in it); "first window" = the same for the first of those windows.`,
    '',
  );
  lines.push(
    '| case | limiter | processes | utilization | of the rest | first window | 429000 | 1015 blocks | critical p50/p99 ms | high p50/p99 ms | low (or normal) p50/p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const f of r.fidelity) {
    const w = (p: keyof FidelityRow['waits']) => `${ms(f.waits[p].p50)} / ${ms(f.waits[p].p99)}`;
    const lowest = f.waits.low.n > 0 ? 'low' : 'normal';
    lines.push(
      `| ${f.case ?? 'mixed'} | ${f.mode} | ${f.processes} | ${pct(f.utilization)} | ${pct(f.utilizationOfRest)} | ${pct(f.firstWindow)} | ${f.rejected429000} | ${f.blocks1015} | ${w('critical')} | ${w('high')} | ${w(lowest)} |`,
    );
  }
  lines.push(
    '',
    'Reading the table: *utilization* counts every weight the server executed in 4 windows of time from the first arrival, the hidden consumer\'s included, and those 4 windows of time may straddle 5 server windows: so it can pass 100 % (the *hidden* rows) without any server window getting more than its quota; *of the rest* and *first window* are per server window and say that. A "-" there means the run held no whole server window to count: the unlimited senders were blocked by Cloudflare (a 1015 blocks the IP for 30 s, longer than the run). Bottleneck and the unlimited senders are baselines, not targets.',
  );
  return lines;
}

export function toMarkdown(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(`Run ${r.date} on ${r.machine}. Every figure is measured in the same run as its baseline.`, '');
  lines.push('| target | measured | met |', '|---|---|---|');
  for (const t of [...targets(r), ...familyTargets(r)]) lines.push(`| ${t.label} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`);
  lines.push('', '**1. Overhead of one acquisition** (one process; median of 3 interleaved rounds)', '');
  lines.push('| | p50 ms (1 at a time) | p99 ms | acq/s | p50 ms (64 in flight) | p99 ms | acq/s |', '|---|---|---|---|---|---|---|');
  for (const o of r.overhead)
    lines.push(
      `| ${o.name} | ${ms(o.sequential.p50Ms)} | ${ms(o.sequential.p99Ms)} | ${k(o.sequential.perSecond)} | ${ms(o.concurrent64.p50Ms)} | ${ms(o.concurrent64.p99Ms)} | ${k(o.concurrent64.perSecond)} |`,
    );
  lines.push('');
  lines.push(...fidelityLines(r));
  const family = toFamilyMarkdown(r);
  if (family) lines.push('', family);
  lines.push('', '**3. Scaling** (RedisStore, 64 in flight per process, a private redis-server; 2 cores shared by all processes and Redis)', '');
  lines.push('| processes | admitted / s (all) | Redis CPU us / acquisition |', '|---|---|---|');
  for (const s of r.scaling) lines.push(`| ${s.processes} | ${k(s.admittedPerSecond)} | ${s.redisCpuUsPerAcquisition.toFixed(1)} |`);
  return `${lines.join('\n')}\n`;
}

/** Weight executed per second against the quota rate, one line per limiter (8 processes), 429000 marked. */
export function toSvg(r: BenchResult): string {
  const mixed = r.fidelity.filter((f) => (f.case ?? 'mixed') === 'mixed');
  const runs = mixed.filter((f) => f.processes === Math.max(...mixed.map((x) => x.processes)));
  const W = 820;
  const H = 320;
  const pad = { l: 60, r: 160, t: 30, b: 40 };
  const quotaPerSecond = (r.fidelityConfig.limit * 1000) / r.fidelityConfig.windowMs;
  const maxT = Math.max(...runs.map((f) => f.series.length)) - 1;
  const maxY = Math.max(quotaPerSecond * 2, ...runs.flatMap((f) => f.series.map((s) => s.weight))) * 1.05;
  const x = (t: number) => pad.l + (t / Math.max(1, maxT)) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / maxY) * (H - pad.t - pad.b);
  const colors: Record<string, string> = { 'kucoin-scheduler': '#1f77b4', bottleneck: '#ff7f0e', none: '#7f7f7f' };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${pad.l}" y="18" font-size="14">Spot weight executed per second, ${runs[0]?.processes ?? ''} processes (red: 429000 that second)</text>`,
  );
  parts.push(
    `<line x1="${pad.l}" y1="${y(0)}" x2="${W - pad.r}" y2="${y(0)}" stroke="#333"/><line x1="${pad.l}" y1="${y(0)}" x2="${pad.l}" y2="${pad.t}" stroke="#333"/>`,
  );
  for (let v = 0; v <= maxY; v += Math.ceil(maxY / 5 / 100) * 100) parts.push(`<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  for (let t = 0; t <= maxT; t += 5) parts.push(`<text x="${x(t)}" y="${H - pad.b + 16}" text-anchor="middle">${t} s</text>`);
  parts.push(`<line x1="${pad.l}" y1="${y(quotaPerSecond)}" x2="${W - pad.r}" y2="${y(quotaPerSecond)}" stroke="#2ca02c" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${W - pad.r + 6}" y="${y(quotaPerSecond) + 4}" fill="#2ca02c">quota rate ${quotaPerSecond}/s</text>`);
  runs.forEach((f, i) => {
    const color = colors[f.mode] ?? '#000';
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${f.series.map((s) => `${x(s.t).toFixed(1)},${y(s.weight).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const s of f.series)
      if (s.refused > 0)
        parts.push(
          `<circle cx="${x(s.t).toFixed(1)}" cy="${y(s.weight).toFixed(1)}" r="${Math.min(8, 2 + Math.log2(s.refused))}" fill="#d62728" fill-opacity="0.7"/>`,
        );
    parts.push(
      `<rect x="${W - pad.r + 6}" y="${pad.t + 30 + i * 20}" width="12" height="4" fill="${color}"/><text x="${W - pad.r + 24}" y="${pad.t + 36 + i * 20}">${f.mode}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The section of docs/benchmarks.md between its bench markers, the report `md` then `tail`; and docs/benchmarks.svg. */
export function writeBenchPage(root: string, result: BenchResult, md: string, tail: (page: string) => string): void {
  writeFileSync(`${root}/docs/benchmarks.svg`, toSvg(result));
  const page = readFileSync(`${root}/docs/benchmarks.md`, 'utf8');
  writeFileSync(
    `${root}/docs/benchmarks.md`,
    page.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${md}${tail(page)}<!-- bench:end -->`),
  );
}
