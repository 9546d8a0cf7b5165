// docs/migrating.md's kucoin-scheduler snippet type-checks against the package's own types (STYLE: examples in
// docs are type-checked). The Bottleneck snippet is the "before" and is not checked.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The ```ts blocks of a markdown file that import the package. */
function snippets(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((code) => code.includes("from 'kucoin-scheduler'"));
}

describe('docs/migrating.md', () => {
  it('its kucoin-scheduler snippet compiles as written (placeOrder and cancelOrder stand for your calls)', () => {
    const [code] = snippets(readFileSync(join(ROOT, 'docs/migrating.md'), 'utf8'));
    expect(code).toBeDefined();
    const file = join(ROOT, 'test/__migrating_snippet__.mts');
    const text = `declare function placeOrder(symbol: string): Promise<{ orderId: string }>;
declare function cancelOrder(orderId: string): Promise<unknown>;
${code!.replaceAll("from 'kucoin-scheduler'", "from '../src/index.js'")}`;
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version) => (resolve(name) === file ? ts.createSourceFile(name, text, version, true) : getSourceFile(name, version));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => resolve(name) === file || fileExists(name);
    const program = ts.createProgram([file], options, host);
    const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 120_000);
});
