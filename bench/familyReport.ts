// The workload family's report: a row per case, then each figure's median and worst case with its seed, and
// the issue's targets.
import { bindingFigures, type FamilyRow } from './family.js';
import { describeCase } from './familyCases.js';

interface FamilyResult {
  readonly family?: readonly FamilyRow[];
  readonly familySeed?: number;
}

const pct = (x: number) => (Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)} %`);
const ms = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x)}`);
const who = (r: FamilyRow) => (r.case.seed === undefined ? r.case.name : `seed ${r.case.seed}`);

/** One figure of the family: how to read it from a row, and which way is worse. */
interface Figure {
  readonly label: string;
  readonly of: (r: FamilyRow) => number;
  readonly format: (x: number) => string;
  /** 'low': a lower value is worse (utilization); 'high': a higher value is worse (waits, rejections). */
  readonly worse: 'low' | 'high';
  readonly target?: { readonly label: string; readonly met: (x: number, r: FamilyRow) => boolean };
}

const FIGURES: readonly Figure[] = [
  {
    label: 'the binding pool per server window (of what a hidden consumer leaves)',
    of: (r) => bindingFigures(r).perWindow,
    format: pct,
    worse: 'low',
    target: { label: '>= 97 %', met: (x) => x >= 0.97 },
  },
  { label: 'the binding pool, worst single window', of: (r) => bindingFigures(r).worstWindow, format: pct, worse: 'low' },
  {
    label: 'the binding pool from the first whole window to the last (gaps count)',
    of: (r) => bindingFigures(r).span,
    format: pct,
    worse: 'low',
    target: { label: '>= 95 %', met: (x) => x >= 0.95 },
  },
  {
    label: '429000 in the most refused window',
    of: (r) => r.worst429000PerWindow,
    format: (x) => `${x}`,
    worse: 'high',
    target: { label: '0 (at most 1 beside a hidden consumer)', met: (x, r) => x <= (r.case.hiddenShare > 0 ? 1 : 0) },
  },
  {
    label: 'critical admission wait p99, ms (the wait before its own latency)',
    of: (r) => (r.waits.critical.n > 0 ? r.waits.critical.admissionP99 : Number.NaN),
    format: ms,
    worse: 'high',
    target: { label: '< 50 ms', met: (x) => !(x >= 50) },
  },
  { label: 'critical from call to result p99, ms', of: (r) => (r.waits.critical.n > 0 ? r.waits.critical.totalP99 : Number.NaN), format: ms, worse: 'high' },
  {
    label: "bot processes' event-loop delay p99, ms (the worst process: what the shared cores let a bot do, not a target)",
    of: (r) => r.eventLoopP99Ms ?? Number.NaN,
    format: ms,
    worse: 'high',
  },
  {
    label: 'worst bot share / its weighted fair share (fairness rows)',
    of: (r) => (r.fairness ? Math.max(...r.fairness.map((f) => Math.abs(f - 1))) : Number.NaN),
    format: (x) => (Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)} % off`),
    worse: 'high',
    target: { label: 'within 10 %', met: (x) => !(x > 0.1) },
  },
];

function worstOf(rows: readonly FamilyRow[], f: Figure): { row: FamilyRow; value: number } | undefined {
  let best: { row: FamilyRow; value: number } | undefined;
  for (const row of rows) {
    const value = f.of(row);
    if (Number.isNaN(value)) continue;
    if (!best || (f.worse === 'low' ? value < best.value : value > best.value)) best = { row, value };
  }
  return best;
}

function medianOf(rows: readonly FamilyRow[], f: Figure): number {
  const xs = rows.map(f.of).filter((x) => !Number.isNaN(x));
  xs.sort((a, b) => a - b);
  return xs.length ? xs[Math.floor(xs.length / 2)]! : Number.NaN;
}

export function toFamilyMarkdown(r: FamilyResult): string {
  const rows = r.family ?? [];
  if (rows.length === 0) return '';
  const lines = [
    `### Workload family (${rows.filter((x) => x.case.seed !== undefined).length} drawn cases from seed ${r.familySeed ?? '-'}, plus the named rows)`,
    '',
    "Every case at the library's defaults through KucoinClient and createRedisStore (as the README makes them), only the pool quotas given, Cloudflare off; what the simulator received. Each bot process first runs its lanes for 1 s on an account and an egress IP of its own (compiled code and loaded scripts, as in a bot that has been running); that warm-up shares no pool and no window with the run and is not counted. The run's own client opens its connections when the run starts, in every process at the same moment: a fleet's cold start. The event-loop column is how late a bot's 10 ms timer ran at the 99th percentile (the worst process): a request cannot be admitted sooner than its process runs, and on 2 shared cores many bot processes wait for CPU. Beside the critical p99 is how many cancels it is taken over: of 200, it is the second slowest.",
    '',
    '| figure | median | worst (case) | target |',
    '|---|---|---|---|',
  ];
  for (const f of FIGURES) {
    const worst = worstOf(rows, f);
    if (!worst) continue;
    lines.push(`| ${f.label} | ${f.format(medianOf(rows, f))} | ${f.format(worst.value)} (${who(worst.row)}) | ${f.target?.label ?? '-'} |`);
  }
  lines.push(
    '',
    '| case | windows | binding pool / window | worst window | span | Spot / Public per window | 429000 (worst window) | critical admission p50 / p99 ms (cancels) | critical total p99 | high / normal / low admission p99 ms | event-loop p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const x of rows) {
    const w = x.waits;
    const b = bindingFigures(x);
    lines.push(
      `| ${describeCase(x.case)} | ${b.windows} | ${pct(b.perWindow)} | ${pct(b.worstWindow)} | ${pct(b.span)} | ${pct(x.pools.Spot.perWindow)} / ${pct(x.pools.Public.perWindow)} | ${x.rejected429000} (${x.worst429000PerWindow}) | ${ms(w.critical.admissionP50)} / ${ms(w.critical.admissionP99)} (${w.critical.n}) | ${ms(w.critical.totalP99)} | ${ms(w.high.admissionP99)} / ${ms(w.normal.admissionP99)} / ${ms(w.low.admissionP99)} | ${ms(x.eventLoopP99Ms ?? Number.NaN)} |`,
    );
  }
  const fair = rows.filter((x) => x.fairness);
  for (const x of fair) lines.push('', `Fairness (${describeCase(x.case)}): share / fair share per bot ${x.fairness!.map((f) => f.toFixed(3)).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function familyTargets(r: FamilyResult): { label: string; value: string; met: boolean }[] {
  const rows = r.family ?? [];
  const out: { label: string; value: string; met: boolean }[] = [];
  for (const f of FIGURES) {
    if (!f.target) continue;
    const worst = worstOf(rows, f);
    if (!worst) continue;
    const missed = rows.filter((x) => !Number.isNaN(f.of(x)) && !f.target!.met(f.of(x), x));
    out.push({
      label: `family: ${f.label} ${f.target.label}, every case`,
      value: `worst ${f.format(worst.value)} (${who(worst.row)}), median ${f.format(medianOf(rows, f))}${missed.length ? `; missed in ${missed.length} of ${rows.length}: ${missed.map(who).join(', ')}` : ''}`,
      met: missed.length === 0,
    });
  }
  return out;
}
