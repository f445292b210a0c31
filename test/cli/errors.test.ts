import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestChain, type TestChain } from '../helpers/chain.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

// Issue 10: every error the command line prints is `cot: CODE: message` (one line) with the exit its code maps to.
const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);
let d: string;
let demo: TestChain;

beforeAll(async () => {
  d = await tempDir();
  demo = await buildTestChain(join(d, 'demo'), NOW);
  await mkdir(join(d, 'a-folder'));
  await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask()));
});

const oneLine = (err: string) => expect(err.trim().split('\n')).toHaveLength(1);

describe('option-parser errors use the documented form', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'unknown option',
      ['verify', TASK_ID, '--policy', 'p.yml', '--queue', 'q', '--frobnicate'],
      /unknown option '--frobnicate' \(see cot verify --help\)$/,
    ],
    [
      'missing required option',
      ['verify', TASK_ID, '--queue', 'q'],
      /required option '--policy <file>' not specified \(see cot verify --help\)$/,
    ],
    [
      'missing argument',
      ['verify', '--queue', 'q', '--policy', 'p.yml'],
      /missing required argument 'taskId' \(see cot verify --help\)$/,
    ],
    [
      'bad choice',
      ['keys', 'new', '--type', 'rsa', '--out', 'k'],
      /argument 'rsa' is invalid\. Allowed choices are openpgp, ed25519\. \(see cot keys new --help\)$/,
    ],
    ['unknown command', ['keys', 'lst'], /unknown command 'lst'.*\(see cot keys --help\)$/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: cot: USAGE: ..., exit 2; with --json the JSON form`, async () => {
      const r = await cot(...args);
      expect(r.code, r.err).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/^cot: USAGE: /);
      expect(r.err.trimEnd()).toMatch(message);
      expect(r.err).not.toMatch(/^error: |run cot --help for usage/m);
      const j = await cot(...args, '--json');
      expect(j.code).toBe(2);
      expect(JSON.parse(j.out)).toMatchObject({
        ok: false,
        error: { code: 'USAGE', message: expect.stringMatching(message) },
      });
    });
  }
});

describe('a directory where a file is expected is a FILE_* error, never EISDIR or INTERNAL', () => {
  const folder = () => join(d, 'a-folder');
  const cases: [string, () => string[]][] = [
    ['--policy', () => ['verify', demo.taskId, '--queue', join(demo.dir, 'queue'), '--policy', folder()]],
    [
      '--task',
      () => [
        ...generateArgs(
          folder(),
          '--artifacts',
          join(demo.dir, 'keys'),
          '--key',
          join(demo.dir, 'keys/generic-worker.key'),
        ),
      ],
    ],
    [
      'verify-link <file>',
      () => ['verify-link', folder(), '--key', join(demo.dir, 'keys/generic-worker.pub')],
    ],
    ['verify-link --key', () => ['verify-link', join(d, 'task.json'), '--key', folder()]],
    [
      'verify-signature --sig',
      () => [
        'verify-signature',
        join(d, 'task.json'),
        '--sig',
        folder(),
        '--key',
        join(demo.dir, 'keys/generic-worker.pub'),
      ],
    ],
    ['--ed25519-keys', () => ['keys', 'list', '--ed25519-keys', folder()]],
    [
      '--environment',
      () => [
        ...generateArgs(
          join(d, 'task.json'),
          '--artifacts',
          join(demo.dir, 'keys'),
          '--key',
          join(demo.dir, 'keys/generic-worker.key'),
          '--environment',
          folder(),
        ),
      ],
    ],
    ['keys guard', () => ['keys', 'guard', folder()]],
    [
      'verify-attestation <file>',
      () => ['verify-attestation', folder(), '--key', join(demo.dir, 'keys/generic-worker.pub')],
    ],
    ['verify-attestation --key', () => ['verify-attestation', join(d, 'task.json'), '--key', folder()]],
    [
      'attest provenance --key',
      () => [
        'attest',
        'provenance',
        demo.taskId,
        '--queue',
        join(demo.dir, 'queue'),
        '--policy',
        demo.policy,
        '--key',
        folder(),
        '--out',
        join(d, 'attest-out'),
      ],
    ],
  ];
  for (const [what, args] of cases) {
    it(what, async () => {
      const r = await cot(...args());
      expect(r.code, r.err).toBe(4);
      oneLine(r.err);
      expect(r.err).toMatch(/^cot: FILE_UNREADABLE: .*a-folder.* is a directory/);
      expect(r.err).not.toMatch(/EISDIR|INTERNAL/);
    });
  }
});

describe('keys list / keys check refuse what is not a key repository', () => {
  it('an empty folder, a folder of key files, an implementation folder: KEY_REPO_INVALID, exit 4', async () => {
    const repo = join(demo.dir, 'key-repo');
    const keysOnly = join(d, 'keys-only');
    await cp(join(demo.dir, 'keys'), keysOnly, { recursive: true });
    const cases: [string, RegExp][] = [
      [join(d, 'a-folder'), /is not a key repository: it has no implementation folder/],
      [keysOnly, /only key files at its top/],
      [
        join(repo, 'scriptworker'),
        /not a key repository but an implementation folder of one \(it holds trusted\/ and valid\/\): give the folder above it/,
      ],
    ];
    for (const [dir, message] of cases) {
      for (const cmd of ['list', 'check']) {
        const r = await cot('keys', cmd, dir);
        // before: exit 0, "ok: 0 key(s)" or the roots listed as the worker keys of an implementation "trusted"
        expect(r.code, `${cmd} ${dir}: ${r.out}${r.err}`).toBe(4);
        oneLine(r.err);
        expect(r.err).toMatch(/^cot: KEY_REPO_INVALID: /);
        expect(r.err).toMatch(message);
        expect(r.out).toBe('');
      }
    }
    // the repository itself still lists and checks
    expect((await cot('keys', 'list', repo)).code).toBe(0);
    expect((await cot('keys', 'check', repo)).code).toBe(0);
  });
});
