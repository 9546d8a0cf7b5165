import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsv = fileURLToPath(new URL('../../shared/kucoin/endpoint-weights.tsv', import.meta.url));

it.skipIf(!existsSync(tsv))('the committed endpoint table is what the generator makes from endpoint-weights.tsv', () => {
  const committed = readFileSync(`${root}/src/kucoin/endpoints.generated.ts`, 'utf8');
  execFileSync('node', ['scripts/gen-endpoints.mjs', tsv], { cwd: root, stdio: 'ignore' });
  expect(readFileSync(`${root}/src/kucoin/endpoints.generated.ts`, 'utf8')).toBe(committed);
});
