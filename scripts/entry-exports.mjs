#!/usr/bin/env node
// The names a package entry exports, one per line: `NAME value` (a runtime binding: function, class, constant) or
// `NAME type` (a type or interface only), sorted. Read with the TypeScript type checker, so re-exports through other
// modules (`export { x } from`, `export type { ... }`) are followed to what they name.
//
//   node scripts/entry-exports.mjs src/index.ts [src/queue.ts ...]
//
// Used to write CHANGELOG.md's list of entry-level changes (diff the output for the old and the new entries).
import { resolve } from 'node:path';
import ts from 'typescript';

const files = process.argv.slice(2).map((f) => resolve(f));
if (files.length === 0) {
  console.error('usage: node scripts/entry-exports.mjs ENTRY.ts...');
  process.exit(2);
}
const program = ts.createProgram(files, {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: ['node'],
});
const checker = program.getTypeChecker();
for (const file of files) {
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`cannot read ${file}`);
  const rows = checker.getExportsOfModule(moduleSymbol).map((s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    // `export type { X }` of a value is type-only for a caller: it cannot be used at run time
    const typeOnly =
      s.declarations?.some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ??
      false;
    const value = !typeOnly && (target.flags & ts.SymbolFlags.Value) !== 0;
    return `${s.name} ${value ? 'value' : 'type'}`;
  });
  if (files.length > 1) console.log(`# ${process.argv[2 + files.indexOf(file)]}`);
  for (const r of rows.sort()) console.log(r);
}
