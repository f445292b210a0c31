import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// Issue 11 ("Done when"): every function in src/ is under 120 lines, and no two top-level folders of src/ import
// each other, directly or through other folders. Both rules are read from the source with the TypeScript parser.

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const MAX_FUNCTION_LINES = 120;

interface Source {
  /** path relative to the repository root, with forward slashes (src/chain/html.ts) */
  path: string;
  file: ts.SourceFile;
}

function sources(): Source[] {
  const names = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((n) => n.endsWith('.ts'))
    .sort();
  return names.map((n) => {
    const full = join(SRC, n);
    const file = ts.createSourceFile(full, readFileSync(full, 'utf8'), ts.ScriptTarget.Latest, true);
    return { path: `src/${n.split(sep).join('/')}`, file };
  });
}

const lineOf = (file: ts.SourceFile, pos: number) => file.getLineAndCharacterOfPosition(pos).line + 1;

type FunctionNode = ts.FunctionLikeDeclaration;

function isFunction(n: ts.Node): n is FunctionNode {
  return (
    ts.isFunctionDeclaration(n) ||
    ts.isMethodDeclaration(n) ||
    ts.isArrowFunction(n) ||
    ts.isFunctionExpression(n) ||
    ts.isConstructorDeclaration(n) ||
    ts.isGetAccessorDeclaration(n) ||
    ts.isSetAccessorDeclaration(n)
  );
}

/** A readable name: the declared name, the variable or property it is assigned to, else `<anonymous>`. */
function functionName(n: FunctionNode): string {
  const own = n.name?.getText();
  const holder = ts.isClassLike(n.parent) && n.parent.name ? `${n.parent.name.getText()}.` : '';
  if (ts.isConstructorDeclaration(n)) return `${holder}constructor`;
  if (own) return `${holder}${own}`;
  const p = n.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name)
    return p.name.getText();
  return '<anonymous>';
}

/** Every function of a file with its length in lines, from its first token (not its comment) to its end. */
function functionLengths(s: Source): { where: string; name: string; lines: number }[] {
  const out: { where: string; name: string; lines: number }[] = [];
  const visit = (n: ts.Node): void => {
    if (isFunction(n)) {
      const start = lineOf(s.file, n.getStart(s.file));
      const lines = lineOf(s.file, n.getEnd()) - start + 1;
      out.push({ where: `${s.path}:${start}`, name: functionName(n), lines });
    }
    ts.forEachChild(n, visit);
  };
  visit(s.file);
  return out;
}

/** The module specifiers a file imports or re-exports, static or dynamic, type-only or not, with their lines. */
function importsOf(s: Source): { spec: string; line: number }[] {
  const out: { spec: string; line: number }[] = [];
  const add = (lit: ts.Node | undefined) => {
    if (lit && ts.isStringLiteralLike(lit))
      out.push({ spec: lit.text, line: lineOf(s.file, lit.getStart(s.file)) });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) add(n.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference))
      add(n.moduleReference.expression);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) add(n.arguments[0]);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal);
    ts.forEachChild(n, visit);
  };
  visit(s.file);
  return out;
}

/** The top-level folder of src/ a path lies in, or undefined for a file directly in src/ or outside it. */
function folderOf(absolute: string): string | undefined {
  const parts = relative(SRC, absolute).split(sep);
  return parts.length > 1 && parts[0] !== '..' ? parts[0] : undefined;
}

/** folder -> imported folder -> the first import making that edge (file:line -> specifier) */
function folderGraph(all: Source[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const s of all) {
    const from = folderOf(join(SRC, '..', s.path));
    if (from === undefined) continue;
    if (!graph.has(from)) graph.set(from, new Map());
    for (const { spec, line } of importsOf(s)) {
      if (!spec.startsWith('.')) continue; // a package
      const to = folderOf(resolve(dirname(join(SRC, '..', s.path)), spec));
      if (to === undefined || to === from || graph.get(from)!.has(to)) continue;
      graph.get(from)!.set(to, `${s.path}:${line} imports '${spec}'`);
    }
  }
  return graph;
}

