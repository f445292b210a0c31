import { CotError } from '../../errors.js';
import { assertDigests, digestBytes } from '../../hashing/digest.js';
import type { JsonObject } from '../../json/parse.js';
import { DirectoryQueue } from '../../transport/dir-store.js';
import { STORED_STORAGE_TYPES } from '../../transport/queue.js';
import {
  DECISION_ARTIFACT_NAMES,
  parseTreeFile,
  type TreeFile,
  type TreeMaterial,
} from '../../tree/files.js';
import { mismatchError, rebuildParentTask } from '../../tree/rebuild.js';
import { isAction, obj, parentOf } from '../edges.js';
import type { ChainCheck, ChainRun, LinkState } from '../state.js';
import { mirrorTreeSource, OnlineTreeSource, TreeSource, treeFolderOf } from '../tree-material.js';
import type { TreePolicy } from '../tree-policy.js';
import { readArtifact } from './documents.js';

/** `payload.env[name]` of a task when it is a string. */
export function envOf(task: JsonObject, name: string): string | undefined {
  const v = obj(obj(task.payload)?.env)?.[name];
  return typeof v === 'string' ? v : undefined;
}

const NO_TREE =
  'tree not traced: the policy has no tree section, so this task was trusted for its worker type and not rebuilt from its repository';

/** A parent link whose tree material is missing: an error when the policy requires the trace, else a warning. */
function untraced(s: ChainRun, n: LinkState, tree: TreePolicy, why: string, dir = tree.dir): void {
  if (tree.required) s.fail(n, 'TREE_NOT_TRACED', `tree not traced: ${why}`, { ...(dir ? { dir } : {}) });
  else s.warn(n, `tree not traced: ${why}`);
}

/** The decision task of a parent link: an action's parent (`extra.parent`, else its task group), else itself. */
function decisionOf(s: ChainRun, n: LinkState): LinkState | undefined {
  if (!isAction(n.task)) return n;
  const ref = parentOf(n.link.taskId, n.task);
  const d = ref.id === undefined ? undefined : s.nodes.get(ref.id);
  return d?.fetched ? d : undefined;
}

/** A decision task's `actions.json` and `parameters.yml` as tree files, and what reading them warned about. */
interface DecisionArtifacts {
  files: Partial<Record<'actions' | 'parameters', TreeFile>>;
  warnings: string[];
}

/**
 * The decision task's own `actions.json` and `parameters.yml`, for each that its verified document lists and its run
 * stores: read bounded, hash-checked against the document (the policy's hash algorithms; HASH_MISMATCH), parsed as
 * tree files (TREE_FILE_INVALID). These are what the reference reads (the decision task's artifacts), so they are
 * preferred to copies in the tree folder; one the decision task does not have is left to the folder.
 */
async function decisionArtifacts(s: ChainRun, d: LinkState): Promise<DecisionArtifacts> {
  const out: DecisionArtifacts = { files: {}, warnings: [] };
  for (const [role, name] of Object.entries(DECISION_ARTIFACT_NAMES) as [
    'actions' | 'parameters',
    string,
  ][]) {
    const entry = d.doc && Object.hasOwn(d.doc.artifacts, name) ? d.doc.artifacts[name] : undefined;
    const info = d.listing?.get(name);
    if (!entry || !info || !STORED_STORAGE_TYPES.has(info.storageType) || d.link.runId === undefined)
      continue;
    const algs = s.policy.hashAlgorithms.filter((a) => entry[a]);
    if (algs.length === 0)
      throw new CotError(
        'HASH_UNSUPPORTED_ALGORITHM',
        `task ${d.link.taskId}: ${name} lists only ${Object.keys(entry).join(', ')}`,
      );
    const bytes = await readArtifact(s.queue, d.link.taskId, d.link.runId, name, s.policy.bounds);
    assertDigests(
      `task ${d.link.taskId}: ${name}`,
      name,
      Object.fromEntries(algs.map((a) => [a, entry[a]])),
      Object.fromEntries(algs.map((a) => [a, digestBytes(bytes, a)])),
    );
    out.files[role] = parseTreeFile(
      role,
      bytes.toString('utf8'),
      `${name} of ${d.link.taskId}`,
      out.warnings,
    );
  }
  return out;
}

