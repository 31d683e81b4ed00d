/**
 * The import graph of src/ has no circle, between files or between folders (the layering rule of
 * docs/architecture.md). Reads the TypeScript sources directly; does not load the addon.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, re-exports and dynamic), as src-relative .ts paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts'))));
}

/** Strongly connected components with more than one node, or with a self edge (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const folderOf = (file: string): string => (file.includes('/') ? file.split('/')[0] : '.');

describe('src/ import graph', () => {
  const files = sourceFiles(SRC).map((f) => path.relative(SRC, f));
  const fileGraph = new Map(files.map((f) => [f, new Set(importsOf(path.join(SRC, f)))]));

  it('reads every import of every file (the parser finds the files it names)', () => {
    expect(files.length).to.be.above(40);
    for (const [f, deps] of fileGraph) for (const d of deps) expect(files, `${f} imports ${d}`).to.include(d);
  });

  it('has no circle between files', () => {
    expect(cycles(fileGraph)).to.deep.equal([]);
  });

  it('has no circle between folders (the entry files at the root import; nothing imports them)', () => {
    const folders = new Map<string, Set<string>>();
    for (const [f, deps] of fileGraph) {
      const from = folderOf(f);
      if (!folders.has(from)) folders.set(from, new Set());
      for (const d of deps) if (folderOf(d) !== from) folders.get(from)!.add(folderOf(d));
    }
    expect(cycles(folders)).to.deep.equal([]);
    for (const [from, to] of folders) expect(to.has('.'), `${from}/ imports a root entry file`).to.equal(false);
  });

  it('finds a circle when there is one (the checker itself)', () => {
    const g = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(g)).to.deep.equal([['a', 'b', 'c']]);
  });
});
