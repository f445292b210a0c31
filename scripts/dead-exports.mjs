#!/usr/bin/env node
// Exported names of src/ that nothing imports: not another module of src/, not a test, not a bench or script, not
// a package entry (src/index.ts, src/queue.ts, src/attest.ts, src/testing.ts re-export what callers may import). Read with the
// TypeScript parser. Each line: `src/file.ts NAME (used in its file|unused)`; an export used in its own file only
// should lose its `export` keyword, an unused one its code.
//
//   node scripts/dead-exports.mjs
//
// Conservative: a module imported as a namespace (`import * as`) or dynamically (`import('...')`) counts as using
// all of its exports; a re-export (`export { x } from`) counts as a use of what it names.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const list = (dir, exts) =>
  existsSync(join(ROOT, dir))
    ? readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((n) => exts.some((e) => n.endsWith(e)) && !n.endsWith('.d.ts'))
        .map((n) => join(ROOT, dir, n))
    : [];
const files = [
  ...list('src', ['.ts']),
  ...list('test', ['.ts']),
  ...list('bench', ['.js', '.mjs']),
  ...list('scripts', ['.js', '.mjs']),
];
const parsed = new Map(
  files.map((f) => [f, ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true)]),
);

/** The src/ file a relative specifier names (`.js` of src/ or of the built dist/ -> src/*.ts), else undefined. */
function target(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  let abs = resolve(dirname(from), spec);
  const dist = join(ROOT, 'dist');
  if (abs.startsWith(dist)) abs = join(ROOT, 'src', relative(dist, abs));
  const ts_ = abs.replace(/\.js$/, '.ts');
  return parsed.has(ts_) ? ts_ : undefined;
}

const used = new Set(); // `${file}\0${name}`
const usedWhole = new Set(); // files whose every export counts as used
for (const [file, sf] of parsed) {
  const visit = (n) => {
    if (ts.isImportDeclaration(n) || (ts.isExportDeclaration(n) && n.moduleSpecifier)) {
      const t = target(file, n.moduleSpecifier.text);
      if (t) {
        const clause = ts.isImportDeclaration(n) ? n.importClause?.namedBindings : n.exportClause;
        if (!clause || ts.isNamespaceImport(clause) || ts.isNamespaceExport(clause)) usedWhole.add(t);
        else for (const el of clause.elements) used.add(`${t}\0${(el.propertyName ?? el.name).text}`);
      }
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const a = n.arguments[0];
      const t = a && ts.isStringLiteralLike(a) ? target(file, a.text) : undefined;
      if (t) usedWhole.add(t);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

const exported = (n) => ts.getCombinedModifierFlags(n) & ts.ModifierFlags.Export;
const out = [];
for (const [file, sf] of parsed) {
  if (!file.startsWith(join(ROOT, 'src')) || usedWhole.has(file)) continue;
  const rel = relative(ROOT, file);
  if (['src/index.ts', 'src/queue.ts', 'src/attest.ts', 'src/testing.ts'].includes(rel)) continue;
  const names = [];
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st) && exported(st))
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
    if (
      (ts.isFunctionDeclaration(st) ||
        ts.isClassDeclaration(st) ||
        ts.isInterfaceDeclaration(st) ||
        ts.isTypeAliasDeclaration(st) ||
        ts.isEnumDeclaration(st)) &&
      st.name &&
      exported(st)
    )
      names.push(st.name.text);
    if (ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause))
      for (const el of st.exportClause.elements) names.push(el.name.text);
  }
  const text = sf.getFullText();
  for (const name of new Set(names)) {
    if (used.has(`${file}\0${name}`)) continue;
    const uses = text.match(new RegExp(`\\b${name}\\b`, 'g'))?.length ?? 0;
    out.push(`${rel} ${name} (${uses > 1 ? 'used in its file' : 'unused'})`);
  }
}
if (out.length > 0) {
  console.log(out.sort().join('\n'));
  // npm run lint fails on an export nothing imports: remove the export (or the code)
  process.exitCode = 1;
}
