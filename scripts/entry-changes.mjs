#!/usr/bin/env node
// The entry-level changes of the public API, as CHANGELOG.md lists them: the names of an old main entry (a list
// written by scripts/entry-exports.mjs, `NAME value|type` per line) against the three entries of today. Prints
// Markdown: the names moved to `chain-of-trust/queue` and `chain-of-trust/testing`, the names no entry exports any
// more, and the names that are new in each entry.
//
//   node scripts/entry-changes.mjs scripts/api/index-0.1.0.txt
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const parse = (text) =>
  new Map(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(' ')),
  );
const oldList = process.argv[2];
if (!oldList) {
  console.error('usage: node scripts/entry-changes.mjs OLD-ENTRY-LIST.txt');
  process.exit(2);
}
const old = parse(readFileSync(oldList, 'utf8'));
const entries = {
  '.': 'src/index.ts',
  './queue': 'src/queue.ts',
  './attest': 'src/attest.ts',
  './testing': 'src/testing.ts',
};
const now = Object.fromEntries(
  Object.entries(entries).map(([k, f]) => [
    k,
    parse(
      execFileSync(process.execPath, [join(ROOT, 'scripts/entry-exports.mjs'), join(ROOT, f)], {
        encoding: 'utf8',
      }),
    ),
  ]),
);
const byName = (a, b) => a.toLowerCase().localeCompare(b.toLowerCase()) || a.localeCompare(b);
const names = (list) =>
  list.length
    ? list
        .sort(byName)
        .map((n) => `\`${n}\``)
        .join(', ')
    : 'none';
const split = (list, kinds) => {
  const values = list.filter((n) => kinds.get(n) === 'value');
  const types = list.filter((n) => kinds.get(n) === 'type');
  const count = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  return `${count(values.length, 'value')}: ${names(values)}; ${count(types.length, 'type')}: ${names(types)}`;
};
const pkg = (k) => (k === '.' ? 'chain-of-trust' : `chain-of-trust/${k.slice(2)}`);

for (const k of ['./queue', './attest', './testing']) {
  const moved = [...old.keys()].filter((n) => now[k].has(n));
  // an entry made after 0.1.0 (chain-of-trust/attest) took nothing from the old main entry: no line
  if (moved.length > 0)
    console.log(`- Moved from \`chain-of-trust\` to \`${pkg(k)}\` (${split(moved, old)}).`);
}
const gone = [...old.keys()].filter((n) => !Object.values(now).some((m) => m.has(n)));
console.log(`- No longer exported by any entry (${split(gone, old)}).`);
for (const k of Object.keys(entries)) {
  const added = [...now[k].keys()].filter((n) => !old.has(n));
  console.log(`- New in \`${pkg(k)}\` (${split(added, now[k])}).`);
}
