import type { JsonObject } from '../../json/parse.js';
import { mismatchError, rebuildParentTask } from '../../tree/rebuild.js';
import { isAction, obj, parentOf } from '../edges.js';
import type { ChainCheck, ChainRun, LinkState } from '../state.js';
import { TreeSource, treeFolderOf } from '../tree-material.js';
import type { TreePolicy } from '../tree-policy.js';

/** `payload.env[name]` of a task when it is a string. */
export function envOf(task: JsonObject, name: string): string | undefined {
  const v = obj(obj(task.payload)?.env)?.[name];
  return typeof v === 'string' ? v : undefined;
}

const NO_TREE =
  'tree not traced: the policy has no tree section, so this task was trusted for its worker type and not rebuilt from its repository';

/** A parent link whose tree material is missing: an error when the policy requires the trace, else a warning. */
function untraced(s: ChainRun, n: LinkState, tree: TreePolicy, why: string): void {
  if (tree.required)
    s.fail(n, 'TREE_NOT_TRACED', `tree not traced: ${why}`, { ...(tree.dir ? { dir: tree.dir } : {}) });
  else s.warn(n, `tree not traced: ${why}`);
}

/** The decision task of a parent link: an action's parent (`extra.parent`, else its task group), else itself. */
function decisionOf(s: ChainRun, n: LinkState): LinkState | undefined {
  if (!isAction(n.task)) return n;
  const ref = parentOf(n.link.taskId, n.task);
  const d = ref.id === undefined ? undefined : s.nodes.get(ref.id);
  return d?.fetched ? d : undefined;
}

/** Rebuild one parent link from its tree folder, recording the match or the refusal on it. */
async function rebuildLink(s: ChainRun, n: LinkState, tree: TreePolicy, source: TreeSource | undefined) {
  const decision = decisionOf(s, n);
  if (decision === undefined) {
    untraced(s, n, tree, 'its decision task is not part of the chain');
    return;
  }
  const field = `payload.env.${tree.envPrefix}_HEAD_REPOSITORY`;
  const repository = envOf(decision.task, `${tree.envPrefix}_HEAD_REPOSITORY`)?.replace(/\/+$/, '');
  const revision = envOf(decision.task, `${tree.envPrefix}_HEAD_REV`);
  if (repository === undefined || revision === undefined) {
    s.fail(
      n,
      'TREE_TASK_INVALID',
      `decision task ${decision.link.taskId} has no ${tree.envPrefix}_HEAD_REPOSITORY and ${tree.envPrefix}_HEAD_REV strings in payload.env: its tree cannot be named`,
      { field },
    );
    return;
  }
  if (source === undefined) {
    untraced(s, n, tree, `the policy names no tree material (tree.dir) for ${repository}@${revision}`);
    return;
  }
  const folder = treeFolderOf(source.dir, repository, revision, field);
  const material = await source.material(folder);
  if (material === null) {
    untraced(s, n, tree, `no tree material for ${repository}@${revision} (${folder} does not exist)`);
    return;
  }
  const r = await rebuildParentTask({
    task: n.task,
    taskId: n.link.taskId,
    ...(decision === n ? {} : { decisionTask: decision.task, decisionTaskId: decision.link.taskId }),
    tree: material,
    tasksFor: tree.tasksFor,
    envPrefix: tree.envPrefix,
  });
  for (const w of r.warnings) s.warn(n, w);
  n.link.tree = {
    ...n.link.tree,
    rebuild: {
      repository: r.repository.url,
      revision: r.revision,
      template: r.templateSource,
      tasksFor: r.tasksFor,
      level: r.repository.level,
      matched: r.matched,
      ...(r.matched ? {} : { differences: r.differences }),
    },
  };
  if (r.matched)
    n.link.checks.push(
      `rebuilt from ${r.repository.url}@${r.revision ?? '?'} .taskcluster.yml (tasks_for ${r.tasksFor}${r.repository.level === null ? '' : `, level ${r.repository.level}`}): match (tasks[${r.index}] of ${r.renderedTasks})`,
    );
  else s.failWith(n, mismatchError(r));
}

/**
 * Rebuild every decision, cron and action link from its tree (the reference's verify_parent_task_definition, on
 * every parent link of the chain): its decision task's `<PREFIX>_HEAD_REPOSITORY` and `_HEAD_REV` name the tree
 * folder (tree-material.ts, read once per repository and revision), rebuildParentTask renders its
 * `.taskcluster.yml` and compares. A match is a check line; a mismatch TREE_TASK_MISMATCH with the differences;
 * what the rebuild throws is recorded with its code (TREE_*). No tree material: TREE_NOT_TRACED when
 * `tree.required`, else a warning. A policy without a `tree` section: the warning "tree not traced" on every
 * parent link, nothing else (today's checks).
 */
export const checkTreeRebuild: ChainCheck = {
  name: 'tree-rebuild',
  async run(s) {
    const tree = s.policy.tree;
    const parents = [...s.nodes.values()].filter((n) => n.link.decision && n.fetched);
    if (tree === undefined) {
      for (const n of parents) s.warn(n, NO_TREE);
      return;
    }
    const source = tree.dir === undefined ? undefined : new TreeSource(tree.dir);
    for (const n of parents)
      await s.guard(n, () => rebuildLink(s, n, tree, source), 'rebuild from its tree: ');
  },
};
