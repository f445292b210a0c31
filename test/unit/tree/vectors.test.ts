import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isJsonObject, type JsonObject } from '../../../src/json/parse.js';
import { planRebuild } from '../../../src/tree/context.js';
import { readTreeFolder, type TreeMaterial } from '../../../src/tree/files.js';
import { type RebuildParentOptions, rebuildParentTask } from '../../../src/tree/rebuild.js';
import { renderJsonE } from '../../../src/tree/render.js';
import { HAVE_SHARED, SHARED_INTEROP } from '../../helpers/env.js';

// The shared vectors (../shared/interop/scriptworker-cot/README.md): real decision, cron and action tasks of
// Mozilla's production Taskcluster with the tree material they were made from. Read in place, never copied.
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && (await import('node:fs')).existsSync(join(COT, 'README.md'));
if (!HAVE_COT) console.warn(`[cot tests] ${COT} is absent: the tree rebuild vectors are skipped`);

async function task(file: string): Promise<JsonObject> {
  return JSON.parse(await readFile(join(COT, file), 'utf8')) as JsonObject;
}

const trees = new Map<string, TreeMaterial>();
async function tree(dir: string): Promise<TreeMaterial> {
  if (!trees.has(dir)) trees.set(dir, await readTreeFolder(join(COT, dir)));
  return trees.get(dir)!;
}

/** The rows of the shared README's table that are hg, cron or action tasks. */
const ROWS = [
  {
    file: 'cotv2/decision_hg-push.json',
    taskId: 'VQU9QMO4Teq7zr91FhBusg',
    tasksFor: 'hg-push',
    tree: 'cotv2',
  },
  { file: 'cotv2/cron.json', taskId: 'D4euZNyCRtuBci-fnsfn7A', tasksFor: 'cron', tree: 'cotv2' },
  {
    file: 'cotv4/action_relpro.json',
    taskId: 'LpCJV9wUQHSAm5SHyW4Olw',
    tasksFor: 'action',
    tree: 'cotv4',
    decision: { file: 'cotv2/decision_hg-push.json', taskId: 'VQU9QMO4Teq7zr91FhBusg' },
  },
  { file: 'cotv4/decision_try.json', taskId: 'LpCJV9wUQHSAm5SHyW4Olw', tasksFor: 'hg-push', tree: 'cotv4' },
  {
    file: 'cotv4/action_retrigger.json',
    taskId: 'E93EolXNSRuV2gOy7yMZEA',
    tasksFor: 'action',
    tree: 'cotv4',
    decision: { file: 'cotv4/decision_try.json', taskId: 'LpCJV9wUQHSAm5SHyW4Olw' },
  },
] as const;

type Row = (typeof ROWS)[number];

export async function rowOptions(row: Row): Promise<RebuildParentOptions> {
  const decision = 'decision' in row ? row.decision : undefined;
  return {
    task: await task(row.file),
    taskId: row.taskId,
    ...(decision ? { decisionTask: await task(decision.file), decisionTaskId: decision.taskId } : {}),
    tree: await tree(row.tree),
  };
}

describe.skipIf(!HAVE_COT)(
  'every hg, cron and action row of the shared vectors rebuilds to an exact match',
  () => {
    for (const row of ROWS) {
      it(`${row.file} (${row.tasksFor})`, async () => {
        const r = await rebuildParentTask(await rowOptions(row));
        expect(r.differences).toEqual([]);
        expect(r).toMatchObject({ matched: true, tasksFor: row.tasksFor, taskId: row.taskId });
      });
    }

    it("projects.yml's duplicated key (cedar) is read as PyYAML reads it, with a warning", async () => {
      const t = await tree('cotv2');
      const projects = t.files.projects!.value as JsonObject;
      expect((projects.cedar as JsonObject).access).toBe('scm_level_2');
      expect(t.warnings.join('\n')).toMatch(/projects\.yml: a mapping key is duplicated at line 163/);
      const r = await rebuildParentTask(await rowOptions(ROWS[0]));
      expect(r.warnings.join('\n')).toMatch(/duplicated/);
    });
  },
);

