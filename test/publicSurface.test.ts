// The public surface is chosen (issue 20, issue 22 item 4): the declarations `npm run build` emits (tsconfig.build.json,
// stripInternal) hold no internal member, every export of src/index.ts has a doc comment, and the emitted types
// compile on their own. The declarations are emitted in memory with the build's own options.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Members users must not see: the send layer's port and the plan behind an admission. */
const INTERNAL_MEMBERS = ['scheduleAttempt', 'penalizeTarget', 'inspectTarget', 'notify', 'plan', 'keyCircuits'];
/** Names that stay out of the barrel: the loop's class, the port and its helpers. */
const INTERNAL_EXPORTS = ['AttemptLoop', 'SchedulerPort', 'portOf', 'isSchedulerInstance', 'createPort', 'WrapSender', 'KeyCircuits', 'Workload'];

function buildOptions(): ts.CompilerOptions {
  const file = join(ROOT, 'tsconfig.build.json');
  const config = ts.readConfigFile(file, (f) => ts.sys.readFile(f));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, file).options;
}

let options: ts.CompilerOptions;
let source: ts.Program;
/** Emitted declaration files by absolute path. */
const emitted = new Map<string, string>();
let publicTypes: ts.Program;
let indexDts: string;

beforeAll(() => {
  options = buildOptions();
  source = ts.createProgram([join(ROOT, 'src/index.ts')], options);
  source.emit(undefined, (fileName, text) => void (fileName.endsWith('.d.ts') && emitted.set(resolve(fileName), text)), undefined, true);
  indexDts = resolve(options.outDir!, 'index.d.ts');
  // the emitted types, read back as a user's compiler would (only what was emitted exists)
  const host = ts.createCompilerHost({ ...options, noEmit: true });
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (f) => emitted.get(resolve(f)) ?? readFile(f);
  const outDir = resolve(options.outDir!);
  const directoryExists = host.directoryExists?.bind(host);
  host.fileExists = (f) => emitted.has(resolve(f)) || (!resolve(f).startsWith(outDir) && fileExists(f));
  host.directoryExists = (d) => {
    const dir = resolve(d);
    if (dir === outDir || dir.startsWith(outDir + '/')) return [...emitted.keys()].some((f) => f.startsWith(dir + '/'));
    return directoryExists?.(d) ?? true;
  };
  publicTypes = ts.createProgram([indexDts], { ...options, noEmit: true, skipLibCheck: false, types: ['node'] }, host);
}, 120_000);

/** Every symbol the module exports, aliases resolved. */
function exportsOf(program: ts.Program, file: string): { name: string; symbol: ts.Symbol }[] {
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  return checker.getExportsOfModule(module).map((s) => ({
    name: s.getName(),
    symbol: s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s,
  }));
}

describe('the public surface (dist/index.d.ts as the build emits it)', () => {
  it('the build strips @internal members', () => {
    expect(options.stripInternal).toBe(true);
    expect(emitted.has(indexDts)).toBe(true);
    const leaked = [...emitted].filter(([, text]) => text.includes('@internal')).map(([file]) => file);
    expect(leaked).toEqual([]);
  });

  it('the emitted types compile on their own (nothing public refers to a stripped declaration)', () => {
    const problems = ts
      .getPreEmitDiagnostics(publicTypes)
      .filter((d) => d.file === undefined || emitted.has(resolve(d.file.fileName)))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  });

  it('no public class or interface shows an internal member', () => {
    const checker = publicTypes.getTypeChecker();
    const leaks: string[] = [];
    for (const { name, symbol } of exportsOf(publicTypes, indexDts)) {
      if (!(symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
      const type = checker.getDeclaredTypeOfSymbol(symbol);
      for (const member of checker.getPropertiesOfType(type)) if (INTERNAL_MEMBERS.includes(member.getName())) leaks.push(`${name}.${member.getName()}`);
    }
    expect(leaks).toEqual([]);
  });

  it('the barrel exports none of the internals', () => {
    const names = exportsOf(publicTypes, indexDts).map((e) => e.name);
    expect(names.filter((n) => INTERNAL_EXPORTS.includes(n))).toEqual([]);
    expect(names).toContain('createScheduler');
  });

  it('every export of src/index.ts has a doc comment', () => {
    const checker = source.getTypeChecker();
    const undocumented = exportsOf(source, join(ROOT, 'src/index.ts'))
      .filter(({ symbol }) => ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === '')
      .map((e) => e.name);
    expect(undocumented).toEqual([]);
  });
});
