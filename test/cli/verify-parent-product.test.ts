/**
 * Issue 12 §1: `cot verify-parent ... (--product NAME | --policy FILE)`: the product's preset, or the policy's tree
 * section, gives the rebuild its allowed tasks_for, its env prefix and its trusted repositories. The shared vectors
 * are read in place; the demo's own tree and policy need nothing from ../shared.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';
import { schemaProblems } from '../helpers/schemas.js';

const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && existsSync(join(COT, 'README.md'));
const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);
const MAPLE = [
  'verify-parent',
  join(COT, 'cotv2/decision_hg-push.json'),
  '--task-id',
  'VQU9QMO4Teq7zr91FhBusg',
];

function checked(r: { out: string; code: number }): Record<string, unknown> {
  const j = JSON.parse(r.out) as Record<string, unknown>;
  expect(schemaProblems('verify-parent', j)).toEqual([]);
  return j;
}

describe.skipIf(!HAVE_COT)('cot verify-parent --product', () => {
  it('firefox: the maple decision task matches, in a trusted repository of firefox', async () => {
    const r = await cot(...MAPLE, '--tree', join(COT, 'cotv2'), '--product', 'firefox');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(tasks_for hg-push, level 3): match (tasks[0] of 1)');
    expect(r.out).toContain('  repository: /projects/maple, a trusted repository of firefox\n');
    const j = checked(await cot(...MAPLE, '--tree', join(COT, 'cotv2'), '--product', 'firefox', '--json'));
    expect(j).toMatchObject({ ok: true, rules: { source: 'firefox', trustedRepository: '/projects/maple' } });
  });

  it('firefox: a try action still rebuilds, its repository not a trusted one', async () => {
    const r = await cot(
      'verify-parent',
      join(COT, 'cotv4/action_retrigger.json'),
      '--task-id',
      'E93EolXNSRuV2gOy7yMZEA',
      '--decision-task',
      join(COT, 'cotv4/decision_try.json'),
      '--decision-task-id',
      'LpCJV9wUQHSAm5SHyW4Olw',
      '--tree',
      join(COT, 'cotv4'),
      '--product',
      'firefox',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    expect(checked(r)).toMatchObject({ ok: true, rules: { source: 'firefox', trustedRepository: null } });
  });

  it("mobile: an hg-push task is not among the product's tasks_for (TREE_TASKS_FOR_UNKNOWN)", async () => {
    const r = await cot(...MAPLE, '--tree', join(COT, 'cotv2'), '--product', 'mobile');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/^cot: TREE_TASKS_FOR_UNKNOWN: /m);
  });

  it('an unknown product, or --product with --policy, is a usage error', async () => {
    const bad = await cot(...MAPLE, '--tree', join(COT, 'cotv2'), '--product', 'netscape');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('firefox');
    const both = await cot(
      ...MAPLE,
      '--tree',
      join(COT, 'cotv2'),
      '--product',
      'firefox',
      '--policy',
      'p.yml',
    );
    expect(both.code).toBe(2);
  });
});

describe('cot verify-parent --policy', () => {
  it("the demo's decision task, with the demo policy's tree section (DEMO prefix, its trusted repository)", async () => {
    const d = await tempDir('cot-vp-policy-');
    const out = join(d, 'demo');
    expect((await cot('demo', '--out', out)).code).toBe(0);
    const { taskId } = JSON.parse(await readFile(join(out, 'demo.json'), 'utf8')) as { taskId: string };
    const decision = (
      JSON.parse(await readFile(join(out, 'queue', taskId, 'task.json'), 'utf8')) as {
        dependencies: string[];
        taskGroupId: string;
      }
    ).taskGroupId;
    const tree = join(out, 'tree/hg.example.com/releases', 'a'.repeat(40));
    const args = [
      'verify-parent',
      join(out, 'queue', decision, 'task.json'),
      '--task-id',
      decision,
      '--tree',
      tree,
    ];
    const r = await cot(...args, '--policy', join(out, 'policy.yml'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(
      `task ${decision}: rebuilt from https://hg.example.com/releases@${'a'.repeat(40)} ${join(tree, '.taskcluster.yml')} (tasks_for hg-push, level 3): match (tasks[0] of 1)`,
    );
    expect(r.out).toContain(`  repository: /releases, a trusted repository of ${join(out, 'policy.yml')}\n`);
    // with a policy that has no tree section: a usage error naming it
    const bare = join(d, 'bare.yml');
    await writeFile(
      bare,
      (await readFile(join(out, 'policy.yml'), 'utf8'))
        .replace(/^tree:[\s\S]*$/m, '')
        .replaceAll('key-repo', join(out, 'key-repo'))
        .replace('ed25519-keys.json', join(out, 'ed25519-keys.json')),
    );
    const none = await cot(...args, '--policy', bare);
    expect(none.code).toBe(2);
    expect(none.err).toContain('has no tree section');
  });
});
