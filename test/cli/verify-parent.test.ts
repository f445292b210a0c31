import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { HAVE_SHARED, SHARED_INTEROP, tempDir } from '../helpers/env.js';
import { schemaProblems } from '../helpers/schemas.js';

// cot verify-parent on the shared vectors (../shared/interop/scriptworker-cot, read in place).
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && existsSync(join(COT, 'README.md'));
if (!HAVE_COT) console.warn(`[cot tests] ${COT} is absent: the cot verify-parent tests on it are skipped`);
const NOW = new Date('2026-11-25T12:00:00Z');
const cot = (...args: string[]) => runCli(NOW, ...args);

function checked(r: { out: string; code: number }): Record<string, unknown> {
  const j = JSON.parse(r.out) as Record<string, unknown>;
  expect(Object.keys(j)[0]).toBe('schemaVersion');
  expect(schemaProblems('verify-parent', j)).toEqual([]);
  expect(j.ok === true).toBe(r.code === 0);
  return j;
}

describe.skipIf(!HAVE_COT)('cot verify-parent', () => {
  it('a decision task rebuilt from its tree: match, in text and JSON; the duplicated key warned about', async () => {
    const args = [
      'verify-parent',
      join(COT, 'cotv2/decision_hg-push.json'),
      '--task-id',
      'VQU9QMO4Teq7zr91FhBusg',
    ];
    const r = await cot(...args, '--tree', join(COT, 'cotv2'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^task VQU9QMO4Teq7zr91FhBusg: rebuilt from https:\/\/hg\.mozilla\.org\/projects\/maple@054fe08d229f064a71bae9bb793e7ab8d95eff61 .*\.taskcluster\.yml \(tasks_for hg-push, level 3\): match \(tasks\[0\] of 1\)$/m,
    );
    expect(r.err).toMatch(/^cot: warning: .*projects\.yml: a mapping key is duplicated/m);
    const j = checked(await cot(...args, '--tree', join(COT, 'cotv2'), '--json'));
    expect(j).toMatchObject({ ok: true, tasksFor: 'hg-push', match: 0, closest: null, differences: [] });
  });

  it('an action with its decision task', async () => {
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
      '--json',
    );
    expect(checked(r)).toMatchObject({
      ok: true,
      tasksFor: 'action',
      decisionTaskId: 'LpCJV9wUQHSAm5SHyW4Olw',
    });
  });

  it('a tampered task: exit 1, TREE_TASK_MISMATCH, the differing path with both values', async () => {
    const d = await tempDir();
    const task = JSON.parse(await readFile(join(COT, 'cotv2/decision_hg-push.json'), 'utf8'));
    task.scopes.push('secrets:get:project/releng/*');
    await writeFile(join(d, 'task.json'), JSON.stringify(task));
    const args = ['verify-parent', join(d, 'task.json'), '--task-id', 'VQU9QMO4Teq7zr91FhBusg', '--tree'];
    const r = await cot(...args, join(COT, 'cotv2'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('NO MATCH');
    expect(r.out).toContain('scopes[2]: absent vs "secrets:get:project/releng/*"');
    expect(r.err).toMatch(/^cot: TREE_TASK_MISMATCH: /m);
    const j = checked(await cot(...args, join(COT, 'cotv2'), '--json'));
    expect(j).toMatchObject({ ok: false, closest: 0, error: { code: 'TREE_TASK_MISMATCH' } });
    expect(j.differences).toEqual([{ path: 'scopes[2]', actual: 'secrets:get:project/releng/*' }]);
  });

  it('bad input: a missing tree file names it (exit 4); a malformed id is a usage error', async () => {
    const d = await tempDir();
    const r = await cot(
      'verify-parent',
      join(COT, 'cotv2/decision_hg-push.json'),
      '--task-id',
      'VQU9QMO4Teq7zr91FhBusg',
      '--tree',
      d,
      '--json',
    );
    expect(r.code).toBe(4);
    expect(checked(r).error).toMatchObject({ code: 'TREE_FILE_MISSING' });
    expect(r.err).toContain(join(d, 'projects.yml'));
    const bad = await cot('verify-parent', join(COT, 'cotv2/cron.json'), '--task-id', 'nope', '--tree', d);
    expect(bad.code).toBe(2);
    const half = await cot(
      'verify-parent',
      join(COT, 'cotv2/cron.json'),
      '--task-id',
      'D4euZNyCRtuBci-fnsfn7A',
      '--decision-task-id',
      'VQU9QMO4Teq7zr91FhBusg',
      '--tree',
      join(COT, 'cotv2'),
    );
    expect(half.err).toMatch(/^cot: USAGE: --decision-task and --decision-task-id go together/m);
  });

  it('options of the online fetch with --tree are a usage error, not silently ignored', async () => {
    for (const [option, value] of [
      ['--tree-host', 'hg.mozilla.org'],
      ['--tree-base-url', 'hg.mozilla.org=http://127.0.0.1:9'],
      ['--projects-url', 'https://example.com/projects.yml'],
    ] as const) {
      const r = await cot(
        'verify-parent',
        join(COT, 'cotv2/decision_hg-push.json'),
        '--task-id',
        'VQU9QMO4Teq7zr91FhBusg',
        '--tree',
        join(COT, 'cotv2'),
        option,
        value,
      );
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`${option}.*cannot be used with.*--tree`));
    }
  });
});
