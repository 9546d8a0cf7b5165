// The README and docs/ are read on GitHub, on the npm page and in node_modules: every relative link must
// reach a file that exists here and that the package ships (package.json "files"), and every anchor a heading.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pages = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
].filter((f) => existsSync(join(root, f)));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function links(page: string): { target: string; anchor: string | undefined }[] {
  const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z]+:/i.test(href))
    .map((href) => {
      const [path, anchor] = href.split('#');
      return { target: path ? normalize(join(dirname(page), path)) : page, anchor };
    });
}

// what `npm pack` would ship, without building: npm's own listing of the files globs, in a copy of the repository
// without dist/ (no link goes there, and test/package.test.ts rebuilds it meanwhile: a listing that met the rebuild
// failed with ENOENT)
const scratch = mkdtempSync(join(tmpdir(), 'ks-docs-links-'));
cpSync(root, scratch, { recursive: true, filter: (src) => !/^[/\\]?(node_modules|dist|\.git)([/\\]|$)/.test(src.slice(root.length)) });
const shipped = new Set(
  (
    JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: scratch, encoding: 'utf8', maxBuffer: 16 << 20 })) as {
      files: { path: string }[];
    }[]
  )[0]!.files.map((f) => f.path),
);
rmSync(scratch, { recursive: true, force: true });

it.each(pages)('%s: every relative link reaches a file the package ships, every anchor a heading', (page) => {
  expect(shipped.has(page)).toBe(true);
  for (const { target, anchor } of links(page)) {
    expect(existsSync(join(root, target)), `${page} links ${target}`).toBe(true);
    expect(shipped.has(relative('.', target)), `${page} links ${target}, which the package does not ship`).toBe(true);
    if (anchor && target.endsWith('.md')) {
      const headings = [...readFileSync(join(root, target), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1]!));
      expect(headings, `${page} links ${target}#${anchor}`).toContain(anchor);
    }
  }
});
