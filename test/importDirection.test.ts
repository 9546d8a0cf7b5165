// Imports run one way (issue 20): kucoin -> store -> scheduler -> send -> http / integrations / ws / proxy / metrics.
// Every relative import of src/**/*.ts is read with the TypeScript compiler's pre-processor (static, type-only,
// re-exports and dynamic imports alike); one that climbs back up the layer order fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers, lowest first, by path prefix under src/ (the longest matching prefix wins). A file may import its own
 * layer and any below it. Update the prefixes here when folders move.
 */
const LAYERS: readonly (readonly [prefix: string, layer: number, name: string])[] = [
  // leaves every layer uses: typed errors (no imports) and small helpers
  ['errors.ts', 0, 'base'],
  ['util/', 0, 'base'],
  // KuCoin's facts and how its replies read: pools, endpoints, codes, hosts, signing, headers, signals
  ['kucoin/', 1, 'kucoin'],
  // the shared buckets: MemoryStore, RedisStore and its Lua, ResilientStore
  ['store/', 2, 'store'],
  // admission: plans, lanes, feedback into the store, options, events, the port the send layer uses
  ['scheduler/', 3, 'scheduler'],
  // the one attempt loop: send -> observe -> feedback -> send again
  ['send/', 4, 'send'],
  // what users plug in: clients, integrations, WebSockets, the proxy, metrics, the simulator
  ['http/', 5, 'clients'],
  ['integrations/', 5, 'clients'],
  ['ws/', 5, 'clients'],
  ['proxy/', 5, 'clients'],
  ['metrics/', 5, 'clients'],
  ['simulator/', 5, 'clients'],
  // the public barrel, then the CLI, an application of it
  ['index.ts', 6, 'barrel'],
  ['cli/', 7, 'cli'],
];

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function layerOf(file: string): { layer: number; name: string } | undefined {
  let best: (typeof LAYERS)[number] | undefined;
  for (const entry of LAYERS) if (file.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  return best && { layer: best[1], name: best[2] };
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of every file under `root`, as paths relative to it (`buckets/types.ts`). */
function importsUnder(root: string): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const file of sources(root)) {
    const from = relative(root, file).split(sep).join('/');
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      out.push({ from, to: posix.normalize(posix.join(posix.dirname(from), fileName)).replace(/\.js$/, '.ts') });
    }
  }
  return out;
}

/** Imports that climb back up the layer order, and files no layer claims. */
function violations(root: string): string[] {
  const found: string[] = [];
  for (const { from, to } of importsUnder(root)) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (!a) found.push(`${from}: no layer (add its prefix to LAYERS)`);
    else if (!b) found.push(`${to}: no layer (imported by ${from})`);
    else if (b.layer > a.layer) found.push(`${from} (${a.name}) imports ${to} (${b.name})`);
  }
  return [...new Set(found)].sort();
}

describe('import direction (issue 20)', () => {
  it('no file of src/ imports a layer above its own', () => {
    expect(violations(process.env.IMPORT_DIRECTION_ROOT ?? SRC)).toEqual([]);
  });

  it('the folder list of src/ is the list of layers: every entry of src/ is one of them, and each of them is there', () => {
    const entries = readdirSync(SRC, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
    expect(entries.sort()).toEqual(LAYERS.map(([prefix]) => prefix).sort());
  });

  it('the scheduler layer imports nothing from send/, http/ or integrations/', () => {
    const up = importsUnder(SRC).filter(({ from, to }) => layerOf(from)?.name === 'scheduler' && /^(send|http|integrations)\//.test(to));
    expect(up).toEqual([]);
  });

  it('reads every kind of import: a climbing re-export, type-only import or dynamic import is caught', () => {
    const sample = "export { a } from '../send/x.js';\nimport type { B } from '../http/y.js';\nconst c = await import('../cli/z.js');";
    const names = ts.preProcessFile(sample, true, true).importedFiles.map((f) => f.fileName);
    expect(names).toEqual(['../send/x.js', '../http/y.js', '../cli/z.js']);
  });
});