describe.skipIf(!HAVE_COT)(
  'the intermediate context and wrapped template of an action are the reference’s',
  () => {
    it('retrigger: retrigger_context.json and retrigger_template.json', async () => {
      // the reference suite computed this pair with other ids (shared README)
      const options = await rowOptions(ROWS[4]);
      const plan = await planRebuild(
        {
          task: options.task,
          taskId: 'NdzxKw8bS5Sw5DRhoiM14w',
          decisionTask: options.decisionTask!,
          decisionTaskId: 'c5nn2xbNS9mJxeVC0uNElg',
          envPrefix: 'GECKO',
        },
        options.tree,
        (input) => renderJsonE(input),
      );
      expect(plan.context).toEqual(
        JSON.parse(await readFile(join(COT, 'cotv4/retrigger_context.json'), 'utf8')),
      );
      expect(plan.template).toEqual(
        JSON.parse(await readFile(join(COT, 'cotv4/retrigger_template.json'), 'utf8')),
      );
      expect(plan.slugids).toEqual({ default: 'NdzxKw8bS5Sw5DRhoiM14w', decision: 'c5nn2xbNS9mJxeVC0uNElg' });
    });

    it('an hg-push context holds the push from the pushlog and the level from projects.yml', async () => {
      const options = await rowOptions(ROWS[0]);
      const plan = await planRebuild(
        {
          task: options.task,
          taskId: ROWS[0].taskId,
          decisionTask: options.task,
          decisionTaskId: ROWS[0].taskId,
          envPrefix: 'GECKO',
        },
        options.tree,
        (input) => renderJsonE(input),
      );
      expect(plan.context).toEqual({
        now: '2018-01-09T19:07:36.291Z',
        tasks_for: 'hg-push',
        ownTaskId: 'VQU9QMO4Teq7zr91FhBusg',
        taskId: null,
        repository: {
          url: 'https://hg.mozilla.org/projects/maple',
          level: '3',
          project: 'maple',
          type: 'hg',
        },
        push: {
          base_revision: '7ce449ebc213e11232cf6b2b417256893194f21f',
          revision: '054fe08d229f064a71bae9bb793e7ab8d95eff61',
          comment: ' ',
          owner: 'asasaki@mozilla.com',
          pushlog_id: '343',
          pushdate: 1515524845,
        },
      });
      expect(isJsonObject(plan.template)).toBe(true);
    });
  },
);

describe.skipIf(!HAVE_COT)('an in-tree action of the pre-hook format (cotv2 release promotion)', () => {
  // cotv2/action_relpro.json was created by an in-tree `kind: task` action; the cotv4_relpro_context/_template pair
  // is what the reference computed for it before its chain-of-trust v7 dropped non-hook actions (scriptworker
  // fb2d21f, "Drop support for non-hook actions"). The reference refuses such an action today, and so does cot.
  it('is refused with TREE_ACTION_KIND_INVALID naming the action, its callback and kind', async () => {
    const runtime = await task('cotv2/action_relpro.json');
    const pairContext = (await task('cotv2/cotv4_relpro_context.json')) as JsonObject & {
      action: { cb_name: string };
      ownTaskId: string;
    };
    const env = (runtime.payload as JsonObject).env as Record<string, string>;
    // the pair belongs to this task: same callback, same decision task group
    expect(pairContext.action.cb_name).toBe(env.ACTION_CALLBACK);
    expect(pairContext.taskGroupId).toBe(runtime.taskGroupId);
    const err = await rebuildParentTask({
      task: runtime,
      taskId: pairContext.ownTaskId,
      decisionTask: await task('cotv2/decision_hg-push.json'),
      decisionTaskId: 'VQU9QMO4Teq7zr91FhBusg',
      tree: await readTreeFolder(join(COT, 'cotv2'), {
        template: join(COT, 'cotv2/cotv4_relpro_template.json'),
      }),
    }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; details: unknown },
    );
    expect(err?.code).toBe('TREE_ACTION_KIND_INVALID');
    expect(err?.message).toMatch(
      /action "release-promotion" of .*actions\.json \(callback release_promotion_action\) is of kind "task", not hook/,
    );
    expect(err?.details).toMatchObject({ callback: 'release_promotion_action', kind: 'task' });
  });
});