/** The strongly connected components of more than one folder (Tarjan), each sorted, in a stable order. */
function cyclicComponents(graph: Map<string, Map<string, string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) !== idx.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) out.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One shortest cycle through the first folder of a component (breadth-first, inside the component). */
function cycleIn(component: string[], graph: Map<string, Map<string, string>>): string[] {
  const start = component[0]!;
  const inside = new Set(component);
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of [...(graph.get(v)?.keys() ?? [])].sort()) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = previous.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return component;
}

describe('architecture (issue 11)', () => {
  const all = sources();

  it('reads the source', () => {
    expect(all.length).toBeGreaterThan(20);
  });

  it(`no function in src/ is ${MAX_FUNCTION_LINES} lines or longer`, () => {
    const offenders = all
      .flatMap(functionLengths)
      .filter((f) => f.lines >= MAX_FUNCTION_LINES)
      .sort((a, b) => b.lines - a.lines)
      .map((f) => `${f.where} ${f.name}: ${f.lines} lines`);
    expect(offenders).toEqual([]);
  });

  it('no two top-level folders of src/ import each other, directly or through others', () => {
    const graph = folderGraph(all);
    // each cycle: one shortest cycle, then every import between folders of the component (what to cut)
    const cycles = cyclicComponents(graph).map((component) => {
      const edges = component.flatMap((from) =>
        [...(graph.get(from)?.entries() ?? [])]
          .filter(([to]) => component.includes(to))
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([to, where]) => `  ${from} -> ${to}: ${where}`),
      );
      return [`folders ${component.join(', ')}: ${cycleIn(component, graph).join(' -> ')}`, ...edges].join(
        '\n',
      );
    });
    expect(cycles).toEqual([]);
  });

  it("no module in a folder imports the package's entry points (src/index.ts, queue.ts, attest.ts, testing.ts)", () => {
    // an entry re-exports the whole library: importing it from a layer would hide every layer it reaches
    const entries = ['index.ts', 'queue.ts', 'attest.ts', 'testing.ts'].map((f) => join(SRC, f));
    const offenders = all.flatMap((s) => {
      if (folderOf(join(SRC, '..', s.path)) === undefined) return [];
      return importsOf(s)
        .filter(({ spec }) => spec.startsWith('.'))
        .filter(({ spec }) =>
          entries.includes(resolve(dirname(join(SRC, '..', s.path)), spec).replace(/\.js$/, '.ts')),
        )
        .map(({ spec, line }) => `${s.path}:${line} imports ${spec}`);
    });
    expect(offenders).toEqual([]);
  });

  it('finds a folder cycle and a long function when there is one (the checks themselves)', () => {
    const fake = (path: string, text: string): Source => ({
      path,
      file: ts.createSourceFile(join(SRC, '..', path), text, ts.ScriptTarget.Latest, true),
    });
    const graph = folderGraph([
      fake('src/a/x.ts', "import { y } from '../b/y.js';\nexport const x = 1;"),
      fake('src/b/y.ts', "import type { z } from '../c/z.js';\nexport const y = 2;"),
      fake('src/c/z.ts', "export { x } from '../a/x.js';\nconst l = () => import('../d/w.js');"),
      fake('src/d/w.ts', "import { errors } from '../errors.js';\nimport ts from 'typescript';"),
    ]);
    const components = cyclicComponents(graph);
    expect(components).toEqual([['a', 'b', 'c']]);
    expect(cycleIn(components[0]!, graph)).toEqual(['a', 'b', 'c', 'a']);
    expect(graph.get('c')!.get('a')).toBe("src/c/z.ts:1 imports '../a/x.js'");
    expect(graph.get('c')!.has('d')).toBe(true);
    expect([...graph.get('d')!.keys()]).toEqual([]);
    const body = Array.from({ length: MAX_FUNCTION_LINES - 2 }, () => '  f();').join('\n');
    const lengths = functionLengths(fake('src/a/long.ts', `/** doc */\nclass K {\n  m() {\n${body}\n  }\n}`));
    expect(lengths).toEqual([{ where: 'src/a/long.ts:3', name: 'K.m', lines: MAX_FUNCTION_LINES }]);
  });
});
