// npx tsx bench/render.ts [--help]: re-renders the report from bench/results/latest.json (no new measurement).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './benchArgs.js';
import { toMarkdown, toSvg, type BenchResult } from './report.js';

const USAGE = `Usage: npx tsx bench/render.ts [--write]

Renders bench/results/latest.json (the last \`npm run bench -- --write\`) as Markdown on stdout, without
measuring anything.

  --write       also rewrite bench/results/latest.md, docs/benchmarks.svg and docs/benchmarks.md's section
  -h, --help    this text
`;

const args = benchArgs('render', USAGE, { write: { type: 'boolean', default: false } });
const root = fileURLToPath(new URL('..', import.meta.url));
const result = JSON.parse(readFileSync(`${root}/bench/results/latest.json`, 'utf8')) as BenchResult;
const md = toMarkdown(result);
if (args.write) {
  writeFileSync(`${root}/bench/results/latest.md`, md);
  writeFileSync(`${root}/docs/benchmarks.svg`, toSvg(result));
  const page = readFileSync(`${root}/docs/benchmarks.md`, 'utf8');
  const tail = /(\n!\[Spot weight[\s\S]*?)<!-- bench:end -->/.exec(page)?.[1] ?? '\n';
  writeFileSync(
    `${root}/docs/benchmarks.md`,
    page.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${md}${tail}<!-- bench:end -->`),
  );
}
process.stdout.write(md);
