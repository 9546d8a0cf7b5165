import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const generated = join(root, 'src/kucoin/endpoints.generated.ts');

it('the committed endpoint table is what the generator makes from data/endpoint-weights.tsv', () => {
  const committed = readFileSync(generated, 'utf8');
  // The default input is the repository's own data/ (no path outside the repository).
  execFileSync('node', ['scripts/gen-endpoints.mjs'], { cwd: root, stdio: 'ignore' });
  expect(readFileSync(generated, 'utf8')).toBe(committed);
});

it('reads the TSV given on the command line, and says which column is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-gen-'));
  const committed = readFileSync(generated, 'utf8');
  try {
    copyFileSync(join(root, 'data/endpoint-weights.tsv'), join(dir, 'copy.tsv'));
    execFileSync('node', ['scripts/gen-endpoints.mjs', join(dir, 'copy.tsv')], { cwd: root, stdio: 'ignore' });
    expect(readFileSync(generated, 'utf8')).toBe(committed);
    const broken = join(dir, 'broken.tsv');
    writeFileSync(broken, 'host\tmethod\n');
    let stderr = '';
    try {
      execFileSync('node', ['scripts/gen-endpoints.mjs', broken], { cwd: root, stdio: 'pipe' });
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain('column path missing');
    expect(readFileSync(generated, 'utf8')).toBe(committed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the committed Lua modules (luaSources.generated.ts) hold the .lua files as they are', () => {
  // --check exits 1 naming the stale module; the library never reads a .lua file at run time
  expect(() => execFileSync('node', ['scripts/inline-lua.mjs', '--check'], { cwd: root, stdio: 'pipe' })).not.toThrow();
});
