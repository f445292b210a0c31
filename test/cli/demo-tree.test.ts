/**
 * Issue 12 §3: `cot demo` has a real source tree. Its decision task is what its `.taskcluster.yml` renders for
 * hg-push, `cot verify` on the demo folder rebuilds it and traces the chain to the tree offline, and
 * `--tamper-tree` shows the two refusals: a decision task its tree did not render, a release scope from a
 * repository the policy does not trust.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const TREE = 'tree/hg.example.com/releases/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

let d: string;
beforeAll(async () => {
  d = await tempDir('cot-demo-tree-');
});

describe('cot demo with its source tree', () => {
  it('writes the tree material and verify traces the chain to it offline', async () => {
    const out = join(d, 'ok');
    const r = await runCli(NOW, 'demo', '--out', out);
    expect(r.code, r.err).toBe(0);
    for (const f of ['.taskcluster.yml', 'pushlog.json', 'projects.yml'])
      expect((await stat(join(out, TREE, f))).isFile()).toBe(true);
    expect(await readFile(join(out, TREE, 'projects.yml'), 'utf8')).toContain('access: scm_level_3');
    expect(await readFile(join(out, 'policy.yml'), 'utf8')).toMatch(
      /^tree:\n {2}required: true\n {2}dir: tree$/m,
    );
    const { taskId } = JSON.parse(await readFile(join(out, 'demo.json'), 'utf8')) as { taskId: string };
    const v = await runCli(
      NOW,
      'verify',
      taskId,
      '--queue',
      join(out, 'queue'),
      '--policy',
      join(out, 'policy.yml'),
    );
    expect(v.code, v.err).toBe(0);
    expect(v.out).toContain(
      'rebuilt from https://hg.example.com/releases@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa .taskcluster.yml (tasks_for hg-push, level 3): match (tasks[0] of 1)',
    );
    expect(v.out).toContain(
      'tree trace: repository /releases, level 3, scope project:releng:beetmover:bucket:release allowed (release)',
    );
    expect(v.out).not.toContain('tree not traced');
  });

  it('--tamper-tree decision: a decision task its tree did not render is TREE_TASK_MISMATCH', async () => {
    const r = await runCli(NOW, 'demo', '--out', join(d, 'decision'), '--tamper-tree', 'decision', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { ok: boolean; errors: { code: string; message: string }[] };
    expect(j.ok).toBe(false);
    expect([...new Set(j.errors.map((e) => e.code))]).toEqual(['TREE_TASK_MISMATCH']);
    expect(j.errors[0]!.message).toContain('payload.command');
  });

  it('--tamper-tree untrusted: a release scope from an untrusted repository is TREE_SCOPE_NOT_ALLOWED', async () => {
    const r = await runCli(
      NOW,
      'demo',
      '--out',
      join(d, 'untrusted'),
      '--tamper-tree',
      'untrusted',
      '--json',
    );
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { errors: { code: string; message: string }[] };
    expect([...new Set(j.errors.map((e) => e.code))]).toEqual(['TREE_SCOPE_NOT_ALLOWED']);
    expect(j.errors[0]!.message).toContain('project:releng:beetmover:bucket:release');
    // the verified task has no repository variable: the refusal names its source, where its repository was read
    expect(j.errors[0]!.message).toMatch(/^repository https:\/\/hg\.example\.com\/\S+ \(not a trusted one\)/);
    expect(j.errors[0]!.message).not.toContain('not named');
  });

  it('--tamper keeps its meaning (an artifact swapped: HASH_MISMATCH), and --tamper-tree takes only its kinds', async () => {
    const t = await runCli(NOW, 'demo', '--out', join(d, 'tamper'), '--tamper', '--json');
    expect(t.code).toBe(1);
    const j = JSON.parse(t.out) as { errors: { code: string }[] };
    expect([...new Set(j.errors.map((e) => e.code))]).toEqual(['HASH_MISMATCH']);
    const bad = await runCli(NOW, 'demo', '--out', join(d, 'bad'), '--tamper-tree', 'bogus');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('decision, untrusted');
  });
});
