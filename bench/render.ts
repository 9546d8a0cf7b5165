// npx tsx bench/render.ts [--help]: re-renders the report from bench/results/latest.json (no new measurement).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './benchArgs.js';
import { toMarkdown, writeBenchPage, type BenchResult } from './report.js';

const USAGE = `Usage: npx tsx bench/render.ts [--write]

Renders bench/results/latest.json (the last \`npm run bench -- --write\`) as Markdown on stdout, without
measuring anything.

  --write       also rewrite bench/results/latest.md, docs/benchmarks.svg and docs/benchmarks.md's section
  -h, --help    this text
`;

const args = benchArgs('render', USAGE, { write: { type: 'boolean', default: false } });
const root = fileURLToPath(new URL('..', import.meta.url));
// JSON stores a run's NaN (no figure: no whole server window, no request of a tier) as null: read it back as NaN
const result = JSON.parse(readFileSync(`${root}/bench/results/latest.json`, 'utf8'), (_key, value: unknown) => (value === null ? NaN : value)) as BenchResult;
const md = toMarkdown(result);
if (args.write) {
  writeFileSync(`${root}/bench/results/latest.md`, md);
  // the picture and the line after the report stay as the last full run wrote them
  writeBenchPage(root, result, md, (page) => /(\n!\[Spot weight[\s\S]*?)<!-- bench:end -->/.exec(page)?.[1] ?? '\n');
}
process.stdout.write(md);
