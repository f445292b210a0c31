#!/usr/bin/env node
// The longest functions of the source, for the before/after figures of issue 11 ("the longest function in src/ is
// under 120 lines; report the ten longest before and after"). Counts every function declaration, method, arrow
// function, function expression, constructor and accessor, from its first token (its doc comment not counted) to
// its last line, as test/unit/architecture.test.ts does.
//
//   node scripts/function-lengths.mjs [folder=src] [count=10]
//
// Prints one line per function, longest first: `LINES  FILE:LINE  NAME`.
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import ts from 'typescript';

const root = process.argv[2] ?? 'src';
const count = Number(process.argv[3] ?? 10);
if (!Number.isSafeInteger(count) || count < 1) {
  process.stderr.write('usage: node scripts/function-lengths.mjs [folder=src] [count=10]\n');
  process.exit(2);
}

const isFunction = (n) =>
  ts.isFunctionDeclaration(n) ||
  ts.isMethodDeclaration(n) ||
  ts.isArrowFunction(n) ||
  ts.isFunctionExpression(n) ||
  ts.isConstructorDeclaration(n) ||
  ts.isGetAccessorDeclaration(n) ||
  ts.isSetAccessorDeclaration(n);

/** The declared name (Class.method for members), the variable or property it is assigned to, else <anonymous>. */
function nameOf(n) {
  const holder = ts.isClassLike(n.parent) && n.parent.name ? `${n.parent.name.getText()}.` : '';
  if (ts.isConstructorDeclaration(n)) return `${holder}constructor`;
  if (n.name) return `${holder}${n.name.getText()}`;
  const p = n.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name)
    return p.name.getText();
  return '<anonymous>';
}

const found = [];
const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
for (const name of files.sort()) {
  const path = join(root, name);
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const line = (pos) => file.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (n) => {
    if (isFunction(n)) {
      const start = line(n.getStart(file));
      found.push({
        lines: line(n.getEnd()) - start + 1,
        where: `${path.split(sep).join('/')}:${start}`,
        name: nameOf(n),
      });
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
}
found.sort((a, b) => b.lines - a.lines || a.where.localeCompare(b.where));
for (const f of found.slice(0, count))
  process.stdout.write(`${String(f.lines).padStart(5)}  ${f.where}  ${f.name}\n`);
