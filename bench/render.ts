// Re-renders bench/results/latest.{md,svg} and the README section from latest.json (no new measurement).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toMarkdown, toSvg, type BenchResult } from './report.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = JSON.parse(readFileSync(`${root}/bench/results/latest.json`, 'utf8')) as BenchResult;
const md = toMarkdown(result);
writeFileSync(`${root}/bench/results/latest.md`, md);
writeFileSync(`${root}/bench/results/latest.svg`, toSvg(result));
const readme = readFileSync(`${root}/README.md`, 'utf8');
const tail = /(\n!\[Spot weight[\s\S]*?)<!-- bench:end -->/.exec(readme)?.[1] ?? '\n';
writeFileSync(`${root}/README.md`, readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${md}${tail}<!-- bench:end -->`));
process.stdout.write(md);
