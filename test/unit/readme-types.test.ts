import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as attestEntry from '../../src/attest.js';
import * as mainEntry from '../../src/index.js';
import * as queueEntry from '../../src/queue.js';
import * as testingEntry from '../../src/testing.js';
import { REPO } from '../helpers/env.js';

// Issue 11 move 3: "A type test compiles the documented README examples against the published types." Every
// TypeScript/JavaScript block of README.md that imports from 'chain-of-trust' (or one of its subpath entries) is
// compiled, strict, against the built declarations (dist/*.d.ts, npm run build): the blocks are laid in the
// repository's root, where the package's own name resolves through package.json `exports` (a package
// self-reference), exactly as a caller's import resolves in node_modules. And "The library" lists, per entry, the
// names it exports: no runtime name is left out and no listed name is missing from its entry.

const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const PACKAGE = /\bfrom '(chain-of-trust(?:\/[a-z]+)?)'/g;

interface Example {
  /** a virtual file in the repository's root: readme-example-<line>.mts */
  file: string;
  /** README line of the block's first code line */
  line: number;
  code: string;
}

/** The fenced ts/js blocks of the README that import the package. */
function examples(): Example[] {
  const out: Example[] = [];
  const fence = /^```(ts|typescript|js|javascript|mjs)\n([\s\S]*?)^```$/gm;
  for (const m of README.matchAll(fence)) {
    const code = m[2]!;
    if ([...code.matchAll(PACKAGE)].length === 0) continue;
    const line = README.slice(0, m.index).split('\n').length + 1;
    out.push({ file: join(REPO, `readme-example-${line}.mts`), line, code });
  }
  return out;
}

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
};

/** A compiler host that also serves the examples, as if they were files of the repository's root. */
function hostFor(all: Example[]): ts.CompilerHost {
  const host = ts.createCompilerHost(OPTIONS, true);
  const byFile = new Map(all.map((e) => [e.file, e.code]));
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => byFile.has(f) || fileExists.call(host, f);
  host.readFile = (f) => byFile.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const code = byFile.get(f);
    return code === undefined
      ? getSourceFile.call(host, f, lang, ...rest)
      : ts.createSourceFile(f, code, lang);
  };
  return host;
}

function where(d: ts.Diagnostic, all: Example[]): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  if (!d.file || d.start === undefined) return text;
  const { line } = d.file.getLineAndCharacterOfPosition(d.start);
  const ex = all.find((e) => e.file === d.file!.fileName);
  return ex ? `README.md:${ex.line + line}: ${text}` : `${d.file.fileName}:${line + 1}: ${text}`;
}

describe('README library examples (issue 11)', () => {
  const all = examples();
  const built = existsSync(join(REPO, 'dist/index.d.ts'));

  it('finds the examples: the install one and those of "The library", one per entry', () => {
    expect(all.length).toBeGreaterThanOrEqual(4);
    const specs = new Set(all.flatMap((e) => [...e.code.matchAll(PACKAGE)].map((m) => m[1])));
    expect(specs).toEqual(
      new Set(['chain-of-trust', 'chain-of-trust/queue', 'chain-of-trust/attest', 'chain-of-trust/testing']),
    );
  });

  it('each import resolves, through package.json exports, to a built declaration file in dist/', () => {
    expect(built, 'dist/ is missing: npm run build').toBe(true);
    const host = hostFor(all);
    for (const e of all)
      for (const m of e.code.matchAll(PACKAGE)) {
        const r = ts.resolveModuleName(m[1]!, e.file, OPTIONS, host).resolvedModule;
        expect(r?.resolvedFileName, m[1]).toBe(
          join(REPO, 'dist', `${m[1] === 'chain-of-trust' ? 'index' : m[1]!.split('/')[1]}.d.ts`),
        );
      }
  });

  it('every example type-checks (strict) against the built declarations', () => {
    expect(built, 'dist/ is missing: npm run build').toBe(true);
    const program = ts.createProgram(
      all.map((e) => e.file),
      OPTIONS,
      hostFor(all),
    );
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => where(d, all));
    expect(diagnostics).toEqual([]);
  });

  it('a wrong example would fail: the check is not vacuous', () => {
    const wrong: Example = {
      file: join(REPO, 'readme-example-wrong.mts'),
      line: 1,
      code: "import { verifyLink } from 'chain-of-trust';\nawait verifyLink({ data: 'not bytes', at: 0 });\n",
    };
    const program = ts.createProgram([wrong.file], OPTIONS, hostFor([wrong]));
    expect(ts.getPreEmitDiagnostics(program).length).toBeGreaterThan(0);
  });
});