/**
 * The tree material of a link: its folder's, with the decision task's own `actions.json` and `parameters.yml`
 * (decisionArtifacts, read once per decision task) in place of the folder's when it has them. The folder's material
 * is shared by the links of one tree, so it is copied, never changed.
 */
async function materialWithArtifacts(
  s: ChainRun,
  decision: LinkState,
  material: TreeMaterial,
  cache: Map<string, Promise<DecisionArtifacts>>,
): Promise<TreeMaterial> {
  let read = cache.get(decision.link.taskId);
  if (read === undefined) {
    read = decisionArtifacts(s, decision);
    cache.set(decision.link.taskId, read);
  }
  const own = await read;
  return {
    ...material,
    files: { ...material.files, ...own.files },
    warnings: [...material.warnings, ...own.warnings],
  };
}

/** What one tree-rebuild run shares between its links: the tree folders and the decision tasks' artifacts. */
interface RebuildSources {
  source: TreeSource | undefined;
  /** tree material fetched from the repositories' hosts (a live queue, verifyChain's treeFetch) */
  online: OnlineTreeSource | undefined;
  artifacts: Map<string, Promise<DecisionArtifacts>>;
}

/**
 * The tree material of a parent link: from the tree folder (tree.dir, or the directory store's trees/), else fetched
 * online (verifyChain's treeFetch); null, the link recorded untraced, when there is none.
 */
async function folderOrOnline(
  s: ChainRun,
  n: LinkState,
  tree: TreePolicy,
  sources: RebuildSources,
  at: { decision: LinkState; repository: string; revision: string; field: string },
): Promise<TreeMaterial | null> {
  const { source, online } = sources;
  const { decision, repository, revision, field } = at;
  if (source === undefined && online !== undefined) {
    const tasksFor = envTasksFor(n.task);
    return online.material({
      task: n.task,
      taskId: n.link.taskId,
      decisionTask: decision.task,
      decisionTaskId: decision.link.taskId,
      envPrefix: tree.envPrefix,
      repository,
      revision,
      tasksFor,
    });
  }
  if (source === undefined) {
    untraced(
      s,
      n,
      tree,
      `the policy names no tree material (tree.dir)${s.queue instanceof DirectoryQueue ? ' and the directory store has no trees folder' : ''} for ${repository}@${revision} (mirror the chain with cot fetch --trees and verify the mirror with --queue, or give tree.dir)`,
    );
    return null;
  }
  const folder = treeFolderOf(source.dir, repository, revision, field);
  const found = await source.material(folder);
  if (found === null)
    untraced(
      s,
      n,
      tree,
      `no tree material for ${repository}@${revision} (${folder} does not exist)`,
      source.dir,
    );
  return found;
}

/** `extra.tasks_for` of a task, as a string for a cache key ("" when absent: the rebuild names the problem). */
function envTasksFor(task: JsonObject): string {
  const v = obj(task.extra)?.tasks_for;
  return typeof v === 'string' ? v : '';
}

/** Rebuild one parent link from its tree folder, recording the match or the refusal on it. */
async function rebuildLink(s: ChainRun, n: LinkState, tree: TreePolicy, sources: RebuildSources) {
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
  const found = await folderOrOnline(s, n, tree, sources, { decision, repository, revision, field });
  if (found === null) return;
  const material = isAction(n.task)
    ? await materialWithArtifacts(s, decision, found, sources.artifacts)
    : found;
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
    const source =
      tree.dir !== undefined
        ? new TreeSource(tree.dir)
        : s.queue instanceof DirectoryQueue
          ? await mirrorTreeSource(s.queue.root)
          : undefined;
    const online =
      source === undefined && !(s.queue instanceof DirectoryQueue) && s.o.treeFetch !== undefined
        ? new OnlineTreeSource(s.o.treeFetch)
        : undefined;
    const sources: RebuildSources = { source, online, artifacts: new Map() };
    for (const n of parents)
      await s.guard(n, () => rebuildLink(s, n, tree, sources), 'rebuild from its tree: ');
  },
};
