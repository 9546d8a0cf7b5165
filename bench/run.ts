// npm run bench [-- --help]: overhead, quota fidelity and scaling, measured in one run. Prints the report;
// with --write also writes bench/results/latest.{json,md}, docs/benchmarks.svg and docs/benchmarks.md's section.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, benchNumber, benchRedisUrl } from './benchArgs.js';
import { runFamilyCase, type FamilyRow } from './family.js';
import { describeCase, drawFamily, NAMED_FAMILY_ROWS } from './familyCases.js';
import { familyTargets, toFamilyMarkdown } from './familyReport.js';
import { runFidelity, FIDELITY, type FidelityRow } from './fidelity.js';
import { FIDELITY_CASES } from './fidelityCases.js';
import { runOverhead, type OverheadRow } from './overhead.js';
import { toFidelityMarkdown, toMarkdown, targets, writeBenchPage, type BenchResult } from './report.js';
import { runScaling } from './scaling.js';
import type { Measured } from './stats.js';

const USAGE = `Usage: npm run bench -- [options]

Measures, each against its baseline in the same run: the overhead of one acquisition (bare EVALSHA,
MemoryStore, RedisStore, Bottleneck local and with its Redis datastore), quota fidelity against the gateway
simulator at 1, 4 and 8 processes (kucoin-scheduler, Bottleneck, no limiter), and scaling to 16 processes.
About 13 minutes (--quick: about 4). Prints the report and whether each target was met.

  --redis URL   the Redis to measure against  (default REDIS_URL, else redis://127.0.0.1:6379)
  --quick       one fidelity size (8 processes), fewer scaling points
  --cases LIST  fidelity cases to run, comma-separated (default all): ${FIDELITY_CASES.map((c) => c.name).join(', ')}
                (every case runs at the library's defaults; 'tuned' is the one labelled tuned row)
  --processes LIST  fidelity sizes, comma-separated (default 1,4,8)
  --fidelity-only   skip overhead and scaling (nothing can be written then)
  --family N    cases drawn from the workload family (default 20; 0 for none): tier mix, closed or open
                loop, lanes, processes, 3 s and 30 s windows, limits, latency, a hidden consumer
  --seed S      the family's first seed (default 1): case i is drawn from seed S + i, and each case's
                seed is printed, so '--family 1 --seed N' runs case N again
  --rows LIST   named family rows (default all): ${NAMED_FAMILY_ROWS.map((c) => c.name).join(', ')}; 'none' for none
  --family-only the family and its named rows only (nothing can be written then)
  --no-baselines    kucoin-scheduler rows only (no Bottleneck, no limiter)
  --write       also write bench/results/latest.{json,md}, docs/benchmarks.svg and docs/benchmarks.md's section
  -h, --help    this text
`;