describe('"The library" names each entry\'s exports', () => {
  const section = README.slice(README.indexOf('## The library\n'), README.indexOf('## Error codes\n'));
  /** The README's list item of an entry: from "- `NAME`," to the next item or blank line. */
  const item = (name: string) => {
    const m = new RegExp(`^- \`${name.replace('/', '\\/')}\`,[\\s\\S]*?(?=\\n- |\\n\\n)`, 'm').exec(section);
    if (!m) throw new Error(`README: no list item for ${name}`);
    return new Set([...m[0].matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((x) => x[1]!));
  };
  const entries = [
    ['chain-of-trust', mainEntry, 'src/index.ts'],
    ['chain-of-trust/queue', queueEntry, 'src/queue.ts'],
    ['chain-of-trust/attest', attestEntry, 'src/attest.ts'],
    ['chain-of-trust/testing', testingEntry, 'src/testing.ts'],
  ] as const;

  /** Every name each entry exports, types included (read with the type checker from the sources), by source. */
  let exportsBySource: Map<string, Set<string>> | undefined;
  function exportedNames(entry: string): Set<string> {
    if (!exportsBySource) {
      const files = entries.map((e) => join(REPO, e[2]));
      const program = ts.createProgram(files, OPTIONS);
      const checker = program.getTypeChecker();
      exportsBySource = new Map(
        entries.map((e, i) => {
          const symbol = checker.getSymbolAtLocation(program.getSourceFile(files[i]!)!)!;
          return [e[2], new Set(checker.getExportsOfModule(symbol).map((s) => s.name))];
        }),
      );
    }
    return exportsBySource.get(entry)!;
  }

  for (const [name, module, source] of entries)
    it(`${name}: every runtime export is listed in its item, every name listed is exported`, () => {
      const listed = item(name);
      const runtime = Object.keys(module);
      expect(runtime.filter((n) => !listed.has(n))).toEqual([]);
      // a name listed under another entry's item (e.g. `verifyChain` in the queue's) must be exported by that one
      const anywhere = new Set(entries.flatMap((e) => [...exportedNames(e[2])]));
      expect([...listed].filter((n) => !exportedNames(source).has(n) && !anywhere.has(n))).toEqual([]);
    });

  it('the main entry stays narrow (issue 11: about 40 names) and exports no exit code', () => {
    expect(Object.keys(mainEntry).length).toBeLessThanOrEqual(45);
    // exit codes are the command line's; the library says what kind a failure is (failureKind, failureOutcome)
    for (const e of entries)
      for (const n of ['EXIT', 'EXIT_CODE_FOR', 'EXIT_FOR_KIND', 'exitCodeFor'])
        expect(e[1]).not.toHaveProperty(n);
    expect(
      mainEntry.failureOutcome(
        [{ code: 'TRANSPORT_NETWORK' }, { code: 'HASH_MISMATCH' }],
        'CHAIN_VERIFICATION_FAILED',
      ),
    ).toEqual({
      code: 'CHAIN_VERIFICATION_FAILED',
      kind: 'untrusted',
      deciding: { code: 'HASH_MISMATCH' },
    });
  });
});
