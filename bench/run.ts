// npm run bench [-- --help]: overhead, quota fidelity and scaling, measured in one run. Prints the report;
// with --write also writes bench/results/latest.{json,md,svg} and the README's bench section.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, benchRedisUrl } from './benchArgs.js';
import { runFidelity, FIDELITY, type FidelityRow } from './fidelity.js';
import { runOverhead, type OverheadRow } from './overhead.js';
import { toMarkdown, toSvg, targets, type BenchResult } from './report.js';
import { runScaling } from './scaling.js';
import type { Measured } from './stats.js';

const USAGE = `Usage: npm run bench -- [options]

Measures, each against its baseline in the same run: the overhead of one acquisition (bare EVALSHA,
MemoryStore, RedisStore, Bottleneck local and with its Redis datastore), quota fidelity against the gateway
simulator at 1, 4 and 8 processes (kucoin-scheduler, Bottleneck, no limiter), and scaling to 16 processes.
About 6 minutes (--quick: about 2). Prints the report and whether each target was met.

  --redis URL   the Redis to measure against  (default REDIS_URL, else redis://127.0.0.1:6379)
  --quick       one fidelity size (8 processes), fewer scaling points
  --write       also write bench/results/latest.{json,md,svg} and the README's bench section
  -h, --help    this text
`;

const args = benchArgs('bench', USAGE, { redis: { type: 'string' }, quick: { type: 'boolean', default: false }, write: { type: 'boolean', default: false } });
const redisUrl = benchRedisUrl('bench', args.redis);
const quick = args.quick;
const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const steps = 3 + (quick ? 3 : 9) + 1;
let step = 0;
const progress = (msg: string) => {
  const line = `[${Math.min(step, steps)}/${steps}] ${msg}  (${((Date.now() - started) / 1000).toFixed(0)} s)`;
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 80) - 1)}` : `${line}\n`);
};
const next = (msg: string) => {
  step++;
  progress(msg);
};
process.stderr.write(`bench: about ${quick ? 2 : 6} min against ${new URL(redisUrl).host}${args.write ? '; writes bench/results and README.md at the end' : ' (nothing written: --write to keep the results)'}\n`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medianOf = (ms: Measured[]): Measured => ({ p50Ms: median(ms.map((m) => m.p50Ms)), p99Ms: median(ms.map((m) => m.p99Ms)), perSecond: median(ms.map((m) => m.perSecond)), samples: ms[0]!.samples });

const rounds: OverheadRow[][] = [];
for (let i = 0; i < 3; i++) {
  next(`overhead round ${i + 1} of 3`);
  rounds.push(await runOverhead(redisUrl, (m) => progress(`overhead round ${i + 1}: ${m}`)));
}
const overhead = rounds[0]!.map((row, j) => ({ name: row.name, sequential: medianOf(rounds.map((r) => r[j]!.sequential)), concurrent64: medianOf(rounds.map((r) => r[j]!.concurrent64)) }));

const fidelity: FidelityRow[] = [];
for (const processes of quick ? [8] : [1, 4, 8]) {
  for (const mode of ['kucoin-scheduler', 'bottleneck', 'none'] as const) {
    next(`quota fidelity: ${mode}, ${processes} process(es), ${FIDELITY.windows} windows`);
    fidelity.push(await runFidelity(redisUrl, mode, processes));
  }
}
next('scaling');
const scaling = await runScaling(quick ? [1, 4] : [1, 2, 4, 8, 16], 3000, progress);
step = steps;
progress('done');
process.stderr.write('\n');

const result: BenchResult = {
  date: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  overhead,
  fidelity,
  fidelityConfig: { limit: FIDELITY.limit, windowMs: FIDELITY.windowMs },
  scaling,
};
const md = toMarkdown(result);
if (args.write) {
  mkdirSync(`${root}/bench/results`, { recursive: true });
  writeFileSync(`${root}/bench/results/latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${root}/bench/results/latest.md`, md);
  writeFileSync(`${root}/bench/results/latest.svg`, toSvg(result));
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const section = `<!-- bench:start -->\n${md}\n![Spot weight per second against the quota, 8 processes](bench/results/latest.svg)\n\nReproduce: \`npm run bench -- --write\` (needs Redis at \`REDIS_URL\` or 127.0.0.1:6379; about ${Math.round((Date.now() - started) / 60_000)} min).\n<!-- bench:end -->`;
  if (readme.includes('<!-- bench:start -->')) writeFileSync(`${root}/README.md`, readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, section));
}
process.stdout.write(md);
for (const t of targets(result)) process.stdout.write(`${t.met ? 'MET ' : 'MISS'} ${t.label}: ${t.value}\n`);
if (args.write) process.stdout.write('wrote bench/results/latest.{json,md,svg} and the README section\n');
process.exit(0);