const args = benchArgs('bench', USAGE, {
  redis: { type: 'string' },
  quick: { type: 'boolean', default: false },
  write: { type: 'boolean', default: false },
  cases: { type: 'string' },
  processes: { type: 'string' },
  'fidelity-only': { type: 'boolean', default: false },
  'no-baselines': { type: 'boolean', default: false },
  family: { type: 'string' },
  seed: { type: 'string' },
  rows: { type: 'string' },
  'family-only': { type: 'boolean', default: false },
});
const redisUrl = benchRedisUrl('bench', args.redis);
const quick = args.quick;
const familyOnly = args['family-only'];
const fidelityOnly = args['fidelity-only'] || familyOnly;
if (fidelityOnly && args.write) {
  process.stderr.write('bench: --fidelity-only and --family-only measure a part only; they cannot --write\nSee: npm run bench -- --help\n');
  process.exit(2);
}
const familySeed = args.seed === undefined ? 1 : benchNumber('bench', '--seed', args.seed, 0, 2 ** 31, true);
const familyCount = args.family === undefined ? 20 : benchNumber('bench', '--family', args.family, 0, 1000, true);
const rowNames = args.rows === undefined ? NAMED_FAMILY_ROWS.map((c) => c.name) : args.rows === 'none' ? [] : args.rows.split(',');
const familyCases = [
  ...rowNames.map((name) => {
    const c = NAMED_FAMILY_ROWS.find((x) => x.name === name);
    if (c) return c;
    process.stderr.write(`bench: --rows expects names from ${NAMED_FAMILY_ROWS.map((x) => x.name).join(', ')}, got "${name}"\nSee: npm run bench -- --help\n`);
    return process.exit(2);
  }),
  ...drawFamily(familySeed, familyCount),
];
const caseNames = args.cases?.split(',') ?? FIDELITY_CASES.map((c) => c.name);
const cases = caseNames.map((name) => {
  const c = FIDELITY_CASES.find((x) => x.name === name);
  if (c) return c;
  process.stderr.write(`bench: --cases expects names from ${FIDELITY_CASES.map((x) => x.name).join(', ')}, got "${name}"\nSee: npm run bench -- --help\n`);
  return process.exit(2);
});
const sizes = (args.processes?.split(',') ?? (quick ? ['8'] : ['1', '4', '8'])).map((p) => benchNumber('bench', '--processes', p, 1, 16, true));
const runs = (familyOnly ? [] : cases).flatMap((c) =>
  sizes.flatMap((n) =>
    (c.baselines && !args['no-baselines'] ? (['kucoin-scheduler', 'bottleneck', 'none'] as const) : (['kucoin-scheduler'] as const)).map((mode) => ({
      c,
      n,
      mode,
    })),
  ),
);
const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const steps = (fidelityOnly ? 0 : 4) + runs.length + familyCases.length;
let step = 0;
const progress = (msg: string) => {
  const line = `[${Math.min(step, steps)}/${steps}] ${msg}  (${((Date.now() - started) / 1000).toFixed(0)} s)`;
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 80) - 1)}` : `${line}\n`);
};
const next = (msg: string) => {
  step++;
  progress(msg);
};
process.stderr.write(
  `bench: about ${Math.round(runs.length * 0.5 + familyCases.reduce((m, c) => m + (c.windows * c.windowMs) / 60_000 + 0.1, 0) + (fidelityOnly ? 0 : 3))} min against ${new URL(redisUrl).host}${args.write ? '; writes bench/results and docs/benchmarks.md at the end' : ' (nothing written: --write to keep the results)'}\n`,
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medianOf = (ms: Measured[]): Measured => ({
  p50Ms: median(ms.map((m) => m.p50Ms)),
  p99Ms: median(ms.map((m) => m.p99Ms)),
  perSecond: median(ms.map((m) => m.perSecond)),
  samples: ms[0]!.samples,
});

const rounds: OverheadRow[][] = [];
for (let i = 0; i < (fidelityOnly ? 0 : 3); i++) {
  next(`overhead round ${i + 1} of 3`);
  rounds.push(await runOverhead(redisUrl, (m) => progress(`overhead round ${i + 1}: ${m}`)));
}
const overhead = (rounds[0] ?? []).map((row, j) => ({
  name: row.name,
  sequential: medianOf(rounds.map((r) => r[j]!.sequential)),
  concurrent64: medianOf(rounds.map((r) => r[j]!.concurrent64)),
}));

const fidelity: FidelityRow[] = [];
for (const { c, n, mode } of runs) {
  next(`quota fidelity: ${c.name}, ${mode}, ${n} process(es), ${FIDELITY.windows} windows`);
  const row = await runFidelity(redisUrl, mode, n, c);
  fidelity.push(row);
  process.stderr.write(`\n${JSON.stringify({ ...row, series: undefined })}\n`); // kept even if a later step fails
}
const family: FamilyRow[] = [];
for (const c of familyCases) {
  next(`workload family: ${describeCase(c)}`);
  const row = await runFamilyCase(redisUrl, c);
  family.push(row);
  process.stderr.write(`\n${JSON.stringify({ ...row, case: describeCase(row.case) })}\n`); // kept even if a later step fails
}
if (!fidelityOnly) next('scaling');
const scaling = fidelityOnly ? [] : await runScaling(quick ? [1, 4] : [1, 2, 4, 8, 16], 3000, progress);
step = steps;
progress('done');
process.stderr.write('\n');

const result: BenchResult = {
  date: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  overhead,
  fidelity,
  fidelityConfig: { limit: FIDELITY.limit, windowMs: FIDELITY.windowMs },
  family,
  familySeed,
  scaling,
};
const md = familyOnly ? toFamilyMarkdown(result) : fidelityOnly ? `${toFidelityMarkdown(result)}\n${toFamilyMarkdown(result)}` : toMarkdown(result);
if (args.write) {
  mkdirSync(`${root}/bench/results`, { recursive: true });
  writeFileSync(`${root}/bench/results/latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${root}/bench/results/latest.md`, md);
  const minutes = Math.round((Date.now() - started) / 60_000);
  writeBenchPage(
    root,
    result,
    md,
    () =>
      `\n![Spot weight per second against the quota, 8 processes](benchmarks.svg)\n\nReproduce: \`npm run bench -- --write\` (needs Redis at \`REDIS_URL\` or 127.0.0.1:6379; about ${minutes} min).\n`,
  );
}
process.stdout.write(md);
for (const t of [...(familyOnly ? [] : targets(result, fidelityOnly)), ...familyTargets(result)])
  process.stdout.write(`${t.met ? 'MET ' : 'MISS'} ${t.label}: ${t.value}\n`);
if (args.write) process.stdout.write('wrote bench/results/latest.{json,md}, docs/benchmarks.svg and the section of docs/benchmarks.md\n');
process.exit(0);
