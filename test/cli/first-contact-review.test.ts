import { spawnSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateArgs, runCli } from '../helpers/cli.js';
import { REPO, sampleTask, tempDir } from '../helpers/env.js';

// Issue 10, second review: what a fresh new user still broke after the first round. Each test names the command
// and what happened before the fix.

const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);

let d: string;
let demo: string;
let root: string;
let links: { taskId: string; decision: boolean; upstream: string[] }[];
let queue: string;
let policy: string;

beforeAll(async () => {
  d = await tempDir('cot-review10-');
  demo = join(d, 'demo');
  const r = await cot('demo', '--out', demo, '--json');
  expect(r.code).toBe(0);
  root = JSON.parse(r.out).root;
  links = JSON.parse(r.out).links;
  queue = join(demo, 'queue');
  policy = join(demo, 'policy.yml');
});

describe('verify --report never writes over what the verification reads', () => {
  it('refuses a report path inside the --queue store (was: exit 0, HTML over task.json)', async () => {
    const target = join(queue, root, 'task.json');
    const before = await readFile(target, 'utf8');
    const r = await cot('verify', root, '--queue', queue, '--policy', policy, '--report', target);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cot: USAGE: .*--report.*queue/);
    expect(await readFile(target, 'utf8')).toBe(before);
  });

  it('refuses a new file inside the store too (it would become part of what the next run reads)', async () => {
    const target = join(queue, 'report.html');
    const r = await cot('verify', root, '--queue', queue, '--policy', policy, '--report', target);
    expect(r.code).toBe(2);
    expect(await readdir(queue)).not.toContain('report.html');
  });

  it('still writes a report beside the store', async () => {
    const target = join(d, 'report.html');
    const r = await cot('verify', root, '--queue', queue, '--policy', policy, '--report', target);
    expect(r.code).toBe(0);
    expect(await readFile(target, 'utf8')).toMatch(/^<!doctype html>/i);
  });
});

describe('key repositories', () => {
  it('a folder with folders but no key files is not a key repository (was: ok: 0 key(s))', async () => {
    const proj = join(d, 'proj');
    await mkdir(join(proj, 'src'), { recursive: true });
    await mkdir(join(proj, 'docs'), { recursive: true });
    await writeFile(join(proj, 'src/a.ts'), 'x\n');
    await writeFile(join(proj, 'README.md'), 'r\n');
    for (const cmd of ['check', 'list']) {
      const r = await cot('keys', cmd, proj, '--json');
      expect(r.code).toBe(4);
      expect(JSON.parse(r.out).error.code).toBe('KEY_REPO_INVALID');
      expect(JSON.parse(r.out).error.message).toMatch(/no key file/);
    }
  });

  it('a flat implementation folder given one level too deep is named as such (was: implementation "2026-11")', async () => {
    const r = await cot('keys', 'list', join(demo, 'key-repo/docker-worker'));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/KEY_REPO_INVALID/);
    expect(r.err).toMatch(/implementation folder/);
    expect(r.err).toMatch(/2026-11/);
  });
});

describe('fetch --out', () => {
  it('a file given as the mirror folder is a coded FILE_ error, not INTERNAL (was: exit 70, stack trace)', async () => {
    const file = join(d, 'important.txt');
    await writeFile(file, 'keep me\n');
    const r = await cot('fetch', root, '--queue', queue, '--out', file);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/cot: FILE_[A-Z_]+: .*important\.txt.*not a folder/);
    expect(r.err).not.toMatch(/INTERNAL|at .*\.js:\d+/);
    expect(await readFile(file, 'utf8')).toBe('keep me\n');
  });
});

describe('demo --json', () => {
  it('a tampered demo carries the error member, as verify --json does (was: ok false, no error)', async () => {
    const r = await cot('demo', '--out', join(d, 'tampered'), '--tamper', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe('CHAIN_VERIFICATION_FAILED');
  });
});

describe('wording', () => {
  it('counts agree with their nouns in generate and verify-link output (was: "1 artifacts hashed")', async () => {
    const art = join(d, 'one');
    await mkdir(art);
    await writeFile(join(art, 'a.txt'), 'a\n');
    await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask()));
    expect(
      (
        await cot(
          'keys',
          'new',
          '--type',
          'ed25519',
          '--out',
          join(d, 'w.key'),
          '--pub-out',
          join(d, 'w.pub'),
        )
      ).code,
    ).toBe(0);
    const g = await cot(
      ...generateArgs(
        join(d, 'task.json'),
        '--artifacts',
        art,
        '--key',
        join(d, 'w.key'),
        '--out',
        join(d, 'cot'),
      ),
    );
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/\b1 artifact hashed\b/);
    const v = await cot(
      'verify-link',
      join(d, 'cot/chain-of-trust.json'),
      '--key',
      join(d, 'w.pub'),
      '--artifacts',
      art,
    );
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/\b1 artifact checked\b/);
    expect(g.out + v.out).not.toMatch(/\b1 artifacts\b|artifact\(s\)/);
  });

  it('a bare `cot` is a usage error that shows the commands (was: exit 0)', async () => {
    const r = await cot();
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Commands:/);
  });
});

describe('the summary names the cause, not only its consequence', () => {
  it('a consumer of a task the queue does not have says why that task did not verify (was: only "did not verify")', async () => {
    const q = join(d, 'queue-missing');
    await cp(queue, q, { recursive: true });
    const rootLink = links.find((l) => l.taskId === root)!;
    const producer = rootLink.upstream.find((id) => !links.find((l) => l.taskId === id)?.decision)!;
    await rm(join(q, producer), { recursive: true });
    const r = await cot('verify', root, '--queue', q, '--policy', policy, '--json');
    expect(r.code).toBe(4);
    const j = JSON.parse(r.out);
    const consequence = j.errors.find(
      (e: { taskId?: string; message: string }) => e.taskId === root && e.message.includes(producer),
    );
    expect(consequence.details.causedBy).toBe(producer);
    expect(j.error.message).toMatch(
      new RegExp(
        `first: QUEUE_NOT_FOUND: .*${producer}, whose chain-of-trust document did not verify; because QUEUE_NOT_FOUND: .*${producer}`,
      ),
    );
  });
});

describe('a reader that closes the pipe early', () => {
  it('`cot --help | head -1` ends quietly with exit 0 (was: an unhandled EPIPE stack trace, exit 1)', () => {
    // a real pipe into a reader that exits after its first line, as a user's shell makes it
    const r = spawnSync(
      'bash',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
      ['-c', 'node "$0" --help | head -1 >/dev/null; exit "${PIPESTATUS[0]}"', join(REPO, 'bin/cot.js')],
      { encoding: 'utf8' },
    );
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    expect(r.status).toBe(0);
  });
});
